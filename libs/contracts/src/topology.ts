/**
 * The pipeline's wiring, in one table: every JetStream stream (subjects, retention, limits, replicas, duplicate window)
 * and every stage (the durable consumers it reads with their filters, and the streams it publishes to). Services, the
 * CLI and replay take their streams, durables and filters from here; the C producer's stream configuration is the
 * header `services/probe-producer/src/topology.h`, generated from this file by `infra/topology-header.ts`
 * ({@link topologyHeader}; `services/probe-producer/test/topology.spec.ts` checks the committed header is current).
 *
 * Following a record: probe → `AGENTSIGHT_RAW` (ssl, stdio, proc, loss; resource samples from the CLI's sampler) →
 * parser → `AGENTSIGHT_HTTP` → aggregator → `AGENTSIGHT_EXCHANGE` → analyzer → `AGENTSIGHT_LLM`, `AGENTSIGHT_AUDIT`,
 * `AGENTSIGHT_TOOL` → genai → `AGENTSIGHT_GENAI` → storage (ClickHouse tables) and the exporter. Every stage may
 * dead-letter to `AGENTSIGHT_DLQ` (stored by storage). The subjects themselves are built by `Subjects` (subjects.ts).
 */
import { DEFAULT_PARTITIONS, Subjects, type Stage } from './subjects';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Stream names by their place in the pipeline. */
export const STREAM = {
  raw: 'AGENTSIGHT_RAW',
  http: 'AGENTSIGHT_HTTP',
  exchange: 'AGENTSIGHT_EXCHANGE',
  llm: 'AGENTSIGHT_LLM',
  audit: 'AGENTSIGHT_AUDIT',
  tool: 'AGENTSIGHT_TOOL',
  genai: 'AGENTSIGHT_GENAI',
  dlq: 'AGENTSIGHT_DLQ',
  replay: 'AGENTSIGHT_REPLAY',
} as const;

/** A pipeline stream's name. */
export type StreamName = (typeof STREAM)[keyof typeof STREAM];

/**
 * A JetStream stream of the pipeline: name, subjects and its default limits. When either limit is reached JetStream
 * discards the oldest messages (`discard: old`); inputs a consumer had not yet acked are then lost to it, and
 * `agentsight status` counts them. The limits are overridden by `AGENTSIGHT_STREAM_MAX_AGE_HOURS` and
 * `AGENTSIGHT_<NAME>_MAX_BYTES` (libs/jetstream `streamLimits`), the replicas by `AGENTSIGHT_STREAM_REPLICAS`.
 */
export interface StreamSpec {
  name: string;
  subjects: string[];
  /** Default `max_age`, hours. */
  maxAgeHours: number;
  /** Default `max_bytes`, bytes. */
  maxBytes: number;
}

/** JetStream duplicate window of every stream (Nats-Msg-Id de-duplication): 10 minutes, in ns. */
export const DUPLICATE_WINDOW_NS = 10 * 60 * 1e9;

/** Default `num_replicas` of every stream and of the large-payload object store (`AGENTSIGHT_STREAM_REPLICAS`). */
export const DEFAULT_STREAM_REPLICAS = 1;

/**
 * All streams, created idempotently by whichever component starts first (the probe creates `AGENTSIGHT_RAW` with
 * these defaults too, from the generated header). Default limits are sized for a laptop (at most 8.25 GiB in all):
 * raw and HTTP records 3 days (they are re-derivable history, and the largest), derived events and dead letters
 * 7 days; a replay's own stream 1 day.
 */
export const STREAMS: readonly StreamSpec[] = [
  { name: STREAM.raw, subjects: ['agentsight.raw.>'], maxAgeHours: 72, maxBytes: 2 * GiB },
  { name: STREAM.http, subjects: ['agentsight.http.>'], maxAgeHours: 72, maxBytes: 1 * GiB },
  { name: STREAM.exchange, subjects: ['agentsight.exchange.>'], maxAgeHours: 168, maxBytes: 1 * GiB },
  { name: STREAM.llm, subjects: ['agentsight.llm.>'], maxAgeHours: 168, maxBytes: 512 * MiB },
  { name: STREAM.audit, subjects: ['agentsight.audit.>'], maxAgeHours: 168, maxBytes: 512 * MiB },
  { name: STREAM.tool, subjects: ['agentsight.tool.>'], maxAgeHours: 168, maxBytes: 512 * MiB },
  { name: STREAM.genai, subjects: ['agentsight.genai.>'], maxAgeHours: 168, maxBytes: 512 * MiB },
  { name: STREAM.dlq, subjects: ['agentsight.dlq.>'], maxAgeHours: 168, maxBytes: 256 * MiB },
  { name: STREAM.replay, subjects: ['agentsight.replay.>'], maxAgeHours: 24, maxBytes: 2 * GiB },
];

/**
 * Stream of what `agentsight replay` derives: `agentsight.replay.<replay id>.<live subject without agentsight.>`
 * (e.g. `agentsight.replay.r1.http.laptop.3`), read only by that replay's consumers and purged when it ends.
 */
export const REPLAY_STREAM = STREAM.replay;

/** A durable consumer of one stage: its name, the stream and the filter subject. */
export interface DurableWiring {
  durable: string;
  stream: StreamName;
  filterSubject: string;
}

/**
 * A partitioned consumer group: durables `<name>-p<N>` for N in 0..partitions-1 (default {@link DEFAULT_PARTITIONS}),
 * each filtering partition N of the stream, owned by one instance at a time (Redis leases named after `name`).
 */
export interface PartitionedWiring {
  name: string;
  stream: StreamName;
  /** The filter subject of partition `p`, e.g. `agentsight.raw.ssl.*.3`. */
  filter: (p: number) => string;
}

/** One stage: the consumers it reads (by role) and the streams it publishes to (besides dead letters, which all may). */
export interface StageWiring {
  consumes: Record<string, DurableWiring | PartitionedWiring>;
  publishes: readonly StreamName[];
}

const durable = (name: string, stream: StreamName, filterSubject: string): DurableWiring => ({ durable: name, stream, filterSubject });
const partitioned = (name: string, stream: StreamName, filter: (p: number) => string): PartitionedWiring => ({ name, stream, filter });

/** What each export target reads (libs/contracts export.ts `exportTargets`: one durable per target over these). */
export const EXPORT_INPUTS = {
  genai: { stream: STREAM.genai, filterSubject: 'agentsight.genai.>' },
  audit: { stream: STREAM.audit, filterSubject: 'agentsight.audit.>' },
  resource: { stream: STREAM.raw, filterSubject: 'agentsight.raw.resource.>' },
} as const;

/**
 * The stages: who reads what with which durable, and what each publishes. `probe` is the C producer (raw records);
 * `sampler` is the CLI's resource sampler (resource samples on `AGENTSIGHT_RAW`); `storage` is the api service's
 * sinks (each consumer → one ClickHouse table); the exporter's, one per export target, run when configured (export.ts).
 */
export const TOPOLOGY = {
  probe: { consumes: {}, publishes: [STREAM.raw] },
  sampler: { consumes: {}, publishes: [STREAM.raw] },
  parser: {
    consumes: {
      ssl: partitioned('parser', STREAM.raw, Subjects.rawSslPartition),
      stdio: partitioned('parser-stdio', STREAM.raw, Subjects.rawStdioPartition),
    },
    publishes: [STREAM.http, STREAM.tool],
  },
  aggregator: {
    consumes: {
      http: partitioned('aggregator', STREAM.http, Subjects.httpPartition),
      proc: durable('aggregator-proc', STREAM.raw, 'agentsight.raw.proc.>'),
    },
    publishes: [STREAM.exchange],
  },
  analyzer: {
    consumes: {
      exchange: durable('analyzer', STREAM.exchange, 'agentsight.exchange.>'),
      proc: durable('analyzer-proc', STREAM.raw, 'agentsight.raw.proc.>'),
    },
    publishes: [STREAM.llm, STREAM.audit, STREAM.tool],
  },
  genai: {
    consumes: {
      llm: durable('genai', STREAM.llm, 'agentsight.llm.>'),
      tool: durable('genai-tool', STREAM.tool, 'agentsight.tool.>'),
    },
    publishes: [STREAM.genai],
  },
  storage: {
    consumes: {
      genai: durable('storage-genai', STREAM.genai, 'agentsight.genai.>'),
      tool: durable('storage-tool', STREAM.tool, 'agentsight.tool.>'),
      exchange: durable('storage-exchange', STREAM.exchange, 'agentsight.exchange.>'),
      audit: durable('storage-audit', STREAM.audit, 'agentsight.audit.>'),
      dlq: durable('storage-dlq', STREAM.dlq, 'agentsight.dlq.>'),
      resource: durable('storage-resource', STREAM.raw, 'agentsight.raw.resource.>'),
    },
    publishes: [],
  },
  exporter: {
    // One durable per export target (export.ts `exportTargets` starts those the environment configures).
    consumes: {
      otlp: durable('exporter', EXPORT_INPUTS.genai.stream, EXPORT_INPUTS.genai.filterSubject),
      'otlp-metrics': durable('exporter-otlp-metrics', EXPORT_INPUTS.genai.stream, EXPORT_INPUTS.genai.filterSubject),
      'otlp-process-metrics': durable('exporter-otlp-process-metrics', EXPORT_INPUTS.resource.stream, EXPORT_INPUTS.resource.filterSubject),
      sls: durable('exporter-sls', EXPORT_INPUTS.genai.stream, EXPORT_INPUTS.genai.filterSubject),
      'sls-audit': durable('exporter-sls-audit', EXPORT_INPUTS.audit.stream, EXPORT_INPUTS.audit.filterSubject),
      logtail: durable('exporter-logtail', EXPORT_INPUTS.genai.stream, EXPORT_INPUTS.genai.filterSubject),
      'logtail-audit': durable('exporter-logtail-audit', EXPORT_INPUTS.audit.stream, EXPORT_INPUTS.audit.filterSubject),
    },
    publishes: [],
  },
} as const satisfies Record<Stage | 'sampler', StageWiring>;

/** True for a partitioned consumer group's wiring. */
export function isPartitioned(w: DurableWiring | PartitionedWiring): w is PartitionedWiring {
  return 'filter' in w;
}

/** The durable names of a wiring entry: one, or `<name>-p<N>` for each of `partitions`. */
export function durablesOf(w: DurableWiring | PartitionedWiring, partitions = DEFAULT_PARTITIONS): string[] {
  return isPartitioned(w) ? Array.from({ length: partitions }, (_, p) => `${w.name}-p${p}`) : [w.durable];
}

/** The stream spec of `name`; throws on a name not in {@link STREAMS}. */
export function streamSpec(name: string): StreamSpec {
  const s = STREAMS.find((x) => x.name === name);
  if (!s) throw new Error(`no stream ${name} in the topology`);
  return s;
}

/**
 * The C header the probe's publisher includes (`services/probe-producer/src/topology.h`): the raw stream's name,
 * subject filter, default `max_age` (ns) and `max_bytes` (bytes), the duplicate window (ns) and the default replicas,
 * so the producer creates `AGENTSIGHT_RAW` as the stages would. Written by `infra/topology-header.ts`; never edited
 * by hand.
 */
export function topologyHeader(): string {
  const raw = streamSpec(STREAM.raw);
  if (raw.subjects.length !== 1) throw new Error('the C producer creates the raw stream with one subject filter');
  return [
    '/* SPDX-License-Identifier: Apache-2.0 */',
    '/*',
    ' * GENERATED from libs/contracts/src/topology.ts by `npx tsx infra/topology-header.ts`: do not edit. The raw stream as',
    ' * the pipeline defines it, for the producer to create it with (topology.spec.ts fails when this file is not current).',
    ' */',
    '#ifndef AGENTSIGHT_TOPOLOGY_H',
    '#define AGENTSIGHT_TOPOLOGY_H',
    '',
    `#define RAW_STREAM_NAME ${JSON.stringify(raw.name)}`,
    `#define RAW_STREAM_SUBJECT ${JSON.stringify(raw.subjects[0])}`,
    `#define RAW_STREAM_MAX_AGE_NS ${BigInt(raw.maxAgeHours) * 3_600_000_000_000n}LL /* ${raw.maxAgeHours} h */`,
    `#define RAW_STREAM_MAX_BYTES ${raw.maxBytes}LL /* ${raw.maxBytes / MiB} MiB */`,
    `#define STREAM_DUPLICATE_WINDOW_NS ${BigInt(DUPLICATE_WINDOW_NS)}LL /* ${DUPLICATE_WINDOW_NS / 60e9} min */`,
    `#define STREAM_REPLICAS ${DEFAULT_STREAM_REPLICAS}`,
    '',
    '#endif',
    '',
  ].join('\n');
}
