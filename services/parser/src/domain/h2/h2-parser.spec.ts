/**
 * HTTP/2 through the HttpStreamParser, on the bytes of REAL HTTP/2 sessions: a node:http2 client and the replay
 * server's handler on a node:http2 server talk h2 (prior knowledge, same frames as over TLS) through an in-process TCP
 * proxy that records what the client wrote and read, in order, as the probe would. Plus hand-built frames for what real
 * clients rarely send (padding, CONTINUATION, trailers, GOAWAY, HPACK errors).
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as zlib from 'node:zlib';
import { connKey, type Direction, type HttpEvent, type RawSslRecord } from '@agentsight/contracts';
import { createReplayHandler, fixtureBytes, loadFixture, type RecordedRequest } from '@agentsight/testkit';
import { HttpStreamParser } from '../http-stream-parser';
import { run } from '../parser-run.test';
import type { ParserDeadLetter } from '../types';
import { CLIENT_PREFACE, encodeFrame, Flags, FrameType } from './frames';
import { huffmanEncode } from './huffman';

// ------------------------------------------------------------------------------------------------------------------
// Capture of real sessions

interface Chunk {
  dir: Direction;
  data: Buffer;
}

/**
 * Runs `client(session)` against a cleartext node:http2 server with the replay handler, through a recording proxy.
 * Resolves with every chunk the proxy forwarded, in order (`write` = client → server).
 */
async function recordSession(client: (session: http2.ClientHttp2Session) => Promise<void>): Promise<Chunk[]> {
  const requests: RecordedRequest[] = [];
  const server = http2.createServer(createReplayHandler({}, requests));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const chunks: Chunk[] = [];
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((down) => {
    const up = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    sockets.add(down).add(up);
    down.on('data', (d) => {
      chunks.push({ dir: 'write', data: Buffer.from(d) });
      up.write(d);
    });
    up.on('data', (d) => {
      chunks.push({ dir: 'read', data: Buffer.from(d) });
      down.write(d);
    });
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
    down.on('error', () => undefined);
    up.on('error', () => undefined);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const session = http2.connect(`http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`);
  try {
    await client(session);
  } finally {
    await new Promise<void>((r) => session.close(() => r()));
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => proxy.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  }
  return chunks;
}

/** One POST on `session`, read to the end (or cancelled with RST_STREAM CANCEL after `cancelAfter` body bytes). */
function post(session: http2.ClientHttp2Session, path: string, headers: Record<string, string>, body: string, cancelAfter?: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/json', ...headers });
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      parts.push(c);
      n += c.length;
      if (cancelAfter !== undefined && n >= cancelAfter && !req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
    });
    req.on('close', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
    req.end(body);
  });
}

// ------------------------------------------------------------------------------------------------------------------
// Records and parser runs

class Conn {
  private offs: Record<Direction, number> = { write: 0, read: 0 };
  private seq = 0;
  ts = 1_000n;
  constructor(readonly ssl = 0x42) {}
  get key(): string {
    return connKey({ host: 'h', boot_id: 'b', run: 1, pid: 77, ssl: this.ssl });
  }
  rec(dir: Direction, data: Uint8Array, at?: number): RawSslRecord {
    const off = at ?? this.offs[dir];
    this.offs[dir] = Math.max(this.offs[dir], off + data.length);
    this.ts += 10n;
    return {
      v: 1, kind: 'ssl', host: 'h', boot_id: 'b', run: 1, seq: this.seq++, ts_boot_ns: this.ts, ts_wall_ns: this.ts, pid: 77, tid: 78,
      uid: 0, comm: 'curl', ssl: this.ssl, fn: dir === 'write' ? 'SSL_write' : 'SSL_read', dir, len: data.length, frag_offset: 0,
      frag_total: data.length, stream_offset: off, partition: 1, data,
    };
  }
}

const recordsOf = (chunks: Chunk[], conn = new Conn()) => chunks.map((c) => conn.rec(c.dir, c.data));

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
/** Comparable view of an event (times excluded, ids included: they must not depend on how bytes were cut). */
function view(e: HttpEvent): unknown {
  const { start_ns: _s, end_ns: _e, conn: _c, ...rest } = e as HttpEvent & Record<string, unknown>;
  const o: Record<string, unknown> = { ...rest };
  if ('body' in e) o.body = text(e.body);
  return o;
}
/** Events grouped per stream, in order within each stream (the order across streams depends on the cuts). */
function perStream(events: HttpEvent[]): Record<string, unknown[]> {
  const g: Record<string, unknown[]> = {};
  for (const e of events) (g[String(e.stream_id ?? '-')] ??= []).push(view(e));
  return g;
}

/** The SSE `data:` payloads of a recorded stream fixture. */
function sseData(file: string): string[] {
  return fixtureBytes(loadFixture(file)).toString('utf8').split(/\n\n/).filter((b) => b.trim()).map((b) => b.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n'));
}

const OPENAI = 'vercel__openai-text.chunks.txt';
const ANTHROPIC = 'vercel__anthropic-text.chunks.txt';
const JSON_FX = 'vercel__openai-text.json';
const REQ_BODY = JSON.stringify({ model: 'gpt-4.1-nano', stream: true, messages: [{ role: 'user', content: 'hi' }] });

// ------------------------------------------------------------------------------------------------------------------

describe('HTTP/2 sessions of a real node:http2 client', () => {
  let single: Chunk[];
  let three: Chunk[];
  let cancelled: Chunk[];

  beforeAll(async () => {
    single = await recordSession(async (s) => {
      await post(s, '/v1/chat/completions', { 'x-replay-fixture': OPENAI, 'x-replay-gzip': '1' }, REQ_BODY);
    });
    three = await recordSession(async (s) => {
      await Promise.all([
        post(s, '/v1/chat/completions', { 'x-replay-fixture': OPENAI, 'x-replay-delay-ms': '3' }, REQ_BODY),
        post(s, '/v1/messages', { 'x-replay-fixture': ANTHROPIC, 'x-replay-delay-ms': '2', 'x-replay-gzip': '1' }, '{"model":"claude"}'),
        post(s, '/v1/chat/completions', { 'x-replay-fixture': JSON_FX }, '{"model":"gpt-4.1-nano"}'),
      ]);
    });
    cancelled = await recordSession(async (s) => {
      await post(s, '/v1/messages', { 'x-replay-fixture': ANTHROPIC, 'x-replay-delay-ms': '20' }, '{}', 200);
    });
  }, 60_000);

  it('one gzip-compressed SSE stream: request, response_head, every event decoded, response_end', () => {
    const c = new Conn();
    const { events, deadLetters } = run(new HttpStreamParser(), recordsOf(single, c));
    expect(deadLetters).toEqual([]);
    const req = events[0];
    expect(req.type).toBe('request');
    if (req.type !== 'request') return;
    expect([req.method, req.target, req.version, req.stream_id]).toEqual(['POST', '/v1/chat/completions', 'HTTP/2', 1]);
    expect(req.headers[0][0]).toBe('host');
    expect(req.headers.some(([k]) => k.startsWith(':'))).toBe(false);
    expect(text(req.body)).toBe(REQ_BODY);
    expect(req.span).toMatchObject({ dir: 'write' });
    const head = events[1];
    expect(head).toMatchObject({ type: 'response_head', status: 200, reason: '', version: 'HTTP/2', streaming: true, stream_id: 1 });
    if (head.type === 'response_head') expect(head.headers.find(([k]) => k === 'content-encoding')?.[1]).toBe('gzip');
    const sse = events.filter((e) => e.type === 'sse_event');
    expect(sse.map((e) => (e.type === 'sse_event' ? e.data : ''))).toEqual(sseData(OPENAI));
    expect(sse.map((e) => (e.type === 'sse_event' ? e.ordinal : -1))).toEqual(sse.map((_, i) => i));
    const end = events[events.length - 1];
    expect(end).toMatchObject({ type: 'response_end', events: sse.length, stream_id: 1 });
    expect(end).not.toHaveProperty('body_incomplete');
    // Every byte of both directions is consumed (the client's last frames, e.g. GOAWAY, included).
    const total = (d: Direction) => single.filter((x) => x.dir === d).reduce((n, x) => n + x.data.length, 0);
    const p = new HttpStreamParser();
    run(p, recordsOf(single, new Conn()));
    expect(p.consumedOffset(c.key, 'read')).toBe(total('read'));
    expect(p.consumedOffset(c.key, 'write')).toBe(total('write'));
  });

  it('three concurrent streams on one connection never mix: each equals its fixture', () => {
    const { events, deadLetters } = run(new HttpStreamParser(), recordsOf(three));
    expect(deadLetters).toEqual([]);
    const streams = [...new Set(events.map((e) => e.stream_id))];
    expect(streams).toHaveLength(3);
    // The frames really interleaved: events of different streams alternate somewhere in the output.
    const order = events.filter((e) => e.type === 'sse_event').map((e) => e.stream_id);
    expect(order.some((s, i) => i > 0 && s !== order[i - 1] && order.slice(i + 1).includes(order[i - 1]))).toBe(true);
    const byTarget = new Map<string, HttpEvent[]>();
    for (const sid of streams) {
      const evs = events.filter((e) => e.stream_id === sid);
      const req = evs.find((e) => e.type === 'request');
      if (req?.type !== 'request') throw new Error('no request');
      byTarget.set(`${req.target} ${req.headers.find(([k]) => k === 'x-replay-fixture')?.[1]}`, evs);
    }
    const data = (evs: HttpEvent[]) => evs.flatMap((e) => (e.type === 'sse_event' ? [e.data] : []));
    expect(data(byTarget.get(`/v1/chat/completions ${OPENAI}`)!)).toEqual(sseData(OPENAI));
    expect(data(byTarget.get(`/v1/messages ${ANTHROPIC}`)!)).toEqual(sseData(ANTHROPIC));
    const json = byTarget.get(`/v1/chat/completions ${JSON_FX}`)!.find((e) => e.type === 'response');
    expect(json?.type === 'response' && Buffer.from(json.body).equals(fixtureBytes(loadFixture(JSON_FX)))).toBe(true);
    // Ids are distinct and carry the stream: the same stream layout on another connection gives other ids.
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  /**
   * Where to cut a direction's bytes: every point of its first 512 bytes (preface, SETTINGS, HEADERS, first DATA), and
   * around each later frame: just before and after its start, inside its 9-byte header, just past it; plus every 61st.
   */
  function cutPoints(bytes: Buffer, dir: Direction): number[] {
    const pts = new Set<number>();
    for (let k = 1; k < Math.min(512, bytes.length); k++) pts.add(k);
    let at = dir === 'write' ? CLIENT_PREFACE.length : 0;
    while (at + 9 <= bytes.length) {
      for (const d of [-1, 1, 3, 5, 8, 9, 10]) if (at + d > 0 && at + d < bytes.length) pts.add(at + d);
      at += 9 + bytes.readUIntBE(at, 3);
    }
    for (let k = 512; k < bytes.length; k += 61) pts.add(k);
    return [...pts].sort((a, b) => a - b);
  }

  it('gives the same events per stream for every split point around frames of each direction, and byte by byte', () => {
    const baseline = perStream(run(new HttpStreamParser(), recordsOf(single)).events);
    for (const dir of ['write', 'read'] as Direction[]) {
      const bytes = Buffer.concat(single.filter((x) => x.dir === dir).map((x) => x.data));
      const others = single.filter((x) => x.dir !== dir);
      for (const k of cutPoints(bytes, dir)) {
        const chunks: Chunk[] = dir === 'write'
          ? [{ dir, data: bytes.subarray(0, k) }, { dir, data: bytes.subarray(k) }, ...others]
          : [...others, { dir, data: bytes.subarray(0, k) }, { dir, data: bytes.subarray(k) }];
        const { events, deadLetters } = run(new HttpStreamParser(), recordsOf(chunks));
        if (deadLetters.length || JSON.stringify(perStream(events)) !== JSON.stringify(baseline)) {
          expect({ dir, k, deadLetters, events: perStream(events) }).toEqual({ dir, k, deadLetters: [], events: baseline });
        }
      }
    }
    const bytewise: Chunk[] = three.flatMap((x) => [...x.data].map((b) => ({ dir: x.dir, data: Buffer.from([b]) })));
    expect(perStream(run(new HttpStreamParser(), recordsOf(bytewise)).events)).toEqual(perStream(run(new HttpStreamParser(), recordsOf(three)).events));
  });

  it('resumes after a restart at every record: persisted offsets + HPACK state give exactly the same events', () => {
    const c = new Conn();
    const recs = recordsOf(three, c);
    const all = run(new HttpStreamParser(), recs).events;
    let resumedWithTable = 0;
    for (let cut = 1; cut < recs.length; cut++) {
      const p1 = new HttpStreamParser();
      const before = run(p1, recs.slice(0, cut)).events;
      // What the worker stores in Redis (JSON) and hands to the next owner, who gets every unacked record again.
      const saved = (['write', 'read'] as Direction[]).map((d) => [d, p1.consumedOffset(c.key, d), JSON.parse(JSON.stringify(p1.h2State(c.key, d)))] as const);
      const p2 = new HttpStreamParser();
      for (const [d, off, st] of saved) if (off > 0) p2.resumeAt(c.key, d, off, st);
      if (saved.some(([, off, st]) => off > 0 && st.hpack.entries.length > 0)) resumedWithTable++;
      const after = run(p2, recs).events;
      const seen = new Map<string, unknown>();
      for (const e of [...before, ...after]) seen.set(e.id, view(e));
      expect({ cut, events: [...seen.values()].length }).toEqual({ cut, events: all.length });
      for (const e of all) expect(seen.get(e.id)).toEqual(view(e));
    }
    // Most cuts resume mid-connection with a non-empty dynamic table (without it the HEADERS would not decode).
    expect(resumedWithTable).toBeGreaterThan(recs.length / 2);
  });

  it('a stream the client cancels (RST_STREAM CANCEL) ends as reset, with a stream_reset event', () => {
    const { events, deadLetters } = run(new HttpStreamParser(), recordsOf(cancelled));
    expect(deadLetters).toEqual([]);
    const end = events.find((e) => e.type === 'response_end');
    const reset = { frame: 'RST_STREAM', error_code: 8, error: 'CANCEL', by: 'write' };
    expect(end).toMatchObject({ body_incomplete: 'reset', reset, stream_id: 1 });
    expect(events[events.length - 1]).toMatchObject({ type: 'stream_reset', stream_id: 1, reset });
    expect(events.filter((e) => e.type === 'sse_event').length).toBeLessThan(sseData(ANTHROPIC).length);
  });
});

// ------------------------------------------------------------------------------------------------------------------
// Hand-built frames

/** Literal header field without indexing, new name (RFC 7541 §6.2.2), short strings, optionally Huffman-coded. */
function lit(name: string, value: string, huffman = false): Buffer {
  const s = (t: string) => {
    const raw = Buffer.from(t);
    const b = huffman ? Buffer.from(huffmanEncode(raw)) : raw;
    return Buffer.concat([Buffer.from([(huffman ? 0x80 : 0) | b.length]), b]);
  };
  return Buffer.concat([Buffer.from([0x00]), s(name), s(value)]);
}
/** Literal with incremental indexing, new name (§6.2.1). */
const litIdx = (name: string, value: string) => Buffer.concat([Buffer.from([0x40]), lit(name, value).subarray(1)]);
const settings = (pairs: Array<[number, number]> = []) => encodeFrame(FrameType.SETTINGS, 0, 0, Buffer.concat(pairs.map(([k, v]) => { const b = Buffer.alloc(6); b.writeUInt16BE(k); b.writeUInt32BE(v, 2); return b; })));
const u32 = (...v: number[]) => Buffer.concat(v.map((x) => { const b = Buffer.alloc(4); b.writeUInt32BE(x); return b; }));
const reqHead = (path: string) => Buffer.concat([Buffer.from([0x83, 0x87]), lit(':path', path), lit(':authority', 'api.example')]); // POST, https

describe('HTTP/2 frames built by hand', () => {
  it('padding, priority, CONTINUATION, trailers, SETTINGS first on the read side, Huffman literals', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const block = Buffer.concat([reqHead('/v1/x'), lit('content-type', 'application/json', true), litIdx('x-trace', 'abc')]);
    const padded = (data: Buffer, pad: number) => Buffer.concat([Buffer.from([pad]), data, Buffer.alloc(pad)]);
    const body = Buffer.from('{"a":1}');
    const gz = zlib.gzipSync(Buffer.from('{"ok":true}'));
    const recs = [
      c.rec('read', settings([[1, 8192]])), // the server's SETTINGS arrives first
      c.rec('write', Buffer.concat([CLIENT_PREFACE, settings([[1, 0]]),
        encodeFrame(FrameType.HEADERS, Flags.PRIORITY | Flags.PADDED, 1, Buffer.concat([Buffer.from([3]), u32(0), Buffer.from([15]), block.subarray(0, 10), Buffer.alloc(3)])),
        encodeFrame(FrameType.CONTINUATION, 0, 1, block.subarray(10, 20)),
        encodeFrame(FrameType.CONTINUATION, Flags.END_HEADERS, 1, block.subarray(20)),
        encodeFrame(FrameType.DATA, Flags.PADDED, 1, padded(body.subarray(0, 3), 5)),
        encodeFrame(FrameType.DATA, 0, 1, body.subarray(3)),
        encodeFrame(FrameType.HEADERS, Flags.END_HEADERS | Flags.END_STREAM, 1, lit('x-checksum', 'c0ffee')), // request trailers
      ])),
      c.rec('read', Buffer.concat([
        encodeFrame(FrameType.SETTINGS, Flags.ACK, 0), encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(65535)), encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8)),
        encodeFrame(FrameType.HEADERS, Flags.END_HEADERS, 1, Buffer.concat([Buffer.from([0x88]), lit('content-encoding', 'gzip')])),
        encodeFrame(FrameType.DATA, Flags.PADDED, 1, padded(gz, 7)),
        encodeFrame(FrameType.HEADERS, Flags.END_HEADERS | Flags.END_STREAM, 1, lit('grpc-status', '0')),
      ])),
    ];
    const { events, deadLetters } = run(p, recs);
    expect(deadLetters).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['request', 'response']);
    const [req, res] = events;
    if (req.type !== 'request' || res.type !== 'response') return;
    expect(req.headers).toEqual([['host', 'api.example'], ['content-type', 'application/json'], ['x-trace', 'abc'], ['x-checksum', 'c0ffee']]);
    expect(text(req.body)).toBe('{"a":1}');
    expect(res.headers).toEqual([['content-encoding', 'gzip'], ['grpc-status', '0']]);
    expect(text(res.body)).toBe('{"ok":true}');
    // The client's SETTINGS_HEADER_TABLE_SIZE = 0 binds the server's encoder: a size update above it is an error.
    const bad = run(p, [c.rec('read', encodeFrame(FrameType.HEADERS, Flags.END_HEADERS | Flags.END_STREAM, 3, Buffer.from([0x3f, 0x01, 0x88])))]);
    expect(bad.deadLetters.map((d) => [d.reason, /HPACK: dynamic table size update to 32 above the limit 0/.test(d.error)])).toEqual([['h2_error', true]]);
  });

  it('GOAWAY: client streams above the last-stream-id end as reset; an HPACK error breaks only that direction', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const w = (...f: Buffer[]) => c.rec('write', Buffer.concat(f));
    const r = (...f: Buffer[]) => c.rec('read', Buffer.concat(f));
    const { events, deadLetters } = run(p, [
      w(CLIENT_PREFACE, settings(), encodeFrame(FrameType.HEADERS, Flags.END_HEADERS | Flags.END_STREAM, 1, reqHead('/one'))),
      w(encodeFrame(FrameType.HEADERS, Flags.END_HEADERS, 3, reqHead('/three'))), // body still coming
      w(encodeFrame(FrameType.HEADERS, Flags.END_HEADERS | Flags.END_STREAM, 5, reqHead('/five'))),
      r(settings(), encodeFrame(FrameType.HEADERS, Flags.END_HEADERS, 1, Buffer.concat([Buffer.from([0x88]), lit('content-type', 'text/event-stream')]))),
      r(encodeFrame(FrameType.DATA, 0, 1, Buffer.from('data: a\n\n'))),
      r(encodeFrame(FrameType.GOAWAY, 0, 0, u32(1, 0))),
      r(encodeFrame(FrameType.DATA, Flags.END_STREAM, 1, Buffer.from('data: b\n\n'))),
    ]);
    expect(deadLetters).toEqual([]);
    const goaway = { frame: 'GOAWAY', error_code: 0, error: 'NO_ERROR', by: 'read' };
    expect(events.map((e) => [e.type, e.stream_id, 'body_incomplete' in e ? e.body_incomplete : undefined])).toEqual([
      ['request', 1, undefined], ['request', 5, undefined], ['response_head', 1, undefined], ['sse_event', 1, undefined],
      ['request', 3, 'reset'], ['stream_reset', 3, undefined], ['stream_reset', 5, undefined],
      ['sse_event', 1, undefined], ['response_end', 1, undefined],
    ]);
    expect(events.find((e) => e.type === 'stream_reset' && e.stream_id === 5)).toMatchObject({ reset: goaway });
    // Index 70 does not exist: the read direction's table is lost, it is ignored; the write side carries on.
    const broken = run(p, [
      r(encodeFrame(FrameType.HEADERS, Flags.END_HEADERS | Flags.END_STREAM, 7, Buffer.from([0xc6]))),
      w(encodeFrame(FrameType.HEADERS, Flags.END_HEADERS | Flags.END_STREAM, 9, reqHead('/nine'))),
      r(encodeFrame(FrameType.HEADERS, Flags.END_HEADERS | Flags.END_STREAM, 9, Buffer.from([0x88]))),
    ]);
    expect(broken.deadLetters.map((d) => d.reason)).toEqual(['h2_error']);
    expect(broken.deadLetters[0].error).toMatch(/^read: HPACK: index 70 beyond the dynamic table.*ignored until the connection ends/);
    expect(broken.events.map((e) => [e.type, e.stream_id])).toEqual([['request', 9]]);
    // The process exits: what is open ends as short and the connection ends.
    const closed = p.close({ host: 'h', boot_id: 'b', run: 1, pid: 77, tid: 77, uid: 0, comm: 'curl', ssl: c.ssl, partition: 1, write_offset: 1e6, read_offset: 1e6, ts_wall_ns: 9n });
    expect(closed.events.map((e) => e.type)).toEqual(['connection_end']);
    expect(p.consumedOffset(c.key, 'read')).toBe(1e6);
  });

  it('a hole in the capture breaks that direction with a dead letter; the preface after HTTP/1.1 traffic is unsupported_protocol', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    run(p, [c.rec('write', Buffer.concat([CLIENT_PREFACE, settings(), encodeFrame(FrameType.HEADERS, Flags.END_HEADERS, 1, reqHead('/a'))]))]);
    const gap = run(p, [c.rec('write', encodeFrame(FrameType.DATA, Flags.END_STREAM, 1, Buffer.from('x')), 500)]);
    expect(gap.events.map((e) => [e.type, 'body_incomplete' in e ? e.body_incomplete : null])).toEqual([['request', 'short']]);
    expect(gap.deadLetters.map((d) => d.reason)).toEqual(['h2_error']);
    expect(p.stats().gaps).toBe(1);
    const h1 = new Conn(0x99);
    const q = new HttpStreamParser();
    const out = run(q, [h1.rec('write', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), h1.rec('write', Buffer.concat([CLIENT_PREFACE, settings()]))]);
    expect(out.events.map((e) => e.type)).toEqual(['request']);
    expect(out.deadLetters.map((d) => d.reason)).toEqual(['unsupported_protocol']);
  });
});
