/** `agentsight tools`: tool uses (what the model asked for, the arguments, the result, how long it took, its resources). */
import type { Command } from 'commander';
import type { ResourceColumns, ToolUseEntry } from '@agentsight/clickhouse';
import { printRows } from '../format';
import { dataDirOption, jsonOption, limitOption, pidFilter, pidOption, sinceOption } from '../options';
import { withReader } from '../read';
import { RESOURCE_COLUMNS } from '../resources/format';

/** Registers `tools`. */
export function registerTools(p: Command): void {
  const c = limitOption(jsonOption(dataDirOption(p.command('tools').description('tool uses: what the model asked for, the arguments, the result, how long it took')), 'JSON array'), '200');
  sinceOption(pidOption(c, 'only this agent pid').option('--conversation <id>', 'only this gen_ai.conversation.id'), 'only tool uses at or after this time')
    .action((o) => {
      const pid = pidFilter(o.pid);
      return withReader(o, async (r) => printRows<ToolUseEntry & ResourceColumns>(await r.tools({ pid, conversation: o.conversation, since: o.since, limit: Number(o.limit) }), o.json, [
        ['start_time', (t) => t.start_time ?? t.end_time], ['pid', (t) => t.pid], ['agent', (t) => t.agent_name], ['tool', (t) => t.name],
        ['arguments', (t) => (t.arguments.length > 60 ? `${t.arguments.slice(0, 60)}…` : t.arguments)],
        ['result', (t) => (t.result === null ? 'pending' : t.success === false ? 'error' : t.success === true ? 'ok' : 'returned')], ['ms', (t) => t.duration_ms],
        ...RESOURCE_COLUMNS,
      ]));
    });
}
