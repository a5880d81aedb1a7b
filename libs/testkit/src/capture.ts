/**
 * The real eBPF capture of Claude Code in the corpus (`agentsight__claude-code-raw.jsonl`, README section "The real
 * eBPF capture"), turned back into the raw records the probe publishes, for tests of the parser and the pipeline.
 *
 * Byte recovery: the capture's `data` is text; characters ≥ U+0100 are UTF-8 (2–3 bytes), characters < U+0100 one
 * byte, except a few U+0080–U+00FF characters that were valid 2-byte UTF-8 on the wire. Those are listed in WIDEN
 * (record index → character indices). They were found once by trying every candidate character: for the SSE body,
 * every combination of one candidate in each of the 3 chunks whose HTTP chunk size is one byte short (records 42, 57,
 * 82: 13 × 12 × 71 combinations) — exactly one makes the gzip member pass its CRC32/ISIZE check; record 14 likewise
 * (1 of 317). The parser's corpus spec re-checks that property independently of the parser.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RawSslRecord } from '@agentsight/contracts';
import { corpusDir } from './corpus';

type CaptureLine = { function: string; timestamp_ns: number; pid: number; tid: number; uid: number; comm: string; data: string; len: number };

let cached: CaptureLine[] | null = null;
/** The 92 JSON lines of `agentsight__claude-code-raw.jsonl`, parsed. */
export function captureLines(): CaptureLine[] {
  cached ??= fs.readFileSync(path.join(corpusDir(), 'agentsight__claude-code-raw.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return cached;
}

/** Record index → indices of characters U+0080–U+00FF that stand for 2-byte UTF-8 (see the file comment). */
export const WIDEN: Record<number, number[]> = { 14: [1052], 42: [17], 57: [4], 82: [53] };
// Records 8 and 9 (the eval response) also hold 3 + 4 such characters (their `len` says so), but they are not resolved:
// that chunk's gzip member cannot be checked (its last chunk is missing) and the search space is too large.

/** The wire bytes of record `i` (see the file comment on byte recovery). */
export function recordBytes(i: number): Buffer {
  const lines = captureLines();
  const widen = new Set(WIDEN[i] ?? []);
  const out: number[] = [];
  let ci = 0;
  for (const ch of lines[i].data) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x100 && !widen.has(ci)) out.push(cp);
    else out.push(...Buffer.from(ch, 'utf8'));
    ci++;
  }
  return Buffer.from(out);
}

/** The README's exchanges: request records (write) → response records (read). */
export const CAPTURE_EXCHANGES: Array<{ name: string; w: number[]; r: number[] }> = [
  { name: 'mcp_servers', w: [0], r: [4, 5] },
  { name: 'eval', w: [1], r: [7, 8, 9] },
  { name: 'penguin', w: [2], r: [10, 11] },
  { name: 'client_data', w: [3], r: [6] },
  { name: 'settings', w: [12], r: [14, 15, 16] },
  { name: 'grove', w: [13], r: [17, 18] },
  { name: 'messages', w: [19, 20], r: range(21, 85) },
  { name: 'event_logging', w: [86, 87], r: [89, 90] },
  { name: 'logs', w: [88], r: [91] },
];

/** The integers a..b, inclusive. */
export function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, k) => a + k);
}

/** Options of {@link claudeCodeCapture}. */
export interface CaptureOptions {
  host?: string;
  /** Partitions to spread the synthetic connections over (record `partition` = exchange index % partitions). */
  partitions?: number;
  /** Wall-clock ns of the first record; the capture's monotonic timestamps are shifted onto it. Default: as captured. */
  wallStartNs?: bigint;
}

/**
 * The capture as the probe would have published it: RawSslRecords in capture order, each of the README's 9
 * exchanges on its own synthetic connection (`ssl`), byte offsets per direction, one fragment per record.
 * Returns the records, the `ssl` of each exchange by name, the parsed lines, and the bytes sent per connection
 * direction (for `ssl_close` records). Throws if a record's direction contradicts the README's exchange map.
 */
export function claudeCodeCapture(opts: CaptureOptions = {}): {
  records: RawSslRecord[];
  sslOf: Map<string, number>;
  lines: CaptureLine[];
  offsets: Map<string, number>;
} {
  const lines = captureLines();
  const t0 = BigInt(lines[0].timestamp_ns);
  const owner = new Map<number, { ssl: number; dir: 'write' | 'read'; partition: number }>();
  const sslOf = new Map<string, number>();
  CAPTURE_EXCHANGES.forEach((x, k) => {
    const ssl = 0x7f0000001000 + k * 0x100;
    const partition = k % (opts.partitions ?? 1);
    sslOf.set(x.name, ssl);
    for (const i of x.w) owner.set(i, { ssl, dir: 'write', partition });
    for (const i of x.r) owner.set(i, { ssl, dir: 'read', partition });
  });
  const offsets = new Map<string, number>();
  const records: RawSslRecord[] = [];
  lines.forEach((l, i) => {
    const o = owner.get(i)!;
    if (o.dir !== (l.function.startsWith('WRITE') ? 'write' : 'read')) throw new Error(`record ${i}: direction does not match the exchange map`);
    const data = recordBytes(i);
    const ok = `${o.ssl}|${o.dir}`;
    const off = offsets.get(ok) ?? 0;
    offsets.set(ok, off + data.length);
    const ts = BigInt(l.timestamp_ns);
    records.push({
      v: 1,
      kind: 'ssl',
      host: opts.host ?? 'corpus-host',
      boot_id: 'b00t',
      run: 1,
      seq: i,
      ts_boot_ns: ts,
      ts_wall_ns: opts.wallStartNs !== undefined ? opts.wallStartNs + (ts - t0) : ts,
      pid: l.pid,
      tid: l.tid,
      uid: l.uid,
      comm: l.comm,
      ssl: o.ssl,
      fn: o.dir === 'write' ? 'SSL_write' : 'SSL_read',
      dir: o.dir,
      len: data.length,
      frag_offset: 0,
      frag_total: data.length,
      stream_offset: off,
      partition: o.partition,
      data,
    });
  });
  return { records, sslOf, lines, offsets };
}
