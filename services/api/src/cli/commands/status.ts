/** `agentsight status`: the broker side of the pipeline (logic in `../status.ts`). */
import type { Command } from 'commander';
import { jsonOption } from '../options';

/** Registers `status`. */
export function registerStatus(p: Command): void {
  jsonOption(p.command('status').description('pipeline state: streams (size, limits, discarded), consumer lag, which instance holds which partitions'))
    .action(async (o) => process.exit(await (await import('../status')).statusCommand(o)));
}
