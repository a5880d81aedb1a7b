/**
 * Pure mappings from the pipeline's contracts to JSONEachRow rows of the tables in `schema.ts`.
 *
 * Conventions: `DateTime64(9)` values are strings `YYYY-MM-DD hh:mm:ss.nnnnnnnnn` (UTC); bigints are decimal
 * strings; JSON columns are JSON text (bigints inside become numbers when safe, else strings). `ingested_at` is
 * omitted (the column default fills it). Every text that can carry a secret goes through the redaction of
 * `@agentsight/contracts` first: secrets never reach storage.
 *
 * Each function throws an Error on a structurally invalid input (e.g. a timestamp that is not an integer), so the
 * caller can dead-letter it.
 */
import {
  GenAiAttr,
  redactArgv,
  redactBytes,
  redactHeaders,
  redactSample,
  redactText,
  redactUrl,
  redactValue,
  type AuditRecord,
  type DeadLetter,
  type Exchange,
  type GenAiAgentEvent,
  type GenAiInferenceEvent,
  type GenAiToolEvent,
  type HeaderList,
  type SseEvent,
  type ToolUse,
} from '@agentsight/contracts';

/** Row of `llm_calls`. */
export type LlmCallRow = {
  call_id: string;
  event_id: string;
  name: string;
  host: string;
  start_time: string;
  end_time: string;
  duration_ms: number;
  pid: number;
  process_name: string;
  server_address: string;
  http_status: number | null;
  operation: string;
  provider: string;
  request_model: string | null;
  response_model: string | null;
  response_id: string | null;
  finish_reasons: string[];
  input_tokens: number | null;
  output_tokens: number | null;
  cache_read_input_tokens: number | null;
  cache_creation_input_tokens: number | null;
  reasoning_output_tokens: number | null;
  error_type: string | null;
  tool_calls: string;
  raw_usage: string;
  attributes: string;
  output_text: string;
  exchange_id: string;
  /** USD at list prices; null = unpriced. */
  cost_usd: number | null;
  price_id: string | null;
  /** `reported` | `estimated` (token counts counted by agentsight, see `LlmCall.usage_source`). */
  usage_source: 'reported' | 'estimated';
  /** Tokenizer of estimated counts; null when reported. */
  usage_tokenizer: string | null;
  /** `gen_ai.conversation.id` / `gen_ai.agent.name`; null when unknown (or stored before they existed). */
  conversation_id: string | null;
  agent_name: string | null;
  /** Streamed calls: ms from the request's first byte to the first SSE event (`gen_ai.response.time_to_first_chunk`); else null. */
  time_to_first_chunk_ms: number | null;
} & UsageDetailColumns;

/**
 * Token breakdown columns of `llm_calls` (tokens; `LlmCall.usage_detail`): input by role, output by type; null when
 * the event carries no breakdown (or that half of it is unknown).
 */
export type UsageDetailColumns = {
  input_system_tokens: number | null;
  input_user_tokens: number | null;
  input_assistant_tokens: number | null;
  input_tool_tokens: number | null;
  output_text_tokens: number | null;
  output_reasoning_tokens: number | null;
  output_tool_call_tokens: number | null;
};

/** The {@link UsageDetailColumns} of a GenAI event's `usage_detail` (all null when absent). */
export function usageDetailColumns(d: GenAiInferenceEvent['usage_detail']): UsageDetailColumns {
  const i = d?.input ?? null;
  const o = d?.output ?? null;
  return {
    input_system_tokens: i ? num(i.system) : null,
    input_user_tokens: i ? num(i.user) : null,
    input_assistant_tokens: i ? num(i.assistant) : null,
    input_tool_tokens: i ? num(i.tool) : null,
    output_text_tokens: o ? num(o.text) : null,
    output_reasoning_tokens: o ? num(o.reasoning) : null,
    output_tool_call_tokens: o ? num(o.tool_calls) : null,
  };
}

/**
 * Time columns of a versioned record whose halves arrive separately (`tool_uses`, `genai_spans`): `DateTime64(9)` text
 * of its wall-clock ns (null = that half is not known yet) and the ms between them (null unless both are known).
 */
export type RecordTimeColumns = { start_time: string | null; end_time: string | null; duration_ms: number | null };

/**
 * Row of `tool_uses` (one per ToolUse id; the highest `version` is kept): the {@link ToolUse} fields, times as
 * {@link RecordTimeColumns}, `agent_name` null when unknown.
 */
export type ToolUseRow = Omit<ToolUse, 'v' | 'agent_name' | 'start_ns' | 'end_ns'> & { agent_name: string | null } & RecordTimeColumns;

/** The `invoke_agent` totals (counts; tokens; USD) a `genai_spans` row carries (zero / null for `execute_tool`). */
export type AgentTotalColumns = Pick<GenAiAgentEvent, 'llm_calls' | 'tool_uses' | 'tool_errors' | 'input_tokens' | 'output_tokens' | 'cost_usd' | 'unpriced_calls'>;

/**
 * Row of `genai_spans`: an `execute_tool` or `invoke_agent` event (the highest `version` per id is kept). The fields
 * of one kind only are null (`tool_use_id`, `tool_name`, `success`) or zero ({@link AgentTotalColumns}) for the other;
 * `attributes` = JSON text.
 */
export type GenAiSpanRow = Pick<GenAiToolEvent | GenAiAgentEvent, 'id' | 'version' | 'kind' | 'name' | 'host' | 'pid' | 'process_name'> & {
  conversation_id: string | null;
  agent_name: string | null;
  tool_use_id: string | null;
  tool_name: string | null;
  success: boolean | null;
  attributes: string;
} & RecordTimeColumns &
  AgentTotalColumns;

/** How a body is stored: `utf8` = as text (it was valid UTF-8), `base64` = base64 of the bytes. */
export type BodyEncoding = 'utf8' | 'base64';

/** Row of `exchanges`. */
export type ExchangeRow = {
  exchange_id: string;
  host: string;
  conn_key: string;
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  ppid: number | null;
  process_exe: string;
  process_argv: string[];
  server_address: string;
  method: string;
  target: string;
  request_version: string;
  request_headers: Array<[string, string]>;
  request_body: string;
  request_body_encoding: BodyEncoding;
  request_body_incomplete: string | null;
  has_response: boolean;
  status: number | null;
  reason: string;
  response_headers: Array<[string, string]>;
  response_body: string;
  response_body_encoding: BodyEncoding;
  response_body_incomplete: string | null;
  streaming: boolean;
  sse_events: number;
  start_time: string;
  end_time: string;
};

/** Row of `audit_events`. */
export type AuditRow = {
  id: string;
  type: string;
  action: string;
  host: string;
  ts: string;
  pid: number;
  ppid: number;
  comm: string;
  summary: string;
  details: string;
  /** Only for versioned records (type `tool`): the version as ns after the epoch, so the highest version wins. */
  ingested_at?: string;
};

/** Row of `dead_letters`. */
export type DeadLetterRow = {
  id: string;
  stage: string;
  host: string;
  reason: string;
  error: string;
  input_subject: string;
  input_seq: string;
  input_id: string | null;
  conn_key: string | null;
  /** First bytes of the offending input (redacted if text), base64. */
  sample_base64: string;
  ts: string;
};

/** Any row of the tables. */
export type AnyRow = LlmCallRow | ExchangeRow | AuditRow | DeadLetterRow | ToolUseRow | GenAiSpanRow;

const NS_PER_S = 1_000_000_000n;

/** Coerces a timestamp (bigint ns; a safe-integer number or decimal string is accepted too) to bigint ns. */
export function toNs(v: unknown, what = 'timestamp'): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  throw new Error(`${what} is not an integer ns value: ${String(v)}`);
}

/** Wall-clock ns → ClickHouse `DateTime64(9)` text in UTC: `YYYY-MM-DD hh:mm:ss.nnnnnnnnn`. */
export function nsToDateTime64(ns: bigint): string {
  let secs = ns / NS_PER_S;
  let frac = ns % NS_PER_S;
  if (frac < 0n) {
    frac += NS_PER_S;
    secs -= 1n;
  }
  const iso = new Date(Number(secs) * 1000).toISOString(); // YYYY-MM-DDThh:mm:ss.000Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${frac.toString().padStart(9, '0')}`;
}

/** JSON.stringify that writes bigints as numbers when safe, else as decimal strings. */
export function jsonText(v: unknown): string {
  return JSON.stringify(v ?? null, (_k, x) => {
    if (typeof x === 'bigint') return x <= BigInt(Number.MAX_SAFE_INTEGER) && x >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(x) : x.toString();
    if (x instanceof Uint8Array) return Buffer.from(x).toString('base64');
    return x;
  });
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Stores bytes as text when they are valid UTF-8, else base64. Inverse: {@link decodeBody}. */
export function encodeBody(b: Uint8Array): { body: string; encoding: BodyEncoding } {
  if (b.length === 0) return { body: '', encoding: 'utf8' };
  try {
    return { body: decoder.decode(b), encoding: 'utf8' };
  } catch {
    return { body: Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64'), encoding: 'base64' };
  }
}

/** Bytes of a stored body (inverse of {@link encodeBody}). */
export function decodeBody(body: string, encoding: string): Uint8Array {
  return new Uint8Array(encoding === 'base64' ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8'));
}

/**
 * SSE events as text: `event: <event>\n`, `id: <id>\n` when present, one `data: <line>\n` per line of `data`, then a
 * blank line. Parsing it back with the WHATWG rules gives the same events.
 */
export function sseText(events: SseEvent[]): string {
  let out = '';
  for (const e of events) {
    out += `event: ${e.event}\n`;
    if (e.last_event_id !== undefined) out += `id: ${e.last_event_id}\n`;
    for (const line of e.data.split('\n')) out += `data: ${line}\n`;
    out += '\n';
  }
  return out;
}

function str(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  return String(v);
}

function num(v: unknown): number | null {
  if (v === undefined || v === null || v === '') return null;
  const n = typeof v === 'bigint' ? Number(v) : Number(v);
  return Number.isFinite(n) ? n : null;
}

function uint(v: unknown, what: string): number {
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new Error(`${what} is not a non-negative integer: ${String(v)}`);
  return n;
}

function headers(h: HeaderList | undefined): Array<[string, string]> {
  return redactHeaders(h ?? []).map(([k, v]) => [String(k), String(v)]);
}

/**
 * `llm_calls` row of a GenAI event (one per LLM call). Semconv attributes become columns (missing → null; token
 * counts stay null when not reported); `tool_calls` = JSON array of `{id,name,arguments}` with arguments redacted;
 * `raw_usage` = JSON (or `null`); `attributes` = JSON of all attributes; `output_text` redacted; `cost_usd` / `price_id`
 * from the event's cost (null when unpriced or absent); `usage_source` / `usage_tokenizer` from the
 * `agentsight.usage.*` attributes (`reported` / null when absent).
 */
export function llmCallRow(ev: GenAiInferenceEvent): LlmCallRow {
  if (!ev || typeof ev.id !== 'string' || !ev.id) throw new Error('genai event without id');
  const a = ev.attributes ?? {};
  const start = toNs(ev.start_ns, 'start_ns');
  const end = toNs(ev.end_ns, 'end_ns');
  const finish = a['gen_ai.response.finish_reasons'];
  const status = num(a['http.response.status_code']);
  return {
    call_id: ev.llm_call_id || ev.id,
    event_id: ev.id,
    name: ev.name ?? '',
    host: ev.host ?? '',
    start_time: nsToDateTime64(start),
    end_time: nsToDateTime64(end),
    duration_ms: Number(end - start) / 1e6,
    pid: uint(ev.pid, 'pid'),
    process_name: ev.process_name ?? '',
    server_address: str(a['server.address']) ?? '',
    http_status: status,
    operation: str(a['gen_ai.operation.name']) ?? '',
    provider: str(a['gen_ai.provider.name']) ?? '',
    request_model: str(a['gen_ai.request.model']),
    response_model: str(a['gen_ai.response.model']),
    response_id: str(a['gen_ai.response.id']),
    finish_reasons: Array.isArray(finish) ? finish.map(String) : finish === undefined ? [] : [String(finish)],
    input_tokens: num(a['gen_ai.usage.input_tokens']),
    output_tokens: num(a['gen_ai.usage.output_tokens']),
    cache_read_input_tokens: num(a['gen_ai.usage.cache_read.input_tokens']),
    cache_creation_input_tokens: num(a['gen_ai.usage.cache_creation.input_tokens']),
    reasoning_output_tokens: num(a['gen_ai.usage.reasoning.output_tokens']),
    error_type: str(a['error.type']),
    tool_calls: jsonText((ev.tool_calls ?? []).map((t) => ({ id: t.id ?? null, name: t.name, arguments: redactText(String(t.arguments ?? '')) }))),
    raw_usage: jsonText(ev.raw_usage ?? null),
    attributes: jsonText(redactValue(a)),
    output_text: redactText(ev.output_text ?? ''),
    exchange_id: ev.exchange_id ?? '',
    ...cost(ev),
    ...usageSource(a),
    conversation_id: str(ev.conversation_id ?? a[GenAiAttr.conversationId]),
    agent_name: str(a[GenAiAttr.agentName]),
    time_to_first_chunk_ms: typeof a[GenAiAttr.responseTimeToFirstChunk] === 'number' ? (a[GenAiAttr.responseTimeToFirstChunk] as number) * 1000 : null,
    ...usageDetailColumns(ev.usage_detail),
  };
}

/** {@link RecordTimeColumns} of wall-clock ns that may be unknown (null/undefined). Throws on a non-integer value. */
function recordTimeColumns(startNs: unknown, endNs: unknown): RecordTimeColumns {
  const start = startNs === null || startNs === undefined ? null : toNs(startNs, 'start_ns');
  const end = endNs === null || endNs === undefined ? null : toNs(endNs, 'end_ns');
  return {
    start_time: start === null ? null : nsToDateTime64(start),
    end_time: end === null ? null : nsToDateTime64(end),
    duration_ms: start !== null && end !== null ? Number(end - start) / 1e6 : null,
  };
}

/**
 * `tool_uses` row of a ToolUse; `arguments`/`result` redacted again ({@link redactText}: the analyzer redacts them, but
 * storage never trusts that). Throws on a record without id or version.
 */
export function toolUseRow(t: ToolUse): ToolUseRow {
  if (!t || typeof t.id !== 'string' || !t.id) throw new Error('tool use without id');
  return {
    id: t.id,
    version: uint(t.version, 'version'),
    source: t.source ?? 'llm',
    host: t.host ?? '',
    pid: uint(t.pid, 'pid'),
    comm: t.comm ?? '',
    agent_name: t.agent_name ?? null,
    conversation_id: t.conversation_id ?? null,
    name: t.name ?? '',
    call_id: t.call_id ?? null,
    tool_type: t.tool_type ?? 'function',
    arguments: redactText(String(t.arguments ?? '')),
    result: t.result === null || t.result === undefined ? null : redactText(String(t.result)),
    success: typeof t.success === 'boolean' ? t.success : null,
    ...recordTimeColumns(t.start_ns, t.end_ns),
    origin_llm_call_id: t.origin_llm_call_id ?? null,
    result_llm_call_id: t.result_llm_call_id ?? null,
  };
}

/** `genai_spans` row of an `execute_tool` or `invoke_agent` event; attributes redacted. Throws on another kind. */
export function genAiSpanRow(ev: GenAiToolEvent | GenAiAgentEvent): GenAiSpanRow {
  if (!ev || typeof ev.id !== 'string' || !ev.id) throw new Error('genai event without id');
  if (ev.kind !== 'execute_tool' && ev.kind !== 'invoke_agent') throw new Error(`not a span event: ${String((ev as { kind?: unknown }).kind)}`);
  const a = ev.attributes ?? {};
  const agent = ev.kind === 'invoke_agent' ? ev : null;
  const tool = ev.kind === 'execute_tool' ? ev : null;
  return {
    id: ev.id,
    version: uint(ev.version, 'version'),
    kind: ev.kind,
    name: ev.name ?? '',
    host: ev.host ?? '',
    pid: uint(ev.pid ?? 0, 'pid'),
    process_name: ev.process_name ?? '',
    conversation_id: ev.conversation_id ?? null,
    agent_name: agent?.agent_name ?? str(a[GenAiAttr.agentName]),
    tool_use_id: tool?.tool_use_id ?? null,
    tool_name: tool ? str(a[GenAiAttr.toolName]) : null,
    success: tool && typeof tool.success === 'boolean' ? tool.success : null,
    ...recordTimeColumns(ev.start_ns, ev.end_ns),
    llm_calls: agent?.llm_calls ?? 0,
    tool_uses: agent?.tool_uses ?? 0,
    tool_errors: agent?.tool_errors ?? 0,
    input_tokens: agent?.input_tokens ?? 0,
    output_tokens: agent?.output_tokens ?? 0,
    cost_usd: agent && typeof agent.cost_usd === 'number' && Number.isFinite(agent.cost_usd) ? agent.cost_usd : null,
    unpriced_calls: agent?.unpriced_calls ?? 0,
    attributes: jsonText(redactValue(a)),
  };
}

/**
 * Usage provenance columns from the event's agentsight attributes (`agentsight.usage.source` = `estimated`,
 * `agentsight.usage.tokenizer`); events without them (provider-reported usage, or written before estimation existed)
 * are `reported` with a null tokenizer.
 */
function usageSource(a: GenAiInferenceEvent['attributes']): { usage_source: 'reported' | 'estimated'; usage_tokenizer: string | null } {
  if (a[GenAiAttr.usageSource] !== 'estimated') return { usage_source: 'reported', usage_tokenizer: null };
  return { usage_source: 'estimated', usage_tokenizer: str(a[GenAiAttr.usageTokenizer]) };
}

/** Cost columns of an event; events from before costs existed (no `cost_usd`) and non-finite values give null. */
function cost(ev: GenAiInferenceEvent): { cost_usd: number | null; price_id: string | null } {
  const usd = ev.cost_usd;
  if (typeof usd !== 'number' || !Number.isFinite(usd) || usd < 0) return { cost_usd: null, price_id: null };
  return { cost_usd: usd, price_id: typeof ev.cost?.price_id === 'string' ? ev.cost.price_id : null };
}

/**
 * `exchanges` row. Redaction: headers ({@link redactHeaders}), target ({@link redactUrl}), argv, and both bodies
 * ({@link redactBytes}: UTF-8 text only) — secrets never reach storage. Bodies are stored per {@link encodeBody};
 * a streamed response's body is its SSE events as {@link sseText} (when it has no events, its raw body).
 */
export function exchangeRow(ex: Exchange): ExchangeRow {
  if (!ex || typeof ex.id !== 'string' || !ex.id) throw new Error('exchange without id');
  const req = ex.request;
  if (!req) throw new Error(`exchange ${ex.id} without request`);
  const res = ex.response;
  const reqBody = encodeBody(redactBytes(req.body ?? new Uint8Array()));
  let resBody: { body: string; encoding: BodyEncoding } = { body: '', encoding: 'utf8' };
  if (res) {
    if (res.streaming && res.events?.length) resBody = { body: redactText(sseText(res.events)), encoding: 'utf8' };
    else resBody = encodeBody(redactBytes(res.body ?? new Uint8Array()));
  }
  const start = toNs(req.start_ns, 'request.start_ns');
  const end = res ? toNs(res.end_ns, 'response.end_ns') : toNs(req.end_ns, 'request.end_ns');
  const p = ex.process;
  return {
    exchange_id: ex.id,
    host: ex.conn?.host ?? '',
    conn_key: ex.conn?.key ?? '',
    pid: uint(p?.pid ?? ex.conn?.pid ?? 0, 'pid'),
    tid: uint(ex.conn?.tid ?? 0, 'tid'),
    uid: uint(p?.uid ?? ex.conn?.uid ?? 0, 'uid'),
    comm: p?.comm ?? ex.conn?.comm ?? '',
    ppid: p ? uint(p.ppid, 'ppid') : null,
    process_exe: p?.exe ?? '',
    process_argv: redactArgv(p?.argv ?? []),
    server_address: ex.server_address ?? '',
    method: req.method ?? '',
    target: redactUrl(req.target ?? ''),
    request_version: req.version ?? '',
    request_headers: headers(req.headers),
    request_body: reqBody.body,
    request_body_encoding: reqBody.encoding,
    request_body_incomplete: req.body_incomplete ?? null,
    has_response: res !== null && res !== undefined,
    status: res ? uint(res.status, 'status') : null,
    reason: res?.reason ?? '',
    response_headers: headers(res?.headers),
    response_body: resBody.body,
    response_body_encoding: resBody.encoding,
    response_body_incomplete: res?.body_incomplete ?? null,
    streaming: res?.streaming ?? false,
    sse_events: res?.events?.length ?? 0,
    start_time: nsToDateTime64(start),
    end_time: nsToDateTime64(end),
  };
}

/**
 * `audit_events` row; `summary` and `details` (JSON) redacted (audited command lines can carry keys). Versioned
 * records (`details.version`, type `tool`) get `ingested_at` = their version in ns after the epoch, so the table's
 * `ReplacingMergeTree(ingested_at)` keeps the highest version whatever the insert order.
 */
export function auditRow(a: AuditRecord): AuditRow {
  if (!a || typeof a.id !== 'string' || !a.id) throw new Error('audit record without id');
  const version = a.type === 'tool' ? a.details?.version : undefined;
  return {
    ...(typeof version === 'number' && Number.isInteger(version) && version > 0 ? { ingested_at: nsToDateTime64(BigInt(version)) } : {}),
    id: a.id,
    type: a.type,
    action: a.action ?? '',
    host: a.host ?? '',
    ts: nsToDateTime64(toNs(a.ts_ns, 'ts_ns')),
    pid: uint(a.pid, 'pid'),
    ppid: uint(a.ppid ?? 0, 'ppid'),
    comm: a.comm ?? '',
    summary: redactText(a.summary ?? ''),
    details: jsonText(redactValue(a.details ?? {})),
  };
}

/** `dead_letters` row; the sample is redacted ({@link redactSample}: text, or text between binary bytes), then base64-encoded; `error` is redacted. */
export function deadLetterRow(d: DeadLetter): DeadLetterRow {
  if (!d || typeof d.id !== 'string' || !d.id) throw new Error('dead letter without id');
  const sample = d.sample ? redactSample(d.sample) : new Uint8Array();
  return {
    id: d.id,
    stage: d.stage,
    host: d.host ?? '',
    reason: d.reason ?? '',
    error: redactText(d.error ?? ''),
    input_subject: d.input_subject ?? '',
    input_seq: String(uint(d.input_seq ?? 0, 'input_seq')),
    input_id: d.input_id ?? null,
    conn_key: d.conn_key ?? null,
    sample_base64: Buffer.from(sample.buffer, sample.byteOffset, sample.byteLength).toString('base64'),
    ts: nsToDateTime64(toNs(d.ts_ns, 'ts_ns')),
  };
}
