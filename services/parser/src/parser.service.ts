import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { RawRecord, Subjects } from '@agentsight/contracts';
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
    this.group = this.partitioned('parser', (p) => Subjects.rawSslPartition(p), () => new ParserWorker(this.rt));
    await this.group.start();
    this.stdio = this.partitioned('parser-stdio', (p) => Subjects.rawStdioPartition(p), () => new StdioWorker(this.rt));
    await this.stdio.start();
  }

  /** A partitioned consumer of `AGENTSIGHT_RAW` (durables `<name>-p<N>`) running `worker()` on each partition it owns. */
  private partitioned(name: string, filter: (p: number) => string, worker: () => PartitionWorker<RawRecord>): PartitionGroup<RawRecord> {
    return new PartitionGroup<RawRecord>(this.rt.nats, this.rt.redis, {
      stage: 'parser',
      name,
      stream: 'AGENTSIGHT_RAW',
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
