/**
 * GenAI events → OTel spans, from real events: corpus recordings analyzed by the analyzer's domain and turned into
 * events by the genai domain (inference, execute_tool from the call's tool request, invoke_agent from a session state),
 * then serialized by the real OTLP protobuf serializer and decoded back.
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { hrTimeToNanos } from '@opentelemetry/otlp-transformer/build/src/common/utils';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { GenAiAttr, type GenAiInferenceEvent, type LlmCall } from '@agentsight/contracts';
import { groundTruthFor, exchangeFor } from '@agentsight/testkit';
import { analyzeExchange, mergeToolUse, toolRequests, type ToolResultHalf } from '../../services/analyzer/src/domain';
import { agentEventId, toAgentEvent, toInferenceEvent, toToolEvent, type SessionState } from '../../services/genai/src/domain';
import { decodeProtobufTraces } from '../../services/exporter/src/otlp-receiver.test';
import { isFinal, spanIdOf, toSpan, SpanMappingError, sessionEventId, ExtraAttr } from '../../services/exporter/src/domain/spans';

function analyzed(file: string): { call: LlmCall; req: NonNullable<ReturnType<typeof analyzeExchange>['request']> } {
  const r = analyzeExchange(exchangeFor(groundTruthFor(file)));
  expect(r.call).not.toBeNull();
  return { call: r.call!, req: r.request! };
}

const ns = (t: [number, number]) => hrTimeToNanos(t);

describe('inference span from a streamed OpenAI call with tools (usage from the stream)', () => {
  const gt = groundTruthFor('ddtrace__completion_stream_with_tools.yaml');
  const { call } = analyzed('ddtrace__completion_stream_with_tools.yaml');
  const ev = toInferenceEvent(call);
  const span = toSpan(ev);

  test('the call is streamed and has a conversation', () => {
    expect(call.streaming).toBe(true);
    expect(call.conversation_id).toBeTruthy();
  });

  test('name, kind, exact times', () => {
    expect(span.name).toBe(ev.name);
    expect(span.name).toBe(`chat ${call.request_model}`);
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(ns(span.startTime as [number, number])).toBe(ev.start_ns);
    expect(ns(span.endTime as [number, number])).toBe(ev.end_ns);
    expect(ns(span.duration as [number, number])).toBe(ev.end_ns - ev.start_ns);
  });

  test('every event attribute as it is, usage from the stream included, plus process and event id', () => {
    expect(span.attributes[GenAiAttr.usageInputTokens]).toBe(gt.input_tokens);
    expect(span.attributes[GenAiAttr.usageOutputTokens]).toBe(gt.output_tokens);
    expect(span.attributes[GenAiAttr.responseId]).toBe(gt.response_id);
    for (const [k, v] of Object.entries(ev.attributes)) expect(span.attributes[k]).toEqual(v);
    expect(span.attributes['process.pid']).toBe(ev.pid);
    expect(span.attributes['process.executable.name']).toBe(ev.process_name);
    expect(span.attributes[ExtraAttr.eventId]).toBe(ev.id);
    expect(span.status).toEqual({ code: SpanStatusCode.UNSET });
    expect(span.resource.attributes).toEqual({ 'service.name': 'agentsight', 'host.name': ev.host });
    expect(isFinal(ev)).toBe(true);
  });

  test('child of its session: same trace as the invoke_agent span, parent = that span', () => {
    const state: SessionState = {
      version: 1, agent_name: 'agent', pid: call.pid, process_name: ev.process_name, provider: call.provider, llm_calls: 1, tool_uses: 0,
      tool_errors: 0, input_tokens: gt.input_tokens!, output_tokens: gt.output_tokens!, cost_nusd: 0, unpriced_calls: 1, start_ns: call.start_ns, end_ns: call.end_ns,
    };
    const agent = toAgentEvent(call.host, call.conversation_id!, state);
    expect(sessionEventId(call.host, call.conversation_id!)).toBe(agentEventId(call.host, call.conversation_id!));
    const root = toSpan(agent);
    expect(root.kind).toBe(SpanKind.INTERNAL);
    expect(root.name).toBe('invoke_agent agent');
    expect(root.parentSpanContext).toBeUndefined();
    expect(root.spanContext().spanId).toBe(spanIdOf(agent.id));
    expect(span.spanContext().traceId).toBe(root.spanContext().traceId);
    expect(span.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(root.attributes[ExtraAttr.sessionLlmCalls]).toBe(1);
    expect(root.attributes[GenAiAttr.usageInputTokens]).toBe(gt.input_tokens);
    expect(isFinal(agent)).toBe(false);
  });

  test('ids and bytes are deterministic: the same event serializes to identical OTLP', () => {
    const again = toSpan(toInferenceEvent(call));
    expect(again.spanContext()).toEqual(span.spanContext());
    const a = ProtobufTraceSerializer.serializeRequest([span])!;
    const b = ProtobufTraceSerializer.serializeRequest([again])!;
    expect(Buffer.from(b).equals(Buffer.from(a))).toBe(true);
    const [decoded] = decodeProtobufTraces(Buffer.from(a));
    expect(decoded).toMatchObject({
      traceId: span.spanContext().traceId, spanId: span.spanContext().spanId, parentSpanId: span.parentSpanContext!.spanId, name: ev.name, kind: 3,
      startTimeUnixNano: ev.start_ns.toString(), endTimeUnixNano: ev.end_ns.toString(),
    });
    expect(decoded!.attributes[GenAiAttr.usageInputTokens]).toBe(gt.input_tokens);
    expect(decoded!.attributes[GenAiAttr.responseFinishReasons]).toEqual(ev.attributes[GenAiAttr.responseFinishReasons]);
  });
});

describe('execute_tool spans from the call\'s tool request and a later result', () => {
  const { call, req } = analyzed('ddtrace__completion_stream_with_tools.yaml');
  const [half] = toolRequests(call, req);
  const v1 = toToolEvent(mergeToolUse(call.host, half!, null));

  test('version 1 (only the request): not final, a zero-length span at the request time', () => {
    expect(v1.version).toBe(1);
    expect(isFinal(v1)).toBe(false);
    const s = toSpan(v1);
    expect(s.kind).toBe(SpanKind.INTERNAL);
    expect(s.name).toBe(`execute_tool ${half!.name}`);
    expect(ns(s.startTime as [number, number])).toBe(v1.start_ns);
    expect(ns(s.endTime as [number, number])).toBe(v1.start_ns);
    expect(s.attributes[ExtraAttr.eventVersion]).toBe(1);
  });

  test('version 3 (both halves): final, spans request → result, same span id, error status when the tool failed', () => {
    // The result half a later request of the same agent carries: the tool failed, one second after it was asked for.
    const result: ToolResultHalf = {
      id: half!.id, key: half!.key, call_id: half!.call_id, name: half!.name, arguments: half!.arguments, result: 'boom', success: false,
      end_ns: (BigInt(half!.start_ns) + 1_000_000_000n).toString(), result_llm_call_id: 'llm-next',
      conversation_id: half!.conversation_id, agent_name: half!.agent_name, pid: half!.pid, comm: half!.comm,
    };
    const v3 = toToolEvent(mergeToolUse(call.host, half!, result));
    expect(v3.version).toBe(3);
    expect(isFinal(v3)).toBe(true);
    const s = toSpan(v3);
    expect(s.spanContext().spanId).toBe(toSpan(v1).spanContext().spanId);
    expect(ns(s.endTime as [number, number]) - ns(s.startTime as [number, number])).toBe(1_000_000_000n);
    expect(s.status).toEqual({ code: SpanStatusCode.ERROR, message: 'tool_error' });
    expect(s.attributes[GenAiAttr.errorType]).toBe('tool_error');
    expect(s.attributes[GenAiAttr.toolCallId]).toBe(half!.call_id);
    // Content capture was off upstream: no arguments or result on the span either.
    expect(s.attributes[GenAiAttr.toolCallArguments]).toBeUndefined();
    expect(s.parentSpanContext?.spanId).toBe(spanIdOf(agentEventId(call.host, call.conversation_id!)));
    expect(s.spanContext().traceId).toBe(toSpan(toInferenceEvent(call)).spanContext().traceId);
  });
});

describe('error, content, redaction, no session', () => {
  test('a failed Anthropic call: status ERROR with error.type', () => {
    const { call } = analyzed('ddtrace__anthropic_completion_error.yaml');
    const ev = toInferenceEvent(call);
    expect(ev.attributes[GenAiAttr.errorType]).toBeTruthy();
    const s = toSpan(ev);
    expect(s.status).toEqual({ code: SpanStatusCode.ERROR, message: ev.attributes[GenAiAttr.errorType] });
    expect(s.attributes[GenAiAttr.httpResponseStatusCode]).toBe(400);
  });

  test('content attributes are exported when present (capture on), redacted again', () => {
    const r = analyzeExchange(exchangeFor(groundTruthFor('ddtrace__completion_stream_with_tools.yaml')), { captureContent: true });
    const ev = toInferenceEvent(r.call!, { captureContent: true });
    expect(typeof ev.attributes[GenAiAttr.inputMessages]).toBe('string');
    const s = toSpan(ev);
    expect(s.attributes[GenAiAttr.inputMessages]).toBe(ev.attributes[GenAiAttr.inputMessages]);
    // A key that slipped into an event (it never should) does not leave.
    const leaky: GenAiInferenceEvent = { ...ev, attributes: { ...ev.attributes, [GenAiAttr.outputMessages]: 'use sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD', 'x.list': ['Bearer abcdefghijklmnopqrstuvwxyz'] } };
    const red = toSpan(leaky);
    expect(red.attributes[GenAiAttr.outputMessages]).toBe('use [REDACTED]');
    expect(JSON.stringify(red.attributes['x.list'])).not.toContain('abcdefghijklmnopqrstuvwxyz');
  });

  test('no conversation id: its own trace, no parent', () => {
    const { call } = analyzed('ddtrace__completion_stream_with_tools.yaml');
    const ev = toInferenceEvent({ ...call, conversation_id: null });
    const s = toSpan(ev);
    expect(s.parentSpanContext).toBeUndefined();
    expect(s.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(s.spanContext().traceId).not.toBe(toSpan(toInferenceEvent(call)).spanContext().traceId);
  });

  test('an unknown kind or a record without times cannot be a span', () => {
    const { call } = analyzed('ddtrace__completion_stream_with_tools.yaml');
    const ev = toInferenceEvent(call);
    expect(() => toSpan({ ...ev, kind: 'bogus' } as never)).toThrow(SpanMappingError);
    expect(() => toSpan({ ...ev, start_ns: null, end_ns: null } as never)).toThrow(SpanMappingError);
  });
});
