/**
 * Agent and tool spans (`genai_spans`: `invoke_agent` sessions, `execute_tool` events): `/api/sessions`, `/api/spans`,
 * the sessions pages and the CLI. Read with `FINAL` (the highest version of each id); parameters bound server-side;
 * times ISO 8601 UTC (ms).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { GenAiSpanRow } from '../rows';
import { jsonObject, n } from './sql';
import { commonColumns, selectLatest, type RecordListOptions } from './versioned';

/**
 * One stored `execute_tool` / `invoke_agent` event: the `genai_spans` row ({@link GenAiSpanRow}) with `attributes`
 * parsed (`{}` when not a JSON object) and `start_time`/`end_time` as ISO 8601 UTC (ms) (null = unknown).
 */
export type GenAiSpanEntry = Omit<GenAiSpanRow, 'attributes'> & { attributes: Record<string, unknown> };

/** Filters of {@link listGenAiSpans}: those of {@link RecordListOptions} and the span kind. */
export interface ListSpansOptions extends RecordListOptions {
  /** Only events of this kind. */
  kind?: 'execute_tool' | 'invoke_agent';
}

/** Columns of `genai_spans` in table order. */
const GENAI_SPAN_COLUMNS = [
  'id', 'version', 'kind', 'name', 'host', 'pid', 'process_name', 'conversation_id', 'agent_name', 'tool_use_id', 'tool_name', 'success',
  'start_time', 'end_time', 'duration_ms', 'llm_calls', 'tool_uses', 'tool_errors', 'input_tokens', 'output_tokens', 'cost_usd', 'unpriced_calls',
  'attributes',
] as const satisfies ReadonlyArray<keyof GenAiSpanRow>;

/** `execute_tool` / `invoke_agent` events (the latest version of each), newest first. */
export async function listGenAiSpans(client: ClickHouseClient, opts: ListSpansOptions = {}): Promise<GenAiSpanEntry[]> {
  type R = Omit<GenAiSpanEntry, 'attributes' | 'start_time' | 'end_time'> & { attributes: string; start_ns: string | null; end_ns: string | null };
  const rows = await selectLatest<GenAiSpanRow, R>(
    client,
    'genai_spans',
    GENAI_SPAN_COLUMNS,
    opts,
    opts.kind ? ['kind = {kind:String}'] : [],
    opts.kind ? { kind: opts.kind } : {},
  );
  return rows.map(({ start_ns, end_ns, attributes, ...r }) => ({
    ...r,
    ...commonColumns({ ...r, start_ns, end_ns }),
    llm_calls: Number(r.llm_calls),
    tool_uses: Number(r.tool_uses),
    tool_errors: Number(r.tool_errors),
    input_tokens: Number(r.input_tokens),
    output_tokens: Number(r.output_tokens),
    cost_usd: n(r.cost_usd),
    unpriced_calls: Number(r.unpriced_calls),
    attributes: jsonObject(attributes),
  }));
}
