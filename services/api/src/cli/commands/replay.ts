/** `agentsight replay`: storage re-derived from the retained streams through the same services (logic in `../replay.ts`). */
import type { Command } from 'commander';
import { dataDirOption, sinceOption } from '../options';

/** Registers `replay`. */
export function registerReplay(p: Command): void {
  const c = sinceOption(p.command('replay').description('re-derive storage from the retained streams through the same services (live pipeline untouched; rows replaced, never duplicated)'),
    'first message time', { note: 'default: the first retained message' });
  dataDirOption(c.option('--from-seq <n>', "first stream sequence of the from-stage's stream")
    .option('--until <t>', 'last message time (default: now)')
    .option('--from-stage <stream>', 'raw, http, exchange, llm or genai: the stream read again; every stage after it runs', 'raw')
    .option('--resume <id>', 'continue an interrupted replay'))
    .action(async (o) => process.exit(await (await import('../replay')).replayCommand(o)));
}
