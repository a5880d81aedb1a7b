/**
 * Capture health, read in one place: the dashboard's capture page (`GET /api/capture`), `agentsight status` (its store
 * section reads that endpoint; its broker section is the same {@link pipelineStatus}) and the Prometheus `/metrics`
 * (prometheus.ts) all take their numbers from {@link readCaptureStatus}.
 */
import type Redis from 'ioredis';
import type { ClickHouseClient } from '@clickhouse/client';
import type { JetStreamManager } from '@nats-io/jetstream';
import { deadLetterGroups, droppedTotals, listAudit, storeSize, tableSizes } from '@agentsight/clickhouse';
import { decode, lostBytes, lostRecords, type CaptureStatus, type RawLossRecord, STREAM } from '@agentsight/contracts';
import { pipelineStatus, STAGE_EVENT_COUNTERS, type PipelineStatus, type StageRuntime } from '@agentsight/jetstream';
import type { BatchLatency, StageEventSeries } from './batch';

/** Where {@link readCaptureStatus} reads from: the api's broker connections and store, and the store's bounds. */
export interface CaptureSources {
  jsm: JetStreamManager;
  redis: Redis;
  /** `AGENTSIGHT_PARTITIONS` (partition groups' lease keys). */
  partitions: number;
  client: ClickHouseClient;
  /** `AGENTSIGHT_RETENTION_DAYS` in force (0 = no TTL). */
  retentionDays: number;
  /** `AGENTSIGHT_STORE_MAX_BYTES` in force (0 = none). */
  maxBytes: number;
  /** Whether the last size-cap check left the store over the cap. */
  overCap: boolean;
  /** The stages' event counters heard so far (BatchLatency.events). */
  stageEvents: StageEventSeries[];
}

/** {@link readCaptureStatus}'s answer: the capture page's contract and the broker state it was built from. */
export interface CaptureSnapshot {
  capture: CaptureStatus;
  /** Streams (sizes, limits, discards, sequences), durables and partition groups; null when NATS/Redis did not answer (`capture.nats_error` says why). */
  pipeline: PipelineStatus | null;
}

/** The latest loss record of every producer (`agentsight.raw.loss.<host>`): kernel loss and per-probe counters. */
async function producers(jsm: JetStreamManager): Promise<Pick<CaptureStatus, 'producers' | 'producers_error'>> {
  const out: CaptureStatus['producers'] = [];
  try {
    const info = await jsm.streams.info(STREAM.raw, { subjects_filter: 'agentsight.raw.loss.>' });
    for (const subject of Object.keys(info.state.subjects ?? {})) {
      const m = await jsm.streams.getMessage(STREAM.raw, { last_by_subj: subject });
      if (!m) continue;
      const r = decode<RawLossRecord>(m.data);
      out.push({
        host: r.host, ts: new Date(Number(BigInt(r.ts_wall_ns) / 1_000_000n)).toISOString(), records: Number(r.records), published: Number(r.published ?? r.records),
        lost_records: lostRecords(r), lost_bytes: lostBytes(r), ringbuf_drops: lostRecords(r), ringbuf_drop_bytes: lostBytes(r),
        publish_failures: Number(r.publish_failures), publish_reordered: r.publish_reordered === undefined ? null : Number(r.publish_reordered),
        file_opens_skipped: Number(r.file_opens_skipped),
        probes: (r.probes ?? []).map((p) => ({ host: r.host, binary: p.binary, fn: p.fn, records: Number(p.records), fragments: Number(p.fragments), bytes: Number(p.bytes), lost_records: lostRecords(p), ringbuf_drops: lostRecords(p) })),
        attach_failures: (r.attach_failures ?? []).map((f) => ({ binary: f.binary, fn: f.fn, error: f.error })),
      });
    }
    const none = !Object.keys(info.state.subjects ?? {}).length;
    return { producers: out, producers_error: none ? 'no loss record in AGENTSIGHT_RAW: no probe has run against this NATS (or its records expired)' : null };
  } catch (err) {
    return { producers: out, producers_error: `cannot read the probes' loss records: ${(err as Error).message}` };
  }
}

/**
 * Reads capture health: per-producer and per-probe counters (latest loss record), streams and durables' lag
 * ({@link pipelineStatus}), table sizes, the store's bounds and what its cap dropped, dead letters by stage and reason,
 * TLS that no probe recorded, and the stages' event counters. A broker that does not answer is reported in `nats_error` / `producers_error`
 * (never a silent zero); throws when ClickHouse does not answer.
 */
export async function readCaptureStatus(src: CaptureSources): Promise<CaptureSnapshot> {
  let pipeline: PipelineStatus | null = null;
  let natsError: string | null = null;
  try {
    pipeline = await pipelineStatus(src.jsm, src.redis, { partitions: src.partitions });
  } catch (err) {
    natsError = `cannot read JetStream state: ${(err as Error).message}`;
  }
  const size = await storeSize(src.client);
  const capture: CaptureStatus = {
    ...(await producers(src.jsm)),
    consumers: (pipeline?.streams ?? []).flatMap((s) => s.consumers.map((c) => ({ stream: s.name, durable: c.durable, pending: c.pending, ack_pending: c.ack_pending, redelivered: c.redelivered }))),
    streams: (pipeline?.streams ?? []).map((s) => ({ stream: s.name, messages: s.messages, bytes: s.bytes })),
    nats_error: natsError,
    tables: await tableSizes(src.client),
    retention: {
      retention_days: src.retentionDays, max_bytes: src.maxBytes, store_bytes: size.bytes, store_bytes_note: size.note, over_cap: src.overCap, dropped: await droppedTotals(src.client),
    },
    dead_letters: await deadLetterGroups(src.client),
    not_captured: (await listAudit(src.client, { type: 'capture', limit: 100 })).map((a) => {
      const d = a.details as Record<string, string | number>;
      return {
        ts: a.ts, host: a.host, pid: a.pid, comm: a.comm, binary: String(d.binary ?? ''), library: String(d.library ?? ''), cause: String(d.cause ?? ''),
        reason: String(d.reason ?? ''), peer: d.server_name ? `${d.server_name}:${d.port}` : String(d.target ?? ''), summary: a.summary,
      };
    }),
    stage_events: src.stageEvents.map((e) => ({ ...e, help: STAGE_EVENT_COUNTERS[e.name] })),
  };
  return { capture, pipeline };
}

/**
 * The api's {@link CaptureSources}: its stage runtime's NATS and Redis, its store and the bounds in force, and the
 * stage reports it heard (`batches`).
 */
export function captureSources(
  storage: { client: ClickHouseClient; retentionDays: number; maxBytes: number; lastCap: { over: boolean } | null }, rt: StageRuntime, batches: BatchLatency,
): CaptureSources {
  return {
    jsm: rt.nats.jsm, redis: rt.redis, partitions: rt.config.partitions, client: storage.client,
    retentionDays: storage.retentionDays, maxBytes: storage.maxBytes, overCap: storage.lastCap?.over ?? false, stageEvents: batches.events(),
  };
}
