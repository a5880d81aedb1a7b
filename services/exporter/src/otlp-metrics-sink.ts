/**
 * OTLP metrics export of the GenAI client metrics (domain/metrics.ts) through the OpenTelemetry JS metrics SDK
 * (`@opentelemetry/sdk-metrics` histograms with the semconv bucket boundaries) and its OTLP exporters
 * (`@opentelemetry/exporter-metrics-otlp-proto` for `http/protobuf`, `-http` for `http/json`, `-grpc` for `grpc`), with DELTA temporality:
 * every request carries exactly the calls of the batch it was made for, so a batch retried after a failure is
 * recorded again and sent again, and a batch acked is never sent twice (the engine's done markers).
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

  private async exportHost(host: string, calls: CallMeasurement[]): Promise<ItemOutcome[]> {
    const m = this.meters(host);
    for (const c of calls) {
      if (c.inputTokens !== null) m.tokens.record(c.inputTokens, { ...c.attributes, 'gen_ai.token.type': 'input' });
      if (c.outputTokens !== null) m.tokens.record(c.outputTokens, { ...c.attributes, 'gen_ai.token.type': 'output' });
      const withError: Attributes = c.errorType ? { ...c.attributes, 'error.type': c.errorType } : c.attributes;
      m.duration.record(c.durationS, withError);
      if (c.timeToFirstChunkS !== null) m.ttfc.record(c.timeToFirstChunkS, c.attributes);
    }
    const { resourceMetrics } = await m.reader.collect();
    const r = await this.send(resourceMetrics);
    if (r.code === ExportResultCode.SUCCESS) return calls.map(() => ({ status: 'ok' }));
    const f = classifyFailure(r.error);
    if (f.status === 'transient' || calls.length === 1) return calls.map(() => ({ ...f }));
    const mid = Math.ceil(calls.length / 2);
    return [...(await this.exportHost(host, calls.slice(0, mid))), ...(await this.exportHost(host, calls.slice(mid)))];
  }

  private send(rm: ResourceMetrics): Promise<ExportResult> {
    return new Promise((resolve) => {
      try {
        this.exporter.export(rm, resolve);
      } catch (err) {
        resolve({ code: ExportResultCode.FAILED, error: err as Error });
      }
    });
  }

  async shutdown(): Promise<void> {
    for (const m of this.hosts.values()) await m.provider.shutdown().catch(() => undefined);
    await this.exporter.shutdown().catch(() => undefined);
  }
}
