import * as zlib from 'node:zlib';
import { connKey, deriveId, headerValue, type Direction, type HttpEvent, type RawSslRecord } from '@agentsight/contracts';
import { HttpStreamParser } from './http-stream-parser';
import type { ParserDeadLetter, ParseOutput } from './types';

const enc = (s: string) => Buffer.from(s, 'latin1');

/** Builds records of one connection with per-direction stream offsets, like the probe does. */
class Conn {
  private offs: Record<Direction, number> = { write: 0, read: 0 };
  private seq = 0;
  ts = 1_000n;
  constructor(
    readonly ssl = 0xabc,
    readonly pid = 4242,
  ) {}
  get key(): string {
    return connKey({ host: 'h', boot_id: 'b', run: 7, pid: this.pid, ssl: this.ssl });
  }
  rec(dir: Direction, data: Uint8Array | string, at?: number): RawSslRecord {
    const bytes = typeof data === 'string' ? enc(data) : data;
    const off = at ?? this.offs[dir];
    this.offs[dir] = Math.max(this.offs[dir], off + bytes.length);
    this.ts += 10n;
    return {
      v: 1,
      kind: 'ssl',
      host: 'h',
      boot_id: 'b',
      run: 7,
      seq: this.seq++,
      ts_boot_ns: this.ts,
      ts_wall_ns: this.ts,
      pid: this.pid,
      tid: this.pid + 1,
      uid: 1000,
      comm: 'node',
      ssl: this.ssl,
      fn: dir === 'write' ? 'SSL_write' : 'SSL_read',
      dir,
      len: bytes.length,
      frag_offset: 0,
      frag_total: bytes.length,
      stream_offset: off,
      partition: 3,
      data: bytes,
    };
  }
  /** Records for `bytes` cut at `cuts` (offsets into bytes). */
  split(dir: Direction, bytes: Uint8Array, cuts: number[]): RawSslRecord[] {
    const pts = [0, ...cuts.filter((c) => c > 0 && c < bytes.length), bytes.length];
    const out: RawSslRecord[] = [];
    for (let i = 0; i + 1 < pts.length; i++) out.push(this.rec(dir, bytes.subarray(pts[i], pts[i + 1])));
    return out;
  }
}

function feed(p: HttpStreamParser, recs: RawSslRecord[]): ParseOutput & { perPush: ParseOutput[] } {
  const events: HttpEvent[] = [];
  const deadLetters: ParserDeadLetter[] = [];
  const perPush: ParseOutput[] = [];
  for (const r of recs) {
    const o = p.push(r);
    perPush.push(o);
    events.push(...o.events);
    deadLetters.push(...o.deadLetters);
  }
  return { events, deadLetters, perPush };
}

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
/** A compact, comparable view of events (ids and times excluded). */
function summary(evs: HttpEvent[]): unknown[] {
  return evs.map((e) => {
    switch (e.type) {
      case 'request':
        return { t: e.type, m: e.method, target: e.target, h: e.headers, body: text(e.body), inc: e.body_incomplete, span: e.span };
      case 'response':
        return { t: e.type, s: e.status, h: e.headers, body: text(e.body), inc: e.body_incomplete, span: e.span };
      case 'response_head':
        return { t: e.type, s: e.status, streaming: e.streaming };
      case 'sse_event':
        return { t: e.type, o: e.ordinal, ev: e.event, d: e.data, id: e.last_event_id };
      case 'response_end':
        return { t: e.type, n: e.events, bytes: e.body_bytes, inc: e.body_incomplete, end: e.span.end_offset };
    }
  });
}

const REQ = 'POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n{"model":"m","stream":true}';
const REQ_CHUNKED =
  'POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Checksum: 42\r\n\r\n';

describe('HttpStreamParser: requests', () => {
  it('parses a Content-Length request with the contract fields', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const r = c.rec('write', REQ);
    const { events, deadLetters } = feed(p, [r]);
    expect(deadLetters).toEqual([]);
    expect(events).toHaveLength(1);
    const e = events[0];
    if (e.type !== 'request') throw new Error('not a request');
    expect(e).toMatchObject({ v: 1, method: 'POST', target: '/v1/chat/completions?x=1', version: 'HTTP/1.1', start_ns: r.ts_wall_ns, end_ns: r.ts_wall_ns });
    expect(text(e.body)).toBe('{"model":"m","stream":true}');
    expect(headerValue(e.headers, 'host')).toBe('api.example.com');
    expect(e.span).toEqual({ dir: 'write', start_offset: 0, end_offset: REQ.length });
    expect(e.id).toBe(deriveId('http', c.key, 'write', 0, 'request', 0));
    expect(e.conn).toEqual({ key: c.key, host: 'h', boot_id: 'b', run: 7, pid: 4242, tid: 4243, uid: 1000, comm: 'node', ssl: '0xabc', partition: 3 });
    expect(e.body_incomplete).toBeUndefined();
  });

  it.each([
    ['Content-Length', REQ],
    ['chunked with extensions and trailers', REQ_CHUNKED],
  ])('gives the same request for every split point and byte by byte (%s)', (_name, wire) => {
    const bytes = enc(wire);
    const ref = feed(new HttpStreamParser(), new Conn().split('write', bytes, [])).events;
    expect(ref).toHaveLength(1);
    for (let i = 1; i < bytes.length; i++) {
      const got = feed(new HttpStreamParser(), new Conn().split('write', bytes, [i]));
      expect(got.deadLetters).toEqual([]);
      expect(summary(got.events)).toEqual(summary(ref));
    }
    const c = new Conn();
    const byteByByte = feed(
      new HttpStreamParser(),
      c.split(
        'write',
        bytes,
        Array.from({ length: bytes.length }, (_, i) => i),
      ),
    );
    expect(summary(byteByByte.events)).toEqual(summary(ref));
    // The event is timed by the records that carried its first and last byte.
    expect(byteByByte.events[0].start_ns).toBe(1_010n);
    expect(byteByByte.events[0].end_ns).toBe(1_000n + 10n * BigInt(bytes.length));
  });

  it('removes the chunked framing and appends trailer fields', () => {
    const { events } = feed(new HttpStreamParser(), [new Conn().rec('write', REQ_CHUNKED)]);
    const e = events[0];
    if (e.type !== 'request') throw new Error('not a request');
    expect(text(e.body)).toBe('hello, world');
    expect(e.headers[e.headers.length - 1]).toEqual(['X-Checksum', '42']);
  });

  it('parses two pipelined requests in one write and two responses in one read, paired in order', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const w = 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc';
    const r = 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nAHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nBB';
    const { events } = feed(p, [c.rec('write', w), c.rec('read', r)]);
    expect(summary(events).map((e) => (e as { t: string }).t)).toEqual(['request', 'request', 'response', 'response']);
    const [a, b, ra, rb] = events;
    if (a.type !== 'request' || b.type !== 'request' || ra.type !== 'response' || rb.type !== 'response') throw new Error('types');
    expect([a.target, b.target, text(b.body)]).toEqual(['/a', '/b', 'abc']);
    expect([ra.status, text(ra.body), rb.status, text(rb.body)]).toEqual([200, 'A', 201, 'BB']);
    expect(b.span.start_offset).toBe(w.indexOf('POST'));
    expect(rb.span).toEqual({ dir: 'read', start_offset: r.indexOf('HTTP/1.1 201'), end_offset: r.length });
  });

  it('finalises a request short of its Content-Length when the response begins (deterministic)', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const head = 'POST /v1/messages HTTP/1.1\r\nContent-Length: 100\r\n\r\n';
    const out1 = feed(p, [c.rec('write', head + 'x'.repeat(40)), c.rec('write', 'y'.repeat(20))]);
    expect(out1.events).toEqual([]);
    expect(p.consumedOffset(c.key, 'write')).toBe(0);
    const out2 = p.push(c.rec('read', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    expect(out2.events.map((e) => e.type)).toEqual(['request', 'response']);
    const req = out2.events[0];
    if (req.type !== 'request') throw new Error('not a request');
    expect(req.body_incomplete).toBe('short');
    expect(req.body_missing_bytes).toBe(40);
    expect(text(req.body)).toBe('x'.repeat(40) + 'y'.repeat(20));
    expect(p.consumedOffset(c.key, 'write')).toBe(head.length + 60);
    // The connection carries on: the next request parses normally.
    const out3 = p.push(c.rec('write', 'GET /next HTTP/1.1\r\n\r\n'));
    expect(out3.events.map((e) => (e.type === 'request' ? e.target : e.type))).toEqual(['/next']);
    expect(out3.deadLetters).toEqual([]);
  });

  it('does not cut a request body short on an interim 100 Continue when it expects one', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    feed(p, [c.rec('write', 'PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n')]);
    expect(p.push(c.rec('read', 'HTTP/1.1 100 Continue\r\n\r\n')).events).toEqual([]);
    const { events } = feed(p, [c.rec('write', 'data'), c.rec('read', 'HTTP/1.1 204 No Content\r\n\r\n')]);
    expect(events.map((e) => e.type)).toEqual(['request', 'response']);
    if (events[0].type !== 'request' || events[1].type !== 'response') throw new Error('types');
    expect(text(events[0].body)).toBe('data');
    expect(events[0].body_incomplete).toBeUndefined();
    expect(events[1].status).toBe(204);
    expect(p.stats().interimResponses).toBe(1);
  });
});

describe('HttpStreamParser: responses', () => {
  it('knows HEAD, 204 and 304 responses have no body even with Content-Length', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const w = 'HEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\n';
    const r =
      'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n' +
      'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n' +
      'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n' +
      'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody';
    const { events, deadLetters } = feed(p, [c.rec('write', w), c.rec('read', r)]);
    expect(deadLetters).toEqual([]);
    const res = events.filter((e) => e.type === 'response');
    expect(res.map((e) => (e.type === 'response' ? [e.status, text(e.body)] : null))).toEqual([
      [200, ''],
      [204, ''],
      [304, ''],
      [200, 'body'],
    ]);
    expect(p.consumedOffset(c.key, 'read')).toBe(r.length);
  });

  it('decodes gzip, deflate (zlib and raw) and br bodies', () => {
    const body = JSON.stringify({ hello: 'wörld', n: [1, 2, 3] });
    const codings: Array<[string, Buffer]> = [
      ['gzip', zlib.gzipSync(body)],
      ['deflate', zlib.deflateSync(body)],
      ['deflate', zlib.deflateRawSync(body)],
      ['br', zlib.brotliCompressSync(body)],
      ['gzip, br', zlib.brotliCompressSync(zlib.gzipSync(body))],
    ];
    for (const [coding, payload] of codings) {
      const c = new Conn();
      const p = new HttpStreamParser();
      const head = enc(`HTTP/1.1 200 OK\r\nContent-Encoding: ${coding}\r\nContent-Length: ${payload.length}\r\n\r\n`);
      const { events, deadLetters } = feed(p, c.split('read', Buffer.concat([head, payload]), [head.length - 3, head.length + 2]));
      expect(deadLetters).toEqual([]);
      const e = events[0];
      if (e.type !== 'response') throw new Error('not a response');
      expect(text(e.body)).toBe(body);
    }
  });

  it('reports a content-coding failure: body kept raw, body_incomplete decode_error, one dead letter', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const bad = zlib.gzipSync('some json that will not survive');
    bad[bad.length - 6] ^= 0xff; // breaks the CRC32 trailer
    const r = c.rec('read', Buffer.concat([enc(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${bad.length}\r\n\r\n`), bad]));
    const { events, deadLetters } = feed(p, [r]);
    expect(events).toHaveLength(1);
    const e = events[0];
    if (e.type !== 'response') throw new Error('not a response');
    expect(e.body_incomplete).toBe('decode_error');
    expect(Buffer.from(e.body).equals(bad)).toBe(true);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({ reason: 'decode_error', stage: 'parser', conn_key: c.key, input_id: 'b:7:0', input_subject: 'agentsight.raw.ssl.h.3' });
    expect(deadLetters[0].id).toBe(deriveId('dlq', 'parser', 'b:7:0', 'decode_error'));
    expect(p.consumedOffset(c.key, 'read')).toBe(r.data.length);
  });

  it('ends a response without length at eviction (connection close)', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const out = feed(p, [c.rec('read', 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npart 1, '), c.rec('read', 'part 2')]);
    expect(out.events).toEqual([]);
    expect(p.evictIdle(500n)).toEqual([]);
    const sink: ParseOutput = { events: [], deadLetters: [] };
    expect(p.evictIdle(c.ts + 1n, sink)).toEqual([c.key]);
    expect(summary(sink.events)).toEqual([{ t: 'response', s: 200, h: [['Content-Type', 'text/plain']], body: 'part 1, part 2', inc: undefined, span: { dir: 'read', start_offset: 0, end_offset: 59 } }]);
    expect(p.stats().connections).toBe(0);
  });

  it('skips a message over maxMessageBytes with a too_large dead letter and parses the next one', () => {
    const c = new Conn();
    const p = new HttpStreamParser({ maxMessageBytes: 10 });
    const { events, deadLetters } = feed(p, [
      c.rec('read', 'HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789'),
      c.rec('read', '0123456789HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
      c.rec('read', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n8\r\n01234567\r\n0\r\n\r\n'),
    ]);
    expect(deadLetters.map((d) => d.reason)).toEqual(['too_large', 'too_large']);
    expect(events.map((e) => (e.type === 'response' ? text(e.body) : e.type))).toEqual(['ok']);
  });

  it('reports an unfinished last SSE event over maxMessageBytes as too_large when the stream ends, and ends the response', () => {
    const c = new Conn();
    const p = new HttpStreamParser({ maxMessageBytes: 64 });
    const body = `data: ${'a'.repeat(40)}\ndata: ${'b'.repeat(40)}`;
    const { events, deadLetters } = feed(p, [
      c.rec('read', `HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`),
    ]);
    expect(deadLetters.map((d) => d.reason)).toEqual(['too_large']);
    expect(events.map((e) => e.type)).toEqual(['response_head', 'response_end']);
  });
});

/** An SSE body with every line-ending style, comments, multi-line data, ids, empty data and an unterminated tail. */
const SSE_BODY =
  ': keep-alive comment\r\n' +
  'event: message_start\r\ndata: {"type":"message_start"}\r\n\r\n' +
  'event: ping\ndata: {"type": "ping"}\n\n' +
  'data:no-space\rdata:  two spaces\r\r' +
  'id: 7\ndata: first\ndata: second\nretry: 1000\n\n' +
  'event: only-type-no-data\n\n' +
  'data\n\n' +
  'data: é ü 中文\r\n\r\n' +
  'data: unterminated';
const SSE_EXPECTED = [
  { t: 'sse_event', o: 0, ev: 'message_start', d: '{"type":"message_start"}', id: undefined },
  { t: 'sse_event', o: 1, ev: 'ping', d: '{"type": "ping"}', id: undefined },
  { t: 'sse_event', o: 2, ev: 'message', d: 'no-space\n two spaces', id: undefined },
  { t: 'sse_event', o: 3, ev: 'message', d: 'first\nsecond', id: '7' },
  { t: 'sse_event', o: 4, ev: 'message', d: '', id: '7' },
  { t: 'sse_event', o: 5, ev: 'message', d: 'é ü 中文', id: '7' },
];

/** gzip with a sync flush after each piece, as streaming servers do. */
async function gzipFlushed(pieces: string[]): Promise<Buffer> {
  const gz = zlib.createGzip();
  const out: Buffer[] = [];
  gz.on('data', (b: Buffer) => out.push(b));
  for (const p of pieces) {
    gz.write(p);
    await new Promise<void>((res) => gz.flush(zlib.constants.Z_SYNC_FLUSH, () => res()));
  }
  await new Promise<void>((res) => {
    gz.on('end', () => res());
    gz.end();
  });
  return Buffer.concat(out);
}

function chunked(body: Buffer, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < body.length; i += size) {
    const c = body.subarray(i, i + size);
    parts.push(enc(`${c.length.toString(16)}\r\n`), c, enc('\r\n'));
  }
  parts.push(enc('0\r\n\r\n'));
  return Buffer.concat(parts);
}

describe('HttpStreamParser: server-sent events', () => {
  let wire: Buffer;
  let firstFlushEnd: number;
  beforeAll(async () => {
    const pieces = SSE_BODY.split(/(?<=\n\n)/);
    const gz = await gzipFlushed(pieces);
    const head = enc('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n');
    wire = Buffer.concat([head, chunked(gz, 7)]);
    // Wire position by which the first flush (comment + message_start) is complete, with a chunk-framing margin.
    const firstGz = (await gzipFlushed([pieces[0]])).length - 20; // minus the gzip trailer and final empty block
    firstFlushEnd = head.length + Math.ceil(firstGz / 7) * 12 + 12;
  });

  it('emits response_head, one sse_event per event per WHATWG, and response_end', () => {
    const c = new Conn();
    const { events, deadLetters } = feed(new HttpStreamParser(), [c.rec('read', wire)]);
    expect(deadLetters).toEqual([]);
    expect(summary(events)).toEqual([
      { t: 'response_head', s: 200, streaming: true },
      ...SSE_EXPECTED,
      { t: 'response_end', n: 6, bytes: Buffer.byteLength(SSE_BODY), inc: undefined, end: wire.length },
    ]);
    expect(events.map((e) => e.id)).toEqual(events.map((e) => deriveId('http', c.key, 'read', 0, e.type, e.type === 'sse_event' ? e.ordinal : 0)));
  });

  it('gives the same events for every split point, and yields them as the bytes arrive (byte by byte)', () => {
    const ref = summary(feed(new HttpStreamParser(), [new Conn().rec('read', wire)]).events);
    for (let i = 1; i < wire.length; i++) {
      const got = feed(new HttpStreamParser(), new Conn().split('read', wire, [i]));
      expect(got.deadLetters).toEqual([]);
      expect(summary(got.events)).toEqual(ref);
    }
    const c = new Conn();
    const p = new HttpStreamParser();
    const got = feed(
      p,
      c.split(
        'read',
        wire,
        Array.from({ length: wire.length }, (_, i) => i),
      ),
    );
    expect(summary(got.events)).toEqual(ref);
    const firstEventAt = got.perPush.findIndex((o) => o.events.some((e) => e.type === 'sse_event'));
    expect(firstEventAt).toBeGreaterThan(0);
    expect(firstEventAt).toBeLessThan(firstFlushEnd);
    // consumedOffset stays at the response start until the stream ends.
    expect(p.consumedOffset(c.key, 'read')).toBe(wire.length);
  });

  it('keeps consumedOffset at the response start while the stream is open', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    feed(p, [c.rec('write', 'GET /s HTTP/1.1\r\n\r\n')]);
    const out = feed(p, c.split('read', wire, [wire.length - 3]));
    expect(p.consumedOffset(c.key, 'write')).toBe(19);
    expect(out.perPush[0].events.some((e) => e.type === 'sse_event')).toBe(true);
    expect(out.perPush[1].events.map((e) => e.type)).toEqual(['response_end']);
    const p2 = new HttpStreamParser();
    feed(p2, [new Conn().rec('read', wire.subarray(0, wire.length - 3))]);
    expect(p2.consumedOffset(c.key, 'read')).toBe(0);
  });

  it('ends a corrupt gzip stream with decode_error (response_end + one dead letter)', () => {
    const gz = zlib.gzipSync('data: a\n\n'.repeat(50));
    const bad = Buffer.from(gz);
    bad.fill(0x5a, 12, 30);
    const wireBad = Buffer.concat([enc(`HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Encoding: gzip\r\nContent-Length: ${bad.length}\r\n\r\n`), bad]);
    const { events, deadLetters } = feed(new HttpStreamParser(), [new Conn().rec('read', wireBad)]);
    expect(events.map((e) => e.type)).toEqual(['response_head', 'response_end']);
    const end = events[1];
    if (end.type !== 'response_end') throw new Error('types');
    expect(end.body_incomplete).toBe('decode_error');
    expect(deadLetters.map((d) => d.reason)).toEqual(['decode_error']);
  });
});

describe('HttpStreamParser: garbage, other protocols, resync', () => {
  it('binary garbage yields exactly one not_http dead letter per direction; other connections are unaffected', () => {
    const bad = new Conn(0xbad);
    const good = new Conn(0x600d);
    const p = new HttpStreamParser();
    const garbage = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37 + 11) & 0xff));
    const { events, deadLetters } = feed(p, [
      bad.rec('write', garbage),
      good.rec('write', 'GET /ok HTTP/1.1\r\n\r\n'),
      bad.rec('write', garbage),
      bad.rec('write', 'still not http\r\n\r\n'),
      bad.rec('read', garbage),
      good.rec('read', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
    ]);
    expect(deadLetters.map((d) => [d.reason, d.conn_key])).toEqual([
      ['not_http', bad.key],
      ['not_http', bad.key],
    ]);
    expect(Buffer.from(deadLetters[0].sample).equals(garbage)).toBe(true);
    expect(deadLetters[0].error).toMatch(/^write:/);
    expect(events.map((e) => e.conn.key)).toEqual([good.key, good.key]);
    // Discarded bytes count as consumed.
    expect(p.consumedOffset(bad.key, 'write')).toBe(600 + 18);
    // A plausible request line at a record start brings the direction back.
    const back = p.push(bad.rec('write', 'GET /back HTTP/1.1\r\n\r\n'));
    expect(back.events.map((e) => (e.type === 'request' ? e.target : ''))).toEqual(['/back']);
  });

  it('the HTTP/2 preface at the start of a connection switches it to HTTP/2 (h2/h2-parser.spec.ts); later, it is unsupported_protocol', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const preface = enc('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
    const h2 = feed(p, [c.rec('write', Buffer.concat([preface, settings])), c.rec('read', settings), c.rec('write', settings)]);
    expect(h2.deadLetters).toEqual([]);
    expect(p.stats().h2Connections).toBe(1);
    expect(p.consumedOffset(c.key, 'read')).toBe(9);
    const d = new Conn(0xdef);
    const { events, deadLetters } = feed(p, [d.rec('write', 'GET / HTTP/1.1\r\n\r\n'), d.rec('read', 'HTTP/1.1 204 No Content\r\n\r\n'), d.rec('write', Buffer.concat([preface, settings]))]);
    expect(events.map((e) => e.type)).toEqual(['request', 'response']);
    expect(deadLetters.map((x) => x.reason)).toEqual(['unsupported_protocol']);
    expect(text(deadLetters[0].sample)).toContain('PRI * HTTP/2.0');
  });

  it('a malformed header block yields http_parse_error, then the direction resyncs', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const { events, deadLetters } = feed(p, [c.rec('write', 'GET /a HTTP/1.1\r\nno colon here\r\n\r\n'), c.rec('write', 'GET /b HTTP/1.1\r\nHost: x\r\n\r\n')]);
    expect(deadLetters.map((d) => d.reason)).toEqual(['http_parse_error']);
    expect(text(deadLetters[0].sample)).toContain('no colon here');
    expect(events.map((e) => (e.type === 'request' ? e.target : ''))).toEqual(['/b']);
  });

  it('a stream joined mid-message resyncs silently (counted) at the next message', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const { events, deadLetters } = feed(p, [c.rec('read', '..tail of a body we never saw the head of', 5000), c.rec('read', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nX')]);
    expect(deadLetters).toEqual([]);
    expect(events.map((e) => (e.type === 'response' ? text(e.body) : ''))).toEqual(['X']);
    expect(events[0].span.start_offset).toBe(5000 + 41);
    expect(p.stats()).toMatchObject({ lateJoins: 1, resyncs: 1 });
  });

  it('a hole in the stream ends the message as short and resyncs', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const head = 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n';
    const out = feed(p, [c.rec('read', head + '0123'), c.rec('read', 'HTTP/1.1 204 No Content\r\n\r\n', head.length + 10 + 5)]);
    expect(out.deadLetters).toEqual([]);
    expect(summary(out.events)).toEqual([
      { t: 'response', s: 200, h: [['Content-Length', '10']], body: '0123', inc: 'short', span: { dir: 'read', start_offset: 0, end_offset: head.length + 4 } },
      { t: 'response', s: 204, h: [], body: '', inc: undefined, span: { dir: 'read', start_offset: head.length + 15, end_offset: head.length + 15 + 27 } },
    ]);
    expect(p.stats()).toMatchObject({ gaps: 1, gapBytes: 11 });
  });

  it('a record arriving after its hole was declared a gap is late: one late_record dead letter, not a duplicate', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const head = 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n';
    const next = 'HTTP/1.1 204 No Content\r\n\r\n';
    const first = c.rec('read', head + '0123');
    const missing = c.rec('read', '456789', head.length + 4);
    const after = c.rec('read', next, head.length + 10);
    // `missing` comes behind `after` (say republished after a broker restart): the hole was declared a gap before.
    const out = feed(p, [first, after, missing, missing, first]);
    expect((summary(out.events) as Array<{ s: number; body: string; inc?: string }>).map((e) => [e.s, e.body, e.inc])).toEqual([[200, '0123', 'short'], [204, '', undefined]]);
    expect(out.deadLetters.map((d) => [d.reason, d.error])).toEqual([['late_record', `6 bytes of read offsets [${head.length + 4}, ${head.length + 10}) arrived after that hole was declared a gap; not parsed`]]);
    expect(text(out.deadLetters[0].sample)).toBe('456789');
    // its second copy and the replayed first record are duplicates
    expect(p.stats()).toMatchObject({ gaps: 1, gapBytes: 6, lateRecords: 1, lateBytes: 6, duplicateBytes: 6 + first.data.length });
  });

  it('a late record straddling a declared hole and received bytes: only the bytes of the hole are late', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const w = 'POST /one HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc';
    const out = feed(p, [c.rec('write', w.slice(0, 10)), c.rec('write', w.slice(20), 20), c.rec('write', w.slice(5, 25), 5)]);
    expect(out.deadLetters.map((d) => d.reason)).toEqual(['late_record']);
    expect(p.stats()).toMatchObject({ gaps: 1, gapBytes: 10, lateRecords: 1, lateBytes: 10, duplicateBytes: 10 });
  });

  it('never throws: a record without data becomes a contract dead letter', () => {
    const p = new HttpStreamParser();
    const broken = { ...new Conn().rec('write', 'x'), data: undefined } as unknown as RawSslRecord;
    const out = p.push(broken);
    expect(out.events).toEqual([]);
    expect(out.deadLetters.map((d) => d.reason)).toEqual(['contract']);
  });
});

describe('HttpStreamParser: replays, duplicates and restarts', () => {
  const w1 = 'POST /one HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc';
  const w2 = 'POST /two HTTP/1.1\r\nContent-Length: 3\r\n\r\ndef';

  it('ignores duplicate and already-consumed bytes (whole and partial overlaps)', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const a = c.rec('write', w1.slice(0, 20));
    const b = c.rec('write', w1.slice(20));
    const overlap = c.rec('write', (w1 + w2).slice(30, 60), 30);
    const rest = c.rec('write', (w1 + w2).slice(60), 60);
    const { events, deadLetters } = feed(p, [a, a, b, a, b, overlap, overlap, rest, rest]);
    expect(deadLetters).toEqual([]);
    expect(events.map((e) => (e.type === 'request' ? `${e.target}:${text(e.body)}` : ''))).toEqual(['/one:abc', '/two:def']);
    expect(p.stats().duplicateBytes).toBe(20 + 20 + (w1.length - 20) + (w1.length - 30) + 30 + (w1.length + w2.length - 60));
  });

  it('resumeAt skips what a previous run consumed; the replay yields the same ids', () => {
    const c = new Conn();
    const recs = [c.rec('write', w1), c.rec('write', w2.slice(0, 10)), c.rec('write', w2.slice(10))];
    const first = new HttpStreamParser();
    const all = feed(first, recs).events;
    expect(all).toHaveLength(2);
    // Suppose the first run died after acking only the first request.
    const restarted = new HttpStreamParser();
    restarted.resumeAt(c.key, 'write', w1.length);
    const replay = feed(restarted, recs);
    expect(replay.deadLetters).toEqual([]);
    expect(replay.events.map((e) => e.id)).toEqual([all[1].id]);
    expect(summary(replay.events)).toEqual(summary([all[1]]));
  });

  it('consumedOffset moves only at message boundaries', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const seen: number[] = [];
    for (const r of c.split('write', enc(w1 + w2), [5, w1.length - 1, w1.length, w1.length + 10])) {
      p.push(r);
      seen.push(p.consumedOffset(c.key, 'write'));
    }
    expect(seen).toEqual([0, 0, w1.length, w1.length, w1.length + w2.length]);
    expect(p.consumedOffset('unknown', 'read')).toBe(0);
  });

  it('evictIdle drops idle connections only, finalising unfinished bodies as short', () => {
    const old = new Conn(1);
    const fresh = new Conn(2);
    fresh.ts = 10_000n;
    const p = new HttpStreamParser();
    feed(p, [old.rec('write', 'POST /x HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc'), fresh.rec('write', 'GET / HTTP/1.1\r\n')]);
    const sink: ParseOutput = { events: [], deadLetters: [] };
    expect(p.evictIdle(5_000n, sink)).toEqual([old.key]);
    const e = sink.events[0];
    if (e.type !== 'request') throw new Error('not a request');
    expect([text(e.body), e.body_incomplete, e.body_missing_bytes]).toEqual(['abc', 'short', 6]);
    expect(sink.events.map((x) => x.type)).toEqual(['request', 'connection_end']);
    expect(sink.events[1]).toMatchObject({ type: 'connection_end', reason: 'idle', conn: { key: old.key } });
    expect(p.stats().connections).toBe(1);
  });

  it('close() ends in-flight messages and makes every byte of the connection consumed', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const stream = 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n10\r\ndata: [DONE]\n\n  \r\n';
    feed(p, [c.rec('write', 'POST /s HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}'), c.rec('read', stream)]);
    expect(p.consumedOffset(c.key, 'read')).toBe(0);
    const out = p.close({ host: 'h', boot_id: 'b', run: 7, pid: c.pid, tid: c.pid, uid: 0, comm: 'agent', ssl: c.ssl, partition: 3, ts_wall_ns: 99_999n, write_offset: 41, read_offset: stream.length + 7 });
    expect(summary(out.events)).toEqual([{ t: 'response_end', n: 1, bytes: 16, inc: 'short', end: stream.length }]);
    // The connection's last event says it ended; nothing it had is left pending.
    expect(out.events.map((e) => e.type)).toEqual(['response_end', 'connection_end']);
    expect(out.events[1]).toMatchObject({ type: 'connection_end', reason: 'close', conn: { key: c.key, pid: c.pid } });
    expect(p.consumedOffset(c.key, 'write')).toBe(41);
    expect(p.consumedOffset(c.key, 'read')).toBe(stream.length + 7);
    const later: ParseOutput = { events: [], deadLetters: [] };
    expect(p.evictIdle(99_999n + 1n, later)).toEqual([c.key]);
    expect(later.events).toEqual([]); // ended once, not again at eviction
  });

  it('a head cut short by the connection end is an http_parse_error dead letter with its bytes, at close and at eviction', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const head = 'POST /v1/messages HTTP/1.1\r\nHost: api\r\n';
    feed(p, [c.rec('write', 'GET /a HTTP/1.1\r\n\r\n'), c.rec('read', 'HTTP/1.1 204 No Content\r\n\r\n'), c.rec('write', head), c.rec('read', 'HTT')]);
    const out = p.close({ host: 'h', boot_id: 'b', run: 7, pid: c.pid, tid: c.pid, uid: 0, comm: 'agent', ssl: c.ssl, partition: 3, ts_wall_ns: 99_999n, write_offset: 19 + head.length, read_offset: 30 });
    expect(out.deadLetters.map((d) => [d.reason, d.error, text(d.sample), d.conn_key])).toEqual([
      ['http_parse_error', `write: connection closed inside a request head: ${head.length} bytes at stream offset 19 without a complete start line and header block`, head, c.key],
      ['http_parse_error', 'read: connection closed inside a response head: 3 bytes at stream offset 27 without a complete start line and header block', 'HTT', c.key],
    ]);
    expect(out.events.map((e) => e.type)).toEqual(['connection_end']);

    const idle = new Conn(2);
    const q = new HttpStreamParser();
    feed(q, [idle.rec('write', 'GET /b HTT')]);
    const sink: ParseOutput = { events: [], deadLetters: [] };
    expect(q.evictIdle(1n << 40n, sink)).toEqual([idle.key]);
    expect(sink.deadLetters.map((d) => [d.reason, d.error])).toEqual([['http_parse_error', 'write: connection evicted idle inside a request head: 10 bytes at stream offset 0 without a complete start line and header block']]);
  });

  it('bytes after a gap that only looked like a start line stay silent at the end (a resync guess, not a message)', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    feed(p, [c.rec('write', 'GET /a HTTP/1.1\r\n\r\n'), c.rec('write', 'POST /b HT', 500)]);
    const out = p.close({ host: 'h', boot_id: 'b', run: 7, pid: c.pid, tid: c.pid, uid: 0, comm: 'agent', ssl: c.ssl, partition: 3, ts_wall_ns: 99_999n, write_offset: 510, read_offset: 0 });
    expect(out.deadLetters).toEqual([]);
    expect(p.stats().discardedBytes).toBe(10);
  });

  it('a fresh connection whose read side ends inside what began as an HTTP/2 frame is an h2_error dead letter', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    feed(p, [c.rec('read', Uint8Array.from([0, 0, 6]))]);
    const out = p.close({ host: 'h', boot_id: 'b', run: 7, pid: c.pid, tid: c.pid, uid: 0, comm: 'agent', ssl: c.ssl, partition: 3, ts_wall_ns: 99_999n, write_offset: 0, read_offset: 3 });
    expect(out.deadLetters.map((d) => [d.reason, d.error, [...d.sample]])).toEqual([['h2_error', 'read: connection ended inside a frame cut short (3 of its octets) at stream offset 0', [0, 0, 6]]]);
  });
});
