/**
 * Limits on hostile input: decompression bombs (real gzip/brotli streams made by node:zlib, 1 GiB of zeros never
 * allocated), header field counts, HTTP/2 list and HPACK table caps. Each exceeded limit is one dead letter with its
 * reason, and the next exchange on the same connection still parses.
 */
import * as zlib from 'node:zlib';
import type { Direction, HttpEvent, RawSslRecord } from '@agentsight/contracts';
import { decodeAll, DECOMPRESSION_FLOOR_BYTES, DecodeError, IncrementalDecoder, MAX_DECOMPRESSION_RATIO } from './content-coding';
import { MAX_HEADER_FIELDS } from './h1/head';
import { HttpStreamParser } from './http-stream-parser';
import { Conn, run } from './parser-run.test';
import { CLIENT_PREFACE, encodeFrame, Flags, FrameType } from './h2/frames';
import { HpackDecoder, HpackError, MAX_HPACK_TABLE_BYTES } from './h2/hpack';
import type { ParserDeadLetter } from './types';

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

/**
 * A valid gzip member (RFC 1952) of `total` zero bytes (a multiple of 1 MiB), built without allocating them: every
 * 1 MiB segment is deflated from a fresh state and ends with a full flush, so all segments compress to the same bytes,
 * which are repeated; then the final empty block and the CRC-32/ISIZE trailer.
 */
function gzipZeros(total: number): Buffer {
  const zeros = Buffer.alloc(MiB);
  const seg = zlib.deflateRawSync(zeros, { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
  const n = total / MiB;
  let crc = 0;
  for (let i = 0; i < n; i++) crc = zlib.crc32(zeros, crc);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(total % 2 ** 32, 4);
  const head = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  return Buffer.concat([head, ...new Array<Buffer>(n).fill(seg), zlib.deflateRawSync(Buffer.alloc(0)), trailer]);
}

/** Brotli of `total` zero bytes, compressed as a stream fed one reused 1 MiB buffer at a time. */
async function brotliZeros(total: number): Promise<Buffer> {
  const z = zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } });
  const out: Buffer[] = [];
  z.on('data', (b: Buffer) => out.push(b));
  const done = new Promise((r) => z.on('end', r));
  const zeros = Buffer.alloc(MiB);
  for (let i = 0; i < total / MiB; i++) if (!z.write(zeros)) await new Promise((r) => z.once('drain', r));
  z.end();
  await done;
  return Buffer.concat(out);
}


const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
const req = (path: string) => `POST ${path} HTTP/1.1\r\nHost: api.example\r\nContent-Length: 2\r\n\r\n{}`;
const okResponse = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}';

/** One exchange whose response carries `body` with `headers`, then a plain one; returns what the parser made of both. */
function bombThenNormal(body: Buffer, headers: string) {
  const c = new Conn();
  const p = new HttpStreamParser();
  const head = Buffer.from(`HTTP/1.1 200 OK\r\n${headers}Content-Length: ${body.length}\r\n\r\n`, 'latin1');
  return run(p, [c.rec('write', req('/bomb')), ...c.recs('read', Buffer.concat([head, body])), c.rec('write', req('/next')), c.rec('read', okResponse)]);
}

function expectNextExchange(events: HttpEvent[]): void {
  const last = events.slice(-2);
  expect(last.map((e) => e.type)).toEqual(['request', 'response']);
  const [r, s] = last;
  if (r.type !== 'request' || s.type !== 'response') return;
  expect(r.target).toBe('/next');
  expect([s.status, text(s.body), s.body_incomplete]).toEqual([200, '{"ok":true}', undefined]);
}

describe('decompression bombs', () => {
  const gz = gzipZeros(GiB);
  let br: Buffer;
  beforeAll(async () => {
    br = await brotliZeros(GiB);
  });

  it('the gzip bomb is a real one: the same construction at 4 MiB gunzips to zeros', () => {
    expect(gz.length).toBeLessThan(GiB / 500);
    const small = zlib.gunzipSync(gzipZeros(4 * MiB));
    expect([small.length, small.every((b) => b === 0)]).toEqual([4 * MiB, true]);
  });

  it('a whole gzip body of 1 GiB zeros: one decompression_limit dead letter, the response skipped, the next exchange parses', () => {
    const { events, deadLetters } = bombThenNormal(gz, 'Content-Encoding: gzip\r\n');
    expect(deadLetters.map((d) => d.reason)).toEqual(['decompression_limit']);
    expect(deadLetters[0].error).toMatch(/more than 200× its \d+ coded bytes \(decompression bomb\) \(read message at stream offset 0\)/);
    expect(events.map((e) => e.type)).toEqual(['request', 'request', 'response']);
    expectNextExchange(events);
  });

  it('a whole brotli body of 1 GiB zeros: the same', () => {
    expect(br.length).toBeLessThan(GiB / 1000);
    const { events, deadLetters } = bombThenNormal(br, 'Content-Encoding: br\r\n');
    expect(deadLetters.map((d) => d.reason)).toEqual(['decompression_limit']);
    expectNextExchange(events);
  });

  it('stacked codings (gzip, br): the bomb inside the outer coding is caught too', () => {
    const outer = zlib.gzipSync(br);
    const { events, deadLetters } = bombThenNormal(outer, 'Content-Encoding: br, gzip\r\n');
    expect(deadLetters.map((d) => d.reason)).toEqual(['decompression_limit']);
    expectNextExchange(events);
  });

  it('a streamed (SSE) gzip bomb: stopped at the ratio cap, response_end says decode_error, the next exchange parses', () => {
    const { events, deadLetters } = bombThenNormal(gz, 'Content-Type: text/event-stream\r\nContent-Encoding: gzip\r\n');
    expect(deadLetters.map((d) => d.reason)).toEqual(['decompression_limit']);
    expect(events.map((e) => e.type)).toEqual(['request', 'response_head', 'response_end', 'request', 'response']);
    const end = events[2];
    expect(end.type === 'response_end' && [end.events, end.body_incomplete]).toEqual([0, 'decode_error']);
    expectNextExchange(events);
  });

  it('an SSE stream of 64 MiB of gzip-compressed blank lines (no event ever completes) is stopped the same way', () => {
    // CPU, not memory, is what such a stream would cost: the ratio cap stops it too.
    const nl = zlib.gzipSync(Buffer.alloc(64 * MiB, 0x0a), { level: 9 });
    const { events, deadLetters } = bombThenNormal(nl, 'Content-Type: text/event-stream\r\nContent-Encoding: gzip\r\n');
    expect(deadLetters.map((d) => d.reason)).toEqual(['decompression_limit']);
    expectNextExchange(events);
  });

  it('ordinary bodies pass: anything up to the 1 MiB floor, and above it anything under 200×', () => {
    expect(decodeAll(zlib.gzipSync(Buffer.alloc(DECOMPRESSION_FLOOR_BYTES)), ['gzip'], 256 * MiB).length).toBe(DECOMPRESSION_FLOOR_BYTES);
    // 2 MiB of pseudo-random hex compresses about 2×.
    let x = 1;
    const hex = Buffer.alloc(2 * MiB);
    for (let i = 0; i < hex.length; i++) hex[i] = 0x61 + ((x = (x * 1103515245 + 12345) >>> 0) >>> 28);
    const coded = zlib.gzipSync(hex);
    expect(coded.length * MAX_DECOMPRESSION_RATIO).toBeGreaterThan(hex.length);
    expect(Buffer.from(decodeAll(coded, ['gzip'], 256 * MiB)).equals(hex)).toBe(true);
    const inc = new IncrementalDecoder(['gzip'], Number.MAX_SAFE_INTEGER);
    let n = 0;
    for (let i = 0; i < coded.length; i += 16384) for (const b of inc.write(coded.subarray(i, i + 16384))) n += b.length;
    for (const b of inc.end()) n += b.length;
    expect(n).toBe(hex.length);
  });

  it('the absolute cap stays too_large when the ratio is not what is exceeded', () => {
    const coded = zlib.gzipSync(Buffer.alloc(2 * MiB));
    let err: unknown;
    try {
      decodeAll(coded, ['gzip'], MiB / 2);
    } catch (e) {
      err = e;
    }
    expect(err instanceof DecodeError && err.kind).toBe('too_large');
  });
});

describe('header field count', () => {
  const fields = (n: number, prefix = 'X-F') => Array.from({ length: n }, (_, i) => `${prefix}${i}: v\r\n`).join('');

  it(`a request head with more than ${MAX_HEADER_FIELDS} fields: too_large, skipped with its body; the next exchange parses`, () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const big = `POST /many HTTP/1.1\r\nHost: a\r\n${fields(MAX_HEADER_FIELDS)}Content-Length: 5\r\n\r\nhello`;
    const bigRes = `HTTP/1.1 200 OK\r\n${fields(MAX_HEADER_FIELDS + 1)}Content-Length: 3\r\n\r\nabc`;
    const { events, deadLetters } = run(p, [c.rec('write', big), c.rec('read', bigRes), c.rec('write', req('/next')), c.rec('read', okResponse)]);
    expect(deadLetters.map((d) => [d.reason, /header section has 258 fields, more than 256|header section has 257 fields, more than 256/.test(d.error)])).toEqual([
      ['too_large', true],
      ['too_large', true],
    ]);
    expect(events.map((e) => e.type)).toEqual(['request', 'response']);
    expectNextExchange(events);
  });

  it(`exactly ${MAX_HEADER_FIELDS} fields are accepted`, () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const { events, deadLetters } = run(p, [c.rec('write', `GET / HTTP/1.1\r\nHost: a\r\n${fields(MAX_HEADER_FIELDS - 1)}\r\n`)]);
    expect(deadLetters).toEqual([]);
    expect(events[0].type === 'request' && events[0].headers.length).toBe(MAX_HEADER_FIELDS);
  });

  it('too many chunked trailer fields: one too_large, the message kept with the first 256, the next exchange parses', () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const res = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n${fields(300, 'T')}\r\n`;
    const { events, deadLetters } = run(p, [c.rec('write', req('/t')), c.rec('read', res), c.rec('write', req('/next')), c.rec('read', okResponse)]);
    expect(deadLetters.map((d) => [d.reason, /trailer section has more than 256 fields/.test(d.error)])).toEqual([['too_large', true]]);
    const r = events[1];
    expect(r.type === 'response' && [text(r.body), r.headers.length]).toEqual(['abc', 1 + MAX_HEADER_FIELDS]);
    expectNextExchange(events);
  });
});

describe('HTTP/2 header field count', () => {
  /** Literal header field without indexing, new name (RFC 7541 §6.2.2), short strings. */
  const lit = (name: string, value: string) => Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
  const head = (path: string, extra = 0) =>
    Buffer.concat([Buffer.from([0x83, 0x87]), lit(':path', path), lit(':authority', 'a'), ...Array.from({ length: extra }, (_, i) => lit(`x-f${i}`, 'v'))]);

  it(`a request with more than ${MAX_HEADER_FIELDS} fields: too_large, its stream skipped; the next stream parses`, () => {
    const c = new Conn();
    const p = new HttpStreamParser();
    const settings = encodeFrame(FrameType.SETTINGS, 0, 0, Buffer.alloc(0));
    const { events, deadLetters } = run(p, [
      c.rec('write', Buffer.concat([CLIENT_PREFACE, settings, encodeFrame(FrameType.HEADERS, Flags.END_HEADERS | Flags.END_STREAM, 1, head('/many', MAX_HEADER_FIELDS + 1))])),
      c.rec('read', settings),
      c.rec('write', encodeFrame(FrameType.HEADERS, Flags.END_HEADERS | Flags.END_STREAM, 3, head('/next'))),
    ]);
    expect(deadLetters.map((d) => [d.reason, /header list of stream 1 has 261 fields, more than 256/.test(d.error)])).toEqual([['too_large', true]]);
    expect(events.map((e) => [e.type, e.stream_id, e.type === 'request' && e.target])).toEqual([['request', 3, '/next']]);
  });
});

describe('HPACK dynamic table cap', () => {
  it(`a SETTINGS_HEADER_TABLE_SIZE above ${MAX_HPACK_TABLE_BYTES} is clamped: a size update beyond the cap is an error naming it`, () => {
    const d = new HpackDecoder();
    d.setLimit(2 ** 32 - 1);
    // Size update to 65536 (001 11111 + varint 65505), then :method GET.
    const upd = (n: number) => {
      const out = [0x3f];
      let v = n - 31;
      while (v >= 128) {
        out.push((v & 0x7f) | 0x80);
        v >>= 7;
      }
      out.push(v);
      return out;
    };
    expect(d.decode(Uint8Array.from([...upd(MAX_HPACK_TABLE_BYTES), 0x82])).headers).toEqual([[':method', 'GET']]);
    expect(d.table().maxSize).toBe(MAX_HPACK_TABLE_BYTES);
    expect(() => d.decode(Uint8Array.from([...upd(MAX_HPACK_TABLE_BYTES + 1), 0x82]))).toThrow(new HpackError(`dynamic table size update to ${MAX_HPACK_TABLE_BYTES + 1} above the parser's cap of ${MAX_HPACK_TABLE_BYTES} bytes (MAX_HPACK_TABLE_BYTES)`));
  });
});

describe('SSE events per response', () => {
  const sseHead = 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n';
  const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
  const events = (n: number) => Array.from({ length: n }, (_, i) => `data: {"i":${i}}\n\n`).join('');

  /** A streamed response of `n` events (in 16 KiB records), then a plain exchange. */
  function stream(n: number, p: HttpStreamParser) {
    const c = new Conn();
    const body = Buffer.from(sseHead + chunk(events(n)) + '0\r\n\r\n', 'latin1');
    return run(p, [c.rec('write', req('/stream')), ...c.recs('read', body), c.rec('write', req('/next')), c.rec('read', okResponse)]);
  }

  it('more than maxSseEvents: one too_large dead letter, the first ones emitted, the response ends, the next exchange parses', () => {
    const { events: evs, deadLetters } = stream(10, new HttpStreamParser({ maxSseEvents: 4 }));
    expect(deadLetters.map((d) => [d.reason, d.error])).toEqual([['too_large', 'more than 4 SSE events in one response, the rest not emitted (read message at stream offset 0)']]);
    const sse = evs.filter((e) => e.type === 'sse_event');
    expect(sse.map((e) => e.type === 'sse_event' && e.data)).toEqual(['{"i":0}', '{"i":1}', '{"i":2}', '{"i":3}']);
    const end = evs.find((e) => e.type === 'response_end');
    expect(end?.type === 'response_end' && end.events).toBe(4);
    expectNextExchange(evs);
  });

  it('HTTP/2: the same cap per stream; the next stream parses', () => {
    const c = new Conn();
    const p = new HttpStreamParser({ maxSseEvents: 4 });
    const lit = (name: string, value: string) => Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
    const reqHead = (path: string) => Buffer.concat([Buffer.from([0x83, 0x87]), lit(':path', path), lit(':authority', 'a')]);
    const settings = encodeFrame(FrameType.SETTINGS, 0, 0, Buffer.alloc(0));
    const { events: evs, deadLetters } = run(p, [
      c.rec('write', Buffer.concat([CLIENT_PREFACE, settings, encodeFrame(FrameType.HEADERS, Flags.END_HEADERS | Flags.END_STREAM, 1, reqHead('/stream'))])),
      c.rec('read', Buffer.concat([settings, encodeFrame(FrameType.HEADERS, Flags.END_HEADERS, 1, Buffer.concat([Buffer.from([0x88]), lit('content-type', 'text/event-stream')])),
        encodeFrame(FrameType.DATA, Flags.END_STREAM, 1, Buffer.from(events(10)))])),
      c.rec('write', encodeFrame(FrameType.HEADERS, Flags.END_HEADERS | Flags.END_STREAM, 3, reqHead('/next'))),
    ]);
    expect(deadLetters.map((d) => [d.reason, /more than 4 SSE events in one response/.test(d.error)])).toEqual([['too_large', true]]);
    expect(evs.filter((e) => e.type === 'sse_event')).toHaveLength(4);
    expect(evs.map((e) => [e.type, e.stream_id])).toEqual([
      ['request', 1], ['response_head', 1], ['sse_event', 1], ['sse_event', 1], ['sse_event', 1], ['sse_event', 1], ['response_end', 1], ['request', 3],
    ]);
  });
});
