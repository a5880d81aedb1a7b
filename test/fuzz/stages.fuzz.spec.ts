/**
 * Property-based fuzzing (fast-check) of the stages' domain inputs: raw SSL byte streams into the parser (random bytes,
 * mutated HTTP/1.1 with chunked and SSE bodies, HTTP/2 prefaces with random frames), stdio bytes into the JSON-RPC
 * framer, exchanges with random bodies into the analyzer, and random bytes into the wire codec. Each property asserts
 * that nothing throws, that every dead letter names a reason and an error, that non-HTTP input is dead-lettered (never
 * silently dropped), and that a well-formed exchange interleaved with the bad input comes out exactly.
 *
 * Runs per property: `AGENTSIGHT_FUZZ_RUNS` (CI default 200; the long run is `AGENTSIGHT_FUZZ_RUNS=10000`, see
 * bench/README.md). A failure prints fast-check's seed and shrunk counterexample.
 */
import fc from 'fast-check';
import { decode, type Direction, type HttpEvent } from '@agentsight/contracts';
import { makeExchange } from '@agentsight/testkit';
import { HttpStreamParser } from '../../services/parser/src/domain/http-stream-parser';
import { Conn } from '../../services/parser/src/domain/parser-run.test';
import { JsonRpcFramer } from '../../services/parser/src/domain/jsonrpc';
import { CLIENT_PREFACE } from '../../services/parser/src/domain/h2/frames';
import { analyzeExchange } from '../../services/analyzer/src/domain/analyze';

const RUNS = Number(process.env.AGENTSIGHT_FUZZ_RUNS || 200);
const params = { numRuns: RUNS };


const GOOD_REQ = 'POST /v1/good HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\n{"a":1}';
const GOOD_RES = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}';

/** Splits `bytes` at the given cut points (sorted, deduplicated) into record-sized pieces. */
function pieces(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    if (c > prev) out.push(bytes.subarray(prev, c));
    prev = Math.max(prev, c);
  }
  return out;
}

/**
 * Feeds the bad connection's records interleaved with a good exchange on another connection, closes both; returns
 * what came out per connection. Throws if the parser throws (the property then fails).
 */
function feed(bad: Array<[Direction, Uint8Array]>): { bad: HttpEvent[]; good: HttpEvent[]; reasons: Array<[string, string]> } {
  const p = new HttpStreamParser();
  const b = new Conn(0xbad);
  const g = new Conn(0x600d);
  const events: HttpEvent[] = [];
  const reasons: Array<[string, string]> = [];
  const take = (o: { events: HttpEvent[]; deadLetters: Array<{ reason: string; error: string }> }) => {
    events.push(...o.events);
    for (const d of o.deadLetters) reasons.push([d.reason, d.error]);
  };
  const half = Math.floor(bad.length / 2);
  bad.slice(0, half).forEach(([dir, data]) => take(p.push(b.rec(dir, data))));
  take(p.push(g.rec('write', GOOD_REQ)));
  bad.slice(half).forEach(([dir, data]) => take(p.push(b.rec(dir, data))));
  take(p.push(g.rec('read', GOOD_RES)));
  take(p.close(b.close()));
  take(p.close(g.close()));
  return { bad: events.filter((e) => e.conn.ssl === '0xbad'), good: events.filter((e) => e.conn.ssl === '0x600d'), reasons };
}

function expectGood(good: HttpEvent[]): void {
  const shape = good.map((e) => [e.type, e.type === 'request' ? e.target : e.type === 'response' ? Buffer.from(e.body).toString() : '']);
  expect(shape).toEqual([['request', '/v1/good'], ['response', '{"ok":true}'], ['connection_end', '']]);
}

function expectReasons(reasons: Array<[string, string]>): void {
  for (const [reason, error] of reasons) {
    expect(reason).toMatch(/^[a-z0-9_]+$/);
    expect(error.length).toBeGreaterThan(0);
  }
}

const dir = fc.constantFrom<Direction>('write', 'read');
const chunks = (bytes: fc.Arbitrary<Uint8Array>) => fc.array(fc.tuple(dir, bytes), { minLength: 1, maxLength: 8 });

/** Valid-looking HTTP/1.1 messages, then mutated: truncated, bytes flipped, bytes inserted. */
const httpText = fc.oneof(
  fc.constant(GOOD_REQ),
  fc.constant(GOOD_RES),
  fc.constant('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n5\r\ndata:\r\n1a\r\ndata: {"x":1}\n\n\r\n0\r\n\r\n'),
  fc.constant('POST /v1/messages HTTP/1.1\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\n\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff'),
  fc.constant('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n'),
);
const mutated = fc.tuple(httpText, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat()).map(([t, flips, cut]) => {
  const b = Buffer.from(t, 'latin1');
  for (const [i, v] of flips) b[i % b.length] = v;
  return new Uint8Array(b.subarray(0, 1 + (cut % b.length)));
});

describe('fuzz: parser (HTTP/1.1, HTTP/2, SSE) never crashes, dead-letters what it cannot parse, keeps the good exchange', () => {
  // Either direction: bytes that never become HTTP are dead-lettered, whether they fail the start-line test at once
  // (`not_http`), stay a head cut short until the connection ends (`http_parse_error`) or look like the start of an
  // HTTP/2 server frame on a fresh connection's read side and end inside it (`h2_error`).
  test(`random bytes in either direction (not HTTP): at least one dead letter, no event of it but its end (${RUNS} runs)`, () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 4 }), dir, (bytes, cuts, d) => {
      bytes[0] = 0x00; // never a method or status-line start
      const r = feed(pieces(bytes, cuts).map((x) => [d, x]));
      expectReasons(r.reasons);
      expect(r.reasons.map(([reason]) => reason).filter((x) => ['not_http', 'http_parse_error', 'h2_error'].includes(x))).not.toEqual([]);
      expect(r.bad.map((e) => e.type).filter((t) => t !== 'connection_end')).toEqual([]);
      expectGood(r.good);
    }), params);
  });

  test(`mutated HTTP/1.1 (truncated, flipped, broken chunked, bad gzip, SSE) in random records (${RUNS} runs)`, () => {
    fc.assert(fc.property(fc.array(fc.tuple(dir, mutated, fc.array(fc.nat(), { maxLength: 3 })), { minLength: 1, maxLength: 6 }), (msgs) => {
      const recs: Array<[Direction, Uint8Array]> = [];
      for (const [d, m, cuts] of msgs) for (const p of pieces(m, cuts)) recs.push([d, p]);
      const r = feed(recs);
      expectReasons(r.reasons);
      expectGood(r.good);
    }), params);
  });

  test(`HTTP/2: the client preface then random frames (${RUNS} runs)`, () => {
    fc.assert(fc.property(chunks(fc.uint8Array({ maxLength: 600 })), (frames) => {
      const r = feed([['write', new Uint8Array(CLIENT_PREFACE)], ...frames]);
      expectReasons(r.reasons);
      expectGood(r.good);
    }), params);
  });
});

describe('fuzz: stdio JSON-RPC framer', () => {
  const valid = '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","arguments":{}}}';
  test(`garbage lines (random text, broken JSON-RPC) never throw and never swallow the next message (${RUNS} runs)`, () => {
    const line = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.jsonValue().map((v) => JSON.stringify({ jsonrpc: '2.0', x: v })),
      fc.string({ maxLength: 60 }).map((s) => `{"jsonrpc":"2.0","id":${s}`),
    ).map((s) => s.replace(/[\r\n]/g, ' ').replace(/^\s*content-length/i, 'x'));
    fc.assert(fc.property(fc.array(line, { maxLength: 5 }), fc.array(fc.nat(), { maxLength: 4 }), (lines, cuts) => {
      const f = new JsonRpcFramer<number>();
      const bytes = Buffer.from(`${lines.join('\n')}\n${valid}\n`, 'utf8');
      const frames: string[] = [];
      let off = 0;
      for (const p of pieces(bytes, cuts)) {
        const out = f.push(p, off, off);
        off += p.length;
        frames.push(...out.frames.map((x) => x.text));
        for (const r of out.rejects) expect([r.reason.length > 0, r.error.length > 0]).toEqual([true, true]);
      }
      expect(frames[frames.length - 1]).toBe(valid);
      expect(f.position().offset).toBe(bytes.length);
    }), params);
  });
});

describe('fuzz: analyzer', () => {
  const body = fc.oneof(
    fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
    fc.record({ model: fc.string(), messages: fc.array(fc.jsonValue({ maxDepth: 4 })), stream: fc.boolean(), tools: fc.jsonValue({ maxDepth: 4 }) }).map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 400 }),
    fc.uint8Array({ maxLength: 400 }),
  );
  const target = fc.constantFrom('/v1/chat/completions', '/v1/messages', '/v1/responses', '/v1beta/models/gemini-2.5-pro:streamGenerateContent', '/api/chat', '/model/m/converse-stream');
  test(`random request/response bodies and SSE data on LLM paths: no internal error, every dead letter has a reason (${RUNS} runs)`, () => {
    fc.assert(fc.property(target, body, body, fc.array(fc.tuple(fc.string({ maxLength: 20 }), body.filter((b) => typeof b === 'string') as fc.Arbitrary<string>), { maxLength: 4 }), fc.integer({ min: 100, max: 599 }),
      (t, req, res, sse, status) => {
        const ex = makeExchange({ host: 'api.example', target: t, reqBody: req, respBody: sse.length ? undefined : res, events: sse.length ? sse.map(([event, data]) => ({ event, data })) : undefined, status });
        const r = analyzeExchange(ex);
        expect(r.deadLetters.filter((d) => d.reason === 'analyzer_error')).toEqual([]);
        for (const d of r.deadLetters) expect([d.reason.length > 0, d.error.length > 0]).toEqual([true, true]);
      }), params);
  });
});

describe('fuzz: wire codec', () => {
  test(`random and truncated msgpack: decode returns or throws an Error (the shell dead-letters it as contract) (${RUNS} runs)`, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      try {
        decode(bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(Error);
      }
    }), params);
  });
});
