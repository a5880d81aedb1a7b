/** The pipeline's wiring table is consistent: filters inside their streams, one name per durable, every consumed stream published. */
import { exportTargets } from './export';
import { durablesOf, isPartitioned, STREAM, STREAMS, TOPOLOGY, type DurableWiring, type PartitionedWiring } from './topology';

const stages = Object.entries(TOPOLOGY) as Array<[string, { consumes: Record<string, DurableWiring | PartitionedWiring>; publishes: readonly string[] }]>;
const consumers = stages.flatMap(([stage, s]) => Object.entries(s.consumes).map(([role, w]) => ({ stage, role, w })));

/** True when `filter` (a subject filter) only matches subjects of the stream's filter `streamSubject` (`x.y.>`). */
const inside = (filter: string, streamSubject: string) => filter.startsWith(streamSubject.replace(/>$/, ''));

test('every consumer filters subjects of the stream it reads', () => {
  for (const { stage, role, w } of consumers) {
    const stream = STREAMS.find((s) => s.name === w.stream);
    const filters = isPartitioned(w) ? [w.filter(0), w.filter(3)] : [w.filterSubject];
    for (const f of filters) expect({ stage, role, f, inside: stream!.subjects.some((s) => inside(f, s)) }).toEqual({ stage, role, f, inside: true });
  }
});

test('partitioned filters differ per partition; durable names are unique over the table', () => {
  for (const { w } of consumers) if (isPartitioned(w)) expect(w.filter(1)).not.toBe(w.filter(2));
  const names = consumers.flatMap(({ w }) => durablesOf(w, 4));
  expect(names.length).toBeGreaterThan(20);
  expect(new Set(names).size).toBe(names.length);
});

test('every stream a stage reads is published by a stage (dead letters: by any), and none is published that nobody reads', () => {
  const published = new Set(stages.flatMap(([, s]) => s.publishes));
  const read = new Set<string>(consumers.map(({ w }) => w.stream));
  for (const s of read) if (s !== STREAM.dlq) expect({ s, published: published.has(s) }).toEqual({ s, published: true });
  for (const s of published) expect({ s, read: read.has(s) }).toEqual({ s, read: true });
});

test('the export targets read with the topology\'s exporter durables', () => {
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', AGENTSIGHT_SLS_LOGSTORE: 'l', AGENTSIGHT_SLS_LOGTAIL_FILE: '/tmp/x', AGENTSIGHT_SLS_AUDIT: '1' };
  const targets = exportTargets(env);
  expect(targets.map((t) => t.name).sort()).toEqual(Object.keys(TOPOLOGY.exporter.consumes).sort());
  for (const t of targets) expect({ durable: t.durable, stream: t.stream, filterSubject: t.filterSubject }).toEqual(TOPOLOGY.exporter.consumes[t.name]);
});
