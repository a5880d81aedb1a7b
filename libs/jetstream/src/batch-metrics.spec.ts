/** Batch histograms' bucketing (Prometheus `le`: a value on a bound is in that bucket), adding reports, consumer labels. */
import { addHistogram, BATCH_RECORDS_BUCKETS, consumerLabel, emptyHistogram, observe } from './batch-metrics';

describe('batch histograms', () => {
  test('a value lands in the first bucket whose bound is ≥ it; above the last bound in +Inf', () => {
    const h = emptyHistogram(BATCH_RECORDS_BUCKETS);
    for (const v of [1, 2, 3, 1000, 1001]) observe(h, BATCH_RECORDS_BUCKETS, v);
    expect(h.counts).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(h.sum).toBe(2007);
    expect(h.count).toBe(5);
    const total = emptyHistogram(BATCH_RECORDS_BUCKETS);
    addHistogram(total, h);
    addHistogram(total, h);
    expect(total).toEqual({ counts: h.counts.map((c) => 2 * c), sum: 4014, count: 10 });
  });

  test('partition durables share their consumer label', () => {
    expect(['parser-p0', 'parser-p7', 'parser-stdio-p3', 'aggregator-p12', 'genai', 'storage-genai', 'exporter-sls'].map(consumerLabel))
      .toEqual(['parser', 'parser', 'parser-stdio', 'aggregator', 'genai', 'storage-genai', 'exporter-sls']);
  });
});
