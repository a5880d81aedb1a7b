/**
 * GenAI events (`agentsight.genai.<host>`, `libs/contracts/src/genai.ts`) → OpenTelemetry spans (`ReadableSpan` of
 * `@opentelemetry/sdk-trace-base`), following the GenAI span conventions of semconv v1.41
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/ and gen-ai-agent-spans/). Pure: no NATS, no Redis.
 *
 * Ids are deterministic, so exporting the same event twice (replay, redelivery) gives the identical span:
 * - trace id = first 32 hex of sha256(`otel-trace`, host, `gen_ai.conversation.id`): one trace per agent session; an
 *   event without a conversation id gets its own trace (sha256(`otel-trace`, event id));
 * - span id = first 16 hex of sha256(`otel-span`, event id);
 * - parent = the span id of the session's `invoke_agent` event, whose event id is (contract, genai.ts)
 *   deriveId('genai', 'invoke_agent', host, conversation id): inference and execute_tool spans of a session are its
 *   children; the `invoke_agent` span is the trace's root.
 */
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type HrTime, type SpanContext } from '@opentelemetry/api';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { ExportModel } from '../engine';
import {
  deriveId, GenAiAttr, hostToken, normalizeNs, redactValue, Subjects,
  type GenAiAgentEvent, type GenAiAttributeValue, type GenAiInferenceEvent, type GenAiRecord, type GenAiToolEvent,
} from '@agentsight/contracts';

/** `execute_tool` version at which both halves of a tool use are known (ToolUse contract): final, exported at once. */
export const FINAL_TOOL_VERSION = 3;

/** Instrumentation scope of every exported span. */
export const INSTRUMENTATION_SCOPE = { name: 'agentsight', version: '0.1.0' } as const;

/**
 * Attributes agentsight adds beside the semconv ones (not semconv; `agentsight.*` namespace):
 * - `agentsight.event.id`: the GenAI event id (key of `llm_calls` / `genai_spans` in storage);
 * - `agentsight.event.version`: version of an `execute_tool` / `invoke_agent` event that was exported;
 * - `agentsight.cost.usd`: the event's `cost_usd` (USD at list prices), only when priced;
 * - `agentsight.session.llm_calls` / `tool_uses` / `tool_errors`: counts of an `invoke_agent` session.
 */
export const ExtraAttr = {
  eventId: 'agentsight.event.id',
  eventVersion: 'agentsight.event.version',
  costUsd: 'agentsight.cost.usd',
  sessionLlmCalls: 'agentsight.session.llm_calls',
  sessionToolUses: 'agentsight.session.tool_uses',
  sessionToolErrors: 'agentsight.session.tool_errors',
} as const;

/** Thrown by {@link toSpan} for an event that cannot be a span (unknown kind, no time at all). */
export class SpanMappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpanMappingError';
  }
}

/** Kind of a GenAI record: `inference` (no `kind` or `inference`), `execute_tool` or `invoke_agent`; else null. */
export function recordKind(ev: GenAiRecord): 'inference' | 'execute_tool' | 'invoke_agent' | null {
  const k = (ev as { kind?: unknown }).kind;
  if (k === undefined || k === null || k === 'inference') return 'inference';
  if (k === 'execute_tool' || k === 'invoke_agent') return k;
  return null;
}

/**
 * True when an event may be exported as soon as it arrives: inference events (immutable), and `execute_tool` events
 * at version {@link FINAL_TOOL_VERSION} (both halves known). Other versioned events wait until they settle.
 */
export function isFinal(ev: GenAiRecord): boolean {
  const k = recordKind(ev);
  return k === 'inference' || (k === 'execute_tool' && (ev as GenAiToolEvent).version >= FINAL_TOOL_VERSION);
}

/** `gen_ai.conversation.id` of an event (field, else attribute), or null. */
export function conversationOf(ev: GenAiRecord): string | null {
  const field = (ev as { conversation_id?: string | null }).conversation_id;
  if (typeof field === 'string' && field !== '') return field;
  const attr = ev.attributes?.[GenAiAttr.conversationId];
  return typeof attr === 'string' && attr !== '' ? attr : null;
}

/** Trace id (32 hex) of an agent session: sha256(`otel-trace`, host, conversation id), first 128 bits. */
export function sessionTraceId(host: string, conversationId: string): string {
  return nonZero(deriveId('otel-trace', host, conversationId));
}

/** Span id (16 hex) of a GenAI event id: sha256(`otel-span`, event id), first 64 bits. */
export function spanIdOf(eventId: string): string {
  return nonZero(deriveId('otel-span', eventId).slice(0, 16));
}

/** Event id of a session's `invoke_agent` event (contract: deriveId('genai', 'invoke_agent', host, conversation id)). */
export function sessionEventId(host: string, conversationId: string): string {
  return deriveId('genai', 'invoke_agent', host, conversationId);
}

/** All-zero ids are invalid in OTel (W3C trace context); a hash that is all zero (never in practice) gets a 1. */
function nonZero(hex: string): string {
  return /^0+$/.test(hex) ? `${hex.slice(0, -1)}1` : hex;
}

/** Wall-clock ns → OTel HrTime `[seconds, nanoseconds]`, exact. */
export function nsToHrTime(ns: bigint): HrTime {
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
}

/**
 * The span context of an event: `{ traceId, spanId, parent }` per the module doc (parent null for `invoke_agent` and
 * for events without a conversation id).
 */
export function spanIds(ev: GenAiRecord): { traceId: string; spanId: string; parentSpanId: string | null } {
  const conv = conversationOf(ev);
  const spanId = spanIdOf(ev.id);
  if (!conv) return { traceId: nonZero(deriveId('otel-trace', ev.id)), spanId, parentSpanId: null };
  const traceId = sessionTraceId(ev.host, conv);
  if (recordKind(ev) === 'invoke_agent') return { traceId, spanId, parentSpanId: null };
  return { traceId, spanId, parentSpanId: spanIdOf(sessionEventId(ev.host, conv)) };
}

const resources = new Map<string, Resource>();

/** The OTel resource of a host's spans: `service.name` = `agentsight`, `host.name` = the event's host (cached). */
export function hostResource(host: string): Resource {
  let r = resources.get(host);
  if (!r) {
    r = resourceFromAttributes({ 'service.name': 'agentsight', 'host.name': host });
    resources.set(host, r);
  }
  return r;
}

/** Redacts an attribute value again (defence in depth: events are redacted upstream); numbers and booleans as they are. */
function redactAttr(v: GenAiAttributeValue): GenAiAttributeValue {
  return typeof v === 'string' || Array.isArray(v) ? redactValue(v) : v;
}

function times(ev: GenAiRecord): { start: bigint; end: bigint } {
  const s = (ev as { start_ns: unknown }).start_ns;
  const e = (ev as { end_ns: unknown }).end_ns;
  const start = s === null || s === undefined ? null : normalizeNs(s);
  const end = e === null || e === undefined ? null : normalizeNs(e);
  const a = start ?? end;
  const b = end ?? start;
  if (a === null || b === null || a <= 0n) throw new SpanMappingError(`event ${ev.id} has no start or end time`);
  return { start: a, end: b < a ? a : b };
}

/**
 * The span of a GenAI event:
 * - `name` = the event's name (`chat gpt-4.1`, `execute_tool Bash`, `invoke_agent claude-code`); kind `CLIENT` for
 *   inference, `INTERNAL` for `execute_tool` and `invoke_agent`;
 * - start/end = the event's wall-clock ns, exact (an `execute_tool` with one half unknown starts and ends at the known
 *   one; an end before the start is clamped to the start);
 * - attributes = every attribute of the event as it is (`gen_ai.*`, `server.*`, `http.response.status_code`,
 *   `error.type`, and the opt-in content attributes only when the event carries them), each string again through
 *   `redactValue`; plus `process.pid`, `process.executable.name` (the agent process' name) and the {@link ExtraAttr}s;
 * - status = ERROR with `error.type` as its message when `error.type` is set, else UNSET;
 * - ids per {@link spanIds}; resource per {@link hostResource}; scope {@link INSTRUMENTATION_SCOPE}.
 * Throws {@link SpanMappingError} for an unknown kind or an event with neither start nor end.
 */
export function toSpan(ev: GenAiRecord): ReadableSpan {
  const kind = recordKind(ev);
  if (!kind) throw new SpanMappingError(`unknown GenAI record kind ${JSON.stringify((ev as { kind?: unknown }).kind)}`);
  if (typeof ev.id !== 'string' || ev.id === '' || typeof ev.name !== 'string' || typeof ev.host !== 'string') {
    throw new SpanMappingError('GenAI record without id, name or host');
  }
  const { start, end } = times(ev);
  const attributes: Attributes = {};
  for (const [k, v] of Object.entries(ev.attributes ?? {})) {
    if (v !== null && v !== undefined) attributes[k] = redactAttr(v);
  }
  if (typeof ev.pid === 'number' && ev.pid > 0) attributes['process.pid'] = ev.pid;
  if (ev.process_name) attributes['process.executable.name'] = redactValue(ev.process_name);
  attributes[ExtraAttr.eventId] = ev.id;
  if (kind !== 'inference') attributes[ExtraAttr.eventVersion] = (ev as GenAiToolEvent | GenAiAgentEvent).version;
  const cost = (ev as GenAiInferenceEvent | GenAiAgentEvent).cost_usd;
  if (kind !== 'execute_tool' && typeof cost === 'number') attributes[ExtraAttr.costUsd] = cost;
  if (kind === 'invoke_agent') {
    const a = ev as GenAiAgentEvent;
    attributes[ExtraAttr.sessionLlmCalls] = a.llm_calls;
    attributes[ExtraAttr.sessionToolUses] = a.tool_uses;
    attributes[ExtraAttr.sessionToolErrors] = a.tool_errors;
  }
  const errorType = ev.attributes?.[GenAiAttr.errorType];
  const ids = spanIds(ev);
  const ctx: SpanContext = { traceId: ids.traceId, spanId: ids.spanId, traceFlags: TraceFlags.SAMPLED };
  const parent: SpanContext | undefined = ids.parentSpanId
    ? { traceId: ids.traceId, spanId: ids.parentSpanId, traceFlags: TraceFlags.SAMPLED }
    : undefined;
  return {
    name: ev.name,
    kind: kind === 'inference' ? SpanKind.CLIENT : SpanKind.INTERNAL,
    spanContext: () => ctx,
    parentSpanContext: parent,
    startTime: nsToHrTime(start),
    endTime: nsToHrTime(end),
    duration: nsToHrTime(end - start),
    status: errorType !== undefined && errorType !== '' ? { code: SpanStatusCode.ERROR, message: String(errorType) } : { code: SpanStatusCode.UNSET },
    attributes,
    links: [],
    events: [],
    ended: true,
    resource: hostResource(ev.host),
    instrumentationScope: INSTRUMENTATION_SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** Version of a GenAI record: 0 for inference events (immutable), else its `version`. */
export function genAiVersion(ev: GenAiRecord): number {
  return recordKind(ev) === 'inference' ? 0 : Number((ev as { version?: unknown }).version);
}

/**
 * Checks what every GenAI export target needs of a record: a known kind and, for versioned kinds, a finite version.
 * Returns the kind; throws a {@link SpanMappingError} otherwise.
 */
export function checkGenAiRecord(value: unknown): 'inference' | 'execute_tool' | 'invoke_agent' {
  const ev = value as GenAiRecord;
  const kind = ev && typeof ev === 'object' ? recordKind(ev) : null;
  if (!kind) throw new SpanMappingError(`not a GenAI record (kind ${JSON.stringify((ev as { kind?: unknown })?.kind)})`);
  if (kind !== 'inference' && !Number.isFinite(genAiVersion(ev))) throw new SpanMappingError(`${kind} event ${ev.id} without a version`);
  return kind;
}

/** Subject of a GenAI record's host (`agentsight.genai.<host>`), '' without a host. */
export function genAiSubjectOf(value: unknown): string {
  const host = (value as { host?: unknown } | null)?.host;
  return typeof host === 'string' ? Subjects.genai(hostToken(host)) : '';
}

/** The OTLP target's {@link ExportModel}: GenAI records → spans ({@link toSpan}), final per {@link isFinal}. */
export const spanModel: ExportModel<ReadableSpan> = {
  item: 'span',
  rejectedReason: 'otlp_rejected',
  prepare(value) {
    checkGenAiRecord(value);
    const ev = value as GenAiRecord;
    return { id: ev.id, version: genAiVersion(ev), final: isFinal(ev), item: toSpan(ev) };
  },
  label: (span) => `${span.spanContext().spanId} (${span.name})`,
  subjectOf: genAiSubjectOf,
};
