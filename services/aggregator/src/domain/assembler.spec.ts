import { ConnRef, HttpEvent, HttpRequestEvent } from '@agentsight/contracts';
import { applyEvent, emptyConnState } from './assembler';

const conn: ConnRef = { key: 'h/b/1/42/0x10', host: 'h', boot_id: 'b', run: 1, pid: 42, tid: 42, uid: 0, comm: 'node', ssl: '0x10', partition: 3 };
const base = (id: string, t: number) => ({ v: 1 as const, id, conn, span: { dir: 'write' as const, start_offset: 0, end_offset: 1 }, start_ns: BigInt(t), end_ns: BigInt(t + 1) });
const req = (id: string, t: number, target = '/v1/messages'): HttpRequestEvent => ({
  ...base(id, t), type: 'request', method: 'POST', target, version: 'HTTP/1.1', headers: [['Host', 'api.example']], body: Buffer.from('{}'),
});
const head = (id: string, t: number): HttpEvent => ({ ...base(id, t), type: 'response_head', status: 200, reason: 'OK', version: 'HTTP/1.1', headers: [], streaming: true });
const sse = (id: string, ordinal: number, t: number): HttpEvent => ({ ...base(id, t), type: 'sse_event', ordinal, event: 'message', data: `d${ordinal}` });
const end = (id: string, t: number): HttpEvent => ({ ...base(id, t), type: 'response_end', events: 2, body_bytes: 10 });

test('pairs requests with responses in order and gathers SSE events into one exchange', () => {
  const s = emptyConnState();
  applyEvent(s, req('r1', 1, '/a'));
  applyEvent(s, req('r2', 2, '/b')); // pipelined
  expect(applyEvent(s, head('h1', 3)).opened).toBe(true);
  applyEvent(s, sse('e0', 0, 4));
  applyEvent(s, sse('e1', 1, 5));
  const r = applyEvent(s, end('end1', 6));
  expect(r.exchanges[0]?.request.target).toBe('/a');
  expect(r.exchanges[0]?.response?.events.map((e) => e.data)).toEqual(['d0', 'd1']);
  expect(r.exchanges[0]?.response?.end_ns).toBe(7n);
  expect(r.exchanges[0]?.server_address).toBe('api.example');
  const r2 = applyEvent(s, { ...base('resp2', 8), type: 'response', status: 404, reason: 'Not Found', version: 'HTTP/1.1', headers: [], body: Buffer.from('no') });
  expect(r2.exchanges[0]?.request.target).toBe('/b');
  expect(r2.exchanges[0]?.response?.status).toBe(404);
  expect(s.pending).toHaveLength(0);
});

test('replayed events are recognised and change nothing', () => {
  const s = emptyConnState();
  const events = [req('r1', 1), head('h1', 2), sse('e0', 0, 3), sse('e1', 1, 4), end('end1', 5)];
  const first = events.map((e) => applyEvent(s, e));
  expect(first.filter((r) => r.exchanges.length)).toHaveLength(1);
  const again = events.map((e) => applyEvent(s, e));
  expect(again.every((r) => r.duplicate)).toBe(true);
  expect(again.some((r) => r.exchanges.length > 0)).toBe(false);
  // A replay in the middle of a stream: the same ordinal is dropped, the next one appended.
  const t = emptyConnState();
  applyEvent(t, req('r9', 1));
  applyEvent(t, head('h9', 2));
  applyEvent(t, sse('x0', 0, 3));
  expect(applyEvent(t, sse('x0', 0, 3)).duplicate).toBe(true);
  expect(applyEvent(t, sse('x1', 1, 4)).appended?.data).toBe('d1');
  expect(t.open?.events).toHaveLength(2);
});

test('an SSE event with no open response is reported, not crashed on', () => {
  const s = emptyConnState();
  expect(applyEvent(s, sse('e0', 0, 1)).orphan).toMatch(/without an open/);
});

test('exchange ids are deterministic per request', () => {
  const a = emptyConnState();
  const b = emptyConnState();
  const ex = (s: ReturnType<typeof emptyConnState>) => {
    applyEvent(s, req('r1', 1));
    return applyEvent(s, { ...base('resp', 2), type: 'response', status: 200, reason: 'OK', version: 'HTTP/1.1', headers: [], body: Buffer.from('x') }).exchanges[0].id;
  };
  const [idA, idB] = [ex(a), ex(b)];
  expect(idA).toBe(idB);
  expect(idA).toMatch(/^[0-9a-f]{32}$/);
});

test('connection_end turns what the connection still holds into exchanges', () => {
  const s = emptyConnState();
  applyEvent(s, req('r1', 1, '/stream'));
  applyEvent(s, head('h1', 2));
  applyEvent(s, sse('e0', 0, 3));
  applyEvent(s, req('r2', 4, '/unanswered'));
  const end: HttpEvent = { ...base('ce', 9), type: 'connection_end', reason: 'close' };
  const r = applyEvent(s, end);
  expect(r.ended).toBe(true);
  expect(r.exchanges.map((x) => [x.request.target, x.response?.status ?? null, x.response?.body_incomplete ?? null])).toEqual([
    ['/stream', 200, 'short'],
    ['/unanswered', null, null],
  ]);
  expect(r.exchanges[0].response?.events.map((e) => e.data)).toEqual(['d0']);
  expect(s.pending).toHaveLength(0);
  expect(s.open).toBeNull();
  // A replayed connection_end finds nothing more to finish.
  expect(applyEvent(s, end).exchanges).toEqual([]);
});
