import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { GenAiRecord } from '@agentsight/contracts';
import { ConsumerLoop, StageRuntime } from '@agentsight/jetstream';
import { describeExport, exportConfig, type ExportConfig } from './config';
import { ExportEngine } from './engine';
import { ExportState } from './export-state';
import { OtlpSink, otlpExporter } from './sink';

/** Durable pull consumer of the exporter on `AGENTSIGHT_GENAI`. */
export const EXPORTER_DURABLE = 'exporter';

/**
 * NestJS shell of the exporter: the durable pull consumer {@link EXPORTER_DURABLE} on `AGENTSIGHT_GENAI`
 * (`agentsight.genai.>`) feeds micro-batches to the {@link ExportEngine}, and a timer flushes settled versioned events
 * (every settle/4, between 0.2 and 5 s). Configuration: {@link exportConfig} (the process only starts when it is set).
 */
@Injectable()
export class ExporterService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('exporter');
  private loop?: ConsumerLoop<GenAiRecord>;
  private engine?: ExportEngine;
  private sink?: OtlpSink;
  private timer?: NodeJS.Timeout;
  private flushing: Promise<unknown> = Promise.resolve();

  constructor(private readonly rt: StageRuntime) {}

  async onApplicationBootstrap(): Promise<void> {
    const config = exportConfig() as ExportConfig; // main.ts only starts the service when it is set and valid
    this.logger.log(`exporting spans to ${describeExport(config)}`);
    const settleMs = config.settleS * 1000;
    this.sink = new OtlpSink(otlpExporter(config));
    const engine = (this.engine = new ExportEngine(new ExportState(this.rt.redis), this.sink, {
      settleMs,
      leaseMs: Math.max(5_000, Math.min(settleMs, 60_000), 2 * config.timeoutMs),
      // Between two working() calls: one sleep (≤ half the ack wait) and one export (≤ the timeout, ≤ a third of it).
      maxBackoffMs: Math.min(30_000, config.ackWaitMs / 2),
      deadLetter: (d) => this.rt.deadLetter(d),
      log: (level, msg) => this.logger[level](msg),
    }));
    this.loop = new ConsumerLoop<GenAiRecord>(this.rt.nats, {
      stream: 'AGENTSIGHT_GENAI', durable: EXPORTER_DURABLE, filterSubject: 'agentsight.genai.>',
      // Reset on every retry (working()), so only a stopped or stalled process lets inputs be redelivered.
      ackWaitMs: config.ackWaitMs, maxAckPending: 10_000, start: 'keep', maxBatch: 500, nakOnStop: true,
    }, {
      handle: (batch) => engine.handle(batch),
      undecodable: (i) => this.rt.undecodable(i),
    });
    await this.loop.start();
    const tick = Math.min(5_000, Math.max(200, settleMs / 4));
    this.timer = setInterval(() => {
      this.flushing = engine.flush().catch((err) => this.logger.error(`flush failed: ${(err as Error).message}`));
    }, tick);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.engine?.stop();
    await this.loop?.stop();
    await this.flushing;
    await this.sink?.shutdown();
    await this.rt.close();
  }
}
