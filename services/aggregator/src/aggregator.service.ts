import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { HttpEvent, HttpEventBatch, RawRecord, redactProcRecord, TOPOLOGY } from '@agentsight/contracts';
import { ConsumerLoop, PartitionGroup, StageRuntime } from '@agentsight/jetstream';
import { AggregatorWorker } from './aggregator.worker';
import { PROC_CATCH_UP_MS, PROCESS_TTL_S, type ProcFeed, ProcessStore } from './process-store';

const PROC = TOPOLOGY.aggregator.consumes.proc;
const PROC_DURABLE = PROC.durable;

/**
 * NestJS shell of the aggregator: claims partitions of `agentsight.http.*.<p>` (one {@link AggregatorWorker} each)
 * and keeps the Redis process table current from `agentsight.raw.proc.>` (durable `aggregator-proc`), rebuilding it
 * from there when Redis lost it.
 */
@Injectable()
export class AggregatorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private group?: PartitionGroup<HttpEventBatch | HttpEvent>;
  private procLoop?: ConsumerLoop<RawRecord>;

  constructor(private readonly rt: StageRuntime) {}

  async onApplicationBootstrap(): Promise<void> {
    // The feed is whichever proc consumer runs now (a rebuild replaces it).
    const feed: ProcFeed = {
      streamLastSeq: () => this.procLoop!.streamLastSeq(),
      ackedThrough: (seq) => this.procLoop?.ackedThrough(seq) ?? Promise.resolve(false),
    };
    const procs: ProcessStore = new ProcessStore(this.rt.redis, () => this.rebuildProcesses(procs), feed);
    this.procLoop = this.procConsumer(procs);
    await this.procLoop.start();
    // In the background: lookups wait for it (a lost table, or the first start of this Redis).
    void procs.ensureBuilt();
    this.group = new PartitionGroup<HttpEventBatch | HttpEvent>(this.rt.nats, this.rt.redis, {
      stage: 'aggregator',
      name: TOPOLOGY.aggregator.consumes.http.name,
      stream: TOPOLOGY.aggregator.consumes.http.stream,
      partitions: this.rt.config.partitions,
      owner: this.rt.owner,
      filter: TOPOLOGY.aggregator.consumes.http.filter,
      worker: async (p) => {
        const w = new AggregatorWorker(this.rt, p, procs);
        await w.init();
        return w;
      },
    });
    await this.group.start();
  }

  /** The `aggregator-proc` consumer feeding `procs`; `first` = where a new durable starts (default: the stream's start). */
  private procConsumer(procs: ProcessStore, first?: { timeNs: bigint }): ConsumerLoop<RawRecord> {
    return new ConsumerLoop<RawRecord>(this.rt.nats, {
      ...PROC,
      ackWaitMs: 30_000, maxAckPending: 10_000, start: 'keep', first,
    }, {
      handle: async (batch) => {
        for (const i of batch) if (i.value.kind === 'proc') await procs.put(this.rt.redactEarly ? redactProcRecord(i.value) : i.value);
        for (const i of batch) i.ack();
      },
      undecodable: (i) => this.rt.undecodable(i),
    });
  }

  /**
   * Re-derives a lost process table (see {@link ProcessStore}): the `aggregator-proc` durable is recreated to start
   * {@link PROCESS_TTL_S} back, and this resolves once it has caught up with what the raw stream held when the
   * rebuild began (everything before acked, or nothing left pending). JetStream not answering (NATS restarting) is
   * retried here; after {@link PROC_CATCH_UP_MS} this throws, and ProcessStore's gate gives up (logged, marker set):
   * the consumer goes on (is started again until it runs) and lookups wait for the feed. A replay reads proc records
   * from its own start already, so it has nothing to rebuild.
   */
  private async rebuildProcesses(procs: ProcessStore): Promise<void> {
    if (this.rt.nats.scope) return;
    await this.procLoop?.stop();
    await this.rt.nats.jsm.consumers.delete(PROC.stream, PROC_DURABLE).catch(() => undefined);
    const loop = (this.procLoop = this.procConsumer(procs, { timeNs: BigInt(Date.now() - PROCESS_TTL_S * 1000) * 1_000_000n }));
    const deadline = Date.now() + PROC_CATCH_UP_MS;
    let target: number | null = null;
    let started = false;
    for (;;) {
      try {
        target ??= await loop.streamLastSeq();
        if (!started) await loop.start().then(() => (started = true));
        if (await loop.ackedThrough(target)) return;
      } catch {
        // JetStream not answering: again until the deadline
      }
      if (Date.now() > deadline) {
        if (!started) void this.startUntilRunning(loop);
        throw new Error(`the proc records${target === null ? '' : ` up to seq ${target}`} are not all in the table after ${PROC_CATCH_UP_MS / 1000} s`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Starts `loop` again every second until it runs, or another loop has replaced it (a rebuild, the shutdown). */
  private async startUntilRunning(loop: ConsumerLoop<RawRecord>): Promise<void> {
    while (this.procLoop === loop) {
      try {
        return await loop.start();
      } catch {
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.group?.stop();
    const loop = this.procLoop;
    this.procLoop = undefined;
    await loop?.stop();
    await this.rt.close();
  }
}
