/**
 * The stages' batch-latency histograms as the api serves them: the reports every stage process publishes on
 * {@link BATCH_METRICS_SUBJECT} (libs/jetstream batch-metrics.ts) added up since this api started, per (stage,
 * consumer), into cumulative Prometheus histograms `agentsight_stage_batch_duration_seconds` and
 * `agentsight_stage_batch_records`; and their stage event counters (cumulative per process, the latest value of each
 * process kept and summed per (stage, counter, labels)).
 */
import type { Nats } from '@agentsight/jetstream';
import {
  addHistogram, BATCH_METRICS_SUBJECT, BATCH_RECORDS_BUCKETS, BATCH_SECONDS_BUCKETS, emptyHistogram, STAGE_EVENT_COUNTERS,
  type BatchMetricsReport, type HistogramCounts, type StageEventCounter,
} from '@agentsight/jetstream';

/**
 * Most (process, counter, labels) values kept; past it a new one is not kept (a stage counts a handful, this only
 * bounds what malformed or hostile reports can make the api hold).
 */
const EVENT_VALUES_MAX = 10_000;

/** Cumulative histograms of one (stage, consumer). */
export interface BatchSeries {
  stage: string;
  consumer: string;
  seconds: HistogramCounts;
  records: HistogramCounts;
}

/** One stage event counter summed over the processes of a stage: `value` events since each process started. */
export interface StageEventSeries {
  stage: string;
  name: StageEventCounter;
  /** Labels besides `stage`. */
  labels: Record<string, string>;
  value: number;
}

/** Adds up the stages' reports; {@link series} gives the histogram totals so far, {@link events} the counters. */
export class BatchLatency {
  private readonly totals = new Map<string, BatchSeries>();
  /** Latest value per (process, counter, labels): key `instance\0pid\0name+labels`. */
  private readonly eventValues = new Map<string, StageEventSeries>();
  private sub: ReturnType<Nats['nc']['subscribe']> | null = null;

  /** Adds one report (ignores malformed ones: a report is not worth failing the scrape for, and carries no secret). */
  add(r: BatchMetricsReport): void {
    if (!r || typeof r.stage !== 'string' || !r.consumers || typeof r.consumers !== 'object') return;
    for (const [consumer, c] of Object.entries(r.consumers)) {
      if (c?.seconds?.counts?.length !== BATCH_SECONDS_BUCKETS.length + 1 || c?.records?.counts?.length !== BATCH_RECORDS_BUCKETS.length + 1) continue;
      const k = `${r.stage}\0${consumer}`;
      let t = this.totals.get(k);
      if (!t) this.totals.set(k, (t = { stage: r.stage, consumer, seconds: emptyHistogram(BATCH_SECONDS_BUCKETS), records: emptyHistogram(BATCH_RECORDS_BUCKETS) }));
      addHistogram(t.seconds, c.seconds);
      addHistogram(t.records, c.records);
    }
    if (Array.isArray(r.events)) this.addEvents(r);
  }

  /** Keeps the report's counter values as its process's latest (a value that went down is a restarted pid's). */
  private addEvents(r: BatchMetricsReport): void {
    for (const e of r.events ?? []) {
      if (!e || !Object.hasOwn(STAGE_EVENT_COUNTERS, e.name) || !Number.isFinite(e.value) || e.value < 0) continue;
      if (!e.labels || typeof e.labels !== 'object' || !Object.values(e.labels).every((v) => typeof v === 'string')) continue;
      const labels = Object.fromEntries(Object.entries(e.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      const k = `${r.instance}\0${r.pid}\0${r.stage}\0${e.name}${JSON.stringify(labels)}`;
      if (!this.eventValues.has(k) && this.eventValues.size >= EVENT_VALUES_MAX) continue;
      this.eventValues.set(k, { stage: r.stage, name: e.name, labels, value: e.value });
    }
  }

  /** Starts listening on `nc` (core NATS). */
  listen(nc: Nats['nc']): void {
    this.sub = nc.subscribe(BATCH_METRICS_SUBJECT, {
      callback: (err, m) => {
        if (err) return;
        try {
          this.add(JSON.parse(new TextDecoder().decode(m.data)) as BatchMetricsReport);
        } catch {
          /* not JSON: ignored */
        }
      },
    });
  }

  close(): void {
    this.sub?.unsubscribe();
    this.sub = null;
  }

  /** Each stage event counter summed over the processes heard, ordered by counter, stage and labels. */
  events(): StageEventSeries[] {
    const sums = new Map<string, StageEventSeries>();
    for (const e of this.eventValues.values()) {
      const k = `${e.name}\0${e.stage}\0${JSON.stringify(e.labels)}`;
      const t = sums.get(k);
      if (t) t.value += e.value;
      else sums.set(k, { ...e });
    }
    return [...sums.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
  }

  /** The totals so far, ordered by stage and consumer. */
  series(): BatchSeries[] {
    return [...this.totals.values()].sort((a, b) => a.stage.localeCompare(b.stage) || a.consumer.localeCompare(b.consumer));
  }
}
