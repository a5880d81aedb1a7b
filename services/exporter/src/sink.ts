/**
 * OTLP export of span batches with the OpenTelemetry JS exporters (`@opentelemetry/exporter-trace-otlp-proto` for
 * `http/protobuf`, `-http` for `http/json`, `-grpc` for `grpc`), telling apart what must be retried from what the
 * collector rejected.
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { Metadata } from '@grpc/grpc-js';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { ExportConfig } from './config';
import type { ItemOutcome, ItemSink } from './engine';

/**
 * HTTP statuses meaning "this request is invalid" (OTLP/HTTP: 400 Bad Request; 413 too large; 422): the spans in it
 * are rejected for good. Every other failure (network errors, timeouts, 429/502/503/504 after the library's own
 * retries, other 5xx, 401/403 of a misconfigured key) is transient: retried, never dead-lettered.
 */
export const REJECTED_STATUSES: ReadonlySet<number> = new Set([400, 413, 422]);

/**
 * gRPC status codes meaning "this request is invalid" (OTLP/gRPC: INVALID_ARGUMENT 3); every other gRPC failure
 * (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAUTHENTICATED, …) is transient.
 */
export const REJECTED_GRPC_CODES: ReadonlySet<number> = new Set([3]);

/** gRPC metadata carrying the configured headers (`OTEL_EXPORTER_OTLP_HEADERS`, keys lower-cased as gRPC requires). */
export function grpcMetadata(headers: Record<string, string>): Metadata {
  const m = new Metadata();
  for (const [k, v] of Object.entries(headers)) m.set(k.toLowerCase(), v);
  return m;
}

/** Outcome of one span of a batch. */
export type SpanOutcome = ItemOutcome;

/** Sends span batches; `export` resolves with one outcome per span, in order, and never rejects. */
export type SpanSink = ItemSink<ReadableSpan>;

/** The OTel exporter for a configuration (url, headers — gRPC metadata for `grpc` —, timeout and protocol from `c`; no compression). */
export function otlpExporter(c: ExportConfig): SpanExporter {
  if (c.protocol === 'grpc') return new GrpcExporter({ url: c.url, metadata: grpcMetadata(c.headers), timeoutMillis: c.timeoutMs });
  const opts = { url: c.url, headers: { ...c.headers }, timeoutMillis: c.timeoutMs, concurrencyLimit: 1 };
  return c.protocol === 'http/json' ? new JsonExporter(opts) : new ProtoExporter(opts);
}

function exportOnce(exporter: SpanExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((resolve) => {
    try {
      exporter.export(spans, resolve);
    } catch (err) {
      resolve({ code: ExportResultCode.FAILED, error: err as Error });
    }
  });
}

/**
 * `rejected` when the collector answered with a {@link REJECTED_STATUSES} HTTP status or a {@link REJECTED_GRPC_CODES}
 * gRPC status (a gRPC error carries `metadata`), else `transient`; with a message.
 */
export function classifyFailure(error: unknown): { status: 'rejected' | 'transient'; error: string } {
  const e = error as { code?: unknown; message?: string; data?: string; metadata?: unknown } | undefined;
  const code = e && typeof e.code === 'number' ? e.code : null;
  if (code !== null && e?.metadata !== undefined) {
    return { status: REJECTED_GRPC_CODES.has(code) ? 'rejected' : 'transient', error: `gRPC status ${code}${e.message ? `: ${e.message}` : ''}` };
  }
  const detail = [code !== null ? `HTTP ${code}` : typeof e?.code === 'string' ? e.code : null, e?.message || null, e?.data ? String(e.data).slice(0, 500) : null]
    .filter(Boolean).join(': ');
  return { status: code !== null && REJECTED_STATUSES.has(code) ? 'rejected' : 'transient', error: detail || 'export failed' };
}

/**
 * A {@link SpanSink} over an OTel `SpanExporter`. A batch the collector rejects as invalid is split in halves and each
 * half sent again, down to single spans, so only the offending spans come out `rejected` (the rest `ok`); a transient
 * failure marks every span of the request that failed `transient`.
 */
export class OtlpSink implements SpanSink {
  constructor(private readonly exporter: SpanExporter) {}

  async export(spans: ReadableSpan[]): Promise<SpanOutcome[]> {
    if (!spans.length) return [];
    const r = await exportOnce(this.exporter, spans);
    if (r.code === ExportResultCode.SUCCESS) return spans.map(() => ({ status: 'ok' }));
    const f = classifyFailure(r.error);
    if (f.status === 'transient' || spans.length === 1) return spans.map(() => ({ ...f }));
    const mid = Math.ceil(spans.length / 2);
    return [...(await this.export(spans.slice(0, mid))), ...(await this.export(spans.slice(mid)))];
  }

  async shutdown(): Promise<void> {
    await this.exporter.shutdown().catch(() => undefined);
  }
}
