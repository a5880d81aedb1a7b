import { decode, encode } from './codec';
import { httpBatchId, httpEventsOf, type HttpEvent, type HttpEventBatch } from './http';

const conn = { key: 'h|b|1|42|0xabc', host: 'h', boot_id: 'b', run: 1, pid: 42, tid: 42, uid: 0, comm: 'node', ssl: '0xabc', partition: 3 };
const sse = (ordinal: number): HttpEvent => ({
  v: 1, id: `e${ordinal}`, conn, span: { dir: 'read', start_offset: 0, end_offset: 10 * (ordinal + 1) }, start_ns: 1n, end_ns: 2n,
  type: 'sse_event', ordinal, event: 'message', data: `{"i":${ordinal}}`,
});

describe('http subject payload (contract v2)', () => {
  test('a batch decodes to its events in order; a v1 single event to itself', () => {
    const events = [sse(0), sse(1), sse(2)];
    const batch: HttpEventBatch = { v: 2, id: httpBatchId(events), events };
    expect(httpEventsOf(decode(encode(batch)))!.map((e) => e.id)).toEqual(['e0', 'e1', 'e2']);
    expect(httpEventsOf(decode(encode(sse(7))))!.map((e) => e.id)).toEqual(['e7']);
  });

  test('the id follows the events: same events, same id; another cut, another id', () => {
    expect(httpBatchId([sse(0), sse(1)])).toBe(httpBatchId([sse(0), sse(1)]));
    expect(httpBatchId([sse(0), sse(1)])).not.toBe(httpBatchId([sse(0), sse(1), sse(2)]));
    expect(httpBatchId([sse(0), sse(1)])).toMatch(/^[0-9a-f]{32}$/);
  });

  test('anything else is refused (null: the consumer dead-letters it)', () => {
    const { conn: _c, ...noConn } = sse(0);
    for (const bad of [null, 7, 'x', {}, { v: 2 }, { v: 2, events: [] }, { v: 2, events: [noConn] }, { v: 3, events: [sse(0)] }, { ...sse(0), v: 2 }, noConn]) {
      expect(httpEventsOf(bad)).toBeNull();
    }
  });
});
