/**
 * Batch latency of the stages, for the api's Prometheus `/metrics`: every {@link ConsumerLoop} records, per batch, the
 * seconds from the arrival of the batch's first message in the client (fetched from JetStream) until its handler
 * returned (its finished inputs acked), and the number of records in it. Each process keeps the counts since its last
 * report and publishes them every {@link REPORT_INTERVAL_MS} (and when a loop stops) as JSON on core NATS
 * ({@link BATCH_METRICS_SUBJECT}); the api adds the reports up into cumulative histograms. Reports sent while no api
 * listens are lost (the histograms count what the running api heard), replays report nothing.
 *
 * A report also carries the process's stage event counters ({@link STAGE_EVENT_COUNTERS}: things that went wrong in a
 * stage and are not a batch, e.g. a cache rebuild given up), cumulative since the process started, so that a lost
 * report loses nothing: the api keeps the latest value per process and sums them over the processes it heard.
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

/**
 * How often a process that has stage event counters reports them while nothing changed, ms: so an api that started
 * (or subscribed) after the last change hears them too.
 */
export const EVENTS_RESEND_MS = 10_000;

/**
 * The stage event counters a stage may count (Prometheus counter name → help). Each is declared at 0 by the code that
 * counts it, when that code starts, so the family is on `/metrics` before the first event.
 */
export const STAGE_EVENT_COUNTERS = {
  agentsight_cache_rebuilds_given_up_total:
    'Rebuilds of a Redis cache from the streams that a stage gave up waiting for (a Redis loss while no instance finished its rebuild within the wait); the stage went on with what the cache held, derived events may miss state lost with Redis until a rebuild finishes',
  agentsight_aggregator_proc_catch_up_timeouts_total:
    "Waits of the aggregator for the process feed that it gave up (the proc records in the stream were not all in the process table after the wait): exchanges of processes the table did not hold then were finished without a process",
} as const;

/** Name of a stage event counter. */
export type StageEventCounter = keyof typeof STAGE_EVENT_COUNTERS;

/** One stage event counter's value in a process: events counted since the process started, per label set. */
export interface StageEventCount {
  name: StageEventCounter;
  /** Labels besides `stage` (e.g. `cache`). */
  labels: Record<string, string>;
  value: number;
}

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
  /** The process's stage event counters, cumulative since it started (absent in reports of older versions). */
  events?: StageEventCount[];
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

/**
 * The process's batch counts since its last report, its stage event counters, and the reporting timer (started by the
 * first batch or counted event).
 */
class BatchRecorder {
  stage = 'unknown';
  instance = 'default';
  /** Connection the reports go out on: set by `StageRuntime.connect` (not for a replay) or the first batch. */
  nats: Nats | null = null;
  private pending: BatchMetricsReport['consumers'] = {};
  private readonly events = new Map<string, StageEventCount>();
  private eventsChanged = false;
  /** When the counters were last sent (`Date.now()` ms). */
  private eventsSentAt = 0;
  private timer: NodeJS.Timeout | null = null;

  /** Records one batch of `records` inputs handled in `seconds` by `durable`'s loop, reported over `nats`. */
  record(nats: Nats, durable: string, seconds: number, records: number): void {
    if (nats.scope) return; // a replay's stages report nothing
    const key = consumerLabel(durable);
    const c = (this.pending[key] ??= { seconds: emptyHistogram(BATCH_SECONDS_BUCKETS), records: emptyHistogram(BATCH_RECORDS_BUCKETS) });
    observe(c.seconds, BATCH_SECONDS_BUCKETS, seconds);
    observe(c.records, BATCH_RECORDS_BUCKETS, records);
    this.nats = nats;
    this.startTimer();
  }

  /**
   * Counts `by` events (0 declares the counter, so it is reported before its first event) of `name` with `labels`;
   * reported with the next report, once a connection is known.
   */
  count(name: StageEventCounter, labels: Record<string, string> = {}, by = 1): void {
    const sorted = Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const key = `${name}${JSON.stringify(sorted)}`;
    const e = this.events.get(key);
    if (e) e.value += by;
    else this.events.set(key, { name, labels: sorted, value: by });
    this.eventsChanged = true;
    this.startTimer();
  }

  private startTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.flush(), REPORT_INTERVAL_MS);
    this.timer.unref();
  }

  /**
   * Publishes what was recorded since the last report; nothing when no batch was, no counter changed and the counters
   * were sent less than {@link EVENTS_RESEND_MS} ago.
   */
  flush(): void {
    const consumers = this.pending;
    const resend = this.events.size > 0 && Date.now() - this.eventsSentAt >= EVENTS_RESEND_MS;
    if (!this.nats || this.nats.scope || (!Object.keys(consumers).length && !this.eventsChanged && !resend)) return;
    this.pending = {};
    this.eventsChanged = false;
    this.eventsSentAt = Date.now();
    const events = [...this.events.values()].map((e) => ({ ...e }));
    const report: BatchMetricsReport = { stage: this.stage, instance: this.instance, pid: process.pid, consumers, events };
    try {
      this.nats.nc.publish(BATCH_METRICS_SUBJECT, JSON.stringify(report));
    } catch {
      /* connection closing: these batch counts are lost, like reports no api hears (the event counters are resent) */
      this.eventsChanged = true;
    }
  }
}

/** The process's recorder; `StageRuntime.connect` sets its stage and instance. */
export const batchMetrics = new BatchRecorder();

/**
 * Counts `by` events of the stage event counter `name` with `labels` (besides `stage`) in this process, for the api's
 * `/metrics` ({@link STAGE_EVENT_COUNTERS}); `by` 0 declares the counter at its current value.
 */
export function countStageEvent(name: StageEventCounter, labels: Record<string, string> = {}, by = 1): void {
  batchMetrics.count(name, labels, by);
}
