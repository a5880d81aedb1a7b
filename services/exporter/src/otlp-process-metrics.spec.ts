/**
 * OTLP process metrics of the traced agents (domain/process-metrics.ts, OtlpProcessMetricSink) sent by the
 * OpenTelemetry SDK exporters to a local receiver over OTLP/HTTP (protobuf and JSON) and OTLP/gRPC: every process of
 * every sample becomes CUMULATIVE sum points with the semconv v1.41 names, units, attributes and the process' own
 * start time; unreadable figures give no point; a resent sample repeats the same points; a rejected request is
 * bisected to the sample that caused it.
 */
import { decode, encode, exportTargets, RESOURCE_SAMPLE_VERSION, resourceSampleId, type ProcResourceSample, type RawResourceSample } from '@agentsight/contracts';
import { otlpMetricsConfig } from './config';
import { PROCESS_METRICS, processMetricModel, toSampleMeasurement } from './domain/process-metrics';
import { SpanMappingError } from './domain/spans';
import { OtlpProcessMetricSink, otlpMetricExporter } from './otlp-metrics-sink';
import { startOtlpGrpcReceiver, startOtlpReceiver, type OtlpReceiver, type ReceivedSumPoint } from './otlp-receiver.test';

const BOOT_WALL_NS = 1_780_000_000_000_000_000n; // wall time of boot
const proc = (pid: number, ppid: number, comm: string, o: Partial<ProcResourceSample> = {}): ProcResourceSample => ({
  pid, ppid, comm, start_ticks: 1000 + pid, utime_ns: 2_500_000_000, stime_ns: 300_000_000, children_cpu_ns: 0,
  rss_bytes: 150 * 1024 * 1024, rss_peak_bytes: 200 * 1024 * 1024, threads: 11, read_bytes: 4096, write_bytes: 8192, rchar: 1e6, wchar: 2e6, fds: 24,
  net_sent_bytes: 300_001, net_recv_bytes: 1_048_583, children_net_sent_bytes: 0, children_net_recv_bytes: 0, ...o,
});
/** The probe began counting network bytes 50 ticks after process 100 started (it was traced while running). */
const NET_SINCE_TICKS = 1150;

function sample(atS: number, procs: ProcResourceSample[], o: Partial<RawResourceSample> = {}): RawResourceSample {
  const ts_boot_ns = BigInt(atS) * 1_000_000_000n;
  const base = { host: o.host ?? 'h1', boot_id: 'b', root_pid: procs[0]!.pid, root_start_ticks: procs[0]!.start_ticks, ts_boot_ns };
  return {
    v: RESOURCE_SAMPLE_VERSION, kind: 'resource_sample', id: resourceSampleId(base), ...base, root_comm: procs[0]!.comm, agent_name: 'claude-code',
    ts_wall_ns: BOOT_WALL_NS + ts_boot_ns, interval_ms: 1000, procs,
    tree: { procs: procs.length, cpu_ns: 0, rss_bytes: 0, threads: 0, read_bytes: 0, write_bytes: 0, fds: 0 }, cgroup: null, not_captured: [], sampler_cpu_ns: 1,
    net_age_ms: 100, net_since_ticks: NET_SINCE_TICKS, ...o,
  };
}

const samples = [
  sample(500, [proc(100, 1, 'claude')]),
  // A second sample: the agent and a tool child (a zombie whose RSS, fds and network bytes are unknown: no point, never a zero).
  sample(501, [
    proc(100, 1, 'claude', { utime_ns: 2_600_000_000 }),
    proc(200, 100, 'bash', { rss_bytes: null, rss_peak_bytes: null, fds: null, read_bytes: null, write_bytes: null, net_sent_bytes: null, net_recv_bytes: null }),
  ]),
];

const byKey = (ps: ReceivedSumPoint[]) => new Map(ps.map((p) => [`${p.metric}|${p.attributes['process.pid']}|${p.attributes['cpu.mode'] ?? p.attributes['disk.io.direction'] ?? p.attributes['network.io.direction'] ?? ''}|${p.timeUnixNano}`, p]));

describe.each(['http/protobuf', 'http/json', 'grpc'] as const)('OTLP process metrics over %s', (protocol) => {
  let receiver: OtlpReceiver;
  let sink: OtlpProcessMetricSink;
  beforeAll(async () => {
    receiver = protocol === 'grpc' ? await startOtlpGrpcReceiver() : await startOtlpReceiver();
    const c = otlpMetricsConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, AGENTSIGHT_OTLP_PROTOCOL: protocol, OTEL_EXPORTER_OTLP_TIMEOUT: '5000' })!;
    sink = new OtlpProcessMetricSink(otlpMetricExporter(c));
  });
  afterAll(async () => {
    await sink.shutdown();
    await receiver.close();
  });

  test('each process of each sample: cumulative sums from the process start, semconv names, units and attributes', async () => {
    // As the exporter gets them: through msgpack (an uptime in ns decodes as a number).
    const items = samples.map((s) => processMetricModel.prepare(decode(encode(s))).item);
    expect(await sink.export(items)).toEqual([{ status: 'ok' }, { status: 'ok' }]);
    expect(receiver.requests).toHaveLength(1); // one host: one request
    const got = byKey(receiver.acceptedSums());
    for (const s of samples) {
      for (const p of s.procs) {
        const at = String(s.ts_wall_ns);
        const pt = (metric: string, sub = '') => got.get(`${metric}|${p.pid}|${sub}|${at}`);
        expect(pt('process.cpu.time', 'user')?.value).toBeCloseTo(p.utime_ns / 1e9, 9);
        expect(pt('process.cpu.time', 'system')?.value).toBeCloseTo(p.stime_ns / 1e9, 9);
        expect(pt('process.thread.count')?.value).toBe(p.threads);
        expect(pt('process.memory.usage')?.value).toBe(p.rss_bytes ?? undefined);
        expect(pt('process.unix.file_descriptor.count')?.value).toBe(p.fds ?? undefined);
        expect(pt('process.disk.io', 'read')?.value).toBe(p.read_bytes ?? undefined);
        expect(pt('process.disk.io', 'write')?.value).toBe(p.write_bytes ?? undefined);
        expect(pt('process.network.io', 'transmit')?.value).toBe(p.net_sent_bytes ?? undefined);
        expect(pt('process.network.io', 'receive')?.value).toBe(p.net_recv_bytes ?? undefined);
        // Counted from the probe's start: the process was running before it.
        if (p.net_sent_bytes !== null) expect(pt('process.network.io', 'transmit')!.startTimeUnixNano).toBe(String(BOOT_WALL_NS + BigInt(NET_SINCE_TICKS) * 10_000_000n));
        const cpu = pt('process.cpu.time', 'user')!;
        expect(cpu.startTimeUnixNano).toBe(String(BOOT_WALL_NS + BigInt(p.start_ticks) * 10_000_000n));
        expect(cpu.attributes).toMatchObject({
          'process.pid': p.pid, 'process.parent_pid': p.ppid, 'process.executable.name': p.comm, 'gen_ai.agent.name': 'claude-code', 'agentsight.process.root_pid': 100,
        });
        expect(cpu.resource['host.name']).toBe('h1');
      }
    }
    // 2 cpu + rss + threads + fds + 2 disk + 2 network = 9 points for a readable process, 3 for the zombie.
    expect(receiver.acceptedSums()).toHaveLength(9 + 9 + 3);
    for (const p of receiver.acceptedSums()) {
      const spec = Object.values(PROCESS_METRICS).find((m) => m.name === p.metric)!;
      expect([p.unit, p.monotonic, p.temporality]).toEqual([spec.unit, spec.monotonic, 2]); // CUMULATIVE
    }
  });

  test('a resent sample repeats the same points; a rejected request is bisected to the bad sample', async () => {
    receiver.requests.length = 0;
    const one = processMetricModel.prepare(samples[0]).item;
    await sink.export([one]);
    await sink.export([one]);
    expect(receiver.requests[1]!.sums).toEqual(receiver.requests[0]!.sums);
    const bad = toSampleMeasurement(sample(600, [proc(300, 1, 'reject-me')]));
    receiver.status = (q) => (q.sums.some((p) => p.attributes['process.executable.name'] === 'reject-me') ? 400 : 200);
    const out = await sink.export([toSampleMeasurement(samples[1]), bad, toSampleMeasurement(sample(601, [proc(100, 1, 'claude')]))]);
    receiver.status = () => 200;
    expect(out.map((o) => o.status)).toEqual(['ok', 'rejected', 'ok']);
  });
});

test('the model: final per sample id; what is not a v1/v2 sample is refused (dead-lettered by the engine); no agent name, no attribute', () => {
  const p = processMetricModel.prepare(samples[1]);
  expect([p.id, p.version, p.final]).toEqual([samples[1].id, 0, true]);
  expect(processMetricModel.subjectOf(samples[1])).toBe('agentsight.raw.resource.h1');
  expect(() => processMetricModel.prepare({ ...samples[0], v: 3 })).toThrow(SpanMappingError);
  // A v1 sample (no network fields): every other point, no network point (never a zero).
  const { net_sent_bytes: _s, net_recv_bytes: _r, children_net_sent_bytes: _cs, children_net_recv_bytes: _cr, ...v1proc } = samples[0].procs[0]!;
  const v1 = toSampleMeasurement({ ...samples[0], v: 1, procs: [v1proc], net_age_ms: undefined, net_since_ticks: undefined });
  expect(v1.points.map((pt) => pt.metric).sort()).toEqual(['cpuTime', 'cpuTime', 'diskIo', 'diskIo', 'fdCount', 'memoryUsage', 'threadCount']);
  // A process started after the probe: its network bytes count from its own start.
  const late = toSampleMeasurement(sample(502, [proc(400, 1, 'late')]));
  expect(late.points.find((pt) => pt.metric === 'networkIo')!.startNs).toBe(BOOT_WALL_NS + 1400n * 10_000_000n);
  expect(() => processMetricModel.prepare({ kind: 'inference', id: 'x' })).toThrow(SpanMappingError);
  const anon = toSampleMeasurement({ ...samples[0], agent_name: null });
  expect(anon.points.every((pt) => !('gen_ai.agent.name' in pt.attributes))).toBe(true);
});

test('process metrics go with the GenAI metrics: a durable on the resource samples of AGENTSIGHT_RAW', () => {
  const t = exportTargets({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).find((x) => x.name === 'otlp-process-metrics');
  expect(t).toEqual(expect.objectContaining({ input: 'resource', durable: 'exporter-otlp-process-metrics', stream: 'AGENTSIGHT_RAW', filterSubject: 'agentsight.raw.resource.>' }));
  expect(exportTargets({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_METRICS_EXPORTER: 'none' }).map((x) => x.name)).toEqual(['otlp']);
});
