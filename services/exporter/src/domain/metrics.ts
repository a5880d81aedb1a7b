/**
 * GenAI inference events → the GenAI client metrics of semconv v1.41 (docs/gen-ai/gen-ai-metrics.md), as measurements
 * the OTLP metrics sink records into OpenTelemetry SDK histograms (otlp-metrics-sink.ts). Pure: no NATS, no Redis.
 * - `gen_ai.client.token.usage` (histogram, `{token}`): one measurement per token type the call has a count for
 *   (`gen_ai.token.type` `input` / `output`; input includes cached input, output includes reasoning); none when the
 *   call has no count (semconv: instrumentation that cannot obtain the counts MUST NOT report the metric);
 * - `gen_ai.client.operation.duration` (histogram, `s`): first request byte → last response byte, with `error.type`
 *   when the call failed;
 * - `gen_ai.client.operation.time_to_first_chunk` (histogram, `s`): streamed calls only, from
 *   `gen_ai.response.time_to_first_chunk`.
 * Attributes: `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.response.model`,
 * `server.address`, `server.port` (443: only TLS is captured), when the event has them. Other GenAI records
 * (`execute_tool`, `invoke_agent`) have no client metric: they become `null` items, acked without being sent.
 */
import type { Attributes } from '@opentelemetry/api';
import { GenAiAttr, type GenAiInferenceEvent, type GenAiRecord } from '@agentsight/contracts';
import type { ExportModel } from '../engine';
import { checkGenAiRecord, genAiSubjectOf, genAiVersion, SpanMappingError } from './spans';

/** Metric names, units and advised bucket boundaries (semconv v1.41 ExplicitBucketBoundaries). */
export const GEN_AI_METRICS = {
  tokenUsage: {
    name: 'gen_ai.client.token.usage', unit: '{token}', description: 'Number of input and output tokens used.',
    buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864],
  },
  duration: {
    name: 'gen_ai.client.operation.duration', unit: 's', description: 'GenAI operation duration.',
    buckets: [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
  },
  timeToFirstChunk: {
    name: 'gen_ai.client.operation.time_to_first_chunk', unit: 's', description: 'Time to receive the first chunk of a streamed response.',
    buckets: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
  },
} as const;

/** What one inference event contributes to the metrics. */
export interface CallMeasurement {
  /** The event id (for rejection messages). */
  id: string;
  /** Resource `host.name`. */
  host: string;
  /** Semconv attributes shared by the three metrics (without `gen_ai.token.type` and `error.type`). */
  attributes: Attributes;
  /** `error.type` of a failed call, else null (on the duration only). */
  errorType: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  /** s. */
  durationS: number;
  /** s; null when the call was not streamed (or no chunk arrived). */
  timeToFirstChunkS: number | null;
}

const count = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null);

/** The measurement of an inference event; throws {@link SpanMappingError} when it has no id, host or times. */
export function toMeasurement(ev: GenAiInferenceEvent): CallMeasurement {
  if (typeof ev.id !== 'string' || ev.id === '' || typeof ev.host !== 'string') throw new SpanMappingError('GenAI record without id or host');
  if (ev.start_ns === null || ev.start_ns === undefined || ev.end_ns === null || ev.end_ns === undefined) throw new SpanMappingError(`event ${ev.id} has no start or end time`);
  const a = ev.attributes ?? {};
  const attributes: Attributes = {};
  for (const k of [GenAiAttr.operationName, GenAiAttr.providerName, GenAiAttr.requestModel, GenAiAttr.responseModel, GenAiAttr.serverAddress]) {
    const v = a[k];
    if (typeof v === 'string' && v !== '') attributes[k] = v;
  }
  if (attributes[GenAiAttr.serverAddress] !== undefined) attributes['server.port'] = 443;
  const start = BigInt(ev.start_ns);
  const end = BigInt(ev.end_ns);
  const ttfc = a[GenAiAttr.responseTimeToFirstChunk];
  const errorType = a[GenAiAttr.errorType];
  return {
    id: ev.id, host: ev.host, attributes,
    errorType: typeof errorType === 'string' && errorType !== '' ? errorType : null,
    inputTokens: count(a[GenAiAttr.usageInputTokens]), outputTokens: count(a[GenAiAttr.usageOutputTokens]),
    durationS: end > start ? Number(end - start) / 1e9 : 0,
    timeToFirstChunkS: typeof ttfc === 'number' && Number.isFinite(ttfc) && ttfc >= 0 ? ttfc : null,
  };
}

/**
 * The OTLP metrics target's {@link ExportModel}: inference events → {@link CallMeasurement}s, every record final
 * (an inference event is immutable; other kinds carry no client metric and become `null`). The done marker per event
 * id keeps a redelivered call from being counted twice.
 */
export const metricModel: ExportModel<CallMeasurement | null> = {
  item: 'measurement',
  rejectedReason: 'otlp_rejected',
  prepare(value) {
    const kind = checkGenAiRecord(value);
    const ev = value as GenAiRecord;
    return { id: ev.id, version: genAiVersion(ev), final: true, item: kind === 'inference' ? toMeasurement(ev as GenAiInferenceEvent) : null };
  },
  label: (m, value) => m?.id ?? String((value as { id?: unknown })?.id),
  subjectOf: genAiSubjectOf,
};
