/**
 * GenAI events and audit records → Alibaba Cloud SLS logs: one flat key/value log per event, every value a string
 * (as SLS stores them). Pure: no I/O. The key table (also in the README, "SLS logstore export"):
 *
 * | key | from |
 * |---|---|
 * | `agentsight.event.id` | the event's id (GenAI event id, audit record id) |
 * | `agentsight.event.kind` | `inference`, `execute_tool`, `invoke_agent` or `audit` |
 * | `agentsight.event.name` | the event's name (`chat gpt-4.1`, `execute_tool Bash`, `invoke_agent claude-code`) |
 * | `agentsight.event.version` | version of an `execute_tool` / `invoke_agent` event or tool audit record |
 * | `gen_ai.*`, `server.address`, `http.response.status_code`, `error.type`, `agentsight.usage.*` | the event's attributes as they are (arrays as JSON) |
 * | `instance` | the host (ANOLISA's key) |
 * | `agentsight.pid`, `agentsight.process_name` | the agent process (ANOLISA's keys) |
 * | `agentsight.agent.name` | `gen_ai.agent.name` when known (ANOLISA's key) |
 * | `agentsight.start_timestamp_ns`, `agentsight.end_timestamp_ns`, `agentsight.duration_ns` | wall-clock ns (ANOLISA's keys); absent when unknown |
 * | `agentsight.llm_call.id` | inference: the LLM call id (`llm_calls.call_id` in storage) |
 * | `agentsight.cost.usd` | inference / invoke_agent: cost at list prices, only when priced |
 * | `agentsight.tool_use.id`, `agentsight.tool.success` | execute_tool: the tool use id; `true`/`false` once the result is known (ANOLISA's key) |
 * | `agentsight.session.llm_calls`, `.tool_uses`, `.tool_errors`, `.unpriced_calls` | invoke_agent totals |
 * | `agentsight.audit.type`, `.action`, `.summary`, `.details` (JSON), `agentsight.ppid` | audit records |
 * | `agentsight.truncated` | `key:bytes,…` of values cut to keep the log within {@link MAX_LOG_BYTES} |
 *
 * Every string value goes through `redactValue` again (defence in depth: events are redacted upstream). The log time
 * is the event's time (start, else end; an audit record's `ts_ns`), in seconds plus the nanoseconds within the second.
 */
import { deriveId, GenAiAttr, hostToken, normalizeNs, redactValue, Subjects, type AuditRecord, type GenAiAgentEvent, type GenAiAttributeValue, type GenAiInferenceEvent, type GenAiRecord, type GenAiToolEvent } from '@agentsight/contracts';
import type { ExportModel } from '../engine';
import { checkGenAiRecord, genAiSubjectOf, genAiVersion, isFinal, SpanMappingError } from './spans';

/** One SLS log: time, the host it belongs to (its LogGroup's `__topic__`/`__source__`), and its contents. */
export interface SlsLog {
  /** The event id (same as `agentsight.event.id`). */
  id: string;
  host: string;
  /** Seconds since the epoch (Log.Time). */
  time: number;
  /** Nanoseconds within that second (Log.TimeNs). */
  timeNs: number;
  /** Key/value pairs in a stable order. */
  contents: Array<{ key: string; value: string }>;
}

/** SLS's limit per log, bytes (keys and values). */
export const MAX_LOG_BYTES = 1024 * 1024;
/** Room kept below {@link MAX_LOG_BYTES} for the protobuf framing and the `agentsight.truncated` entry. */
const LOG_HEADROOM = 4096;

/** Keys agentsight adds (see the module doc). */
export const SlsKey = {
  eventId: 'agentsight.event.id',
  eventKind: 'agentsight.event.kind',
  eventName: 'agentsight.event.name',
  eventVersion: 'agentsight.event.version',
  instance: 'instance',
  pid: 'agentsight.pid',
  ppid: 'agentsight.ppid',
  processName: 'agentsight.process_name',
  agentName: 'agentsight.agent.name',
  startNs: 'agentsight.start_timestamp_ns',
  endNs: 'agentsight.end_timestamp_ns',
  durationNs: 'agentsight.duration_ns',
  llmCallId: 'agentsight.llm_call.id',
  costUsd: 'agentsight.cost.usd',
  toolUseId: 'agentsight.tool_use.id',
  toolSuccess: 'agentsight.tool.success',
  sessionLlmCalls: 'agentsight.session.llm_calls',
  sessionToolUses: 'agentsight.session.tool_uses',
  sessionToolErrors: 'agentsight.session.tool_errors',
  sessionUnpriced: 'agentsight.session.unpriced_calls',
  auditType: 'agentsight.audit.type',
  auditAction: 'agentsight.audit.action',
  auditSummary: 'agentsight.audit.summary',
  auditDetails: 'agentsight.audit.details',
  truncated: 'agentsight.truncated',
} as const;

/** An attribute value as an SLS string: numbers and booleans as text, arrays as JSON. */
export function slsValue(v: GenAiAttributeValue | bigint): string {
  if (Array.isArray(v)) return JSON.stringify(v);
  return String(v);
}

function nsOrNull(v: unknown): bigint | null {
  if (v === null || v === undefined) return null;
  try {
    const n = normalizeNs(v as never);
    return n > 0n ? n : null;
  } catch {
    return null;
  }
}

function timeOf(ns: bigint): { time: number; timeNs: number } {
  return { time: Number(ns / 1_000_000_000n), timeNs: Number(ns % 1_000_000_000n) };
}

/** Builds the contents in insertion order, redacting every value and skipping null/undefined/''. */
class Contents {
  readonly list: Array<{ key: string; value: string }> = [];
  private readonly seen = new Set<string>();
  put(key: string, v: GenAiAttributeValue | bigint | null | undefined): void {
    if (v === null || v === undefined || this.seen.has(key)) return;
    const value = redactValue(slsValue(v));
    if (value === '') return;
    this.seen.add(key);
    this.list.push({ key, value });
  }
}

const byteLength = (s: string) => Buffer.byteLength(s, 'utf8');

/**
 * Cuts the largest values until the log's keys and values fit {@link MAX_LOG_BYTES} (less headroom), each cut at a
 * UTF-8 character boundary and ending in `…[cut]`, and records `key:original bytes` of each in
 * `agentsight.truncated`. Returns the contents unchanged when they fit.
 */
export function fitLog(contents: Array<{ key: string; value: string }>, limit = MAX_LOG_BYTES - LOG_HEADROOM): Array<{ key: string; value: string }> {
  let total = contents.reduce((n, c) => n + byteLength(c.key) + byteLength(c.value), 0);
  if (total <= limit) return contents;
  const out = contents.map((c) => ({ ...c }));
  const cut: string[] = [];
  const marker = '…[cut]';
  while (total > limit) {
    const big = out.reduce((a, b) => (byteLength(b.value) > byteLength(a.value) ? b : a));
    const size = byteLength(big.value);
    const keep = Math.max(0, size - (total - limit) - byteLength(marker));
    let head = Buffer.from(big.value, 'utf8').subarray(0, keep).toString('utf8');
    while (head.endsWith('\uFFFD')) head = head.slice(0, -1);
    const next = head + marker;
    if (byteLength(next) >= size) break; // nothing left to cut (only with absurd key sizes)
    if (!cut.some((c) => c.startsWith(`${big.key}:`))) cut.push(`${big.key}:${size}`);
    total -= size - byteLength(next);
    big.value = next;
  }
  out.push({ key: SlsKey.truncated, value: cut.join(',') });
  return out;
}

/** The SLS log of a GenAI record (see the module doc). Throws {@link SpanMappingError} for a record that cannot be one. */
export function genAiLog(ev: GenAiRecord): SlsLog {
  const kind = checkGenAiRecord(ev);
  if (typeof ev.id !== 'string' || ev.id === '' || typeof ev.host !== 'string') throw new SpanMappingError('GenAI record without id or host');
  const start = nsOrNull((ev as { start_ns: unknown }).start_ns);
  const end = nsOrNull((ev as { end_ns: unknown }).end_ns);
  const at = start ?? end;
  if (at === null) throw new SpanMappingError(`event ${ev.id} has no start or end time`);
  const c = new Contents();
  c.put(SlsKey.eventId, ev.id);
  c.put(SlsKey.eventKind, kind);
  c.put(SlsKey.eventName, ev.name);
  if (kind !== 'inference') c.put(SlsKey.eventVersion, genAiVersion(ev));
  for (const [k, v] of Object.entries(ev.attributes ?? {})) c.put(k, v);
  c.put(SlsKey.instance, ev.host);
  if (typeof ev.pid === 'number' && ev.pid > 0) c.put(SlsKey.pid, ev.pid);
  c.put(SlsKey.processName, ev.process_name);
  const agent = ev.attributes?.[GenAiAttr.agentName] ?? (kind === 'invoke_agent' ? (ev as GenAiAgentEvent).agent_name : undefined);
  c.put(SlsKey.agentName, agent);
  if (start !== null) c.put(SlsKey.startNs, start);
  if (end !== null) c.put(SlsKey.endNs, end);
  if (start !== null && end !== null && end >= start) c.put(SlsKey.durationNs, end - start);
  if (kind === 'inference') {
    const e = ev as GenAiInferenceEvent;
    c.put(SlsKey.llmCallId, e.llm_call_id);
    if (typeof e.cost_usd === 'number') c.put(SlsKey.costUsd, e.cost_usd);
  } else if (kind === 'execute_tool') {
    const t = ev as GenAiToolEvent;
    c.put(SlsKey.toolUseId, t.tool_use_id);
    if (typeof t.success === 'boolean') c.put(SlsKey.toolSuccess, t.success);
  } else {
    const a = ev as GenAiAgentEvent;
    if (typeof a.cost_usd === 'number') c.put(SlsKey.costUsd, a.cost_usd);
    c.put(SlsKey.sessionLlmCalls, a.llm_calls);
    c.put(SlsKey.sessionToolUses, a.tool_uses);
    c.put(SlsKey.sessionToolErrors, a.tool_errors);
    c.put(SlsKey.sessionUnpriced, a.unpriced_calls);
  }
  return { id: ev.id, host: ev.host, ...timeOf(at), contents: fitLog(c.list) };
}

/** Version of an audit record: a tool record's `details.version`, else 0 (immutable). */
export function auditVersion(a: AuditRecord): number {
  const v = a.type === 'tool' ? Number((a.details as { version?: unknown } | undefined)?.version) : 0;
  return Number.isFinite(v) ? v : 0;
}

/** Version from which a tool audit record is final (both halves of the tool use known), as for `execute_tool`. */
const FINAL_TOOL_AUDIT_VERSION = 3;

/** JSON of audit details with bigints as decimal strings. */
function detailsJson(d: Record<string, unknown>): string {
  return JSON.stringify(d, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** The SLS log of an audit record (see the module doc). Throws {@link SpanMappingError} for one without id, host or time. */
export function auditLog(a: AuditRecord): SlsLog {
  if (!a || typeof a !== 'object' || typeof a.id !== 'string' || a.id === '' || typeof a.host !== 'string' || typeof a.type !== 'string') {
    throw new SpanMappingError('audit record without id, host or type');
  }
  const at = nsOrNull(a.ts_ns);
  if (at === null) throw new SpanMappingError(`audit record ${a.id} has no time`);
  const c = new Contents();
  c.put(SlsKey.eventId, a.id);
  c.put(SlsKey.eventKind, 'audit');
  if (a.type === 'tool') c.put(SlsKey.eventVersion, auditVersion(a));
  c.put(SlsKey.auditType, a.type);
  c.put(SlsKey.auditAction, a.action);
  c.put(SlsKey.auditSummary, a.summary);
  c.put(SlsKey.instance, a.host);
  if (typeof a.pid === 'number' && a.pid > 0) c.put(SlsKey.pid, a.pid);
  if (typeof a.ppid === 'number' && a.ppid > 0) c.put(SlsKey.ppid, a.ppid);
  c.put(SlsKey.processName, a.comm);
  c.put(SlsKey.startNs, at);
  c.put(SlsKey.auditDetails, detailsJson(redactValue(a.details ?? {})));
  return { id: a.id, host: a.host, ...timeOf(at), contents: fitLog(c.list) };
}

/** The SLS targets' model of GenAI events: final and versioned as for spans ({@link isFinal}). */
export const slsGenAiModel: ExportModel<SlsLog> = {
  item: 'log',
  rejectedReason: 'sls_rejected',
  prepare(value) {
    const ev = value as GenAiRecord;
    const log = genAiLog(ev);
    return { id: ev.id, version: genAiVersion(ev), final: isFinal(ev), item: log };
  },
  label: (log, value) => `${log.id} (${(value as GenAiRecord).name})`,
  subjectOf: genAiSubjectOf,
};

/** The SLS targets' model of audit records: tool records below version 3 settle first, the others are final. */
export const slsAuditModel: ExportModel<SlsLog> = {
  item: 'log',
  rejectedReason: 'sls_rejected',
  prepare(value) {
    const a = value as AuditRecord;
    const log = auditLog(a);
    const version = auditVersion(a);
    return { id: a.id, version, final: a.type !== 'tool' || version >= FINAL_TOOL_AUDIT_VERSION, item: log };
  },
  label: (log, value) => `${log.id} (${(value as AuditRecord).type} ${(value as AuditRecord).action})`,
  subjectOf: (value) => {
    const host = (value as { host?: unknown } | null)?.host;
    return typeof host === 'string' ? Subjects.audit(hostToken(host)) : '';
  },
};

/** Stable `__pack_id__` of a request: `<16 upper-case hex of sha256 over its log ids>-1` (SLS's `prefix-number` form). */
export function packIdOf(logs: SlsLog[]): string {
  return `${deriveId('sls-pack', ...logs.map((l) => l.id)).slice(0, 16).toUpperCase()}-1`;
}
