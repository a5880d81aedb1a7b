/** `agentsight sessions`: agent sessions (gen_ai.conversation.id) with their calls, tool uses, tokens, cost and resources. */
import type { Command } from 'commander';
import type { GenAiSpanEntry, ResourceColumns } from '@agentsight/clickhouse';
import { printRows, usdText } from '../format';
import { dataDirOption, jsonOption, limitOption, sinceOption } from '../options';
import { withReader } from '../read';
import { RESOURCE_COLUMNS } from '../resources/format';

/** Registers `sessions`. */
export function registerSessions(p: Command): void {
  sinceOption(limitOption(jsonOption(dataDirOption(p.command('sessions').description('agent sessions (gen_ai.conversation.id): calls, tool uses, tokens and cost of each')), 'JSON array'), '100'),
    'only sessions active at or after this time')
    .action((o) => withReader(o, async (r) => printRows<GenAiSpanEntry & ResourceColumns>(await r.sessions({ since: o.since, limit: Number(o.limit) }), o.json, [
      ['start_time', (s) => s.start_time], ['agent', (s) => s.agent_name], ['pid', (s) => s.pid], ['conversation', (s) => s.conversation_id],
      ['calls', (s) => s.llm_calls], ['tools', (s) => s.tool_uses], ['tool_errors', (s) => s.tool_errors], ['in', (s) => s.input_tokens], ['out', (s) => s.output_tokens],
      ['cost', (s) => usdText(s.cost_usd, s.cost_usd === null ? 0 : s.unpriced_calls)], ['ms', (s) => s.duration_ms],
      ...RESOURCE_COLUMNS,
    ])));
}
