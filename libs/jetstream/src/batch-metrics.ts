/**
 * Batch latency of the stages, for the api's Prometheus `/metrics`: every {@link ConsumerLoop} records, per batch, the
 * seconds from the arrival of the batch's first message in the client (fetched from JetStream) until its handler
 * returned (its finished inputs acked), and the number of records in it. Each process keeps the counts since its last
 * report and publishes them every {@link REPORT_INTERVAL_MS} (and when a loop stops) as JSON on core NATS
 * ({@link BATCH_METRICS_SUBJECT}); the api adds the reports up into cumulative histograms. Reports sent while no api
 * listens are lost (the histograms count what the running api heard), replays report nothing.
 */
import type { Nats } from './nats';

/** Subject of the reports (core NATS, not a stream). */
export const BATCH_METRICS_SUBJECT = 'agentsight.control.metrics.batch';

/** Upper bounds of the latency histogram, s (Prometheus `le`; +Inf implied). */
export const BATCH_SECONDS_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Upper bounds of the records-per-batch histogram (+Inf implied; the consumers fetch at most 1000). */
export const BATCH_RECORDS_BUCKETS: readonly number[] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000];

/** How often a process reports, ms. */
export const REPORT_INTERVAL_MS = 1000;

/** Observations of one histogram since the last report: `counts[i]` in bucket i (not cumulative; last = +Inf). */
export interface HistogramCounts {
  counts: number[];
  sum: number;
  count: number;
}

/** What one process reports: per consumer (durable without its `-p<N>` partition suffix), both histograms. */
export interface BatchMetricsReport {
  /** The process's stage (`parser`, `api`, …). */
  stage: string;
  instance: string;
  pid: number;
  consumers: Record<string, { seconds: HistogramCounts; records: HistogramCounts }>;
}

/** An empty histogram over `bounds`. */
export function emptyHistogram(bounds: readonly number[]): HistogramCounts {
  return { counts: new Array<number>(bounds.length + 1).fill(0), sum: 0, count: 0 };
}

/** Adds one observation `v` to `h` (bucket = first bound ≥ v, Prometheus `le`). */
export function observe(h: HistogramCounts, bounds: readonly number[], v: number): void {
  let i = bounds.findIndex((b) => v <= b);
  if (i < 0) i = bounds.length;
  h.counts[i]++;
  h.sum += v;
  h.count++;
}

/** Adds `from` into `into` (same bounds). */
export function addHistogram(into: HistogramCounts, from: HistogramCounts): void {
  for (let i = 0; i < into.counts.length; i++) into.counts[i] += from.counts[i] ?? 0;
  into.sum += from.sum;
  into.count += from.count;
}

/** The consumer label of a durable: its partition suffix dropped (`parser-stdio-p3` → `parser-stdio`). */
export function consumerLabel(durable: string): string {
  return durable.replace(/-p\d+$/, '');
}

/** The process's batch counts since its last report, and the reporting timer (started by the first batch). */
class BatchRecorder {
  stage = 'unknown';
  instance = 'default';
  private pending: BatchMetricsReport['consumers'] = {};
  private nats: Nats | null = null;
  private timer: NodeJS.Timeout | null = null;

  /** Records one batch of `records` inputs handled in `seconds` by `durable`'s loop, reported over `nats`. */
  record(nats: Nats, durable: string, seconds: number, records: number): void {
    if (nats.scope) return; // a replay's stages report nothing
    const key = consumerLabel(durable);
    const c = (this.pending[key] ??= { seconds: emptyHistogram(BATCH_SECONDS_BUCKETS), records: emptyHistogram(BATCH_RECORDS_BUCKETS) });
    observe(c.seconds, BATCH_SECONDS_BUCKETS, seconds);
    observe(c.records, BATCH_RECORDS_BUCKETS, records);
    this.nats = nats;
    if (!this.timer) {
      this.timer = setInterval(() => this.flush(), REPORT_INTERVAL_MS);
      this.timer.unref();
    }
  }

  /** Publishes what was recorded since the last report (nothing when nothing was). */
  flush(): void {
    const consumers = this.pending;
    if (!this.nats || !Object.keys(consumers).length) return;
    this.pending = {};
    const report: BatchMetricsReport = { stage: this.stage, instance: this.instance, pid: process.pid, consumers };
    try {
      this.nats.nc.publish(BATCH_METRICS_SUBJECT, JSON.stringify(report));
    } catch {
      /* connection closing: these counts are lost, like reports no api hears */
    }
  }
}

/** The process's recorder; `StageRuntime.connect` sets its stage and instance. */
export const batchMetrics = new BatchRecorder();
