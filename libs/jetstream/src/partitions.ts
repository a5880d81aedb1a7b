import type Redis from 'ioredis';
import type { Status } from '@nats-io/nats-core';
import type { Stage } from '@agentsight/contracts';
import type { Nats } from './nats';
import { BatchHandler, ConsumerLoop, ConsumeSpec } from './consumer';

/**
 * Lease time of a partition and of a membership entry, ms: an instance that dies without releasing loses its
 * partitions after this long, and the live instances take them over on their next tick (every third of it).
 */
export const LEASE_TTL_MS = 6_000;

// Renew only if we still own the lease; take it if free. Returns 1 when we hold it afterwards.
const CLAIM_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if v == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
// Membership heartbeat: score = expiry time (ms). Drops expired members, then returns the live ones.
const MEMBERS_SCRIPT = `
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], '+inf')`;

/**
 * The partitions `owner` should hold, given the live `members` of its group (any order): members sorted by name,
 * partition p goes to member p mod N, so each of N members holds ⌊P/N⌋ or ⌈P/N⌉ of the P partitions and every
 * member computes the same answer from the same membership. An owner missing from `members` (not yet registered)
 * is counted in. Pure; exported for tests.
 */
export function assignedPartitions(owner: string, members: readonly string[], partitions: number): number[] {
  const live = [...new Set([...members, owner])].sort();
  const me = live.indexOf(owner);
  const out: number[] = [];
  for (let p = me; p < partitions; p += live.length) out.push(p);
  return out;
}

/** A stage's per-partition state machine, created when the partition is claimed and closed when it is released. */
export interface PartitionWorker<T> extends BatchHandler<T> {
  /** Releases in-memory state; unacked inputs will be redelivered to the next owner. */
  close(): Promise<void>;
}

/** Options of a {@link PartitionGroup}. */
export interface PartitionGroupSpec<T> {
  stage: Stage;
  /**
   * Name of the group in durable consumer names (`<name>-p<N>`) and lease keys; default `stage`. A stage with two
   * partitioned inputs gives the second one its own name (the parser's stdio input: `parser-stdio`).
   */
  name?: string;
  stream: string;
  partitions: number;
  /** Lease owner identity, e.g. `<host>:<instance>`: stable across restarts of the same instance. */
  owner: string;
  /** Filter subject of partition `p`, e.g. `agentsight.raw.ssl.*.3`. */
  filter(p: number): string;
  worker(p: number): Promise<PartitionWorker<T>>;
  ackWaitMs?: number;
  maxAckPending?: number;
  /** Lease and membership time, ms; default {@link LEASE_TTL_MS}. Ticks run every third of it. */
  leaseTtlMs?: number;
}

/**
 * Ordered, horizontally scalable consumption of a partitioned subject: each partition has one durable consumer
 * (`<name>-p<N>`, name defaults to the stage), and at most one instance processes it at a time, holding a Redis lease
 * (`agentsight:lease:<name>:<N>`, {@link LEASE_TTL_MS}).
 *
 * Sharing is fair and membership-aware: every tick (a third of the lease time) each instance renews its entry in
 * the group's membership set (`agentsight:members:<name>`, a sorted set scored by expiry) and reads the live
 * members; {@link assignedPartitions} tells it which partitions are its share. It releases the ones it holds
 * beyond its share with a clean handoff (the batch in hand finishes, the worker closes, then the lease is
 * deleted) and claims its share's partitions as soon as their leases are free. A lease is the only proof of
 * ownership, so two instances with different views of the membership never process one partition at once; a dead
 * instance's entry and leases expire after the lease time and its share moves to the others. On each claim the
 * durable is reset to its ack floor (see {@link ConsumeSpec.start}), so the new owner sees every unfinished input
 * again, in order.
 *
 * After the NATS connection comes back (a `reconnect` status: nats-server restarted, or the client moved to another
 * server), every partition held is claimed again the same way (batch in hand finished, worker closed, durable reset
 * to its ack floor, a new worker): acks sent while the server was going down, and messages it had marked delivered
 * that never reached us, are otherwise lost with it, and those inputs stay ack-pending until the ack wait (1 h)
 * runs out, holding the partition's order and the pipeline's lag (found by the chaos harness: nats-server SIGKILLed
 * and restarted). What was handled again is deduplicated downstream by its deterministic ids.
 *
 * Why Redis and not the broker: JetStream KV per-key TTLs and pinned consumers (priority groups) need
 * nats-server 2.11; Debian's 2.9 has neither. Leases and membership are ephemeral (rebuilt by the next tick from
 * the live instances) and no data depends on them, so Redis stays a rebuildable cache.
 */
export class PartitionGroup<T> {
  private readonly owned = new Map<number, { loop: ConsumerLoop<T>; worker: PartitionWorker<T> }>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> = Promise.resolve();
  private closed = false;
  private status: (AsyncIterable<Status> & { stop?(): void }) | null = null;
  /** Re-claims of every held partition after a NATS reconnect, since {@link start}. */
  reclaims = 0;

  constructor(
    private readonly nats: Nats,
    private readonly redis: Redis,
    private readonly spec: PartitionGroupSpec<T>,
  ) {}

  /** Claims what it can now, then keeps renewing and claiming every third of the lease time. */
  async start(): Promise<void> {
    this.watchReconnects();
    await this.tick();
    this.timer = setInterval(() => {
      this.ticking = this.ticking.then(() => this.tick()).catch((e) => console.error(`[${this.groupName}] lease tick:`, e));
    }, this.ttl / 3);
  }

  /** On each `reconnect` of the NATS connection, {@link reclaimAll} (after the tick or handoff in progress). */
  private watchReconnects(): void {
    const status = this.nats.nc.status() as AsyncIterable<Status> & { stop?(): void };
    this.status = status;
    void (async () => {
      for await (const s of status) {
        if (this.closed) break;
        if (s.type !== 'reconnect') continue;
        this.ticking = this.ticking.then(() => this.reclaimAll()).catch((e) => console.error(`[${this.groupName}] re-claim after reconnect:`, e));
      }
    })().catch(() => undefined);
  }

  /**
   * Claims every held partition again from its ack floor (see the class comment): each is released keeping its
   * lease, then the next tick claims it back (a claim that fails, JetStream not ready yet, is retried by the ticks).
   */
  private async reclaimAll(): Promise<void> {
    if (this.closed || !this.owned.size) return;
    this.reclaims++;
    const held = this.partitions();
    console.error(`[${this.groupName}] NATS reconnected: claiming partitions ${held.join(',')} again from their ack floors`);
    for (const p of held) await this.release(p, false);
    await this.tick();
  }

  /** Partitions this instance currently processes. */
  partitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  private get ttl(): number {
    return this.spec.leaseTtlMs ?? LEASE_TTL_MS;
  }

  private get groupName(): string {
    return this.spec.name ?? this.spec.stage;
  }

  private key(p: number): string {
    return `agentsight:lease:${this.groupName}:${p}`;
  }

  /** Live members of this group (including this instance), by their owner names, sorted. */
  async members(): Promise<string[]> {
    const now = Date.now();
    const live = (await this.redis.eval(MEMBERS_SCRIPT, 1, `agentsight:members:${this.groupName}`, this.spec.owner, now, this.ttl)) as string[];
    return [...live].sort();
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    const share = new Set(assignedPartitions(this.spec.owner, await this.members(), this.spec.partitions));
    for (let p = 0; p < this.spec.partitions; p++) {
      const mine = this.owned.get(p);
      if (!share.has(p)) {
        // Beyond our share: hand it over (batch in hand finishes first, then the lease goes).
        if (mine) await this.release(p, true);
        continue;
      }
      const held = (await this.redis.eval(CLAIM_SCRIPT, 1, this.key(p), this.spec.owner, this.ttl)) === 1;
      if (held && !mine) await this.claim(p);
      else if (!held && mine) await this.release(p, false);
    }
  }

  private async claim(p: number): Promise<void> {
    const worker = await this.spec.worker(p);
    const spec: ConsumeSpec = {
      stream: this.spec.stream,
      durable: `${this.spec.name ?? this.spec.stage}-p${p}`,
      filterSubject: this.spec.filter(p),
      ackWaitMs: this.spec.ackWaitMs ?? 3_600_000,
      maxAckPending: this.spec.maxAckPending ?? 50_000,
      start: 'ack_floor',
      // A failed batch drops the partition's state; the next tick claims it again from the ack floor.
      onFailure: () => {
        this.ticking = this.ticking.then(() => this.release(p, false)).catch((e) => console.error(`[${this.spec.stage}] release of ${p}:`, e));
      },
    };
    const loop = new ConsumerLoop<T>(this.nats, spec, worker);
    await loop.start();
    this.owned.set(p, { loop, worker });
  }

  private async release(p: number, dropLease: boolean): Promise<void> {
    const o = this.owned.get(p);
    if (!o) return;
    this.owned.delete(p);
    await o.loop.stop();
    await o.worker.close();
    if (dropLease) await this.redis.eval(RELEASE_SCRIPT, 1, this.key(p), this.spec.owner);
  }

  /**
   * Stops every partition (batches in hand finish), closes workers, gives the leases back and leaves the
   * membership, so the other instances take the partitions over on their next tick.
   */
  async stop(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.status?.stop?.();
    await this.ticking.catch(() => undefined);
    for (const p of [...this.owned.keys()]) await this.release(p, true);
    await this.redis.zrem(`agentsight:members:${this.groupName}`, this.spec.owner);
  }
}
