/**
 * The options several commands share, declared once: `--data-dir`, `--json`, `--since`, `--limit`, `--pid`. A command
 * file adds them with these helpers so their spelling, argument and meaning cannot drift between commands.
 */
import type { Command } from 'commander';

/** How a time is given on the command line (`--since`): parsed by `timeToNs` (libs/clickhouse). */
export const TIME_FORMS = 'ISO 8601 or back from now (30m, 2h, 7d, 1w)';

/** `--data-dir <dir>`: the data directory (`paths.ts` `dataDir`: flag, else `$AGENTSIGHT_DATA_DIR`, else `~/.agentsight`). */
export function dataDirOption(c: Command): Command {
  return c.option('--data-dir <dir>', 'data directory (default $AGENTSIGHT_DATA_DIR or ~/.agentsight)');
}

/** `--json`: machine-readable output; `what` says what is printed (default `JSON`). */
export function jsonOption(c: Command, what = 'JSON'): Command {
  return c.option('--json', what);
}

/**
 * `--since <t>`: `what` (say `only tool uses at or after this time`), the accepted time forms, then `note`; `dflt` is
 * the value when the flag is absent.
 */
export function sinceOption(c: Command, what: string, more: { dflt?: string; note?: string } = {}): Command {
  return c.option('--since <t>', `${what}: ${TIME_FORMS}${more.note ? `; ${more.note}` : ''}`, more.dflt);
}

/** `--limit <n>`: the most recent `dflt` rows by default. */
export function limitOption(c: Command, dflt: string): Command {
  return c.option('--limit <n>', 'most recent N', dflt);
}

/** `--pid <pid>` of a read command (one pid; {@link pidFilter} checks it). */
export function pidOption(c: Command, what: string): Command {
  return c.option('--pid <pid>', what);
}

/** The value of a read command's `--pid`: undefined when absent; throws on anything but a non-negative integer. */
export function pidFilter(pid: string | undefined): number | undefined {
  if (pid === undefined) return undefined;
  if (!/^\d+$/.test(pid)) throw new Error(`--pid must be a non-negative integer: ${pid}`);
  return Number(pid);
}
