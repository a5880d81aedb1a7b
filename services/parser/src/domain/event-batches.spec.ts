/**
 * EventBatcher over the real HttpStreamParser: batches of consecutive events of one connection and direction, cut
 * at message ends, and the same batches (same ids) after a restart at the consumed offset, whatever the
 * redelivery's input batches.
 */
import { httpEventsOf, type HttpEvent, type HttpEventBatch, type RawSslRecord } from '@agentsight/contracts';
import { streamedCallRecords } from '@agentsight/testkit';
import { EventBatcher, eventPk, MAX_BATCH_EVENTS } from './event-batches';
import { HttpStreamParser } from './http-stream-parser';

const sse = (n: number) => Array.from({ length: n }, (_, i) => Buffer.from(`data: {"i":${i}}\n\n`));

/** Two connections' streamed calls (2 + 150 events each), interleaved record by record. */
function interleaved(events = 150): RawSslRecord[] {
  const a = streamedCallRecords(0, sse(events), 0);
  const b = streamedCallRecords(8, sse(events), 1000); // same partition as 0
  const out: RawSslRecord[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) out.push(...(a[i] ? [a[i]] : []), ...(b[i] ? [b[i]] : []));
  return out;
}

/** Feeds `recs` in input batches of the given sizes (cycled); the batches published for each. */
function feed(p: HttpStreamParser, batcher: EventBatcher, recs: RawSslRecord[], cuts: number[]): HttpEventBatch[][] {
  const out: HttpEventBatch[][] = [];
  for (let i = 0, k = 0; i < recs.length; k++) {
    const n = cuts[k % cuts.length];
    const evs: HttpEvent[] = [];
    for (const r of recs.slice(i, i + n)) evs.push(...p.push(r).events);
    i += n;
    out.push(batcher.batch(evs));
  }
  return out;
}

test('batches: one connection and direction each, in event order, ending where a message ends', () => {
  const p = new HttpStreamParser();
  const all: HttpEvent[] = [];
  const recs = interleaved();
  for (const r of recs) all.push(...p.push(r).events);
  const batches = feed(new HttpStreamParser(), new EventBatcher(), recs, [37, 5, 120]).flat();
  // Every event once, each connection's in its order.
  const flat = batches.flatMap((b) => httpEventsOf(b)!);
  expect(flat.map((e) => e.id).sort()).toEqual(all.map((e) => e.id).sort());
  for (const key of new Set(all.map((e) => e.conn.key))) {
    expect(flat.filter((e) => e.conn.key === key).map((e) => e.id)).toEqual(all.filter((e) => e.conn.key === key).map((e) => e.id));
  }
  for (const b of batches) {
    expect(new Set(b.events.map(eventPk)).size).toBe(1);
    expect(b.events.length).toBeLessThanOrEqual(MAX_BATCH_EVENTS);
    // Message-final events only last.
    expect(b.events.slice(0, -1).filter((e) => e.type === 'request' || e.type === 'response_end')).toEqual([]);
  }
  // The request alone; fewer messages than events.
  expect(batches.filter((b) => b.events[0].type === 'request').map((b) => b.events.length)).toEqual([1, 1]);
  expect(batches.length).toBeLessThan(all.length / 4);
  expect(new Set(batches.map((b) => b.id)).size).toBe(batches.length);
});

test('a restart at the consumed offset cuts the same batches again from the sizes recorded before publishing', () => {
  const recs = interleaved();
  // Live: input batches of 41 records; the 3rd input batch is published, then the parser dies before its commit.
  const live = new HttpStreamParser();
  const batcher = new EventBatcher();
  const published = feed(live, batcher, recs.slice(0, 3 * 41), [41]).flat();
  const pks = [...new Set(published.map((b) => eventPk(b.events[0])))];
  // What the parser stores before publishing, and the offsets its last commit (after the 2nd input batch) left:
  // mid-response, so the read direction's offset is still the response's start.
  const sizes = Object.fromEntries(pks.map((pk) => [pk, batcher.recorded(pk)]));
  expect(Object.values(sizes).filter(Boolean).length).toBe(2); // both responses' read side, cut by input batch ends
  const consumed = (k: string, dir: 'write' | 'read') => live.consumedOffset(k, dir);
  // Next owner: resumes at the offsets with the recorded sizes; the redelivery (ack floor: everything) comes in
  // other input batches.
  for (const cuts of [[recs.length], [7, 300], [1]]) {
    const next = new HttpStreamParser();
    const b2 = new EventBatcher();
    for (const pk of pks) {
      const [key, dir] = [pk.slice(0, pk.lastIndexOf('|')), pk.slice(pk.lastIndexOf('|') + 1) as 'write' | 'read'];
      next.resumeAt(key, dir, consumed(key, dir));
      b2.resume(pk, sizes[pk]);
    }
    const again = feed(next, b2, recs, cuts).flat();
    const liveIds = new Set(published.map((b) => b.id));
    // Re-emitted batches overlapping what was published: the same ids (dropped by JetStream's duplicate window).
    expect(again.filter((b) => liveIds.has(b.id)).length).toBe(published.filter((b) => b.events[0].type !== 'request').length);
    const overlapping = again.filter((b) => b.events.some((e) => published.some((q) => q.events.some((x) => x.id === e.id))));
    const differing = overlapping.filter((b) => !liveIds.has(b.id));
    // Input batches ending inside a recorded batch (7 records, or one each): it is held until complete.
    expect(differing).toEqual([]);
    // Nothing lost: every event of both calls came out.
    const all: HttpEvent[] = [];
    const p = new HttpStreamParser();
    for (const r of recs) all.push(...p.push(r).events);
    const seen = new Set([...published, ...again].flatMap((b) => b.events.map((e) => e.id)));
    expect(all.filter((e) => !seen.has(e.id))).toEqual([]);
  }
});

test('without recorded sizes a redelivery in other input batches cuts other batches (what the record is for)', () => {
  const recs = interleaved();
  const live = new HttpStreamParser();
  const published = feed(live, new EventBatcher(), recs.slice(0, 3 * 41), [41]).flat();
  const next = new HttpStreamParser();
  const again = feed(next, new EventBatcher(), recs, [recs.length]).flat();
  const liveIds = new Set(published.map((b) => b.id));
  expect(again.filter((b) => b.events[0].type !== 'request' && liveIds.has(b.id))).toEqual([]);
});
