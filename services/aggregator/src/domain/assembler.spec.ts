import { ConnRef, deriveId, HttpEvent, HttpRequestEvent } from '@agentsight/contracts';
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
  expect(r.exchanges[0]?.response?.first_event_ns).toBe(4n); // the first SSE event's record, not the head's
  expect(r.exchanges[0]?.server_address).toBe('api.example');
  const r2 = applyEvent(s, { ...base('resp2', 8), type: 'response', status: 404, reason: 'Not Found', version: 'HTTP/1.1', headers: [], body: Buffer.from('no') });
  expect(r2.exchanges[0]?.request.target).toBe('/b');
  expect(r2.exchanges[0]?.response?.status).toBe(404);
  expect(r2.exchanges[0]?.response).not.toHaveProperty('first_event_ns');
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

describe('HTTP/2: pairing by (connection, stream_id)', () => {
  const h2 = <T extends HttpEvent>(ev: T, sid: number): T => ({ ...ev, stream_id: sid, version: 'HTTP/2' } as T);
  const reset = { frame: 'RST_STREAM' as const, error_code: 8, error: 'CANCEL', by: 'write' as const };

  test('three interleaved streams on one connection become three exchanges that never mix', () => {
    const s = emptyConnState();
    const evs: HttpEvent[] = [
      h2(req('r1', 1, '/one'), 1), h2(req('r3', 2, '/three'), 3), h2(req('r5', 3, '/five'), 5),
      h2(head('h3', 4), 3), h2(head('h1', 5), 1),
      h2(sse('a', 0, 6), 3), h2(sse('b', 0, 7), 1), h2(sse('c', 1, 8), 3),
      h2({ ...base('resp5', 9), type: 'response', status: 200, reason: '', version: 'HTTP/2', headers: [], body: Buffer.from('{}') }, 5),
      h2(sse('d', 1, 10), 1), h2(end('e1', 11), 1), h2(end('e3', 12), 3),
    ];
    const out = evs.flatMap((e) => applyEvent(s, e).exchanges);
    expect(out.map((x) => [x.stream_id, x.request.target, x.response?.events.map((e) => e.data) ?? null])).toEqual([
      [5, '/five', []],
      [1, '/one', ['d0', 'd1']],
      [3, '/three', ['d0', 'd1']],
    ]);
    expect(out.map((x) => x.id)).toEqual(['r5', 'r1', 'r3'].map((id) => deriveId('exchange', id)));
    expect(s.streams).toEqual({});
    // Replaying all of it changes nothing.
    expect(evs.flatMap((e) => applyEvent(s, e).exchanges)).toEqual([]);
  });

  test('the SSE lists are per stream: appended/opened name the stream, finished streams are closed', () => {
    const s = emptyConnState();
    applyEvent(s, h2(req('r1', 1), 1));
    expect(applyEvent(s, h2(head('h1', 2), 1))).toMatchObject({ opened: true, stream_id: 1 });
    expect(applyEvent(s, h2(sse('x', 0, 3), 1))).toMatchObject({ appended: { data: 'd0' }, stream_id: 1 });
    expect(applyEvent(s, h2(sse('x', 0, 3), 1)).duplicate).toBe(true);
    expect(applyEvent(s, h2(end('e', 4), 1))).toMatchObject({ closedStreams: [1] });
    expect(applyEvent(s, h2(sse('y', 0, 3), 7)).orphan).toMatch(/stream 7/);
  });

  test('RST_STREAM: a reset response, and a request with no response, end with the reset as the reason', () => {
    const s = emptyConnState();
    applyEvent(s, h2(req('r1', 1, '/streamed'), 1));
    applyEvent(s, h2(head('h1', 2), 1));
    applyEvent(s, h2(sse('a', 0, 3), 1));
    const r1 = applyEvent(s, h2({ ...end('e1', 4), body_incomplete: 'reset', reset }, 1));
    expect(r1.exchanges[0]).toMatchObject({ stream_id: 1, stream_reset: reset, response: { body_incomplete: 'reset', streaming: true } });
    expect(applyEvent(s, h2({ ...base('sr1', 5), type: 'stream_reset', stream_id: 1, reset }, 1)).exchanges).toEqual([]);
    applyEvent(s, h2(req('r3', 6, '/unanswered'), 3));
    const goaway = { frame: 'GOAWAY' as const, error_code: 0, error: 'NO_ERROR', by: 'read' as const };
    const r3 = applyEvent(s, h2({ ...base('sr3', 7), type: 'stream_reset', stream_id: 3, reset: goaway }, 3));
    expect(r3.exchanges.map((x) => [x.request.target, x.response, x.stream_reset])).toEqual([['/unanswered', null, goaway]]);
    // A request reset while being sent, with no response: one exchange at once.
    const r5 = applyEvent(s, h2({ ...req('r5', 8, '/upload'), body_incomplete: 'reset', reset }, 5));
    expect(r5.exchanges.map((x) => [x.request.body_incomplete, x.stream_reset])).toEqual([['reset', reset]]);
  });

  test('connection_end finishes every open stream in stream order, HTTP/1.1 state included', () => {
    const s = emptyConnState();
    applyEvent(s, h2(req('r3', 1, '/three'), 3));
    applyEvent(s, h2(req('r1', 2, '/one'), 1));
    applyEvent(s, h2(head('h1', 3), 1));
    const r = applyEvent(s, { ...base('ce', 9), type: 'connection_end', reason: 'close' });
    expect(r.exchanges.map((x) => [x.stream_id, x.request.target, x.response?.body_incomplete ?? null])).toEqual([[1, '/one', 'short'], [3, '/three', null]]);
    expect(r.closedStreams).toEqual([1, 3]);
    expect(r.ended).toBe(true);
  });
});
