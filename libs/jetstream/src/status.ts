import type Redis from 'ioredis';
import type { JetStreamManager } from '@nats-io/jetstream';
import { STREAMS } from '@agentsight/contracts';
import type { StreamSpec } from '@agentsight/contracts';

/** The partitioned consumer groups of the pipeline ({@link PartitionGroup} names). */
export const PARTITION_GROUPS = ['parser', 'parser-stdio', 'aggregator'] as const;

/** One durable consumer of a stream (ephemeral consumers are left out). */
export interface ConsumerStatus {
  durable: string;
  filter_subject: string;
  /** Messages not yet delivered to it (JetStream `num_pending`). */
  pending: number;
  /** Delivered, not yet acked. */
  ack_pending: number;
  /** Stream sequence up to which everything is acked. */
  ack_floor: number;
  /** Delivered more than once and not yet acked (JetStream `num_redelivered`). */
  redelivered: number;
}

/** One stream: size, limits, what its limits discarded, and its consumers. */
export interface StreamStatus {
  name: string;
  messages: number;
  bytes: number;
  first_seq: number;
  last_seq: number;
  /** ns; 0 = none. */
  max_age_ns: number;
  /** bytes; -1 = none. */
  max_bytes: number;
  /**
   * Messages removed from the head of the stream by its limits (age or size): `first_seq - 1`. Whether each
   * consumer had processed them first is not kept by JetStream (it moves a lagging consumer's ack floor past what
   * it discards), so a non-zero count next to a consumer with `pending` > 0 is the sign that inputs were lost.
   */
  discarded: number;
  consumers: ConsumerStatus[];
}

/** One partitioned consumer group: its live instances and who holds each partition's lease. */
export interface GroupStatus {
  group: string;
  /** Live instances (`<host>:<instance>`), sorted, each with its heartbeat expiry (ms since the epoch). */
  members: { owner: string; expires_ms: number }[];
  /** Partition → owning instance, or null when no instance holds it. */
  owners: (string | null)[];
}

/** What `agentsight status` shows about the broker side of the pipeline. */
export interface PipelineStatus {
  streams: StreamStatus[];
  groups: GroupStatus[];
}

/**
 * Reads the state of every pipeline stream (or those of `specs`) and its durables from JetStream, and the
 * partition groups' membership and leases from Redis. Streams that do not exist yet are left out. Throws when
 * NATS or Redis does not answer.
 */
export async function pipelineStatus(
  jsm: JetStreamManager,
  redis: Redis,
  opts: { partitions: number; specs?: readonly StreamSpec[]; groups?: readonly string[] },
): Promise<PipelineStatus> {
  const streams: StreamStatus[] = [];
  for (const spec of opts.specs ?? STREAMS) {
    const info = await jsm.streams.info(spec.name).catch(() => null);
    if (!info) continue;
    const discarded = Math.max(0, info.state.first_seq - 1);
    const consumers: ConsumerStatus[] = [];
    for await (const c of jsm.consumers.list(spec.name)) {
      if (!c.config.durable_name) continue; // ephemeral readers (a CLI's, a test's) come and go: not the pipeline's lag
      consumers.push({
        durable: c.name,
        filter_subject: c.config.filter_subject ?? '',
        pending: c.num_pending,
        ack_pending: c.num_ack_pending,
        ack_floor: c.ack_floor.stream_seq,
        redelivered: c.num_redelivered,
      });
    }
    consumers.sort((a, b) => a.durable.localeCompare(b.durable));
    streams.push({
      name: spec.name,
      messages: info.state.messages,
      bytes: info.state.bytes,
      first_seq: info.state.first_seq,
      last_seq: info.state.last_seq,
      max_age_ns: info.config.max_age,
      max_bytes: info.config.max_bytes,
      discarded,
      consumers,
    });
  }
  const groups: GroupStatus[] = [];
  const now = Date.now();
  for (const group of opts.groups ?? PARTITION_GROUPS) {
    const scored = await redis.zrangebyscore(`agentsight:members:${group}`, now, '+inf', 'WITHSCORES');
    const members: GroupStatus['members'] = [];
    for (let i = 0; i < scored.length; i += 2) members.push({ owner: scored[i], expires_ms: Number(scored[i + 1]) });
    members.sort((a, b) => a.owner.localeCompare(b.owner));
    const keys = Array.from({ length: opts.partitions }, (_, p) => `agentsight:lease:${group}:${p}`);
    const owners = keys.length ? await redis.mget(...keys) : [];
    if (members.length || owners.some(Boolean)) groups.push({ group, members, owners });
  }
  return { streams, groups };
}
