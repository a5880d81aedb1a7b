import { decode, encode, normalizeNs, ProcessInfo, RawProcRecord } from '@agentsight/contracts';
import type { Redis } from '@agentsight/jetstream';

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
 * Process table in Redis (bounded LRU, entries expire a day after their last write), fed by exec/snapshot
 * records, read when an exchange is finished. A small in-memory cache sits in front of it.
 *
 * Redis is a cache, never the only copy: the table is derived from the proc records in JetStream, and when it is
 * missing ({@link BUILT_KEY} absent: first start, or Redis lost) `rebuild` re-reads the last day of them (the
 * aggregator's `aggregator-proc` durable from that time on); lookups wait for it to catch up, so an exchange finished
 * meanwhile still gets its process (agent name, argv) and not the bare thread name.
 */
export class ProcessStore {
  private readonly cache = new Map<string, ProcessInfo | null>();
  private rebuilding: Promise<void> | null = null;

  /** `rebuild` re-feeds {@link put} with the proc records of the last {@link PROCESS_TTL_S} and resolves once caught up. */
  constructor(private readonly redis: Redis, private readonly rebuild: () => Promise<void>) {}

  /** Rebuilds the table when it is missing (at most one rebuild at a time); resolves when it is there. */
  async ensureBuilt(): Promise<void> {
    if (!this.rebuilding && (await this.redis.exists(BUILT_KEY))) return;
    this.rebuilding ??= (async () => {
      await this.rebuild();
      await this.redis.set(BUILT_KEY, String(Date.now()));
    })().finally(() => (this.rebuilding = null));
    await this.rebuilding;
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

  /** The process `pid` of `host`, or null when unknown (after a rebuild of a lost table, see {@link ensureBuilt}). */
  async get(host: string, pid: number): Promise<ProcessInfo | null> {
    const k = key(host, pid);
    if (this.cache.has(k)) return this.cache.get(k)!;
    if (this.rebuilding) await this.rebuilding;
    const info = await this.read(k);
    if (info || (await this.redis.exists(BUILT_KEY))) return info;
    await this.ensureBuilt();
    return this.read(k);
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
