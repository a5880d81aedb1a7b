/**
 * Read queries over tool uses (`tool_uses`) and agent/tool spans (`genai_spans`), for `/api/tools`, `/api/sessions`,
 * `/api/spans` and the CLI. Read with `FINAL` (the highest version of each id); parameters bound server-side; times
 * ISO 8601 UTC (ms) plus exact ns as decimal strings.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { timeToNs, type DbOption, type TimeInput } from './queries';
import { DEFAULT_DATABASE, qualified } from './schema';

/** One stored tool use (the ToolUse fields; times as ISO 8601 and ns text; null = unknown). */
export interface ToolUseEntry {
  id: string;
  version: number;
  source: string;
  host: string;
  pid: number;
  comm: string;
  agent_name: string | null;
  conversation_id: string | null;
  name: string;
  call_id: string | null;
  tool_type: string;
  /** Redacted text. */
  arguments: string;
  result: string | null;
  success: boolean | null;
  start_time: string | null;
  end_time: string | null;
  start_ns: string | null;
  end_ns: string | null;
  duration_ms: number | null;
  origin_llm_call_id: string | null;
  result_llm_call_id: string | null;
}

export interface ListToolUsesOptions extends DbOption {
  pid?: number;
  /** Only tool uses of this `gen_ai.conversation.id`. */
  conversation?: string;
  /** Only tool uses that started (else ended) at or after this time. */
  since?: TimeInput;
  /** Max rows (default 200), newest first. */
  limit?: number;
}

function iso(ns: string | null): string | null {
  return ns === null ? null : new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();
}

function limitOf(l: number | undefined, dflt: number): number {
  const v = l ?? dflt;
  if (!Number.isInteger(v) || v < 0) throw new Error(`limit must be a non-negative integer: ${l}`);
  return Math.min(v, 100_000);
}

function bool(v: unknown): boolean | null {
  return v === null || v === undefined ? null : v === true || v === 1 || v === '1' || v === 'true';
}

/** Tool uses, newest first (by start, else end). */
export async function listToolUses(client: ClickHouseClient, opts: ListToolUsesOptions = {}): Promise<ToolUseEntry[]> {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: limitOf(opts.limit, 200) };
  if (opts.pid !== undefined) {
    where.push('pid = {pid:UInt32}');
    params.pid = opts.pid;
  }
  if (opts.conversation) {
    where.push('conversation_id = {conv:String}');
    params.conv = opts.conversation;
  }
  if (opts.since !== undefined && opts.since !== '') {
    where.push("coalesce(start_time, end_time) >= fromUnixTimestamp64Nano({since:Int64}, 'UTC')");
    params.since = timeToNs(opts.since).toString();
  }
  type R = Omit<ToolUseEntry, 'start_time' | 'end_time'>;
  const rs = await client.query({
    query: `SELECT id, version, source, host, pid, comm, agent_name, conversation_id, name, call_id, tool_type, arguments, result,
              success, if(isNull(start_time), NULL, toString(toUnixTimestamp64Nano(start_time))) AS start_ns,
              if(isNull(end_time), NULL, toString(toUnixTimestamp64Nano(end_time))) AS end_ns, duration_ms,
              origin_llm_call_id, result_llm_call_id
            FROM ${qualified(opts.database ?? DEFAULT_DATABASE, 'tool_uses')} FINAL
            ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
            ORDER BY coalesce(start_time, end_time) DESC, id
            LIMIT {limit:UInt32}`,
    query_params: params,
    format: 'JSONEachRow',
  });
  return (await rs.json<R>()).map((r) => ({
    ...r,
    version: Number(r.version),
    pid: Number(r.pid),
    success: bool(r.success),
    duration_ms: r.duration_ms === null ? null : Number(r.duration_ms),
    start_time: iso(r.start_ns),
    end_time: iso(r.end_ns),
  }));
}

/** One stored `execute_tool` / `invoke_agent` event (a `genai_spans` row; `attributes` parsed). */
export interface GenAiSpanEntry {
  id: string;
  version: number;
  kind: 'execute_tool' | 'invoke_agent';
  name: string;
  host: string;
  pid: number;
  process_name: string;
  conversation_id: string | null;
  agent_name: string | null;
  tool_use_id: string | null;
  tool_name: string | null;
  success: boolean | null;
  start_time: string | null;
  end_time: string | null;
  duration_ms: number | null;
  llm_calls: number;
  tool_uses: number;
  tool_errors: number;
  input_tokens: number;
  output_tokens: number;
  /** USD; null = nothing priced. */
  cost_usd: number | null;
  unpriced_calls: number;
  attributes: Record<string, unknown>;
}

export interface ListSpansOptions extends DbOption {
  kind?: 'execute_tool' | 'invoke_agent';
  conversation?: string;
  since?: TimeInput;
  /** Max rows (default 200), newest first. */
  limit?: number;
}

/** `execute_tool` / `invoke_agent` events (the latest version of each), newest first. */
export async function listGenAiSpans(client: ClickHouseClient, opts: ListSpansOptions = {}): Promise<GenAiSpanEntry[]> {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: limitOf(opts.limit, 200) };
  if (opts.kind) {
    where.push('kind = {kind:String}');
    params.kind = opts.kind;
  }
  if (opts.conversation) {
    where.push('conversation_id = {conv:String}');
    params.conv = opts.conversation;
  }
  if (opts.since !== undefined && opts.since !== '') {
    where.push("coalesce(start_time, end_time) >= fromUnixTimestamp64Nano({since:Int64}, 'UTC')");
    params.since = timeToNs(opts.since).toString();
  }
  type R = Omit<GenAiSpanEntry, 'attributes' | 'start_time' | 'end_time'> & { attributes: string; start_ns: string | null; end_ns: string | null };
  const rs = await client.query({
    query: `SELECT id, version, kind, name, host, pid, process_name, conversation_id, agent_name, tool_use_id, tool_name, success,
              if(isNull(start_time), NULL, toString(toUnixTimestamp64Nano(start_time))) AS start_ns,
              if(isNull(end_time), NULL, toString(toUnixTimestamp64Nano(end_time))) AS end_ns, duration_ms,
              llm_calls, tool_uses, tool_errors, input_tokens, output_tokens, cost_usd, unpriced_calls, attributes
            FROM ${qualified(opts.database ?? DEFAULT_DATABASE, 'genai_spans')} FINAL
            ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
            ORDER BY coalesce(start_time, end_time) DESC, id
            LIMIT {limit:UInt32}`,
    query_params: params,
    format: 'JSONEachRow',
  });
  return (await rs.json<R>()).map(({ start_ns, end_ns, attributes, ...r }) => {
    let attrs: unknown = {};
    try {
      attrs = JSON.parse(attributes);
    } catch {
      attrs = {};
    }
    return {
      ...r,
      version: Number(r.version),
      pid: Number(r.pid),
      success: bool(r.success),
      duration_ms: r.duration_ms === null ? null : Number(r.duration_ms),
      llm_calls: Number(r.llm_calls),
      tool_uses: Number(r.tool_uses),
      tool_errors: Number(r.tool_errors),
      input_tokens: Number(r.input_tokens),
      output_tokens: Number(r.output_tokens),
      cost_usd: r.cost_usd === null ? null : Number(r.cost_usd),
      unpriced_calls: Number(r.unpriced_calls),
      start_time: iso(start_ns),
      end_time: iso(end_ns),
      attributes: attrs && typeof attrs === 'object' ? (attrs as Record<string, unknown>) : {},
    };
  });
}
