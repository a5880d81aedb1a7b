/**
 * The stages' batch-latency histograms as the api serves them: the reports every stage process publishes on
 * {@link BATCH_METRICS_SUBJECT} (libs/jetstream batch-metrics.ts) added up since this api started, per (stage,
 * consumer), into cumulative Prometheus histograms `agentsight_stage_batch_duration_seconds` and
 * `agentsight_stage_batch_records`.
 */
import type { Nats } from '@agentsight/jetstream';
import {
  addHistogram, BATCH_METRICS_SUBJECT, BATCH_RECORDS_BUCKETS, BATCH_SECONDS_BUCKETS, emptyHistogram, type BatchMetricsReport, type HistogramCounts,
} from '@agentsight/jetstream';

/** Cumulative histograms of one (stage, consumer). */
export interface BatchSeries {
  stage: string;
  consumer: string;
  seconds: HistogramCounts;
  records: HistogramCounts;
}

/** Adds up the stages' reports; {@link series} gives the totals so far. */
export class BatchLatency {
  private readonly totals = new Map<string, BatchSeries>();
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

  /** The totals so far, ordered by stage and consumer. */
  series(): BatchSeries[] {
    return [...this.totals.values()].sort((a, b) => a.stage.localeCompare(b.stage) || a.consumer.localeCompare(b.consumer));
  }
}
