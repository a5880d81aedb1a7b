import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { HttpEvent, RawRecord, redactProcRecord, Subjects } from '@agentsight/contracts';
import { ConsumerLoop, PartitionGroup, StageRuntime } from '@agentsight/jetstream';
import { AggregatorWorker } from './aggregator.worker';
import { ProcessStore } from './process-store';

/**
 * NestJS shell of the aggregator: claims partitions of `agentsight.http.*.<p>` (one {@link AggregatorWorker} each)
 * and keeps the Redis process table current from `agentsight.raw.proc.>` (durable `aggregator-proc`).
 */
@Injectable()
export class AggregatorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private group?: PartitionGroup<HttpEvent>;
  private procLoop?: ConsumerLoop<RawRecord>;

  constructor(private readonly rt: StageRuntime) {}

  async onApplicationBootstrap(): Promise<void> {
    const procs = new ProcessStore(this.rt.redis);
    this.procLoop = new ConsumerLoop<RawRecord>(this.rt.nats, {
      stream: 'AGENTSIGHT_RAW', durable: 'aggregator-proc', filterSubject: 'agentsight.raw.proc.>',
      ackWaitMs: 30_000, maxAckPending: 10_000, start: 'keep',
    }, {
      handle: async (batch) => {
        for (const i of batch) if (i.value.kind === 'proc') await procs.put(this.rt.redactEarly ? redactProcRecord(i.value) : i.value);
        for (const i of batch) i.ack();
      },
      undecodable: (i) => this.rt.undecodable(i),
    });
    await this.procLoop.start();
    this.group = new PartitionGroup<HttpEvent>(this.rt.nats, this.rt.redis, {
      stage: 'aggregator',
      stream: 'AGENTSIGHT_HTTP',
      partitions: this.rt.config.partitions,
      owner: this.rt.owner,
      filter: (p) => Subjects.httpPartition(p),
      worker: async (p) => {
        const w = new AggregatorWorker(this.rt, p, procs);
        await w.init();
        return w;
      },
    });
    await this.group.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.group?.stop();
    await this.procLoop?.stop();
    await this.rt.close();
  }
}
