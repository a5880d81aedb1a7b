import type Redis from 'ioredis';
import type { Stage } from '@agentsight/contracts';
import type { Nats } from './nats';
import { BatchHandler, ConsumerLoop, ConsumeSpec } from './consumer';

/** Lease time of a partition, ms: an instance that dies without releasing loses it after this long. */
export const LEASE_TTL_MS = 10_000;

// Renew only if we still own the lease; take it if free. Returns 1 when we hold it afterwards.
const CLAIM_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if v == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

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
}

/**
 * Ordered, horizontally scalable consumption of a partitioned subject: each partition has one durable consumer
 * (`<name>-p<N>`, name defaults to the stage), and at most one instance processes it at a time, holding a Redis lease
 * (`agentsight:lease:<name>:<N>`, {@link LEASE_TTL_MS}). Instances claim free partitions greedily every few
 * seconds. On each claim the durable is reset to its ack floor (see {@link ConsumeSpec.start}), so the new owner
 * sees every unfinished input again, in order.
 */
export class PartitionGroup<T> {
  private readonly owned = new Map<number, { loop: ConsumerLoop<T>; worker: PartitionWorker<T> }>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly nats: Nats,
    private readonly redis: Redis,
    private readonly spec: PartitionGroupSpec<T>,
  ) {}

  /** Claims what it can now, then keeps renewing and claiming every third of the lease time. */
  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => {
      this.ticking = this.ticking.then(() => this.tick()).catch((e) => console.error(`[${this.spec.name ?? this.spec.stage}] lease tick:`, e));
    }, LEASE_TTL_MS / 3);
  }

  /** Partitions this instance currently processes. */
  partitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  private key(p: number): string {
    return `agentsight:lease:${this.spec.name ?? this.spec.stage}:${p}`;
  }

  private async tick(): Promise<void> {
    if (this.closed) return;
    for (let p = 0; p < this.spec.partitions; p++) {
      const held = (await this.redis.eval(CLAIM_SCRIPT, 1, this.key(p), this.spec.owner, LEASE_TTL_MS)) === 1;
      const mine = this.owned.get(p);
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

  /** Stops every partition (batches in hand finish), closes workers and gives the leases back. */
  async stop(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking.catch(() => undefined);
    for (const p of [...this.owned.keys()]) await this.release(p, true);
  }
}
