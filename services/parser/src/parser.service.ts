import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { RawRecord, TOPOLOGY, type PartitionedWiring } from '@agentsight/contracts';
import { PartitionGroup, StageRuntime, type PartitionWorker } from '@agentsight/jetstream';
import { ParserWorker } from './parser.worker';
import { StdioWorker } from './stdio.worker';

/**
 * NestJS shell of the parser: claims partitions of `agentsight.raw.ssl.*.<p>` and runs a {@link ParserWorker} on
 * each, and partitions of `agentsight.raw.stdio.*.<p>` (durables `parser-stdio-p<N>`) with a {@link StdioWorker}.
 */
@Injectable()
export class ParserService implements OnApplicationBootstrap, OnApplicationShutdown {
  private group?: PartitionGroup<RawRecord>;
  private stdio?: PartitionGroup<RawRecord>;

  constructor(private readonly rt: StageRuntime) {}

  async onApplicationBootstrap(): Promise<void> {
    this.group = this.partitioned(TOPOLOGY.parser.consumes.ssl, () => new ParserWorker(this.rt));
    await this.group.start();
    this.stdio = this.partitioned(TOPOLOGY.parser.consumes.stdio, () => new StdioWorker(this.rt));
    await this.stdio.start();
  }

  /** A partitioned consumer of the topology (durables `<name>-p<N>`) running `worker()` on each partition it owns. */
  private partitioned({ name, stream, filter }: PartitionedWiring, worker: () => PartitionWorker<RawRecord>): PartitionGroup<RawRecord> {
    return new PartitionGroup<RawRecord>(this.rt.nats, this.rt.redis, {
      stage: 'parser',
      name,
      stream,
      partitions: this.rt.config.partitions,
      owner: this.rt.owner,
      filter,
      worker: async () => worker(),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.group?.stop();
    await this.stdio?.stop();
    await this.rt.close();
  }
}
