/** `agentsight discover`: running AI agents found in /proc by the discovery rules (logic in `../discover/`). */
import type { Command } from 'commander';
import { dataDirOption, jsonOption } from '../options';

/** Registers `discover`. */
export function registerDiscover(p: Command): void {
  dataDirOption(jsonOption(p.command('discover').description('find running AI agents: match /proc (cmdline, comm, exe, mapped/open files) against allow/deny rules')
    .option('--list-known', 'print the known agents and their rules').option('--verbose', 'explain each match'), 'JSON array')
    .option('--rules <file>', 'user rules (JSON) merged over the built-in ones (default <data dir>/rules.json if present)'))
    .action(async (o) => process.exit((await import('../discover/command')).discoverCommand(o)));
}
