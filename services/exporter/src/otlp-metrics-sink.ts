/**
 * OTLP metrics export through the OpenTelemetry JS metrics SDK's OTLP exporters
 * (`@opentelemetry/exporter-metrics-otlp-proto` for `http/protobuf`, `-http` for `http/json`, `-grpc` for `grpc`):
 * - the GenAI client metrics (domain/metrics.ts): `@opentelemetry/sdk-metrics` histograms with the semconv bucket
 *   boundaries, DELTA temporality: every request carries exactly the calls of the batch it was made for, so a batch
 *   retried after a failure is recorded again and sent again, and a batch acked is never sent twice (the engine's
 *   done markers);
 * - the traced agents' process metrics (domain/process-metrics.ts): CUMULATIVE sums built from the samples.
 */
import type { Attributes, Histogram } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { AggregationTemporalityPreference, OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { AggregationTemporality, MeterProvider, MetricReader, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ExportConfig } from './config';
import type { ItemOutcome, ItemSink } from './engine';
import { GEN_AI_METRICS, type CallMeasurement } from './domain/metrics';
import { processResourceMetrics, type SampleMeasurement } from './domain/process-metrics';
import { hostResource, INSTRUMENTATION_SCOPE } from './domain/spans';
import { classifyFailure, grpcMetadata } from './sink';

/** A reader that collects only when asked (the sink collects once per batch). */
class BatchReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA });
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface HostMeters {
  reader: BatchReader;
  provider: MeterProvider;
  tokens: Histogram;
  duration: Histogram;
  ttfc: Histogram;
}

/** The OTel metrics exporter for a configuration (`metricsUrl`, headers, timeout and protocol from `c`; DELTA). */
export function otlpMetricExporter(c: ExportConfig & { metricsUrl: string }): PushMetricExporter {
  const temporalityPreference = AggregationTemporalityPreference.DELTA;
  if (c.protocol === 'grpc') return new GrpcMetricExporter({ url: c.metricsUrl, metadata: grpcMetadata(c.headers), timeoutMillis: c.timeoutMs, temporalityPreference });
  const opts = { url: c.metricsUrl, headers: { ...c.headers }, timeoutMillis: c.timeoutMs, concurrencyLimit: 1, temporalityPreference };
  return c.protocol === 'http/json' ? new JsonMetricExporter(opts) : new ProtoMetricExporter(opts);
}

/**
 * An {@link ItemSink} of {@link CallMeasurement}s (null items are accepted without sending): per host (resource
 * `host.name`), the batch's measurements are recorded into that host's histograms, collected as one DELTA
 * ResourceMetrics and exported in one request. A request the collector rejects as invalid is bisected down to single
 * calls, so only those come out `rejected`; a transient failure marks the host's calls `transient` (retried by the engine).
 */
export class OtlpMetricSink implements ItemSink<CallMeasurement | null> {
  private readonly hosts = new Map<string, HostMeters>();

  constructor(private readonly exporter: PushMetricExporter) {}

  private meters(host: string): HostMeters {
    let m = this.hosts.get(host);
    if (!m) {
      const reader = new BatchReader();
      const provider = new MeterProvider({ resource: hostResource(host), readers: [reader] });
      const meter = provider.getMeter(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version);
      const h = (d: { name: string; unit: string; description: string; buckets: readonly number[] }) =>
        meter.createHistogram(d.name, { unit: d.unit, description: d.description, advice: { explicitBucketBoundaries: [...d.buckets] } });
      m = { reader, provider, tokens: h(GEN_AI_METRICS.tokenUsage), duration: h(GEN_AI_METRICS.duration), ttfc: h(GEN_AI_METRICS.timeToFirstChunk) };
      this.hosts.set(host, m);
    }
    return m;
  }

  async export(items: Array<CallMeasurement | null>): Promise<ItemOutcome[]> {
    const out: ItemOutcome[] = items.map(() => ({ status: 'ok' }));
    const byHost = new Map<string, number[]>();
    items.forEach((m, i) => {
      if (!m) return;
      const list = byHost.get(m.host) ?? [];
      list.push(i);
      byHost.set(m.host, list);
    });
    for (const [host, idx] of byHost) {
      const outcomes = await this.exportHost(host, idx.map((i) => items[i]!));
      idx.forEach((i, j) => (out[i] = outcomes[j]!));
    }
    return out;
  }

  private exportHost(host: string, calls: CallMeasurement[]): Promise<ItemOutcome[]> {
    return exportBisected(calls, async (part) => {
      this.record(host, part);
      const { resourceMetrics } = await this.meters(host).reader.collect();
      return sendMetrics(this.exporter, resourceMetrics);
    });
  }

  private record(host: string, calls: CallMeasurement[]): void {
    const m = this.meters(host);
    for (const c of calls) {
      if (c.inputTokens !== null) m.tokens.record(c.inputTokens, { ...c.attributes, 'gen_ai.token.type': 'input' });
      if (c.outputTokens !== null) m.tokens.record(c.outputTokens, { ...c.attributes, 'gen_ai.token.type': 'output' });
      const withError: Attributes = c.errorType ? { ...c.attributes, 'error.type': c.errorType } : c.attributes;
      m.duration.record(c.durationS, withError);
      if (c.timeToFirstChunkS !== null) m.ttfc.record(c.timeToFirstChunkS, c.attributes);
    }
  }

  async shutdown(): Promise<void> {
    for (const m of this.hosts.values()) await m.provider.shutdown().catch(() => undefined);
    await this.exporter.shutdown().catch(() => undefined);
  }
}

/**
 * Hands one ResourceMetrics to the exporter; resolves with its result (a throw becomes FAILED) once the exporter
 * counts the request as finished: the OTLP/HTTP exporters (concurrency limit 1) release their slot only after the
 * result callback, so the next request is sent from a later macrotask (else "Concurrent export limit reached").
 */
async function sendMetrics(exporter: PushMetricExporter, rm: ResourceMetrics): Promise<ExportResult> {
  const r = await new Promise<ExportResult>((resolve) => {
    try {
      exporter.export(rm, resolve);
    } catch (err) {
      resolve({ code: ExportResultCode.FAILED, error: err as Error });
    }
  });
  await new Promise((resolve) => setImmediate(resolve));
  return r;
}

/**
 * Sends `items` in one request through `send`; a request the collector rejects as invalid is bisected down to single
 * items, so only those come out `rejected`; a transient failure marks all of them `transient` (retried by the engine).
 */
async function exportBisected<T>(items: T[], send: (part: T[]) => Promise<ExportResult>): Promise<ItemOutcome[]> {
  const r = await send(items);
  if (r.code === ExportResultCode.SUCCESS) return items.map(() => ({ status: 'ok' }));
  const f = classifyFailure(r.error);
  if (f.status === 'transient' || items.length === 1) return items.map(() => ({ ...f }));
  const mid = Math.ceil(items.length / 2);
  return [...(await exportBisected(items.slice(0, mid), send)), ...(await exportBisected(items.slice(mid), send))];
}

/**
 * An {@link ItemSink} of resource-sample measurements (domain/process-metrics.ts): per host, the batch's process
 * points as one CUMULATIVE ResourceMetrics in one request (no SDK instruments: the points carry the processes' own
 * start and sample times, so a retried request repeats the same points), bisected like {@link OtlpMetricSink}.
 */
export class OtlpProcessMetricSink implements ItemSink<SampleMeasurement> {
  constructor(private readonly exporter: PushMetricExporter) {}

  async export(items: SampleMeasurement[]): Promise<ItemOutcome[]> {
    const out: ItemOutcome[] = items.map(() => ({ status: 'ok' }));
    const byHost = new Map<string, number[]>();
    items.forEach((m, i) => byHost.set(m.host, [...(byHost.get(m.host) ?? []), i]));
    for (const [host, idx] of byHost) {
      const withPoints = idx.filter((i) => items[i]!.points.length > 0);
      const outcomes = await exportBisected(withPoints.map((i) => items[i]!), (part) => sendMetrics(this.exporter, processResourceMetrics(host, part)));
      withPoints.forEach((i, j) => (out[i] = outcomes[j]!));
    }
    return out;
  }

  async shutdown(): Promise<void> {
    await this.exporter.shutdown().catch(() => undefined);
  }
}
