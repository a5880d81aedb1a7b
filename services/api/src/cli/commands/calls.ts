/** `agentsight calls`: the captured LLM calls, most recent first. */
import type { Command } from 'commander';
import type { CallSummary } from '@agentsight/clickhouse';
import { printRows } from '../format';
import { dataDirOption, jsonOption, limitOption } from '../options';
import { withReader } from '../read';

/** Registers `calls`. */
export function registerCalls(p: Command): void {
  limitOption(jsonOption(dataDirOption(p.command('calls').description('list captured LLM calls')), 'JSON array'), '100')
    .action((o) => withReader(o, async (r) => printRows<CallSummary>(await r.calls({ limit: Number(o.limit) }), o.json, [
      ['start_time', (c) => c.start_time], ['pid', (c) => c.pid], ['process', (c) => c.process_name],
      ['provider', (c) => c['gen_ai.provider.name']], ['model', (c) => c['gen_ai.response.model'] ?? c['gen_ai.request.model']],
      ['in', (c) => c['gen_ai.usage.input_tokens']], ['out', (c) => c['gen_ai.usage.output_tokens']],
      ['finish', (c) => c['gen_ai.response.finish_reasons']], ['tools', (c) => c.tool_calls.map((t) => t.name)],
      ['ms', (c) => c.duration_ms],
    ])));
}
