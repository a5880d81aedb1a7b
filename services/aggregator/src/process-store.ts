import { decode, encode, normalizeNs, ProcessInfo, RawProcRecord } from '@agentsight/contracts';
import type { Redis } from '@agentsight/jetstream';

const TTL_S = 24 * 3600;
const INDEX = 'agentsight:proc:index';
/** Most processes remembered; the least recently written beyond this are dropped (LRU by write time). */
export const MAX_PROCESSES = 100_000;
const key = (host: string, pid: number) => `agentsight:proc:${host}:${pid}`;

/**
 * Process table in Redis (bounded LRU, entries expire a day after their last write), fed by exec/snapshot
 * records, read when an exchange is finished. A small in-memory cache sits in front of it.
 */
export class ProcessStore {
  private readonly cache = new Map<string, ProcessInfo | null>();

  constructor(private readonly redis: Redis) {}

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

  /** The process `pid` of `host`, or null when unknown. */
  async get(host: string, pid: number): Promise<ProcessInfo | null> {
    const k = key(host, pid);
    if (this.cache.has(k)) return this.cache.get(k)!;
    const b = await this.redis.getBuffer(k);
    const info = b ? decode<ProcessInfo>(b) : null;
    if (info) info.start_ns = normalizeNs(info.start_ns);
    if (this.cache.size > 10_000) this.cache.clear();
    if (info) this.cache.set(k, info);
    return info;
  }
}
