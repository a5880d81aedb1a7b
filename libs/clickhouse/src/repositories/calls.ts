/**
 * LLM calls (`llm_calls`): the one mapping of a stored call to a {@link CallSummary} (semconv `gen_ai.*` keys), the
 * CLI's and `/api/calls`' latest calls, the dashboard's calls page (`/api/llm-calls`, keyset- or offset-paged) and one
 * call's detail page (its tool uses and the audit records they caused). Read with `FINAL`; parameters bound
 * server-side; times ISO 8601 UTC (ms).
 */
import type { Page, UsageDetail } from '@agentsight/contracts';
import type { ClickHouseClient } from '@clickhouse/client';
import { DEFAULT_DATABASE, qualified } from '../schema';
import { auditWindow, type AuditEntry } from './audit';
import { decodeOffsetCursor, encodeCursor, encodeOffsetCursor, type NsRange, type SortSpec } from './paging';
import { clampLimit, nsIso, type DbOption, type TimeInput } from './read';
import { addAfterCursor, addFilter, addSince, AGENT, inRange, MODEL, n, parseJson, queryRows, rangeParams, whereClause } from './sql';
import { listToolUses, type ToolUseEntry } from './tool-uses';

/** One tool call in `agentsight calls --json` output. */
export interface CallToolCall {
  name: string;
  /** The arguments as parsed JSON when they parse, else the raw string. */
  arguments: unknown;
}

/** One LLM call as `agentsight calls --json` prints it (semconv attribute names as keys). */
export interface CallSummary {
  call_id: string;
  /** ISO 8601, UTC, ms precision. */
  start_time: string;
  duration_ms: number;
  pid: number;
  process_name: string;
  'server.address': string;
  'http.response.status_code': number | null;
  'gen_ai.operation.name': string;
  'gen_ai.provider.name': string;
  'gen_ai.request.model': string | null;
  'gen_ai.response.model': string | null;
  'gen_ai.response.id': string | null;
  'gen_ai.response.finish_reasons': string[];
  /** Streamed calls: seconds from the first request byte to the first SSE event; null otherwise (or stored before it existed). */
  'gen_ai.response.time_to_first_chunk': number | null;
  'gen_ai.usage.input_tokens': number | null;
  'gen_ai.usage.output_tokens': number | null;
  'gen_ai.usage.cache_read.input_tokens': number | null;
  'gen_ai.usage.cache_creation.input_tokens': number | null;
  'gen_ai.usage.reasoning.output_tokens': number | null;
  tool_calls: CallToolCall[];
  /** The provider's usage object, or null. */
  raw_usage: Record<string, unknown> | null;
  'error.type': string | null;
  /** The answer text (reasoning excluded), redacted. */
  output_text: string;
  /** Cost in USD at list prices; null = unpriced (unknown model or price, or stored before costs existed). */
  cost_usd: number | null;
  /**
   * `reported`: the token counts are the provider's; `estimated`: the provider reported none and agentsight counted
   * them with `usage_tokenizer` (cost is then an estimate too). Calls stored before this existed read `reported`.
   */
  usage_source: 'reported' | 'estimated';
  /** Tokenizer of estimated counts (`o200k_base`, `cl100k_base`, `qwen3`, `estimate:o200k_base`, …); null when reported. */
  usage_tokenizer: string | null;
  /**
   * Input tokens by role and output tokens by type (`LlmCall.usage_detail`; `tokenizer` is not stored, so absent here);
   * null when the call has no breakdown (or was stored before it existed).
   */
  usage_detail: Omit<UsageDetail, 'tokenizer'> | null;
}

/** Filters of {@link listCalls}. */
export interface ListCallsOptions extends DbOption {
  /** Max rows (default 100), newest first. */
  limit?: number;
  /** Only calls that started at or after this time. */
  since?: TimeInput;
  /** Only calls of this process. */
  pid?: number;
}

/** Latest LLM calls, newest first, shaped as {@link CallSummary}. */
export async function listCalls(client: ClickHouseClient, opts: ListCallsOptions = {}): Promise<CallSummary[]> {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: clampLimit(opts.limit, 100) };
  addSince(where, params, 'start_time', opts.since);
  addFilter(where, params, 'pid = {pid:UInt32}', { pid: opts.pid });
  return selectCalls(client, opts.database ?? DEFAULT_DATABASE, where, params);
}

/**
 * LLM calls matching `where` (SQL conditions over `llm_calls` columns, parameters bound from `params`, which must hold
 * `limit`, and `offset` to skip rows), newest first (`start_time DESC, call_id`) unless `order` (an ORDER BY list over
 * `llm_calls` columns, never user text) says otherwise, shaped as {@link CallSummary}. The one mapping of a stored call
 * for the CLI and the dashboard.
 */
export async function selectCalls(
  client: ClickHouseClient,
  database: string,
  where: string[],
  params: Record<string, unknown>,
  order = 'start_time DESC, call_id',
): Promise<CallSummary[]> {
  type R = {
    call_id: string; start_ns: string; duration_ms: number; pid: number; process_name: string; server_address: string;
    http_status: number | null; operation: string; provider: string; request_model: string | null; response_model: string | null;
    response_id: string | null; finish_reasons: string[]; input_tokens: string | null; output_tokens: string | null;
    cache_read_input_tokens: string | null; cache_creation_input_tokens: string | null; reasoning_output_tokens: string | null;
    tool_calls: string; raw_usage: string;
    error_type: string | null; output_text: string; cost_usd: number | null; usage_source: string; usage_tokenizer: string | null;
    time_to_first_chunk_ms: number | null;
  } & Record<(typeof USAGE_DETAIL_COLUMNS)[number], string | null>;
  const rs = await queryRows<R>(
    client,
    `SELECT call_id, toString(toUnixTimestamp64Nano(start_time)) AS start_ns, duration_ms, pid, process_name, server_address,
            http_status, operation, provider, request_model, response_model, response_id, finish_reasons, input_tokens,
            output_tokens, cache_read_input_tokens, cache_creation_input_tokens, reasoning_output_tokens, tool_calls, raw_usage,
            error_type, output_text,
            cost_usd, usage_source, usage_tokenizer, time_to_first_chunk_ms, ${USAGE_DETAIL_COLUMNS.join(', ')}
     FROM ${qualified(database, 'llm_calls')} FINAL
     ${whereClause(where)}
     ORDER BY ${order}
     LIMIT {limit:UInt32}${params.offset !== undefined ? ' OFFSET {offset:UInt64}' : ''}`,
    params,
  );
  return rs.map((r) => {
    const tools = parseJson(r.tool_calls);
    const usage = parseJson(r.raw_usage);
    return {
      call_id: r.call_id,
      start_time: nsIso(r.start_ns),
      duration_ms: Number(r.duration_ms),
      pid: Number(r.pid),
      process_name: r.process_name,
      'server.address': r.server_address,
      'http.response.status_code': n(r.http_status),
      'gen_ai.operation.name': r.operation,
      'gen_ai.provider.name': r.provider,
      'gen_ai.request.model': r.request_model,
      'gen_ai.response.model': r.response_model,
      'gen_ai.response.id': r.response_id,
      'gen_ai.response.finish_reasons': r.finish_reasons,
      'gen_ai.response.time_to_first_chunk': r.time_to_first_chunk_ms === null ? null : Number(r.time_to_first_chunk_ms) / 1000,
      'gen_ai.usage.input_tokens': n(r.input_tokens),
      'gen_ai.usage.output_tokens': n(r.output_tokens),
      'gen_ai.usage.cache_read.input_tokens': n(r.cache_read_input_tokens),
      'gen_ai.usage.cache_creation.input_tokens': n(r.cache_creation_input_tokens),
      'gen_ai.usage.reasoning.output_tokens': n(r.reasoning_output_tokens),
      tool_calls: Array.isArray(tools)
        ? tools.map((t: { name?: unknown; arguments?: unknown }) => ({
            name: String(t?.name ?? ''),
            arguments: typeof t?.arguments === 'string' ? parseJson(t.arguments) : (t?.arguments ?? null),
          }))
        : [],
      raw_usage: usage && typeof usage === 'object' && !Array.isArray(usage) ? (usage as Record<string, unknown>) : null,
      'error.type': r.error_type,
      output_text: r.output_text,
      cost_usd: n(r.cost_usd),
      usage_source: r.usage_source === 'estimated' ? 'estimated' : 'reported',
      usage_tokenizer: r.usage_source === 'estimated' ? (r.usage_tokenizer ?? null) : null,
      usage_detail: detailOf(r),
    };
  });
}

/** `llm_calls` columns of the token breakdown (see schema.ts), input by role then output by type. */
export const USAGE_DETAIL_COLUMNS = [
  'input_system_tokens', 'input_user_tokens', 'input_assistant_tokens', 'input_tool_tokens',
  'output_text_tokens', 'output_reasoning_tokens', 'output_tool_call_tokens',
] as const;

/** A call's breakdown from its columns; a half is null when its columns are null. */
function detailOf(r: Record<(typeof USAGE_DETAIL_COLUMNS)[number], string | number | null>): CallSummary['usage_detail'] {
  const v = USAGE_DETAIL_COLUMNS.map((c) => n(r[c]));
  const input = v[0] === null ? null : { system: v[0], user: v[1] ?? 0, assistant: v[2] ?? 0, tool: v[3] ?? 0 };
  const output = v[4] === null ? null : { text: v[4], reasoning: v[5] ?? 0, tool_calls: v[6] ?? 0 };
  return input || output ? { input, output } : null;
}

/** Sort keys of the calls list (API `sort`) → column; default `start_time` (newest first, keyset-paged). */
export const CALL_SORTS: Record<string, string> = {
  start_time: 'start_time', duration: 'duration_ms', cost: 'cost_usd', input_tokens: 'input_tokens', output_tokens: 'output_tokens',
};

/** Filters of {@link pageCalls}; every one optional. */
export interface CallFilters {
  provider?: string;
  model?: string;
  /** `gen_ai.agent.name`, else the process name. */
  agent?: string;
  pid?: number;
  conversation?: string;
  /** `ok` = no error and HTTP < 400; `error` = the rest. */
  status?: 'ok' | 'error';
  /** `error.type` equals this. */
  error?: string;
  /** Case-insensitive substring of the answer text, tool calls, response id, model, or the request body (prompts). */
  q?: string;
  range?: NsRange;
}

/** `GET /api/llm-calls`: one page of LLM calls, newest first, keyset-paged on (start_time, call_id). */
export async function pageCalls(client: ClickHouseClient, f: CallFilters, page: { cursor?: string; limit: number; sort?: SortSpec }, database = DEFAULT_DATABASE): Promise<Page<CallSummary>> {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: page.limit + 1 };
  addFilter(where, params, 'provider = {provider:String}', { provider: f.provider });
  addFilter(where, params, `${MODEL} = {model:String}`, { model: f.model });
  addFilter(where, params, `${AGENT} = {agent:String}`, { agent: f.agent });
  addFilter(where, params, 'pid = {pid:UInt32}', { pid: f.pid });
  addFilter(where, params, 'conversation_id = {conversation:String}', { conversation: f.conversation });
  addFilter(where, params, '(error_type IS NOT NULL OR coalesce(http_status, 0) >= 400)', f.status === 'error' && {});
  addFilter(where, params, '(error_type IS NULL AND coalesce(http_status, 0) < 400)', f.status === 'ok' && {});
  addFilter(where, params, 'error_type = {error:String}', { error: f.error });
  addFilter(where, params, inRange('start_time'), f.range && rangeParams(f.range));
  if (f.q) {
    params.q = f.q;
    where.push(`(positionCaseInsensitiveUTF8(output_text, {q:String}) > 0 OR positionCaseInsensitiveUTF8(tool_calls, {q:String}) > 0
      OR positionCaseInsensitiveUTF8(coalesce(response_id, ''), {q:String}) > 0 OR positionCaseInsensitiveUTF8(${MODEL}, {q:String}) > 0
      OR exchange_id IN (SELECT exchange_id FROM ${qualified(database, 'exchanges')} FINAL WHERE positionCaseInsensitiveUTF8(request_body, {q:String}) > 0))`);
  }
  const sorted = page.sort && !(page.sort.key === 'start_time' && page.sort.dir === 'desc');
  if (sorted) {
    const col = CALL_SORTS[page.sort!.key];
    if (!col) throw new Error(`sort must be one of ${Object.keys(CALL_SORTS).join(', ')}`);
    const offset = page.cursor ? decodeOffsetCursor(page.cursor) : 0;
    const items = await selectCalls(client, database, where, { ...params, offset }, `${col} ${page.sort!.dir === 'asc' ? 'ASC' : 'DESC'} NULLS LAST, call_id`);
    return { items: items.slice(0, page.limit), next_cursor: items.length > page.limit ? encodeOffsetCursor(offset + page.limit) : null };
  }
  addAfterCursor(where, params, 'start_time', 'call_id', page.cursor);
  const items = await selectCalls(client, database, where, params);
  const more = items.length > page.limit;
  const out = items.slice(0, page.limit);
  const last = out[out.length - 1];
  if (!more || !last) return { items: out, next_cursor: null };
  const [ns] = await queryRows<{ ns: string }>(client, `SELECT toString(toUnixTimestamp64Nano(start_time)) AS ns FROM ${qualified(database, 'llm_calls')} FINAL WHERE call_id = {id:String}`, { id: last.call_id });
  return { items: out, next_cursor: encodeCursor(ns.ns, last.call_id) };
}

/** One LLM call with what the dashboard's detail page shows next to it. */
export interface CallDetail {
  call: CallSummary;
  exchange_id: string;
  price_id: string | null;
  conversation_id: string | null;
  agent_name: string | null;
  host: string;
  end_time: string;
  /** Tool uses this call asked for (`origin`) or whose result its request carried (`result`). */
  tool_uses: Array<ToolUseEntry & { relation: 'origin' | 'result' }>;
  /** Execs, file opens and connects caused by this call's tool uses (causal links). */
  caused: AuditEntry[];
}

/** `GET /api/llm-calls/:id`; null when there is no such call. */
export async function getCall(client: ClickHouseClient, id: string, database = DEFAULT_DATABASE): Promise<CallDetail | null> {
  const [call] = await selectCalls(client, database, ['call_id = {id:String}'], { id, limit: 1 });
  if (!call) return null;
  const [m] = await queryRows<Record<string, string | null>>(
    client,
    `SELECT exchange_id, price_id, conversation_id, agent_name, host, toString(toUnixTimestamp64Nano(end_time)) AS end_ns
     FROM ${qualified(database, 'llm_calls')} FINAL WHERE call_id = {id:String}`,
    { id },
  );
  const tools = await queryRows<{ id: string; origin: string | null }>(
    client,
    `SELECT id, origin_llm_call_id AS origin FROM ${qualified(database, 'tool_uses')} FINAL
     WHERE origin_llm_call_id = {id:String} OR result_llm_call_id = {id:String}`,
    { id },
  );
  const entries = tools.length ? await listToolUses(client, { database, ids: tools.map((t) => t.id), limit: tools.length }) : [];
  const tool_uses = entries.map((t) => ({ ...t, relation: (t.origin_llm_call_id === id ? 'origin' : 'result') as 'origin' | 'result' }));
  const startNs = BigInt(Date.parse(call.start_time)) * 1_000_000n;
  const caused = tool_uses.some((t) => t.relation === 'origin')
    ? (await auditWindow(client, database, { host: String(m.host), fromNs: startNs - 1_000_000_000n, toNs: startNs + 600n * 1_000_000_000n, types: ['process', 'file', 'net'] })).filter((e) => e.caused_by?.llm_call_id === id)
    : [];
  return {
    call, exchange_id: String(m.exchange_id), price_id: m.price_id, conversation_id: m.conversation_id, agent_name: m.agent_name, host: String(m.host),
    end_time: nsIso(String(m.end_ns)), tool_uses, caused,
  };
}

