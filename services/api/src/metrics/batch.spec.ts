/**
 * BatchLatency's stage event counters: each process's latest cumulative value kept, summed per (stage, counter,
 * labels) over the processes heard; counters the stages do not define and malformed values are ignored.
 */
import type { BatchMetricsReport } from '@agentsight/jetstream';
import { BatchLatency } from './batch';

/** A report of process `pid` of `stage` with no batches and the given counter values. */
function report(stage: string, pid: number, events: unknown[]): BatchMetricsReport {
  return { stage, instance: 'default', pid, consumers: {}, events: events as BatchMetricsReport['events'] };
}

const given = 'agentsight_cache_rebuilds_given_up_total';
const catchUp = 'agentsight_aggregator_proc_catch_up_timeouts_total';

test('the latest value of each process, summed per stage and labels; unknown counters and bad values ignored', () => {
  const b = new BatchLatency();
  b.add(report('aggregator', 1, [{ name: given, labels: { cache: 'proc' }, value: 0 }, { name: catchUp, labels: {}, value: 0 }]));
  b.add(report('aggregator', 1, [{ name: given, labels: { cache: 'proc' }, value: 2 }, { name: catchUp, labels: {}, value: 1 }]));
  // A later report of the same process replaces its value (cumulative), it does not add to it.
  b.add(report('aggregator', 1, [{ name: given, labels: { cache: 'proc' }, value: 3 }, { name: catchUp, labels: {}, value: 1 }]));
  // Another instance of the stage adds its own.
  b.add(report('aggregator', 2, [{ name: given, labels: { cache: 'proc' }, value: 4 }]));
  b.add(report('genai', 3, [
    { name: given, labels: { cache: 'session' }, value: 1 },
    { name: 'agentsight_made_up_total', labels: {}, value: 9 },
    { name: given, labels: { cache: 'tool' }, value: -1 },
    { name: given, labels: { cache: 7 }, value: 1 },
    { name: given, labels: { cache: 'x' }, value: Number.NaN },
    null,
  ]));
  expect(b.events()).toEqual([
    { stage: 'aggregator', name: catchUp, labels: {}, value: 1 },
    { stage: 'aggregator', name: given, labels: { cache: 'proc' }, value: 7 },
    { stage: 'genai', name: given, labels: { cache: 'session' }, value: 1 },
  ]);
  // A report of an older version (no events) changes nothing.
  b.add({ stage: 'aggregator', instance: 'default', pid: 1, consumers: {} });
  expect(b.events()).toHaveLength(3);
  expect(b.series()).toEqual([]);
});
