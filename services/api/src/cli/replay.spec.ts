/**
 * The figures of `agentsight replay`'s lines: what is left to go ({@link toGoText}) and how many live inputs a run
 * read between two readings of its consumers ({@link readsSince}: kept consumers count since the first reading,
 * consumers made again count from 0, as JetStream counts their deliveries).
 */
import { readsSince, toGoText, type Reads } from './replay';

const reads = (entries: Array<[string, string, number]>): Reads => new Map(entries.map(([name, created, delivered]) => [name, { created, delivered }]));

test('toGoText: live inputs and derived messages, as the progress, interruption and resume lines say them', () => {
  expect(toGoText({ live: 0, derived: 0 })).toBe('0 live input(s) and 0 derived message(s) to go');
  expect(toGoText({ live: 12, derived: 3 })).toBe('12 live input(s) and 3 derived message(s) to go');
});

test('readsSince: a kept consumer counts what it was delivered since, one made again (or new) all it was delivered', () => {
  const before = reads([
    ['AGENTSIGHT_RAW/replay-r1-parser-p0', '2026-12-06T03:00:00Z', 100],
    ['AGENTSIGHT_RAW/replay-r1-parser-p1', '2026-12-06T03:00:00Z', 40],
    ['AGENTSIGHT_RAW/replay-r1-aggregator-proc', '2026-12-06T03:00:00Z', 7],
  ]);
  const now = reads([
    ['AGENTSIGHT_RAW/replay-r1-parser-p0', '2026-12-06T03:00:00Z', 130], // kept: 30 since
    ['AGENTSIGHT_RAW/replay-r1-parser-p1', '2026-12-06T03:05:00Z', 15], // claimed again: counts from 0
    ['AGENTSIGHT_RAW/replay-r1-aggregator-proc', '2026-12-06T03:00:00Z', 7], // nothing new
    ['AGENTSIGHT_RAW/replay-r1-parser-p2', '2026-12-06T03:05:00Z', 4], // made since
  ]);
  expect(readsSince(before, now)).toBe(30 + 15 + 0 + 4);
  // Gone consumers count nothing; a count that went down (a reset) never counts negative.
  expect(readsSince(before, reads([['AGENTSIGHT_RAW/replay-r1-parser-p0', '2026-12-06T03:00:00Z', 90]]))).toBe(0);
  expect(readsSince(new Map(), now)).toBe(130 + 15 + 7 + 4);
  expect(readsSince(now, now)).toBe(0);
});
