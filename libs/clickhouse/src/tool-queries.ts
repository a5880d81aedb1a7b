/**
 * Read queries over tool uses (`tool_uses`) and agent/tool spans (`genai_spans`), for `/api/tools`, `/api/sessions`,
 * `/api/spans` and the CLI. Read with `FINAL` (the highest version of each id); parameters bound server-side; times
 * ISO 8601 UTC (ms) plus exact ns as decimal strings.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { clampLimit, nsIso, timeToNs, type DbOption, type TimeInput } from './repositories/read';
import type { GenAiSpanRow, RecordTimeColumns, ToolUseRow } from './rows';
import { DEFAULT_DATABASE, qualified } from './schema';

/**
 * One stored tool use: the `tool_uses` row ({@link ToolUseRow}: the ToolUse fields, `arguments`/`result` redacted) with
 * `start_time`/`end_time` as ISO 8601 UTC (ms) and `start_ns`/`end_ns` the exact wall-clock ns as decimal text
 * (null = unknown).
 */
export type ToolUseEntry = ToolUseRow & { start_ns: string | null; end_ns: string | null };

/** Filters of both lists ({@link listToolUses}, {@link listGenAiSpans}). */
export interface RecordListOptions extends DbOption {
  /** Only records of this `gen_ai.conversation.id`. */
  conversation?: string;
  /** Only records that started (else ended) at or after this time. */
  since?: TimeInput;
  /** Max rows (default 200, at most 100 000), newest first. */
  limit?: number;
  /** Only records with one of these ids. */
  ids?: string[];
}

export interface ListToolUsesOptions extends RecordListOptions {
  /** Only tool uses of this agent process. */
  pid?: number;
}

function bool(v: unknown): boolean | null {
  return v === null || v === undefined ? null : v === true || v === 1 || v === '1' || v === 'true';
}

/**
 * `SELECT <columns>` over the latest version of each id of a versioned table (`FINAL`), newest first (by start, else
 * end), filtered by `extra` (SQL conditions whose `{name:Type}` parameters are in `params`) and the `conversation`,
 * `since` and `limit` (default 200) of `opts`. The `start_time` / `end_time` columns are read as `start_ns` / `end_ns`
 * (wall-clock ns as decimal text, null = unknown). Rows as JSONEachRow objects (ClickHouse's JSON types: 64-bit
 * integers may be strings). Throws on a bad limit or time.
 */
async function selectLatest<Row, R>(
  client: ClickHouseClient,
  table: 'tool_uses' | 'genai_spans',
  columns: ReadonlyArray<keyof Row & string>,
  opts: RecordListOptions,
  extra: string[] = [],
  params: Record<string, unknown> = {},
): Promise<R[]> {
  const where = [...extra];
  params = { ...params, limit: clampLimit(opts.limit, 200) };
  if (opts.conversation) {
    where.push('conversation_id = {conv:String}');
    params.conv = opts.conversation;
  }
  if (opts.ids) {
    where.push('id IN {ids:Array(String)}');
    params.ids = opts.ids;
  }
  if (opts.since !== undefined && opts.since !== '') {
    where.push("coalesce(start_time, end_time) >= fromUnixTimestamp64Nano({since:Int64}, 'UTC')");
    params.since = timeToNs(opts.since).toString();
  }
  const rs = await client.query({
    query: `SELECT ${columns.map(asRead).join(', ')}
            FROM ${qualified(opts.database ?? DEFAULT_DATABASE, table)} FINAL
            ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
            ORDER BY coalesce(start_time, end_time) DESC, id
            LIMIT {limit:UInt32}`,
    query_params: params,
    format: 'JSONEachRow',
  });
  return rs.json<R>();
}

/** A column as {@link selectLatest} reads it: the times as exact ns text. */
function asRead(c: string): string {
  return c === 'start_time' || c === 'end_time'
    ? `if(isNull(${c}), NULL, toString(toUnixTimestamp64Nano(${c}))) AS ${c === 'start_time' ? 'start_ns' : 'end_ns'}`
    : c;
}

/** Columns both tables share, as read back: numbers as numbers, `success` as boolean, times as ISO 8601 (ms). */
function commonColumns(r: {
  version: unknown;
  pid: unknown;
  success: unknown;
  duration_ms: unknown;
  start_ns: string | null;
  end_ns: string | null;
}): Pick<ToolUseRow & GenAiSpanRow, 'version' | 'pid' | 'success'> & RecordTimeColumns {
  return {
    version: Number(r.version),
    pid: Number(r.pid),
    success: bool(r.success),
    duration_ms: r.duration_ms === null ? null : Number(r.duration_ms),
    start_time: r.start_ns === null ? null : nsIso(r.start_ns),
    end_time: r.end_ns === null ? null : nsIso(r.end_ns),
  };
}

/** Columns of `tool_uses` in table order. */
const TOOL_USE_COLUMNS = [
  'id', 'version', 'source', 'host', 'pid', 'comm', 'agent_name', 'conversation_id', 'name', 'call_id', 'tool_type', 'arguments', 'result',
  'success', 'start_time', 'end_time', 'duration_ms', 'origin_llm_call_id', 'result_llm_call_id',
] as const satisfies ReadonlyArray<keyof ToolUseRow>;

/** Tool uses, newest first (by start, else end). */
export async function listToolUses(client: ClickHouseClient, opts: ListToolUsesOptions = {}): Promise<ToolUseEntry[]> {
  const rows = await selectLatest<ToolUseRow, Omit<ToolUseEntry, 'start_time' | 'end_time'>>(
    client,
    'tool_uses',
    TOOL_USE_COLUMNS,
    opts,
    opts.pid !== undefined ? ['pid = {pid:UInt32}'] : [],
    opts.pid !== undefined ? { pid: opts.pid } : {},
  );
  return rows.map((r) => ({ ...r, ...commonColumns(r) }));
}

/**
 * One stored `execute_tool` / `invoke_agent` event: the `genai_spans` row ({@link GenAiSpanRow}) with `attributes`
 * parsed (`{}` when not a JSON object) and `start_time`/`end_time` as ISO 8601 UTC (ms) (null = unknown).
 */
export type GenAiSpanEntry = Omit<GenAiSpanRow, 'attributes'> & { attributes: Record<string, unknown> };

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
  return rows.map(({ start_ns, end_ns, attributes, ...r }) => {
    let attrs: unknown = {};
    try {
      attrs = JSON.parse(attributes);
    } catch {
      attrs = {};
    }
    return {
      ...r,
      ...commonColumns({ ...r, start_ns, end_ns }),
      llm_calls: Number(r.llm_calls),
      tool_uses: Number(r.tool_uses),
      tool_errors: Number(r.tool_errors),
      input_tokens: Number(r.input_tokens),
      output_tokens: Number(r.output_tokens),
      cost_usd: r.cost_usd === null ? null : Number(r.cost_usd),
      unpriced_calls: Number(r.unpriced_calls),
      attributes: attrs && typeof attrs === 'object' ? (attrs as Record<string, unknown>) : {},
    };
  });
}
