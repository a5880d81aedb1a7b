/**
 * The real eBPF capture of Claude Code (`corpusDir()`, README section "The real eBPF capture"), fed through
 * HttpStreamParser as RawSslRecords.
 *
 * Byte recovery: the capture's `data` is text; characters ≥ U+0100 are UTF-8 (2–3 bytes), characters < U+0100 one
 * byte, except a few U+0080–U+00FF characters that were valid 2-byte UTF-8 on the wire. Those are listed in WIDEN
 * (record index → character indices). They were found once by trying every candidate character: for the SSE body,
 * every combination of one candidate in each of the 3 chunks whose HTTP chunk size is one byte short (records 42, 57,
 * 82: 13 × 12 × 71 combinations) — exactly one makes the gzip member pass its CRC32/ISIZE check; record 14 likewise
 * (1 of 317). The first test below re-checks that property independently of the parser (chunk sizes match and
 * zlib.gunzipSync, which verifies CRC32 and ISIZE, accepts the member).
 *
 * Records carry no connection id: each of the README's 9 exchanges gets its own synthetic `ssl` (write records on
 * `write`, read records on `read`), and records are fed in capture order (so connections interleave).
 */
import * as fs from 'node:fs';
import { claudeCodeCapture, corpusDir, range, recordBytes } from '@agentsight/testkit';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { connKey, headerValue, type HttpEvent, type RawSslRecord } from '@agentsight/contracts';
import { HttpStreamParser } from './http-stream-parser';
import type { ParserDeadLetter } from './types';

const CORPUS = corpusDir();
const { lines } = claudeCodeCapture();
const buildRecords = () => { const c = claudeCodeCapture(); return { recs: c.records, sslOf: c.sslOf }; };

/** Reference SSE parse of the README's decoded body (simple: `\n` line ends, `event:`/`data:` lines). */
function referenceSse(text: string): Array<{ event: string; data: string }> {
  const out: Array<{ event: string; data: string }> = [];
  for (const block of text.split('\n\n')) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) event = line.slice(6).replace(/^ /, '');
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
    if (data.length) out.push({ event, data: data.join('\n') });
  }
  return out;
}

/** HTTP chunked body of `bufs` (the bytes after the head), or null when the sizes do not fit. */
function dechunk(all: Buffer): Buffer | null {
  const parts: Buffer[] = [];
  let i = 0;
  for (;;) {
    const lf = all.indexOf(10, i);
    if (lf < 0) return null;
    const size = parseInt(all.subarray(i, lf).toString(), 16);
    i = lf + 1;
    if (size === 0) return Buffer.concat(parts);
    if (i + size + 2 > all.length) return null;
    parts.push(all.subarray(i, i + size));
    if (all[i + size] !== 13 || all[i + size + 1] !== 10) return null;
    i += size + 2;
  }
}

describe('real Claude Code capture (agentsight__claude-code-raw.jsonl)', () => {
  const { recs, sslOf } = buildRecords();
  const parser = new HttpStreamParser();
  const perPush: HttpEvent[][] = [];
  const events: HttpEvent[] = [];
  const dls: ParserDeadLetter[] = [];
  for (const r of recs) {
    const out = parser.push(r);
    perPush.push(out.events);
    events.push(...out.events);
    dls.push(...out.deadLetters);
  }
  const keyOf = (name: string) => connKey({ ...recs[0], ssl: sslOf.get(name)! });
  const of = (name: string) => events.filter((e) => e.conn.key === keyOf(name));
  const sseText = fs.readFileSync(path.join(CORPUS, 'agentsight__claude-code-raw.v1-messages-response.sse'), 'utf8');

  it('byte recovery: chunk sizes match and the gzip member passes its CRC32/ISIZE check (independent of the parser)', () => {
    const head = recordBytes(21);
    const body = Buffer.concat([head.subarray(head.indexOf('\r\n\r\n') + 4), ...range(22, 85).map(recordBytes)]);
    const gz = dechunk(body);
    expect(gz).not.toBeNull();
    const sse = zlib.gunzipSync(gz!);
    expect(sse.length).toBe(9963);
    expect(sse.toString('utf8')).toBe(sseText);
  });

  it('the LLM request: POST /v1/messages?beta=true, short by 72 bytes (post-hoc redaction), JSON body intact', () => {
    const reqs = of('messages').filter((e) => e.type === 'request');
    expect(reqs).toHaveLength(1);
    const req = reqs[0];
    if (req.type !== 'request') throw new Error('unreachable');
    expect(req.method).toBe('POST');
    expect(req.target).toBe('/v1/messages?beta=true');
    expect(req.version).toBe('HTTP/1.1');
    expect(headerValue(req.headers, 'content-length')).toBe('98207');
    expect(req.body_incomplete).toBe('short');
    expect(req.body_missing_bytes).toBe(72);
    expect(req.body.length).toBe(98135);
    const json = JSON.parse(Buffer.from(req.body).toString('utf8'));
    expect(json.model).toBe('claude-haiku-4-5-20251001');
    expect(json.stream).toBe(true);
    expect(json.max_tokens).toBe(32000);
    expect(json.tools).toHaveLength(23);
    // Finalised when the first response byte (record 21) arrived; timed by the records carrying its first/last byte.
    expect(perPush[21][0]).toBe(req);
    expect(req.start_ns).toBe(BigInt(lines[19].timestamp_ns));
    expect(req.end_ns).toBe(BigInt(lines[20].timestamp_ns));
    expect(req.span).toEqual({ dir: 'write', start_offset: 0, end_offset: recordBytes(19).length + recordBytes(20).length });
    expect(req.conn).toMatchObject({ pid: 60228, tid: 60244, comm: 'HTTP Client', ssl: `0x${sslOf.get('messages')!.toString(16)}` });
  });

  it('the gzip + chunked SSE response: response_head, the 64 events of the decoded body as they arrive, response_end', () => {
    const rs = of('messages').filter((e) => e.type !== 'request');
    const head = rs[0];
    expect(head.type).toBe('response_head');
    if (head.type !== 'response_head') throw new Error('unreachable');
    expect(head.status).toBe(200);
    expect(head.streaming).toBe(true);
    expect(headerValue(head.headers, 'content-encoding')).toBe('gzip');
    expect(headerValue(head.headers, 'request-id')).toBe('req_011CZ7mB5wPBc9sEWjhGgpXc');

    const sse = rs.filter((e) => e.type === 'sse_event');
    const expected = referenceSse(sseText);
    expect(expected).toHaveLength(64);
    expect(sse.map((e) => (e.type === 'sse_event' ? { event: e.event, data: e.data } : null))).toEqual(expected);
    expect(sse.map((e) => (e.type === 'sse_event' ? e.ordinal : -1))).toEqual(range(0, 63));
    expect(expected.filter((e) => e.event === 'ping').length).toBeGreaterThan(0);
    const start = JSON.parse(expected[0].data);
    expect(start.message.id).toBe('msg_014DDKVf4AE8b2x3UG7g6zer');

    // Incremental: events come out of many different reads, the first long before the last record.
    const pushesWithEvents = new Set<number>();
    perPush.forEach((evs, i) => evs.some((e) => e.type === 'sse_event') && pushesWithEvents.add(i));
    expect(pushesWithEvents.size).toBeGreaterThan(30);
    expect(Math.min(...pushesWithEvents)).toBeLessThanOrEqual(23);

    const end = rs[rs.length - 1];
    expect(end.type).toBe('response_end');
    if (end.type !== 'response_end') throw new Error('unreachable');
    expect(end.events).toBe(64);
    expect(end.body_bytes).toBe(9963);
    expect(end.body_incomplete).toBeUndefined();
    expect(perPush[85]).toContain(end);
    expect(end.end_ns).toBe(BigInt(lines[85].timestamp_ns));
    expect(rs).toHaveLength(1 + 64 + 1);
    // Everything of both directions is consumed.
    const total = range(21, 85).reduce((n, i) => n + recordBytes(i).length, 0);
    expect(parser.consumedOffset(keyOf('messages'), 'read')).toBe(total);
    expect(parser.consumedOffset(keyOf('messages'), 'write')).toBe(recordBytes(19).length + recordBytes(20).length);
  });

  it('the {"client_data":{}} Content-Length response', () => {
    const evs = of('client_data');
    expect(evs.map((e) => e.type)).toEqual(['request', 'response']);
    const [req, res] = evs;
    if (req.type !== 'request' || res.type !== 'response') throw new Error('unreachable');
    expect(req.method).toBe('GET');
    expect(req.target).toBe('/api/oauth/claude_cli/client_data');
    expect(res.status).toBe(200);
    expect(Buffer.from(res.body).toString()).toBe('{"client_data":{}}');
    expect(res.body_incomplete).toBeUndefined();
    expect(res.start_ns).toBe(BigInt(lines[6].timestamp_ns));
  });

  it('the gzip JSON response of POST /api/eval/sdk-… (3 reads): its last chunk is not in the capture, so it ends at eviction as short', () => {
    // Records 7–9 carry one 3513-byte chunk (7 of its bytes are U+0080–U+00FF characters that cannot be told apart
    // by chunk sizes alone, see WIDEN) and no terminating `0` chunk: the parser waits, then eviction finalises it.
    expect(of('eval').map((e) => e.type)).toEqual(['request']);
    const req = of('eval')[0];
    if (req.type !== 'request') throw new Error('unreachable');
    expect(req.method).toBe('POST');
    expect(req.target).toBe('/api/eval/sdk-zAZezfDKGoZuXXKe');
    const sink = { events: [] as HttpEvent[], deadLetters: [] as ParserDeadLetter[] };
    const evicted = parser.evictIdle(BigInt(lines[91].timestamp_ns) + 1n, sink);
    expect(evicted).toContain(keyOf('eval'));
    const res = sink.events.find((e) => e.conn.key === keyOf('eval'));
    if (res?.type !== 'response') throw new Error('no eval response at eviction');
    expect(res.status).toBe(200);
    expect(headerValue(res.headers, 'content-encoding')).toBe('gzip');
    expect(res.body_incomplete).toBe('short');
    expect([res.body[0], res.body[1]]).toEqual([0x1f, 0x8b]);
    expect(res.body.length).toBe(0xdb9 - 5);
    expect(res.start_ns).toBe(BigInt(lines[7].timestamp_ns));
    expect(res.end_ns).toBe(BigInt(lines[9].timestamp_ns));
    expect(sink.deadLetters).toEqual([]);
  });

  it('other gzip JSON responses decode (settings: gzip body over 3 reads; event_logging counts)', () => {
    const settings = of('settings').find((e) => e.type === 'response');
    if (settings?.type !== 'response') throw new Error('no settings response');
    expect(settings.body_incomplete).toBeUndefined();
    expect(JSON.parse(Buffer.from(settings.body).toString())).toHaveProperty('has_seen_mm_examples');
    const logging = of('event_logging').find((e) => e.type === 'response');
    if (logging?.type !== 'response') throw new Error('no event_logging response');
    expect(JSON.parse(Buffer.from(logging.body).toString())).toEqual({ accepted_count: 37, rejected_count: 0 });
    const intake = of('logs').find((e) => e.type === 'response');
    if (intake?.type !== 'response') throw new Error('no logs response');
    expect(intake.status).toBe(202);
    expect(Buffer.from(intake.body).toString()).toBe('{}');
  });

  it('every exchange yields its request; no dead letters', () => {
    const targets = events.filter((e) => e.type === 'request').map((e) => (e.type === 'request' ? `${e.method} ${e.target.split('?')[0]}` : ''));
    expect(targets.sort()).toEqual(
      [
        'GET /v1/mcp_servers',
        'POST /api/eval/sdk-zAZezfDKGoZuXXKe',
        'GET /api/claude_code_penguin_mode',
        'GET /api/oauth/claude_cli/client_data',
        'GET /api/oauth/account/settings',
        'GET /api/claude_code_grove',
        'POST /v1/messages',
        'POST /api/event_logging/v2/batch',
        'POST /api/v2/logs',
      ].sort(),
    );
    expect(dls).toEqual([]);
  });

  it('replaying the whole capture into a fresh parser gives the same ids', () => {
    const again = new HttpStreamParser();
    const ids = recs.flatMap((r) => again.push(r).events.map((e) => e.id));
    expect(ids).toEqual(events.map((e) => e.id));
    expect(new Set(ids).size).toBe(ids.length);
  });
});
