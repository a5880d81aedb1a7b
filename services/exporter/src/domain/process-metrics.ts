/**
 * Resource samples of traced agents → the OS process metrics of semconv v1.41 (docs/system/process-metrics.md), as
 * OTLP cumulative sums, one data point per process per sample. Pure: no NATS, no Redis, no network.
 * - `process.cpu.time` (Counter, `s`): `utime` / `stime` with `cpu.mode` `user` / `system` (a process is characterized
 *   only by data points with mode labels, as the note asks);
 * - `process.memory.usage` (UpDownCounter, `By`): VmRSS;
 * - `process.thread.count` (UpDownCounter, `{thread}`);
 * - `process.unix.file_descriptor.count` (UpDownCounter, `{file_descriptor}`);
 * - `process.disk.io` (Counter, `By`): `read_bytes` / `write_bytes` with `disk.io.direction` `read` / `write`;
 * - `process.network.io` (Counter, `By`): the inet payload bytes the probe counted in eBPF (contract v2
 *   `net_sent_bytes` / `net_recv_bytes`) with `network.io.direction` `transmit` / `receive`.
 * A figure the sampler could not read (null, or absent in a v1 sample) gives no data point: never a zero in its place.
 *
 * Every point is CUMULATIVE from the process' start (`startTime` = the process' start, `endTime` = the sample's wall
 * time; for `process.network.io` the later of the process' start and the probe's counting start, `net_since_ticks`), so a point sent twice (an at-least-once retry) is the same point, and the sum over a tree's processes is the
 * tree's figure. Attributes per point (one resource per host, `host.name`, as the spans have): `process.pid`,
 * `process.parent_pid`, `process.executable.name` (comm), `gen_ai.agent.name` of the traced root (every process of
 * an agent's tree works for that agent; absent when the sample has none) and `agentsight.process.root_pid` (the traced
 * root, to sum a tree). Children's CPU reaped inside the tree is not reported apart: each child was a process of its own.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, type ResourceMetrics, type SumMetricData } from '@opentelemetry/sdk-metrics';
import { GenAiAttr, normalizeNs, RESOURCE_SAMPLE_VERSIONS, type ProcResourceSample, type RawResourceSample } from '@agentsight/contracts';
import type { ExportModel } from '../engine';
import { hostResource, INSTRUMENTATION_SCOPE, SpanMappingError } from './spans';

/** The process metrics exported: semconv name, unit, description, monotonic (Counter) or not (UpDownCounter). */
export const PROCESS_METRICS = {
  cpuTime: { name: 'process.cpu.time', unit: 's', description: 'Total CPU seconds broken down by different states.', monotonic: true, valueType: ValueType.DOUBLE },
  memoryUsage: { name: 'process.memory.usage', unit: 'By', description: 'The amount of physical memory in use.', monotonic: false, valueType: ValueType.INT },
  threadCount: { name: 'process.thread.count', unit: '{thread}', description: 'Process threads count.', monotonic: false, valueType: ValueType.INT },
  fdCount: { name: 'process.unix.file_descriptor.count', unit: '{file_descriptor}', description: 'Number of unix file descriptors in use by the process.', monotonic: false, valueType: ValueType.INT },
  diskIo: { name: 'process.disk.io', unit: 'By', description: 'Disk bytes transferred.', monotonic: true, valueType: ValueType.INT },
  networkIo: { name: 'process.network.io', unit: 'By', description: 'Network bytes transferred.', monotonic: true, valueType: ValueType.INT },
} as const;

/** Key of {@link PROCESS_METRICS}. */
export type ProcessMetricKey = keyof typeof PROCESS_METRICS;

/** One cumulative data point. Times are ns since the Unix epoch. */
export interface ProcessPoint {
  metric: ProcessMetricKey;
  attributes: Attributes;
  startNs: bigint;
  timeNs: bigint;
  value: number;
}

/** What one resource sample contributes: its points, and who it is for rejection messages and grouping. */
export interface SampleMeasurement {
  /** The sample id. */
  id: string;
  /** Resource `host.name`. */
  host: string;
  points: ProcessPoint[];
}

/** USER_HZ: the unit of `/proc/<pid>/stat` start times (the sampler's `CLOCK_TICKS_PER_S`). */
const NS_PER_TICK = 10_000_000n;

/**
 * The measurement of a resource sample: each process' points, its start time derived from its `start_ticks` (clock
 * ticks since boot) against the sample's boot-time and wall clocks (bigint ns, or numbers as msgpack decodes ints
 * that fit one). Throws {@link SpanMappingError} when the value is
 * not a resource sample of a known version (v1, v2) with an id, host and times.
 */
export function toSampleMeasurement(value: unknown): SampleMeasurement {
  const s = value as RawResourceSample;
  if (!s || typeof s !== 'object' || s.kind !== 'resource_sample' || !RESOURCE_SAMPLE_VERSIONS.includes(s.v)) throw new SpanMappingError(`not a resource sample of contract v${RESOURCE_SAMPLE_VERSIONS.join('/v')}`);
  if (typeof s.id !== 'string' || s.id === '' || typeof s.host !== 'string' || s.host === '') throw new SpanMappingError('resource sample without id or host');
  const ns = (v: unknown) => typeof v === 'bigint' || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
  if (!ns(s.ts_wall_ns) || !ns(s.ts_boot_ns) || !Array.isArray(s.procs)) throw new SpanMappingError(`resource sample ${s.id} without times or processes`);
  // Decoded msgpack gives a number for an int64 that fits one exactly (codec.ts), a bigint otherwise.
  const wallNs = normalizeNs(s.ts_wall_ns);
  const bootWallNs = wallNs - normalizeNs(s.ts_boot_ns); // wall time of boot
  const points: ProcessPoint[] = [];
  for (const p of s.procs as ProcResourceSample[]) {
    const startNs = bootWallNs + BigInt(Math.trunc(p.start_ticks)) * NS_PER_TICK;
    const base: Attributes = {
      'process.pid': p.pid, 'process.parent_pid': p.ppid, 'process.executable.name': p.comm, 'agentsight.process.root_pid': s.root_pid,
      ...(typeof s.agent_name === 'string' && s.agent_name !== '' ? { [GenAiAttr.agentName]: s.agent_name } : {}),
    };
    const point = (metric: ProcessMetricKey, v: number | null | undefined, extra?: Attributes, from = startNs) => {
      if (typeof v === 'number' && Number.isFinite(v)) points.push({ metric, attributes: extra ? { ...base, ...extra } : base, startNs: from, timeNs: wallNs, value: v });
    };
    // Network bytes count from the probe's start for a process that was running before it.
    const since = typeof s.net_since_ticks === 'number' ? bootWallNs + BigInt(Math.trunc(s.net_since_ticks)) * NS_PER_TICK : startNs;
    const netFrom = since > startNs ? since : startNs;
    point('cpuTime', p.utime_ns / 1e9, { 'cpu.mode': 'user' });
    point('cpuTime', p.stime_ns / 1e9, { 'cpu.mode': 'system' });
    point('memoryUsage', p.rss_bytes);
    point('threadCount', p.threads);
    point('fdCount', p.fds);
    point('diskIo', p.read_bytes, { 'disk.io.direction': 'read' });
    point('diskIo', p.write_bytes, { 'disk.io.direction': 'write' });
    point('networkIo', p.net_sent_bytes, { 'network.io.direction': 'transmit' }, netFrom);
    point('networkIo', p.net_recv_bytes, { 'network.io.direction': 'receive' }, netFrom);
  }
  return { id: s.id, host: s.host, points };
}

const hrTime = (ns: bigint): HrTime => [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];

/** The OTLP metrics of one host's measurements: one CUMULATIVE sum per metric that has points, in sample order. */
export function processResourceMetrics(host: string, ms: SampleMeasurement[]): ResourceMetrics {
  const metrics: SumMetricData[] = [];
  for (const [key, d] of Object.entries(PROCESS_METRICS) as Array<[ProcessMetricKey, (typeof PROCESS_METRICS)[ProcessMetricKey]]>) {
    const dataPoints = ms.flatMap((m) => m.points.filter((p) => p.metric === key)).map((p) => ({
      startTime: hrTime(p.startNs), endTime: hrTime(p.timeNs), attributes: p.attributes, value: p.value,
    }));
    if (!dataPoints.length) continue;
    metrics.push({
      descriptor: { name: d.name, unit: d.unit, description: d.description, valueType: d.valueType },
      aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: d.monotonic, dataPoints,
    });
  }
  return { resource: hostResource(host), scopeMetrics: [{ scope: INSTRUMENTATION_SCOPE, metrics }] };
}

/**
 * The OTLP process-metrics target's {@link ExportModel}: every resource sample final (a sample is immutable); the
 * done marker per sample id keeps a redelivered sample from being sent again (and a resent one would be the same
 * cumulative points).
 */
export const processMetricModel: ExportModel<SampleMeasurement> = {
  item: 'sample',
  rejectedReason: 'otlp_rejected',
  prepare(value) {
    const m = toSampleMeasurement(value);
    return { id: m.id, version: 0, final: true, item: m };
  },
  label: (m) => `resource sample ${m.id}`,
  subjectOf: (value) => `agentsight.raw.resource.${(value as { host?: unknown })?.host ?? 'unknown'}`,
};
