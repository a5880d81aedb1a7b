import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { EXPORT_STATUS_SUBJECT, exportTargets, type ExportStatus, type ExportTargetSpec } from '@agentsight/contracts';
import { ConsumerLoop, StageRuntime } from '@agentsight/jetstream';
import { describeExport, describeSls, exportConfig, exportTiming, logtailConfig, otlpMetricsConfig, slsLogConfig } from './config';
import { ExportEngine, type ExportModel, type ItemSink } from './engine';
import { ExportState } from './export-state';
import { OtlpSink, otlpExporter } from './sink';
import { OtlpMetricSink, OtlpProcessMetricSink, otlpMetricExporter } from './otlp-metrics-sink';
import { metricModel } from './domain/metrics';
import { processMetricModel } from './domain/process-metrics';
import { spanModel } from './domain/spans';
import { slsAuditModel, slsGenAiModel } from './domain/sls-logs';
import { SlsClient } from './sls-client';
import { LogtailSink, SlsSink } from './sls-sink';

/** Durable pull consumer of the OTLP target on `AGENTSIGHT_GENAI`. */
export const EXPORTER_DURABLE = 'exporter';

interface RunningTarget {
  spec: ExportTargetSpec;
  describe: string;
  state: ExportState;
  engine: ExportEngine<unknown>;
  sink: ItemSink<unknown>;
  loop?: ConsumerLoop<unknown>;
  timer?: NodeJS.Timeout;
  flushing: Promise<unknown>;
}

/**
 * NestJS shell of the exporter: one target per configured export ({@link exportTargets}: OTLP spans, the SLS
 * logstore, the Logtail file; GenAI events and, selectable, audit records), each a durable pull consumer feeding
 * micro-batches to its own {@link ExportEngine} (own Redis state, own acks, so a slow receiver holds only its own
 * target), with a timer that flushes settled versioned events (every settle/4, between 0.2 and 5 s). It answers
 * {@link EXPORT_STATUS_SUBJECT} with what each target has not delivered yet.
 */
@Injectable()
export class ExporterService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('exporter');
  private targets: RunningTarget[] = [];
  private status?: { unsubscribe(): void };

  constructor(private readonly rt: StageRuntime) {}

  private sinkFor(spec: ExportTargetSpec): { sink: ItemSink<unknown>; model: ExportModel<unknown>; describe: string; timeoutMs: number } {
    if (spec.name === 'otlp') {
      const c = exportConfig()!;
      return { sink: new OtlpSink(otlpExporter(c)) as ItemSink<unknown>, model: spanModel as ExportModel<unknown>, describe: describeExport(c), timeoutMs: c.timeoutMs };
    }
    if (spec.name === 'otlp-metrics') {
      const c = otlpMetricsConfig()!;
      return { sink: new OtlpMetricSink(otlpMetricExporter(c)) as ItemSink<unknown>, model: metricModel as ExportModel<unknown>, describe: describeExport({ ...c, url: c.metricsUrl }), timeoutMs: c.timeoutMs };
    }
    if (spec.name === 'otlp-process-metrics') {
      const c = otlpMetricsConfig()!;
      return { sink: new OtlpProcessMetricSink(otlpMetricExporter(c)) as ItemSink<unknown>, model: processMetricModel as ExportModel<unknown>, describe: describeExport({ ...c, url: c.metricsUrl }), timeoutMs: c.timeoutMs };
    }
    const model = (spec.input === 'audit' ? slsAuditModel : slsGenAiModel) as ExportModel<unknown>;
    if (spec.name === 'sls' || spec.name === 'sls-audit') {
      const c = slsLogConfig()!;
      return { sink: new SlsSink(new SlsClient(c)) as ItemSink<unknown>, model, describe: describeSls(c), timeoutMs: c.timeoutMs };
    }
    const c = logtailConfig()!;
    return { sink: new LogtailSink(c.path, c.maxBytes, c.files) as ItemSink<unknown>, model, describe: `Logtail file ${c.path} (rotated at ${c.maxBytes} bytes, ${c.files} kept)`, timeoutMs: 1000 };
  }

  async onApplicationBootstrap(): Promise<void> {
    const { settleS, ackWaitMs } = exportTiming(); // main.ts only starts the service when the configuration is valid
    const settleMs = settleS * 1000;
    for (const spec of exportTargets()) {
      const { sink, model, describe, timeoutMs } = this.sinkFor(spec);
      const input = spec.input === 'audit' ? ' (audit records)' : spec.input === 'resource' ? ' (resource samples)' : '';
      this.logger.log(`exporting ${model.item}s${input} to ${describe}`);
      const state = new ExportState(this.rt.redis, undefined, spec.statePrefix);
      const engine = new ExportEngine<unknown>(state, sink, {
        model,
        settleMs,
        leaseMs: Math.max(5_000, Math.min(settleMs, 60_000), 2 * timeoutMs),
        // Between two working() calls: one sleep (≤ half the ack wait) and one export (≤ the timeout, ≤ a third of it).
        maxBackoffMs: Math.min(30_000, ackWaitMs / 2),
        deadLetter: (d) => this.rt.deadLetter(d),
        log: (level, msg) => this.logger[level](`${spec.name}: ${msg}`),
      });
      const t: RunningTarget = { spec, describe, state, engine, sink, flushing: Promise.resolve() };
      t.loop = new ConsumerLoop<unknown>(this.rt.nats, {
        stream: spec.stream, durable: spec.durable, filterSubject: spec.filterSubject,
        // Reset on every retry (working()), so only a stopped or stalled process lets inputs be redelivered.
        ackWaitMs, maxAckPending: 10_000, start: 'keep', maxBatch: 500, nakOnStop: true,
      }, {
        handle: (batch) => engine.handle(batch),
        undecodable: (i) => this.rt.undecodable(i),
      });
      await t.loop.start();
      const tick = Math.min(5_000, Math.max(200, settleMs / 4));
      t.timer = setInterval(() => this.flush(t), tick);
      this.targets.push(t);
    }
    this.status = this.rt.nats.nc.subscribe(EXPORT_STATUS_SUBJECT, {
      callback: (err, msg) => {
        if (err) return;
        let expedite = false;
        try {
          expedite = msg.data.length > 0 && (JSON.parse(new TextDecoder().decode(msg.data)) as { expedite?: unknown }).expedite === true;
        } catch {
          expedite = false;
        }
        void this.report(expedite).then((s) => msg.respond(JSON.stringify(s)), (e) => this.logger.warn(`status request failed: ${(e as Error).message}`));
      },
    });
  }

  private flush(t: RunningTarget): void {
    t.flushing = t.engine.flush().catch((err) => this.logger.error(`${t.spec.name}: flush failed: ${(err as Error).message}`));
  }

  /** What every target has not delivered yet; with `expedite`, pending versioned events are made due and flushed first. */
  private async report(expedite: boolean): Promise<ExportStatus> {
    if (expedite) {
      for (const t of this.targets) {
        if (await t.state.expedite(Date.now())) this.flush(t);
      }
    }
    const targets: ExportStatus['targets'] = [];
    for (const t of this.targets) {
      targets.push({ name: t.spec.name, durable: t.spec.durable, stream: t.spec.stream, describe: t.describe, settling: await t.state.pendingCount(), exported: t.engine.exported });
    }
    return { targets };
  }

  async onApplicationShutdown(): Promise<void> {
    this.status?.unsubscribe();
    for (const t of this.targets) {
      if (t.timer) clearInterval(t.timer);
      t.engine.stop();
    }
    for (const t of this.targets) {
      await t.loop?.stop();
      await t.flushing;
      await t.sink.shutdown();
    }
    await this.rt.close();
  }
}
