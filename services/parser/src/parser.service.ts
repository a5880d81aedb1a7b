import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { RawRecord, Subjects } from '@agentsight/contracts';
import { PartitionGroup, StageRuntime } from '@agentsight/jetstream';
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
    this.group = new PartitionGroup<RawRecord>(this.rt.nats, this.rt.redis, {
      stage: 'parser',
      stream: 'AGENTSIGHT_RAW',
      partitions: this.rt.config.partitions,
      owner: this.rt.owner,
      filter: (p) => Subjects.rawSslPartition(p),
      worker: async () => new ParserWorker(this.rt),
    });
    await this.group.start();
    this.stdio = new PartitionGroup<RawRecord>(this.rt.nats, this.rt.redis, {
      stage: 'parser',
      name: 'parser-stdio',
      stream: 'AGENTSIGHT_RAW',
      partitions: this.rt.config.partitions,
      owner: this.rt.owner,
      filter: (p) => Subjects.rawStdioPartition(p),
      worker: async () => new StdioWorker(this.rt),
    });
    await this.stdio.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.group?.stop();
    await this.stdio?.stop();
    await this.rt.close();
  }
}
