import { REPLAY_STREAM, STREAM } from '@agentsight/contracts';
import type { ConsumeSpec } from './consumer';

/**
 * Where a replay starts re-deriving (`agentsight replay --from-stage`): the stream whose retained messages are read
 * again. Every stage downstream of it runs in the replay; the ones upstream do not.
 */
export type ReplayFrom = 'raw' | 'http' | 'exchange' | 'llm' | 'genai';

/** Streams by their place in the pipeline (the from-stage of each is the first rank that reads it). */
const RANK: Record<string, number> = {
  [STREAM.raw]: 0, [STREAM.http]: 1, [STREAM.exchange]: 2, [STREAM.llm]: 3, [STREAM.audit]: 3, [STREAM.tool]: 3, [STREAM.genai]: 4,
};
const FROM_RANK: Record<ReplayFrom, number> = { raw: 0, http: 1, exchange: 2, llm: 3, genai: 4 };
/** The stream a from-stage reads. */
export const FROM_STREAM: Record<ReplayFrom, string> = { raw: STREAM.raw, http: STREAM.http, exchange: STREAM.exchange, llm: STREAM.llm, genai: STREAM.genai };
/** Services that consume each rank (the api = storage runs in every replay). */
const SERVICE_RANK: Record<string, number> = { parser: 0, aggregator: 1, analyzer: 2, genai: 3, api: 4 };

/** What one replay is: given to each of its services as JSON in `AGENTSIGHT_REPLAY_SPEC` (see {@link ReplayScope.fromEnv}). */
export interface ReplaySpec {
  /** Replay id: `[A-Za-z0-9_]+`, unique per replay; resuming an interrupted replay reuses it. */
  id: string;
  from: ReplayFrom;
  /** First stream sequence of the from-stage's stream (`--from-seq`); the other live streams start at `sinceNs`. */
  fromSeq?: number;
  /** Earliest message time, ns since the epoch (`--since`, or the time of `fromSeq`); absent = the whole stream. */
  sinceNs?: string;
  /** Messages of the live streams stored after this, ns since the epoch, are skipped (`--until`, else the replay's start). */
  untilNs: string;
}

/**
 * The namespace of one replay, applied by the pipeline's plumbing (consumers, publisher, Redis) so that the same
 * stage services re-derive retained streams without touching the live pipeline:
 * - **Consumers**: every durable is `replay-<id>-<durable>` (never a live one). A consumer of a live stream at or
 *   upstream of the from-stage reads that stream from the replay's start (`fromSeq` on the from-stage's own stream,
 *   else `sinceNs`, else its first message) and skips messages stored after `untilNs`; every other consumer reads
 *   the replay's own subjects in {@link REPLAY_STREAM}.
 * - **Outputs** go to `agentsight.replay.<id>.<subject without agentsight.>`, so no live consumer sees them, with
 *   `Nats-Msg-Id` `replay.<id>:<id>`: the duplicate window is per stream and these never meet a live id, and a
 *   second replay (another id) is not dropped as a duplicate of the first. A resumed replay (same id) republishes
 *   the same ids, which the window drops as it should.
 * - **Inputs** read from the replay stream are handed to the stage with the live subject and the event's own msg id
 *   (prefix removed), so everything derived from them (event ids, dead-letter ids) is what the live pipeline
 *   derives: stored rows carry the same ids and replace the live ones (ReplacingMergeTree), never add to them.
 * - **Redis**: every key is prefixed `agentsight:replay:<id>:` (ioredis `keyPrefix`), leases and membership
 *   included, so live state is untouched and the replay starts from empty state, as a first run would.
 */
export class ReplayScope {
  readonly subjectPrefix: string;
  readonly msgIdPrefix: string;
  readonly redisPrefix: string;
  readonly untilNs: bigint;

  constructor(readonly spec: ReplaySpec) {
    if (!/^[A-Za-z0-9_]+$/.test(spec.id)) throw new Error(`replay id must be [A-Za-z0-9_]+, got "${spec.id}"`);
    if (!(spec.from in FROM_RANK)) throw new Error(`unknown replay from-stage "${spec.from}" (raw, http, exchange, llm, genai)`);
    this.subjectPrefix = `agentsight.replay.${spec.id}.`;
    this.msgIdPrefix = `replay.${spec.id}:`;
    this.redisPrefix = `agentsight:replay:${spec.id}:`;
    this.untilNs = BigInt(spec.untilNs);
  }

  /** The scope of `AGENTSIGHT_REPLAY_SPEC` (JSON {@link ReplaySpec}), or null when the process is part of the live pipeline. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): ReplayScope | null {
    return env.AGENTSIGHT_REPLAY_SPEC ? new ReplayScope(JSON.parse(env.AGENTSIGHT_REPLAY_SPEC) as ReplaySpec) : null;
  }

  /** True when a service (`parser`, `aggregator`, `analyzer`, `genai`, `api`) takes part in a replay from `from`. */
  static runs(service: string, from: ReplayFrom): boolean {
    return SERVICE_RANK[service] >= FROM_RANK[from];
  }

  /** True when consumers of `stream` read the live stream (at or upstream of the from-stage). */
  readsLive(stream: string): boolean {
    return (RANK[stream] ?? Infinity) <= FROM_RANK[this.spec.from];
  }

  /** Durable prefix of this replay's consumers. */
  get durablePrefix(): string {
    return `replay-${this.spec.id}-`;
  }

  /** The consumer a stage asked for, moved into this replay (see the class comment). */
  consume(spec: ConsumeSpec): ConsumeSpec {
    const durable = this.durablePrefix + spec.durable;
    if (this.readsLive(spec.stream)) {
      const start = spec.stream === FROM_STREAM[this.spec.from] && this.spec.fromSeq ? { seq: this.spec.fromSeq }
        : this.spec.sinceNs ? { timeNs: BigInt(this.spec.sinceNs) } : undefined;
      return { ...spec, durable, start: spec.start, first: start, untilNs: this.untilNs };
    }
    return { ...spec, stream: REPLAY_STREAM, durable, filterSubject: this.subject(spec.filterSubject) };
  }

  /** Subject of an output in this replay. */
  subject(live: string): string {
    return this.subjectPrefix + live.replace(/^agentsight\./, '');
  }

  /** `Nats-Msg-Id` of an output in this replay. */
  msgId(id: string): string {
    return this.msgIdPrefix + id;
  }

  /** The live subject of an input read from the replay stream (others unchanged). */
  liveSubject(subject: string): string {
    return subject.startsWith(this.subjectPrefix) ? `agentsight.${subject.slice(this.subjectPrefix.length)}` : subject;
  }

  /** The event's own msg id of an input read from the replay stream (others unchanged). */
  liveMsgId(id: string | null): string | null {
    return id?.startsWith(this.msgIdPrefix) ? id.slice(this.msgIdPrefix.length) : id;
  }
}
