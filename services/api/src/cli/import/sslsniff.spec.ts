/**
 * The importer on the real eBPF capture of the corpus (eunomia sslsniff JSON lines, re-serialised, one pid/tid for
 * several TLS connections): every record's bytes equal the hand-checked recovery of libs/testkit (capture.ts, found
 * by exhaustive search once), except the eval response's unfinished chunk that neither can decide; every response is
 * paired with its request as the corpus README lists; the LLM response inflates to the README's SSE file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { RawSslRecord } from '@agentsight/contracts';
import { CAPTURE_EXCHANGES, corpusDir, recordBytes } from '@agentsight/testkit';
import { sslsniffToRaw } from './sslsniff';

const file = join(corpusDir(), 'agentsight__claude-code-raw.jsonl');
const text = readFileSync(file, 'utf8');
const { records, report } = sslsniffToRaw(text, { host: 'imported', partitions: 8, wallEndNs: 0n });
const ssl = records.filter((r): r is RawSslRecord => r.kind === 'ssl');

describe('sslsniff import of the corpus capture', () => {
  test('every record, in order, with the exact wire bytes (the unfinished eval chunk excepted and reported)', () => {
    expect(ssl.map((r) => r.seq)).toEqual(Array.from({ length: 92 }, (_, i) => i));
    for (const r of ssl) {
      if (r.seq === 8 || r.seq === 9) continue;
      expect(Buffer.from(r.data).equals(recordBytes(r.seq))).toBe(true);
    }
    expect(report.undecidedRecords).toBe(3); // 7-9: the eval response's last chunk was never captured
    expect(report.invalid).toBe(0);
    expect(report.resolvedByChecksum).toBeGreaterThan(0);
  });

  test('each response on the connection of its request (the README map), one connection per exchange', () => {
    const conn = new Map(ssl.map((r) => [r.seq, r.ssl]));
    const seen = new Set<number>();
    for (const x of CAPTURE_EXCHANGES) {
      const c = conn.get(x.w[0])!;
      for (const i of [...x.w, ...x.r]) expect([x.name, i, conn.get(i)]).toEqual([x.name, i, c]);
      expect(seen.has(c)).toBe(false);
      seen.add(c);
    }
    expect(report.connections).toBe(9);
    expect(report.unmatchedResponses).toBe(0);
    // One ssl_close per connection, after its data, with the byte counts published.
    const closes = records.filter((r) => r.kind === 'ssl_close');
    expect(closes).toHaveLength(9);
    for (const c of closes) {
      if (c.kind !== 'ssl_close') continue;
      const mine = ssl.filter((r) => r.ssl === c.ssl);
      expect(c.write_offset).toBe(mine.filter((r) => r.dir === 'write').reduce((n, r) => n + r.data.length, 0));
      expect(c.read_offset).toBe(mine.filter((r) => r.dir === 'read').reduce((n, r) => n + r.data.length, 0));
      expect(records.indexOf(c)).toBeGreaterThan(records.indexOf(mine[mine.length - 1]));
    }
  });

  test('the LLM response inflates to the corpus SSE file; the clock comes from the Date header', () => {
    const body = Buffer.concat(ssl.filter((r) => r.seq >= 21 && r.seq <= 85).map((r) => Buffer.from(r.data)));
    const raw = body.subarray(body.indexOf('\r\n\r\n') + 4);
    const parts: Buffer[] = [];
    for (let p = 0; ;) {
      const eol = raw.indexOf('\r\n', p);
      const n = parseInt(raw.subarray(p, eol).toString(), 16);
      if (n === 0) break;
      parts.push(raw.subarray(eol + 2, eol + 2 + n));
      p = eol + 2 + n + 2;
    }
    expect(gunzipSync(Buffer.concat(parts)).equals(readFileSync(join(corpusDir(), 'agentsight__claude-code-raw.v1-messages-response.sse')))).toBe(true);
    expect(report.clock).toBe('date-header');
    const first = ssl.find((r) => r.seq === 4)!;
    expect(new Date(Number(first.ts_wall_ns / 1_000_000n)).toISOString()).toBe('2026-03-17T01:11:30.000Z');
  });

  test('the same file gives the same records (deterministic ids); sslsniff escapes and data_hex are exact', () => {
    const again = sslsniffToRaw(text, { host: 'imported', partitions: 8, wallEndNs: 0n });
    expect(again.records.map((r) => `${r.boot_id}:${r.seq}`)).toEqual(records.map((r) => `${r.boot_id}:${r.seq}`));
    // As another host it is another capture: other message ids, or JetStream would drop it as duplicates.
    const elsewhere = sslsniffToRaw(text, { host: 'laptop-c', partitions: 8, wallEndNs: 0n });
    expect(elsewhere.records[0]!.boot_id).not.toBe(records[0]!.boot_id);
    const own = [
      '{"function":"READ/RECV","timestamp_ns":5,"comm":"c","pid":7,"len":3,"buf_size":3,"uid":0,"tid":7,"latency_ms":0,"is_handshake":false,"data":"\\u00c3\u00e9","truncated":false}',
      '{"function":"WRITE/SEND","timestamp_ns":6,"comm":"c","pid":7,"len":2,"buf_size":2,"tid":7,"data":"??","data_hex":"c3a9","transport_handle":"0x10"}',
      '{"function":"HANDSHAKE","timestamp_ns":7,"pid":7,"is_handshake":true,"data":null}',
      'not json',
    ].join('\n');
    const r = sslsniffToRaw(own, { host: 'h', partitions: 8, wallEndNs: 10n ** 18n });
    const data = r.records.filter((x): x is RawSslRecord => x.kind === 'ssl').map((x) => Buffer.from(x.data).toString('hex'));
    expect(data).toEqual(['c3c3a9', 'c3a9']);
    expect([r.report.handshakes, r.report.invalid, r.report.invalidLines, r.report.connectionsExact, r.report.clock]).toEqual([1, 1, [4], 1, 'file-mtime']);
  });
});
