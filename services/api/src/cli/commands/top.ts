/** `agentsight top`: the live view of the traced agents (logic in `../top/`). */
import type { Command } from 'commander';
import { dataDirOption, jsonOption, sinceOption } from '../options';

/** Registers `top`. */
export function registerTop(p: Command): void {
  const c = jsonOption(dataDirOption(p.command('top').description('live view of the traced agents: CPU %, RSS, tokens, cost, tools, execs, failures, files, connections (keys: P/M/T/N sort, / filter, q quit)'))
    .option('--once', 'print one snapshot and exit'), 'with --once: JSON')
    .option('--sort <key>', 'cpu | mem | tokens | net', 'cpu').option('--filter <text>', 'only agents whose name, model, state, host or pid contains this')
    .option('--all', 'also exited agents');
  sinceOption(c, 'activity window', { dflt: '1h' })
    .option('-d, --delay <s>', 'refresh interval, s (with --once: CPU % is measured over it)', '2')
    .action(async (o) => process.exit(await (await import('../top/command')).topCommand(o)));
}
