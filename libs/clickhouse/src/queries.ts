/**
 * Read queries used by the API and the CLI. Every query reads with `FINAL` (rows deduplicated by id) and binds
 * its parameters server-side (`{name:Type}`). Times in results are ISO 8601 UTC strings with ms precision.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { decodeBody, type ExchangeRow } from './rows';
import { DEFAULT_DATABASE, TABLES, qualified, type TableName } from './schema';

/**
 * A point in time: a `Date`, bigint wall-clock ns, a number of ms since the epoch, an ISO 8601 string, or a
 * relative duration back from now: `30s`, `15m`, `2h`, `7d`, `1w`.
 */
export type TimeInput = Date | bigint | number | string;

/** Converts a {@link TimeInput} to wall-clock ns. Throws on an unparseable string. */
export function timeToNs(t: TimeInput, now: number = Date.now()): bigint {
  if (typeof t === 'bigint') return t;
  if (typeof t === 'number') return BigInt(Math.round(t)) * 1_000_000n;
  if (t instanceof Date) return BigInt(t.getTime()) * 1_000_000n;
  const rel = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$/.exec(t);
  if (rel) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[rel[2] as 's' | 'm' | 'h' | 'd' | 'w'];
    return BigInt(Math.round(now - Number(rel[1]) * unit)) * 1_000_000n;
  }
  if (/^\d{13,}$/.test(t.trim())) return BigInt(t.trim()) * (t.trim().length >= 18 ? 1n : 1_000_000n);
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new Error(`not a time: ${JSON.stringify(t)} (use ISO 8601 or a duration like 15m, 2h, 7d)`);
  return BigInt(ms) * 1_000_000n;
}

/** Common query option: database (default `agentsight`). */
export interface DbOption {
  database?: string;
}

async function rows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' });
  return rs.json<T>();
}

function nsIso(ns: string | bigint): string {
  return new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();
}

function n(v: string | number | null | undefined): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function parseJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

function clampLimit(limit: number | undefined, dflt: number): number {
  const l = limit ?? dflt;
  if (!Number.isInteger(l) || l < 0) throw new Error(`limit must be a non-negative integer: ${limit}`);
  return Math.min(l, 100_000);
}

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
  'gen_ai.usage.input_tokens': number | null;
  'gen_ai.usage.output_tokens': number | null;
  'gen_ai.usage.cache_read.input_tokens': number | null;
  'gen_ai.usage.cache_creation.input_tokens': number | null;
  tool_calls: CallToolCall[];
  /** The provider's usage object, or null. */
  raw_usage: Record<string, unknown> | null;
  'error.type': string | null;
  /** The answer text (reasoning excluded), redacted. */
  output_text: string;
}

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
  if (opts.since !== undefined && opts.since !== '') {
    where.push('start_time >= fromUnixTimestamp64Nano({since:Int64}, \'UTC\')');
    params.since = timeToNs(opts.since).toString();
  }
  if (opts.pid !== undefined) {
    where.push('pid = {pid:UInt32}');
    params.pid = opts.pid;
  }
  type R = {
    call_id: string; start_ns: string; duration_ms: number; pid: number; process_name: string; server_address: string;
    http_status: number | null; operation: string; provider: string; request_model: string | null; response_model: string | null;
    response_id: string | null; finish_reasons: string[]; input_tokens: string | null; output_tokens: string | null;
    cache_read_input_tokens: string | null; cache_creation_input_tokens: string | null; tool_calls: string; raw_usage: string;
    error_type: string | null; output_text: string;
  };
  const rs = await rows<R>(
    client,
    `SELECT call_id, toString(toUnixTimestamp64Nano(start_time)) AS start_ns, duration_ms, pid, process_name, server_address,
            http_status, operation, provider, request_model, response_model, response_id, finish_reasons, input_tokens,
            output_tokens, cache_read_input_tokens, cache_creation_input_tokens, tool_calls, raw_usage, error_type, output_text
     FROM ${qualified(opts.database ?? DEFAULT_DATABASE, 'llm_calls')} FINAL
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY start_time DESC, call_id
     LIMIT {limit:UInt32}`,
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
      'gen_ai.usage.input_tokens': n(r.input_tokens),
      'gen_ai.usage.output_tokens': n(r.output_tokens),
      'gen_ai.usage.cache_read.input_tokens': n(r.cache_read_input_tokens),
      'gen_ai.usage.cache_creation.input_tokens': n(r.cache_creation_input_tokens),
      tool_calls: Array.isArray(tools)
        ? tools.map((t: { name?: unknown; arguments?: unknown }) => ({
            name: String(t?.name ?? ''),
            arguments: typeof t?.arguments === 'string' ? parseJson(t.arguments) : (t?.arguments ?? null),
          }))
        : [],
      raw_usage: usage && typeof usage === 'object' && !Array.isArray(usage) ? (usage as Record<string, unknown>) : null,
      'error.type': r.error_type,
      output_text: r.output_text,
    };
  });
}

/** Token totals of one provider/model over a period. */
export interface TokenSummaryRow {
  provider: string;
  /** Response model, else request model, else ''. */
  model: string;
  calls: number;
  /** Sums over calls that reported the count (null counts are skipped). */
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

export interface TokenSummaryOptions extends DbOption {
  /** `today` = since local midnight; `week` = the last 7×24 h; `month` = the last 30×24 h. */
  period: 'today' | 'week' | 'month';
  /** Reference "now" in ms (tests); default Date.now(). */
  now?: number;
}

/** Start (ms since epoch) of a {@link TokenSummaryOptions.period}. */
export function periodStartMs(period: TokenSummaryOptions['period'], now: number = Date.now()): number {
  switch (period) {
    case 'today': {
      const d = new Date(now);
      d.setHours(0, 0, 0, 0);
      return d.getTime();
    }
    case 'week':
      return now - 7 * 86_400_000;
    case 'month':
      return now - 30 * 86_400_000;
    default:
      throw new Error(`unknown period: ${String(period)}`);
  }
}

/** Token usage per provider and model over `period` (by call start time), most input+output tokens first. */
export async function tokenSummary(client: ClickHouseClient, opts: TokenSummaryOptions): Promise<TokenSummaryRow[]> {
  const since = BigInt(periodStartMs(opts.period, opts.now)) * 1_000_000n;
  type R = { provider: string; model: string; calls: string; input_tokens: string; output_tokens: string; cache_read_input_tokens: string; cache_creation_input_tokens: string };
  const rs = await rows<R>(
    client,
    `SELECT provider, coalesce(response_model, request_model, '') AS model, count() AS calls,
            sum(coalesce(input_tokens, 0)) AS input_tokens, sum(coalesce(output_tokens, 0)) AS output_tokens,
            sum(coalesce(cache_read_input_tokens, 0)) AS cache_read_input_tokens,
            sum(coalesce(cache_creation_input_tokens, 0)) AS cache_creation_input_tokens
     FROM ${qualified(opts.database ?? DEFAULT_DATABASE, 'llm_calls')} FINAL
     WHERE start_time >= fromUnixTimestamp64Nano({since:Int64}, 'UTC')
     GROUP BY provider, model
     ORDER BY input_tokens + output_tokens DESC, calls DESC, provider, model`,
    { since: since.toString() },
  );
  return rs.map((r) => ({
    provider: r.provider,
    model: r.model,
    calls: Number(r.calls),
    input_tokens: Number(r.input_tokens),
    output_tokens: Number(r.output_tokens),
    cache_read_input_tokens: Number(r.cache_read_input_tokens),
    cache_creation_input_tokens: Number(r.cache_creation_input_tokens),
  }));
}

/** One stored audit record. */
export interface AuditEntry {
  id: string;
  type: string;
  action: string;
  host: string;
  /** ISO 8601, UTC. */
  ts: string;
  pid: number;
  ppid: number;
  comm: string;
  summary: string;
  details: Record<string, unknown>;
}

export interface ListAuditOptions extends DbOption {
  pid?: number;
  type?: 'llm' | 'process';
  since?: TimeInput;
  /** Max rows (default 200), newest first. */
  limit?: number;
}

/** Audit records, newest first. */
export async function listAudit(client: ClickHouseClient, opts: ListAuditOptions = {}): Promise<AuditEntry[]> {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: clampLimit(opts.limit, 200) };
  if (opts.pid !== undefined) {
    where.push('pid = {pid:UInt32}');
    params.pid = opts.pid;
  }
  if (opts.type) {
    where.push('type = {type:String}');
    params.type = opts.type;
  }
  if (opts.since !== undefined && opts.since !== '') {
    where.push("ts >= fromUnixTimestamp64Nano({since:Int64}, 'UTC')");
    params.since = timeToNs(opts.since).toString();
  }
  type R = Omit<AuditEntry, 'ts' | 'details'> & { ts_ns: string; details: string };
  const rs = await rows<R>(
    client,
    `SELECT id, type, action, host, toString(toUnixTimestamp64Nano(ts)) AS ts_ns, pid, ppid, comm, summary, details
     FROM ${qualified(opts.database ?? DEFAULT_DATABASE, 'audit_events')} FINAL
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY ts DESC, id
     LIMIT {limit:UInt32}`,
    params,
  );
  return rs.map(({ ts_ns, details, ...r }) => {
    const d = parseJson(details);
    return { ...r, pid: Number(r.pid), ppid: Number(r.ppid), ts: nsIso(ts_ns), details: d && typeof d === 'object' ? (d as Record<string, unknown>) : {} };
  });
}

/** One stored dead letter. */
export interface DeadLetterEntry {
  id: string;
  stage: string;
  host: string;
  reason: string;
  error: string;
  input_subject: string;
  input_seq: number;
  input_id: string | null;
  conn_key: string | null;
  /** First bytes of the offending input (redacted if text), base64. */
  sample_base64: string;
  /** ISO 8601, UTC. */
  ts: string;
}

export interface ListDeadLettersOptions extends DbOption {
  stage?: string;
  reason?: string;
  since?: TimeInput;
  /** Max rows (default 100), newest first. */
  limit?: number;
}

/** Dead letters, newest first. */
export async function listDeadLetters(client: ClickHouseClient, opts: ListDeadLettersOptions = {}): Promise<DeadLetterEntry[]> {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: clampLimit(opts.limit, 100) };
  if (opts.stage) {
    where.push('stage = {stage:String}');
    params.stage = opts.stage;
  }
  if (opts.reason) {
    where.push('reason = {reason:String}');
    params.reason = opts.reason;
  }
  if (opts.since !== undefined && opts.since !== '') {
    where.push("ts >= fromUnixTimestamp64Nano({since:Int64}, 'UTC')");
    params.since = timeToNs(opts.since).toString();
  }
  type R = Omit<DeadLetterEntry, 'ts' | 'input_seq'> & { ts_ns: string; input_seq: string };
  const rs = await rows<R>(
    client,
    `SELECT id, stage, host, reason, error, input_subject, input_seq, input_id, conn_key, sample_base64,
            toString(toUnixTimestamp64Nano(ts)) AS ts_ns
     FROM ${qualified(opts.database ?? DEFAULT_DATABASE, 'dead_letters')} FINAL
     ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY ts DESC, id
     LIMIT {limit:UInt32}`,
    params,
  );
  return rs.map(({ ts_ns, input_seq, ...r }) => ({ ...r, input_seq: Number(input_seq), ts: nsIso(ts_ns) }));
}

/** A stored exchange with its bodies decoded back to bytes (as stored, i.e. after redaction). */
export type StoredExchange = Omit<ExchangeRow, 'request_body' | 'request_body_encoding' | 'response_body' | 'response_body_encoding' | 'start_time' | 'end_time'> & {
  request_body: Uint8Array;
  /** For streamed responses: the SSE events as text (see schema.ts). */
  response_body: Uint8Array;
  /** Wall-clock ns. */
  start_ns: bigint;
  end_ns: bigint;
};

/** One exchange by id, or null when absent. */
export async function getExchange(client: ClickHouseClient, id: string, opts: DbOption = {}): Promise<StoredExchange | null> {
  type R = Omit<StoredExchange, 'request_body' | 'response_body' | 'start_ns' | 'end_ns'> & {
    request_body: string; request_body_encoding: string; response_body: string; response_body_encoding: string;
    start_ns: string; end_ns: string;
  };
  const rs = await rows<R>(
    client,
    `SELECT * EXCEPT (start_time, end_time, ingested_at),
            toString(toUnixTimestamp64Nano(start_time)) AS start_ns, toString(toUnixTimestamp64Nano(end_time)) AS end_ns
     FROM ${qualified(opts.database ?? DEFAULT_DATABASE, 'exchanges')} FINAL
     WHERE exchange_id = {id:String}
     LIMIT 1`,
    { id },
  );
  const r = rs[0];
  if (!r) return null;
  const { request_body_encoding, response_body_encoding, ...rest } = r;
  return {
    ...rest,
    pid: Number(r.pid),
    tid: Number(r.tid),
    uid: Number(r.uid),
    ppid: n(r.ppid),
    status: n(r.status),
    has_response: Boolean(r.has_response),
    streaming: Boolean(r.streaming),
    sse_events: Number(r.sse_events),
    request_headers: r.request_headers.map(([k, v]) => [k, v]),
    response_headers: r.response_headers.map(([k, v]) => [k, v]),
    request_body: decodeBody(r.request_body, request_body_encoding),
    response_body: decodeBody(r.response_body, response_body_encoding),
    start_ns: BigInt(r.start_ns),
    end_ns: BigInt(r.end_ns),
  };
}

/** Row counts (after dedup, i.e. with FINAL) of every table. */
export async function countRows(client: ClickHouseClient, opts: DbOption = {}): Promise<Record<TableName, number>> {
  const db = opts.database ?? DEFAULT_DATABASE;
  const query = TABLES.map((t) => `SELECT '${t}' AS table, count() AS n FROM ${qualified(db, t)} FINAL`).join(' UNION ALL ');
  const rs = await rows<{ table: TableName; n: string }>(client, query);
  const out = Object.fromEntries(TABLES.map((t) => [t, 0])) as Record<TableName, number>;
  for (const r of rs) out[r.table] = Number(r.n);
  return out;
}

/** One exchange in a listing (no bodies). */
export interface ExchangeSummary {
  exchange_id: string;
  /** ISO 8601, UTC, ms precision. */
  start_time: string;
  pid: number;
  comm: string;
  server_address: string;
  method: string;
  target: string;
  status: number | null;
  streaming: boolean;
  /** Stored (redacted) request body size, bytes. */
  request_body_bytes: number;
}

/** Latest exchanges, newest first; `target` keeps those whose request-target starts with it. */
export async function listExchanges(client: ClickHouseClient, opts: DbOption & { target?: string; limit?: number } = {}): Promise<ExchangeSummary[]> {
  const params: Record<string, unknown> = { limit: clampLimit(opts.limit, 100), target: opts.target ?? '' };
  type R = { exchange_id: string; start_ns: string; pid: number; comm: string; server_address: string; method: string; target: string; status: number | null; streaming: number; request_body_bytes: string };
  const rs = await rows<R>(
    client,
    `SELECT exchange_id, toString(toUnixTimestamp64Nano(start_time)) AS start_ns, pid, comm, server_address, method, target, status,
            streaming, if(request_body_encoding = 'base64', length(base64Decode(request_body)), length(request_body)) AS request_body_bytes
     FROM ${qualified(opts.database ?? DEFAULT_DATABASE, 'exchanges')} FINAL
     WHERE startsWith(target, {target:String})
     ORDER BY start_time DESC, exchange_id
     LIMIT {limit:UInt32}`,
    params,
  );
  return rs.map((r) => ({
    exchange_id: r.exchange_id, start_time: nsIso(r.start_ns), pid: Number(r.pid), comm: r.comm, server_address: r.server_address,
    method: r.method, target: r.target, status: n(r.status), streaming: Boolean(r.streaming), request_body_bytes: Number(r.request_body_bytes),
  }));
}
