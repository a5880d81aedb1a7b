import { decode, encode, normalizeNs, ProcessInfo, RawProcRecord } from '@agentsight/contracts';
import { countStageEvent, RebuildGate, type Redis } from '@agentsight/jetstream';

/** How long an entry lives after its last write, s; also how far back a rebuild re-reads the proc records. */
export const PROCESS_TTL_S = 24 * 3600;
const TTL_S = PROCESS_TTL_S;
const INDEX = 'agentsight:proc:index';
/**
 * Present while the table holds what the proc records of the last {@link PROCESS_TTL_S} say: set when a rebuild has
 * caught up. Redis restarted empty (agentsight's never persists) loses it with the table, which is how a loss is told
 * from a process the capture never saw.
 */
export const BUILT_KEY = 'agentsight:proc:built';
/** Most processes remembered; the least recently written beyond this are dropped (LRU by write time). */
export const MAX_PROCESSES = 100_000;
const key = (host: string, pid: number) => `agentsight:proc:${host}:${pid}`;
/**
 * Longest wait of a lookup for the proc records stored so far to be in the table, ms: above the `aggregator-proc`
 * durable's ack wait (30 s), after which a record delivered to an instance that died unacked comes again.
 */
export const PROC_CATCH_UP_MS = 60_000;

/** Where the table's proc records come from (the `aggregator-proc` consumer, libs/jetstream `ConsumerLoop`). */
export interface ProcFeed {
  /** The last sequence of the stream holding the proc records, now; throws when JetStream does not answer. */
  streamLastSeq(): Promise<number>;
  /** Whether every proc record up to stream sequence `seq` has been acked, i.e. put into the table (false on error). */
  ackedThrough(seq: number): Promise<boolean>;
}

/**
 * Process table in Redis (bounded LRU, entries expire a day after their last write), fed by exec/snapshot
 * records, read when an exchange is finished. A small in-memory cache sits in front of it.
 *
 * Redis is a cache, never the only copy: the table is derived from the proc records in JetStream, and when it is
 * missing ({@link BUILT_KEY} absent: first start, or Redis lost) `rebuild` re-reads the last day of them (the
 * aggregator's `aggregator-proc` durable from that time on); lookups wait for it to catch up, so an exchange finished
 * meanwhile still gets its process (agent name, argv) and not the bare thread name.
 *
 * The proc records and the HTTP events an exchange is made of come through different durables, so nothing orders
 * them: after a restart of the aggregator (a record delivered to the dead instance comes again after the ack wait) or
 * of NATS (the proc consumer starting again from its ack floor while partitions already consume), an exchange can
 * finish before the exec record of its process, stored long before the process' first TLS bytes, is in the table.
 * A lookup of an unknown pid therefore waits (at most {@link PROC_CATCH_UP_MS}) until every proc record the stream
 * held at that moment has been acked ({@link ProcFeed}); only then is the pid unknown (`null`: no exec/snapshot was
 * captured). Without the wait such an exchange got no process: agent name `node` instead of the agent's, and
 * another conversation id (its process start unknown), so its session was split in two.
 */
export class ProcessStore {
  private readonly cache = new Map<string, ProcessInfo | null>();
  /** The marker {@link BUILT_KEY} and the single rebuild (libs/jetstream RebuildGate: retried, then given up). */
  private readonly gate: RebuildGate;
  /** The last wait for the feed: when it began (`performance.now()` ms, before it read its target) and its end. */
  private catchUp: { since: number; done: Promise<void> } | null = null;

  /**
   * `rebuild` re-feeds {@link put} with the proc records of the last {@link PROCESS_TTL_S} and resolves once caught
   * up; `feed` tells how far the records put are (a miss waits for it, at most `catchUpMs`).
   */
  constructor(
    private readonly redis: Redis,
    rebuild: () => Promise<void>,
    private readonly feed: ProcFeed,
    private readonly catchUpMs = PROC_CATCH_UP_MS,
  ) {
    this.gate = new RebuildGate(redis, rebuild, { builtKey: BUILT_KEY, label: '[aggregator] process table' });
    countStageEvent('agentsight_aggregator_proc_catch_up_timeouts_total', {}, 0);
  }

  /**
   * Rebuilds the table when it is missing (one rebuild at a time, shared); resolves when it is there. Never rejects:
   * a failing rebuild is retried for 60 s, then given up (logged) with the marker set, and lookups go on with what
   * the table holds.
   */
  ensureBuilt(): Promise<void> {
    return this.gate.ensureBuilt();
  }

  /** Records an exec (replaces) or a snapshot (only if nothing is known of the pid). Exit records are ignored. */
  async put(rec: RawProcRecord): Promise<void> {
    if (rec.event === 'exit') return;
    const info: ProcessInfo = {
      pid: rec.pid, ppid: rec.ppid, uid: rec.uid, comm: rec.comm, exe: rec.filename, argv: rec.argv,
      start_ns: normalizeNs(rec.ts_wall_ns),
    };
    const k = key(rec.host, rec.pid);
    const multi = this.redis.multi();
    if (rec.event === 'exec') multi.set(k, encode(info), 'EX', TTL_S);
    else multi.set(k, encode(info), 'EX', TTL_S, 'NX');
    multi.zadd(INDEX, Date.now(), k).zremrangebyrank(INDEX, 0, -MAX_PROCESSES - 1);
    await multi.exec();
    this.cache.delete(k);
  }

  /**
   * The process `pid` of `host`, or null when unknown: not in the table once it holds every proc record stored so far
   * (after a rebuild of a lost table, see {@link ensureBuilt}, and after waiting for the feed, see the class comment).
   * `neededBy` (`performance.now()` ms, default now): a time by which the process' exec record was surely in the
   * stream, e.g. when the batch that finished the exchange was received; a wait for the feed that began since then
   * answers this lookup too, so a batch of exchanges of unknown processes waits (and asks JetStream) once.
   */
  async get(host: string, pid: number, neededBy = performance.now()): Promise<ProcessInfo | null> {
    const k = key(host, pid);
    if (this.cache.has(k)) return this.cache.get(k)!;
    if (this.gate.rebuilding) await this.gate.ready();
    const info = await this.read(k);
    if (info) return info;
    await this.gate.ensureBuilt();
    await this.caughtUp(neededBy);
    return this.read(k);
  }

  /** A wait for the feed that began at or after `neededBy` (the running or last one), else a new one. */
  private caughtUp(neededBy: number): Promise<void> {
    if (this.catchUp && this.catchUp.since >= neededBy) return this.catchUp.done;
    const since = performance.now();
    const done = this.waitForFeed();
    this.catchUp = { since, done };
    return done;
  }

  /**
   * Waits until every proc record the stream holds now has been put (at most `catchUpMs`); says so when it gives up
   * (logged and counted in `agentsight_aggregator_proc_catch_up_timeouts_total`).
   */
  private async waitForFeed(): Promise<void> {
    const deadline = Date.now() + this.catchUpMs;
    let target: number | null = null;
    for (;;) {
      try {
        target ??= await this.feed.streamLastSeq();
        if (await this.feed.ackedThrough(target)) return;
      } catch {
        // JetStream not answering (NATS restarting): again until the deadline
      }
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    countStageEvent('agentsight_aggregator_proc_catch_up_timeouts_total');
    console.error(`[aggregator] the proc records are not all in the process table after ${this.catchUpMs / 1000} s: exchanges of processes it does not know are finished without one`);
  }

  private async read(k: string): Promise<ProcessInfo | null> {
    const b = await this.redis.getBuffer(k);
    const info = b ? decode<ProcessInfo>(b) : null;
    if (info) info.start_ns = normalizeNs(info.start_ns);
    if (this.cache.size > 10_000) this.cache.clear();
    if (info) this.cache.set(k, info);
    return info;
  }
}
