/**
 * OTLP metrics of the GenAI calls (domain/metrics.ts, otlp-metrics-sink.ts) sent by the OpenTelemetry SDK exporters to
 * a local OTLP/HTTP receiver (protobuf and JSON): the histograms' counts and sums equal the calls' tokens, durations
 * and times to first chunk, with the semconv v1.41 names, units, attributes and bucket boundaries; a rejected request
 * is bisected to the call that caused it; configuration follows the spans'. Over OTLP/gRPC too (a `@grpc/grpc-js`
 * receiver), for metrics and for spans.
 */
import { exportTargets, type GenAiInferenceEvent } from '@agentsight/contracts';
import { otlpMetricsConfig } from './config';
import { GEN_AI_METRICS, metricModel, toMeasurement, type CallMeasurement } from './domain/metrics';
import { OtlpMetricSink, otlpMetricExporter } from './otlp-metrics-sink';
import { OTLP_GRPC_PATHS, startOtlpGrpcReceiver, startOtlpReceiver, type OtlpReceiver, type ReceivedHistogramPoint } from './otlp-receiver.test';
import { toSpan, spanIds } from './domain/spans';
import { OtlpSink, otlpExporter } from './sink';
import { exportConfig } from './config';

function call(i: number, o: { provider?: string; model?: string; input?: number; output?: number; ms?: number; ttfc?: number; error?: string; host?: string } = {}): GenAiInferenceEvent {
  const start = 1_700_000_000_000_000_000n + BigInt(i) * 10_000_000_000n;
  return {
    v: 1, kind: 'inference', id: `call-${i}`, llm_call_id: `l${i}`, exchange_id: `x${i}`, name: `chat ${o.model ?? 'gpt-4.1'}`, host: o.host ?? 'h1',
    start_ns: start, end_ns: start + BigInt(Math.round((o.ms ?? 1500) * 1e6)), pid: 10, process_name: 'node',
    attributes: {
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': o.provider ?? 'openai', 'gen_ai.request.model': o.model ?? 'gpt-4.1', 'gen_ai.response.model': o.model ?? 'gpt-4.1',
      'server.address': 'api.openai.com',
      ...(o.input !== undefined ? { 'gen_ai.usage.input_tokens': o.input } : {}), ...(o.output !== undefined ? { 'gen_ai.usage.output_tokens': o.output } : {}),
      ...(o.ttfc !== undefined ? { 'gen_ai.response.time_to_first_chunk': o.ttfc } : {}), ...(o.error ? { 'error.type': o.error } : {}),
    },
    tool_calls: [], raw_usage: null, output_text: '', cost_usd: null, cost: null,
  };
}

const points = (r: OtlpReceiver, metric: string, where: Record<string, unknown> = {}): ReceivedHistogramPoint[] =>
  r.acceptedPoints().filter((p) => p.metric === metric && Object.entries(where).every(([k, v]) => p.attributes[k] === v));
const total = (ps: ReceivedHistogramPoint[]) => ({ count: ps.reduce((a, p) => a + p.count, 0), sum: ps.reduce((a, p) => a + p.sum, 0) });

const calls = [
  call(1, { input: 1200, output: 80, ms: 2300, ttfc: 0.42 }),
  call(2, { input: 50, output: 7, ms: 700 }),
  call(3, { provider: 'anthropic', model: 'claude-sonnet-4-5', input: 300000, output: 1000, ms: 41000, ttfc: 1.5 }),
  call(4, { provider: 'anthropic', model: 'claude-sonnet-4-5', ms: 120, error: '429' }), // no usage reported
];

describe.each(['http/protobuf', 'http/json', 'grpc'] as const)('OTLP metrics over %s', (protocol) => {
  let receiver: OtlpReceiver;
  let sink: OtlpMetricSink;
  beforeAll(async () => {
    receiver = protocol === 'grpc' ? await startOtlpGrpcReceiver() : await startOtlpReceiver();
    const c = otlpMetricsConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, AGENTSIGHT_OTLP_PROTOCOL: protocol, OTEL_EXPORTER_OTLP_TIMEOUT: '5000' })!;
    sink = new OtlpMetricSink(otlpMetricExporter(c));
  });
  afterAll(async () => {
    await sink.shutdown();
    await receiver.close();
  });

  test('histograms equal the calls: tokens by type, durations, time to first chunk; semconv names, units, buckets', async () => {
    const items: Array<CallMeasurement | null> = calls.map((c) => metricModel.prepare(c).item);
    items.push(metricModel.prepare({ ...calls[0], kind: 'invoke_agent', id: 'agent-1', version: 1 }).item); // no client metric
    expect(items[4]).toBeNull();
    const res = await sink.export(items);
    expect(res).toEqual(res.map(() => ({ status: 'ok' })));
    expect(receiver.requests.every((q) => q.path === (protocol === 'grpc' ? OTLP_GRPC_PATHS.metrics : '/v1/metrics'))).toBe(true);
    for (const [provider, model, cs] of [['openai', 'gpt-4.1', calls.slice(0, 2)], ['anthropic', 'claude-sonnet-4-5', calls.slice(2)]] as const) {
      const l = { 'gen_ai.provider.name': provider, 'gen_ai.response.model': model, 'gen_ai.request.model': model, 'gen_ai.operation.name': 'chat', 'server.address': 'api.openai.com', 'server.port': 443 };
      const withTokens = cs.filter((c) => c.attributes['gen_ai.usage.input_tokens'] !== undefined);
      expect(total(points(receiver, GEN_AI_METRICS.tokenUsage.name, { ...l, 'gen_ai.token.type': 'input' }))).toEqual({
        count: withTokens.length, sum: withTokens.reduce((a, c) => a + Number(c.attributes['gen_ai.usage.input_tokens']), 0),
      });
      expect(total(points(receiver, GEN_AI_METRICS.tokenUsage.name, { ...l, 'gen_ai.token.type': 'output' })).sum).toBe(withTokens.reduce((a, c) => a + Number(c.attributes['gen_ai.usage.output_tokens']), 0));
      const d = total(points(receiver, GEN_AI_METRICS.duration.name, { 'gen_ai.provider.name': provider }));
      expect(d.count).toBe(cs.length);
      expect(d.sum).toBeCloseTo(cs.reduce((a, c) => a + Number(c.end_ns - c.start_ns) / 1e9, 0), 9);
      const streamed = cs.filter((c) => c.attributes['gen_ai.response.time_to_first_chunk'] !== undefined);
      expect(total(points(receiver, GEN_AI_METRICS.timeToFirstChunk.name, { 'gen_ai.provider.name': provider }))).toEqual({
        count: streamed.length, sum: streamed.reduce((a, c) => a + Number(c.attributes['gen_ai.response.time_to_first_chunk']), 0),
      });
    }
    expect(points(receiver, GEN_AI_METRICS.duration.name, { 'error.type': '429' }).map((p) => p.count)).toEqual([1]);
    for (const p of receiver.acceptedPoints()) {
      const spec = Object.values(GEN_AI_METRICS).find((m) => m.name === p.metric)!;
      expect(p.unit).toBe(spec.unit);
      expect(p.explicitBounds).toEqual([...spec.buckets]);
      expect(p.temporality).toBe(1); // DELTA: each request carries its batch only
      expect(p.resource['host.name']).toBe('h1');
      expect(p.bucketCounts.reduce((a, b) => a + b, 0)).toBe(p.count);
    }
  });

  test('a rejected request is bisected: only the offending call is rejected, the others delivered', async () => {
    const bad = call(9, { input: 5, output: 5, model: 'reject-me' });
    receiver.status = (q) => (q.points.some((p) => p.attributes['gen_ai.request.model'] === 'reject-me') ? 400 : 200);
    const out = await sink.export([toMeasurement(call(7, { input: 1, output: 2 })), toMeasurement(bad), toMeasurement(call(8, { input: 3, output: 4 }))]);
    receiver.status = () => 200;
    expect(out.map((o) => o.status)).toEqual(['ok', 'rejected', 'ok']);
  });
});

test('spans over OTLP/gRPC: the received spans are the events\' (ids, names, times, attributes); INVALID_ARGUMENT is a rejection, UNAVAILABLE transient', async () => {
  const receiver = await startOtlpGrpcReceiver();
  const sink = new OtlpSink(otlpExporter(exportConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_HEADERS: 'X-Tenant=t1' })!));
  try {
    expect((await sink.export(calls.map(toSpan))).map((o) => o.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(receiver.requests.map((q) => [q.path, q.headers['x-tenant']])).toEqual([[OTLP_GRPC_PATHS.traces, 't1']]);
    const got = receiver.accepted();
    expect(got.map((s) => s.spanId)).toEqual(calls.map((c) => spanIds(c).spanId));
    for (const [i, s] of got.entries()) {
      expect(s.name).toBe(calls[i]!.name);
      expect([s.startTimeUnixNano, s.endTimeUnixNano]).toEqual([String(calls[i]!.start_ns), String(calls[i]!.end_ns)]);
      expect(s.attributes['gen_ai.usage.input_tokens']).toBe(calls[i]!.attributes['gen_ai.usage.input_tokens']);
    }
    receiver.status = (q) => (q.spans.some((s) => s.name.includes('reject-me')) ? 400 : 200);
    expect((await sink.export([toSpan(call(20)), toSpan(call(21, { model: 'reject-me' }))])).map((o) => o.status)).toEqual(['ok', 'rejected']);
    receiver.status = () => 503;
    expect((await sink.export([toSpan(call(22))])).map((o) => o.status)).toEqual(['transient']);
  } finally {
    await sink.shutdown();
    await receiver.close();
  }
});

test('metrics go with the spans\' OTLP configuration, not with the SLS preset; OTEL_METRICS_EXPORTER=none turns them off', () => {
  expect(otlpMetricsConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })!.metricsUrl).toBe('http://c:4318/v1/metrics');
  expect(otlpMetricsConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' })!.metricsUrl).toBe('http://c:4318/v1/metrics');
  expect(otlpMetricsConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://m/x' })!.metricsUrl).toBe('http://m/x');
  expect(otlpMetricsConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c/custom' })).toBeNull();
  expect(otlpMetricsConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_METRICS_EXPORTER: 'none' })).toBeNull();
  expect(exportTargets({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).map((t) => [t.name, t.durable])).toEqual([['otlp', 'exporter'], ['otlp-metrics', 'exporter-otlp-metrics'], ['otlp-process-metrics', 'exporter-otlp-process-metrics']]);
  const sls = { AGENTSIGHT_SLS_PROJECT: 'p', AGENTSIGHT_SLS_ENDPOINT: 'e', AGENTSIGHT_SLS_INSTANCE: 'i', AGENTSIGHT_SLS_ACCESS_KEY_ID: 'a', AGENTSIGHT_SLS_ACCESS_KEY_SECRET: 's' };
  expect(exportTargets(sls).map((t) => t.name)).toEqual(['otlp']);
  expect(() => otlpMetricsConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'ftp://x' })).toThrow(/OTEL_EXPORTER_OTLP_METRICS_ENDPOINT/);
  // gRPC: the endpoint is the collector's address, no path.
  const grpc = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' };
  expect([exportConfig(grpc)!.url, otlpMetricsConfig(grpc)!.metricsUrl]).toEqual(['http://c:4317/', 'http://c:4317/']);
  expect(() => exportConfig({ ...sls, AGENTSIGHT_OTLP_PROTOCOL: 'grpc' })).toThrow(/SLS preset sends OTLP\/HTTP/);
});
