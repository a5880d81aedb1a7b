/**
 * eunomia-bpf agentsight's `sslsniff` JSON lines → agentsight raw records (contract v1, `RawSslRecord` and
 * `RawSslCloseRecord`), so captures made by that tool (or on another machine) are analysed like ours.
 *
 * Accepted fields (one JSON object per line; unknown fields are ignored, a line that is not JSON or lacks a required
 * field is counted and skipped, never silently):
 * - required: `function` (`WRITE/SEND` | `READ/RECV` | `HANDSHAKE`), `timestamp_ns` (CLOCK_MONOTONIC ns), `pid`, `data`
 *   (string or null);
 * - used when present: `tid`, `uid`, `comm`, `len` (the call's byte count), `buf_size` (bytes captured), `truncated`
 *   and `bytes_lost` (the call was cut: the missing bytes become a hole in the connection's byte stream),
 *   `is_handshake` (handshake lines are skipped and counted), `data_hex` (the exact bytes; newer sslsniff),
 *   `transport_handle` (`0x…`, the TLS object: the connection's identity when present), `process_start_ns` (tells
 *   pid reuse apart), `connection_closed` (true: the connection ended, published as `ssl_close`).
 *
 * What is inferred:
 * - **Bytes.** `data_hex` is exact. Without it, `data` is sslsniff's text: valid UTF-8 printed as characters, every
 *   other byte as `\u00XX`. When the file still has those escapes (sslsniff's own output), the bytes are exact too.
 *   When it was re-serialised (every character literal, as in the corpus' capture), a character U+0080–U+00FF is
 *   either that one byte or the 2-byte UTF-8 of it; the HTTP framing decides: a chunk's size (or a Content-Length)
 *   says how many of a body range's characters were 2 bytes, and when that leaves a choice, the one combination whose
 *   body decodes under its `Content-Encoding` with a valid checksum (gzip CRC32/ISIZE, zlib Adler-32) is taken.
 *   What stays undecided (no framing, an unfinished chunk, several or no valid combinations) is taken as text
 *   (2 bytes) in heads and uncoded bodies and as single bytes in coded bodies, and counted in {@link ImportReport}.
 * - **Connections.** With `transport_handle`, a connection is (pid, process start, handle). Without it (older
 *   sslsniff: only pid/tid), every HTTP/1.1 exchange becomes its own connection: a write starting with a request line
 *   starts a request, a read starting with a status line starts a response, other records continue the latest
 *   unfinished message of their process and direction. Responses are matched to the process' requests not yet
 *   answered and sent before them, in the order of (arrival − the server's own processing time from `Server-Timing`
 *   `dur` or `x-envoy-upstream-service-time`): the request sent first gets the response whose round trip started
 *   first. Without those headers this is first come, first served. Records that belong to no HTTP/1.1 message
 *   (HTTP/2, other protocols) go to one connection per process.
 * - **Wall clock.** sslsniff's timestamps are monotonic: the first response's `Date` header anchors them (second
 *   precision), else `wallEndNs` (the file's mtime) is taken as the time of the last line.
 * - **Identity.** `boot_id` = `import-` + 16 hex of the sha256 of the host name and the file, `run` 1, `seq` = line
 *   index, so importing the same file again as the same host yields the same message ids (dropped as duplicates) and
 *   the same stored rows, while the same file imported as another host is another capture (message ids are
 *   deduplicated per stream, whatever the subject: without the host its records would be dropped as duplicates).
 */
import { createHash } from 'node:crypto';
import { brotliDecompressSync, constants as zlibConstants, gunzipSync, inflateSync } from 'node:zlib';
import type { RawSslCloseRecord, RawSslRecord } from '@agentsight/contracts';

/** Code points ≥ this stand for one exact byte (value − EXACT), from a `\u00XX` escape or `data_hex`. */
const EXACT = 0x110000;

/** One usable sslsniff line. */
interface Line {
  index: number;
  dir: 'write' | 'read';
  ts: bigint;
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  /** Bytes lost after the captured data (truncation), from `bytes_lost` or `len − buf_size`. */
  lost: number;
  handle: string | null;
  processStart: string;
  closed: boolean;
  /** Characters of `data` (code points; ≥ EXACT = an exact byte). */
  units: Int32Array;
}

/** What an import read, inferred and could not decide. */
export interface ImportReport {
  lines: number;
  /** Lines that are not JSON or miss a required field (line numbers, 1-based, first 20). */
  invalid: number;
  invalidLines: number[];
  handshakes: number;
  /** Lines without data (e.g. a handshake or an empty read). */
  empty: number;
  records: number;
  connections: number;
  /** Connections known from `transport_handle` vs inferred from HTTP/1.1 framing. */
  connectionsExact: number;
  requests: number;
  responses: number;
  /** Responses no request could be matched to. */
  unmatchedResponses: number;
  /** Records whose bytes were decided by a content-coding checksum search. */
  resolvedByChecksum: number;
  /** Records with characters whose byte width could not be decided (taken as described in the file comment). */
  undecidedRecords: number;
  /** Bytes lost to truncation (holes in the byte streams). */
  bytesLost: number;
  truncatedRecords: number;
  /** How the wall clock was anchored. */
  clock: 'date-header' | 'file-mtime';
}

/** Result of {@link sslsniffToRaw}. */
export interface ImportResult {
  /** Data records, then one `ssl_close` per connection (after its data), in publish order. */
  records: Array<RawSslRecord | RawSslCloseRecord>;
  report: ImportReport;
}

/** Options of {@link sslsniffToRaw}. */
export interface ImportOptions {
  /** Host name the records are published under (`host` field; the subject token is derived from it). */
  host: string;
  /** Partitions of `agentsight.raw.ssl.<host>.<p>` (must match the pipeline's `AGENTSIGHT_PARTITIONS`). */
  partitions: number;
  /** Wall-clock ns of the file's last line when no `Date` header anchors the clock (e.g. the file's mtime). */
  wallEndNs: bigint;
}

/** Parses the file's text and converts it; see the file comment for the rules. Pure: no I/O. */
export function sslsniffToRaw(text: string, opts: ImportOptions): ImportResult {
  const report: ImportReport = {
    lines: 0, invalid: 0, invalidLines: [], handshakes: 0, empty: 0, records: 0, connections: 0, connectionsExact: 0,
    requests: 0, responses: 0, unmatchedResponses: 0, resolvedByChecksum: 0, undecidedRecords: 0, bytesLost: 0,
    truncatedRecords: 0, clock: 'file-mtime',
  };
  const bootId = `import-${createHash('sha256').update(opts.host).update('\0').update(text).digest('hex').slice(0, 16)}`;
  const raw = text.split('\n');
  const lines: Line[] = [];
  let escapesKept = false;
  let escapesAll = false;
  raw.forEach((l, i) => {
    if (!l.trim()) return;
    report.lines++;
    const parsed = parseLine(l, i);
    if (parsed === 'invalid') {
      report.invalid++;
      if (report.invalidLines.length < 20) report.invalidLines.push(i + 1);
      return;
    }
    if (parsed === 'handshake') return void report.handshakes++;
    if (parsed === 'empty') return void report.empty++;
    escapesKept ||= parsed.escapedHigh;
    escapesAll ||= parsed.escapedWide;
    lines.push(parsed.line);
  });
  // sslsniff escapes exactly the bytes that are not valid UTF-8 (as \u00XX) and prints valid UTF-8 as is; a file
  // with such escapes and no escaped character ≥ U+0100 is its own output, so its literal characters are UTF-8.
  const exactText = escapesKept && !escapesAll;
  const width = (u: number): number => (u >= EXACT ? 1 : u < 0x80 ? 1 : u < 0x100 ? (exactText ? 2 : 1) : u < 0x800 ? 2 : u < 0x10000 ? 3 : 4);
  const ambiguous = (u: number): boolean => !exactText && u >= 0x80 && u < 0x100;

  // Messages and connections.
  const conns = new Map<string, Conn>();
  const connOf = new Array<Conn>(lines.length);
  const byProcess = new Map<string, Line[]>();
  for (const [k, l] of lines.entries()) {
    if (l.handle) {
      const key = `${l.pid}/${l.processStart}/${l.handle}`;
      let c = conns.get(key);
      if (!c) conns.set(key, (c = newConn(l, handleNumber(l.handle), true)));
      connOf[k] = c;
    } else {
      const key = `${l.pid}/${l.processStart}`;
      if (!byProcess.has(key)) byProcess.set(key, []);
      byProcess.get(key)!.push(l);
    }
  }
  const index = new Map(lines.map((l, k) => [l, k]));
  const messages: Msg[] = [];
  let nextSsl = 1;
  for (const group of byProcess.values()) {
    const msgs: Msg[] = [];
    let opaque: Conn | null = null;
    for (const l of group) {
      const starts = l.dir === 'write' ? isRequestStart(l.units) : isResponseStart(l.units);
      let m: Msg | undefined;
      if (starts) {
        m = { dir: l.dir, lines: [l], units: l.units, frame: null, ts: l.ts, conn: null };
        msgs.push(m);
      } else {
        m = [...msgs].reverse().find((x) => x.dir === l.dir && !frameOf(x, width, ambiguous).complete);
        if (m) {
          m.lines.push(l);
          m.units = concat(m.units, l.units);
          m.frame = null;
        }
      }
      if (!m) {
        opaque ??= newConn(l, 0x0f00_0000_0000 + nextSsl++ * 0x1000, false);
        connOf[index.get(l)!] = opaque;
      }
    }
    // Pairing: responses in order of (arrival − server time), each to the first unanswered request sent before it.
    const requests = msgs.filter((m) => m.dir === 'write');
    const responses = msgs.filter((m) => m.dir === 'read');
    report.requests += requests.length;
    report.responses += responses.length;
    for (const q of requests) q.conn = newConn(q.lines[0], 0x0a00_0000_0000 + nextSsl++ * 0x1000, false);
    const adjusted = (r: Msg) => r.ts - BigInt(Math.round(serverTimeMs(frameOf(r, width, ambiguous).headers) * 1e6));
    const answered = new Set<Msg>();
    for (const r of [...responses].sort((a, b) => (adjusted(a) < adjusted(b) ? -1 : adjusted(a) > adjusted(b) ? 1 : 0))) {
      const q = requests.find((x) => !answered.has(x) && x.ts < r.ts);
      if (q) {
        answered.add(q);
        r.conn = q.conn;
      } else {
        report.unmatchedResponses++;
        r.conn = newConn(r.lines[0], 0x0a00_0000_0000 + nextSsl++ * 0x1000, false);
      }
    }
    for (const m of msgs) for (const l of m.lines) connOf[index.get(l)!] = m.conn!;
    messages.push(...msgs);
  }

  // Bytes: decide each ambiguous character.
  const decided = new Map<Line, Uint8Array>();
  const lineBytes = (l: Line, wide: (pos: number) => boolean, base: number): Uint8Array => {
    const out: number[] = [];
    for (let i = 0; i < l.units.length; i++) pushUnit(out, l.units[i], exactText || (ambiguous(l.units[i]) && wide(base + i)));
    return Uint8Array.from(out);
  };
  for (const m of messages) {
    const f = frameOf(m, width, ambiguous);
    const choice = resolveMessage(m, f, ambiguous, width);
    if (choice.byChecksum) report.resolvedByChecksum += m.lines.length;
    let base = 0;
    for (const l of m.lines) {
      decided.set(l, lineBytes(l, choice.wide, base));
      if (choice.undecidedLines.has(m.lines.indexOf(l))) report.undecidedRecords++;
      base += l.units.length;
    }
  }

  // Clock.
  let offset: bigint | null = null;
  for (const m of messages) {
    if (m.dir !== 'read') continue;
    const date = frameOf(m, width, ambiguous).headers.get('date');
    const ms = date ? Date.parse(date) : NaN;
    if (!Number.isNaN(ms)) {
      offset = BigInt(ms) * 1_000_000n - m.ts;
      report.clock = 'date-header';
      break;
    }
  }
  if (offset === null) offset = lines.length ? opts.wallEndNs - lines[lines.length - 1].ts : 0n;

  // Records, in file order; closes after each connection's data.
  const records: Array<RawSslRecord | RawSslCloseRecord> = [];
  const offsets = new Map<Conn, { write: number; read: number; last: Line }>();
  for (const [k, l] of lines.entries()) {
    const c = connOf[k];
    const data = decided.get(l) ?? lineBytes(l, () => true, 0);
    if (!decided.has(l) && l.units.some(ambiguous)) report.undecidedRecords++;
    const o = offsets.get(c) ?? { write: 0, read: 0, last: l };
    const total = data.length + l.lost;
    if (l.lost > 0) {
      report.truncatedRecords++;
      report.bytesLost += l.lost;
    }
    records.push({
      v: 1, kind: 'ssl', host: opts.host, boot_id: bootId, run: 1, seq: l.index, ts_boot_ns: l.ts, ts_wall_ns: l.ts + offset,
      pid: l.pid, tid: l.tid, uid: l.uid, comm: l.comm, ssl: c.ssl, fn: l.dir === 'write' ? 'SSL_write' : 'SSL_read', dir: l.dir,
      len: total, frag_offset: 0, frag_total: total, stream_offset: o[l.dir], partition: partitionOf(l.pid, c.ssl, opts.partitions), data,
    });
    o[l.dir] += total;
    o.last = l;
    offsets.set(c, o);
    if (l.closed) {
      records.push(closeRecord(opts, bootId, raw.length + records.length, c, o, offset));
      offsets.delete(c);
      c.closed = true;
    }
  }
  for (const [c, o] of offsets) if (!c.closed) records.push(closeRecord(opts, bootId, raw.length + records.length, c, o, offset));
  report.records = records.filter((r) => r.kind === 'ssl').length;
  const all = new Set(connOf);
  report.connections = all.size;
  report.connectionsExact = [...all].filter((c) => c.exact).length;
  return { records, report };
}

interface Conn {
  ssl: number;
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  exact: boolean;
  closed: boolean;
}

function newConn(l: Line, ssl: number, exact: boolean): Conn {
  return { ssl, pid: l.pid, tid: l.tid, uid: l.uid, comm: l.comm, exact, closed: false };
}

function closeRecord(opts: ImportOptions, bootId: string, seq: number, c: Conn, o: { write: number; read: number; last: Line }, offset: bigint): RawSslCloseRecord {
  return {
    v: 1, kind: 'ssl_close', host: opts.host, boot_id: bootId, run: 1, seq, ts_boot_ns: o.last.ts, ts_wall_ns: o.last.ts + offset,
    pid: c.pid, tid: c.tid, uid: c.uid, comm: c.comm, ssl: c.ssl, partition: partitionOf(c.pid, c.ssl, opts.partitions), reason: 'process_exit',
    write_offset: o.write, read_offset: o.read,
  };
}

/** A `transport_handle` as a JS-safe number (its low 52 bits, never 0). */
function handleNumber(h: string): number {
  const n = BigInt(/^0x[0-9a-f]+$/i.test(h) ? h : `0x${createHash('sha256').update(h).digest('hex').slice(0, 13)}`);
  return Number(n & 0xf_ffff_ffff_ffffn) || 1;
}

/** The producer's partition: fnv1a64 over the pid (4 bytes LE) then the connection (8 bytes LE), mod `partitions`. */
export function partitionOf(pid: number, ssl: number, partitions: number): number {
  const buf = Buffer.alloc(12);
  buf.writeUInt32LE(pid >>> 0, 0);
  buf.writeBigUInt64LE(BigInt(ssl), 4);
  let h = 0xcbf29ce484222325n;
  for (const b of buf) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return Number(h % BigInt(partitions));
}

type Parsed = { line: Line; escapedHigh: boolean; escapedWide: boolean } | 'invalid' | 'handshake' | 'empty';

function parseLine(text: string, index: number): Parsed {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text);
  } catch {
    return 'invalid';
  }
  if (!o || typeof o !== 'object') return 'invalid';
  const fn = o.function;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  if (typeof fn !== 'string' || num(o.pid) === null || (typeof o.timestamp_ns !== 'number' && typeof o.timestamp_ns !== 'string')) return 'invalid';
  if (o.is_handshake === true || fn === 'HANDSHAKE') return 'handshake';
  const dir = fn.startsWith('WRITE') ? 'write' : fn.startsWith('READ') ? 'read' : null;
  if (!dir) return 'invalid';
  let units: Int32Array;
  let escapedHigh = false;
  let escapedWide = false;
  if (typeof o.data_hex === 'string' && /^([0-9a-f]{2})*$/i.test(o.data_hex)) {
    const b = Buffer.from(o.data_hex, 'hex');
    units = Int32Array.from(b, (x) => EXACT + x);
  } else if (typeof o.data === 'string') {
    const lit = dataLiteral(text, o.data);
    units = lit ? lit.units : Int32Array.from([...o.data].map((c) => c.codePointAt(0)!));
    escapedHigh = lit?.escapedHigh ?? false;
    escapedWide = lit?.escapedWide ?? false;
  } else if (o.data === null || o.data === undefined) {
    return 'empty';
  } else return 'invalid';
  if (units.length === 0) return 'empty';
  const len = num(o.len) ?? 0;
  const bufSize = num(o.buf_size) ?? len;
  const lost = num(o.bytes_lost) ?? (o.truncated === true && len > bufSize ? len - bufSize : 0);
  const ts = BigInt(typeof o.timestamp_ns === 'number' ? Math.trunc(o.timestamp_ns) : String(o.timestamp_ns));
  return {
    line: {
      index, dir, ts, pid: num(o.pid)!, tid: num(o.tid) ?? num(o.pid)!, uid: num(o.uid) ?? 0, comm: typeof o.comm === 'string' ? o.comm : '',
      lost: Math.max(0, lost), handle: typeof o.transport_handle === 'string' && o.transport_handle ? o.transport_handle : null,
      processStart: o.process_start_ns === undefined ? '' : String(o.process_start_ns), closed: o.connection_closed === true, units,
    },
    escapedHigh,
    escapedWide,
  };
}

/**
 * The `data` string literal of a line read character by character, keeping which characters were `\u00XX` escapes
 * (→ exact bytes when ≥ 0x80). Null when the literal cannot be located with certainty (the result must equal what
 * JSON.parse gave).
 */
function dataLiteral(text: string, parsed: string): { units: Int32Array; escapedHigh: boolean; escapedWide: boolean } | null {
  const re = /"data"\s*:\s*"/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const out: number[] = [];
    let escapedHigh = false;
    let escapedWide = false;
    let i = m.index + m[0].length;
    let ok = false;
    while (i < text.length) {
      const ch = text.charCodeAt(i);
      if (ch === 0x22) {
        ok = true;
        break;
      }
      if (ch === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          let cp = parseInt(text.slice(i + 2, i + 6), 16);
          i += 6;
          if (cp >= 0xd800 && cp < 0xdc00 && text.startsWith('\\u', i)) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (parseInt(text.slice(i + 2, i + 6), 16) - 0xdc00);
            i += 6;
          }
          if (cp >= 0x100) escapedWide = true;
          if (cp >= 0x80 && cp < 0x100) {
            escapedHigh = true;
            out.push(EXACT + cp);
          } else out.push(cp);
          continue;
        }
        const map: Record<string, number> = { '"': 0x22, '\\': 0x5c, '/': 0x2f, b: 8, f: 12, n: 10, r: 13, t: 9 };
        if (!(e in map)) break;
        out.push(map[e]);
        i += 2;
        continue;
      }
      const cp = text.codePointAt(i)!;
      out.push(cp);
      i += cp > 0xffff ? 2 : 1;
    }
    if (!ok) continue;
    const chars = [...parsed];
    const same = out.length === chars.length && out.every((u, k) => (u >= EXACT ? u - EXACT : u) === chars[k].codePointAt(0));
    if (same) return { units: Int32Array.from(out), escapedHigh, escapedWide };
  }
  return null;
}

function pushUnit(out: number[], u: number, wide: boolean): void {
  if (u >= EXACT) out.push(u - EXACT);
  else if (u < 0x80 || (u < 0x100 && !wide)) out.push(u);
  else out.push(...Buffer.from(String.fromCodePoint(u), 'utf8'));
}

function concat(a: Int32Array, b: Int32Array): Int32Array {
  const o = new Int32Array(a.length + b.length);
  o.set(a);
  o.set(b, a.length);
  return o;
}

/** An inferred HTTP/1.1 message: its lines (one direction of one exchange) and their characters. */
interface Msg {
  dir: 'write' | 'read';
  lines: Line[];
  units: Int32Array;
  frame: Frame | null;
  ts: bigint;
  conn: Conn | null;
}

/** A body range whose byte count is known (`need`): a chunk's data, or a Content-Length body. */
interface Group {
  s: number;
  e: number;
  need: number;
}

/** What the framing of a message's characters says. */
interface Frame {
  headEnd: number;
  headers: Map<string, string>;
  complete: boolean;
  /** Ranges of body data (chunk data, or the whole body), in order. */
  body: Array<[number, number]>;
  groups: Group[];
  coding: string;
}

const ascii = (u: number) => (u >= EXACT ? u - EXACT : u);

function startsWith(units: Int32Array, s: string): boolean {
  if (units.length < s.length) return false;
  for (let i = 0; i < s.length; i++) if (ascii(units[i]) !== s.charCodeAt(i)) return false;
  return true;
}

/** A request line: an upper-case method token, SP, a target, SP, `HTTP/1.`. */
function isRequestStart(units: Int32Array): boolean {
  const head = String.fromCharCode(...Array.from(units.subarray(0, 2048), (u) => Math.min(ascii(u), 0xff)));
  return /^[A-Z][A-Z_-]{0,19} [^ \r\n]+ HTTP\/1\.[01]\r\n/.test(head);
}

function isResponseStart(units: Int32Array): boolean {
  return startsWith(units, 'HTTP/1.') && units.length > 12 && ascii(units[8]) === 0x20;
}

/** The message's framing (cached until the message grows). */
function frameOf(m: Msg, width: (u: number) => number, ambiguous: (u: number) => boolean): Frame {
  m.frame ??= frame(m.units, m.dir === 'write', width, ambiguous);
  return m.frame;
}

function frame(u: Int32Array, request: boolean, width: (u: number) => number, ambiguous: (u: number) => boolean): Frame {
  const none: Frame = { headEnd: -1, headers: new Map(), complete: false, body: [], groups: [], coding: '' };
  let headEnd = -1;
  for (let i = 3; i < u.length; i++) {
    if (u[i] === 10 && u[i - 1] === 13 && u[i - 2] === 10 && u[i - 3] === 13) {
      headEnd = i + 1;
      break;
    }
  }
  if (headEnd < 0) return none;
  const headText = String.fromCodePoint(...Array.from(u.subarray(0, headEnd), ascii));
  const lines = headText.split('\r\n');
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    if (c > 0) {
      const k = l.slice(0, c).trim().toLowerCase();
      const v = l.slice(c + 1).trim();
      headers.set(k, headers.has(k) ? `${headers.get(k)}, ${v}` : v);
    }
  }
  const coding = (headers.get('content-encoding') ?? '').toLowerCase();
  const f: Frame = { headEnd, headers, complete: false, body: [], groups: [], coding };
  const status = request ? 0 : Number(lines[0].split(' ')[1]);
  const te = (headers.get('transfer-encoding') ?? '').toLowerCase();
  const minMax = (s: number, e: number) => {
    let min = 0;
    let amb = 0;
    for (let i = s; i < e; i++) {
      min += width(u[i]);
      if (ambiguous(u[i])) amb++;
    }
    return [min, amb] as const;
  };
  if (!request && (status < 200 || status === 204 || status === 304)) {
    f.complete = true;
    return f;
  }
  if (te.includes('chunked')) {
    let p = headEnd;
    for (;;) {
      const line = sizeLine(u, p);
      if (line === 'partial') return f;
      if (line === null) return f; // not a chunk-size line: framing lost, left incomplete
      const [n, next] = line;
      if (n === 0) {
        // Trailers up to an empty line.
        for (let i = next; i + 1 < u.length; i++) {
          if (u[i] === 13 && u[i + 1] === 10 && (i === next || (u[i - 1] === 10 && u[i - 2] === 13))) {
            f.complete = true;
            return f;
          }
        }
        return f;
      }
      // The chunk's data ends where its bytes reach n and CRLF plus a size line (or the end so far) follows.
      let min = 0;
      let amb = 0;
      let end = -1;
      for (let q = next; q <= u.length; q++) {
        if (min <= n && n <= min + amb && q + 1 < u.length && u[q] === 13 && u[q + 1] === 10 && (q + 2 === u.length || sizeLine(u, q + 2) !== null)) {
          end = q;
          break;
        }
        if (min > n || q === u.length) break;
        min += width(u[q]);
        if (ambiguous(u[q])) amb++;
      }
      if (end < 0) {
        f.body.push([next, u.length]); // unfinished chunk: its width is not known
        return f;
      }
      f.body.push([next, end]);
      f.groups.push({ s: next, e: end, need: n });
      p = end + 2;
    }
  }
  const cl = headers.get('content-length');
  if (cl !== undefined && /^\d+$/.test(cl)) {
    const n = Number(cl);
    const [min, amb] = minMax(headEnd, u.length);
    f.body.push([headEnd, u.length]);
    if (min <= n && n <= min + amb) f.groups.push({ s: headEnd, e: u.length, need: n });
    f.complete = min + amb >= n;
    return f;
  }
  if (request) {
    f.complete = true; // no body
    return f;
  }
  f.body.push([headEnd, u.length]); // until close
  return f;
}

/** A chunk-size line at `p`: [size, index after its CRLF]; 'partial' when the characters end inside it; else null. */
function sizeLine(u: Int32Array, p: number): [number, number] | 'partial' | null {
  let i = p;
  let hex = '';
  while (i < u.length && /[0-9a-fA-F]/.test(String.fromCharCode(ascii(u[i]) & 0xff)) && ascii(u[i]) < 0x80) hex += String.fromCharCode(ascii(u[i++]));
  if (i === u.length) return 'partial';
  if (!hex || hex.length > 12) return null;
  while (i < u.length && u[i] !== 13 && i - p < 256) {
    if (ascii(u[i]) === 10) return null;
    i++;
  }
  if (i >= u.length - 1) return i - p < 256 ? 'partial' : null;
  if (u[i] !== 13 || u[i + 1] !== 10) return null;
  return [parseInt(hex, 16), i + 2];
}

/** Server processing time the response reports, ms: the largest `Server-Timing` `dur`, else `x-envoy-upstream-service-time`. */
export function serverTimeMs(headers: Map<string, string>): number {
  const st = headers.get('server-timing');
  if (st) {
    const durs = [...st.matchAll(/dur=([0-9.]+)/g)].map((m) => Number(m[1])).filter(Number.isFinite);
    if (durs.length) return Math.max(...durs);
  }
  const envoy = Number(headers.get('x-envoy-upstream-service-time'));
  return Number.isFinite(envoy) && envoy > 0 ? envoy : 0;
}

/** Largest number of decodes a checksum search tries per message (then its characters stay undecided). */
const MAX_COMBINATIONS = 200_000;

/**
 * Decides the width of every ambiguous character of a message: `wide(position)` is true when the character at that
 * position (in the message's characters) was 2-byte UTF-8. `undecidedLines`: indices of the message's lines with a
 * character left to the default.
 */
function resolveMessage(m: Msg, f: Frame, ambiguous: (u: number) => boolean, width: (u: number) => number): { wide: (pos: number) => boolean; byChecksum: boolean; undecidedLines: Set<number> } {
  const u = m.units;
  const coded = f.coding !== '' && f.coding !== 'identity';
  const decision = new Map<number, boolean>();
  const undecided: number[] = [];
  const choices: Array<{ pos: number[]; k: number }> = [];
  const inGroup = new Set<number>();
  for (const g of f.groups) {
    const pos: number[] = [];
    let min = 0;
    for (let i = g.s; i < g.e; i++) {
      min += width(u[i]);
      if (ambiguous(u[i])) pos.push(i);
      inGroup.add(i);
    }
    const k = g.need - min;
    if (k === 0) for (const p of pos) decision.set(p, false);
    else if (k === pos.length) for (const p of pos) decision.set(p, true);
    else choices.push({ pos, k });
  }
  const bodyStart = f.headEnd < 0 ? u.length : f.headEnd;
  for (let i = 0; i < u.length; i++) {
    if (!ambiguous(u[i]) || decision.has(i) || choices.some((c) => c.pos.includes(i))) continue;
    if (i < bodyStart) decision.set(i, true); // head: text
    else {
      decision.set(i, !coded);
      undecided.push(i);
    }
  }
  let byChecksum = false;
  if (choices.length) {
    let found = null as number[][] | null;
    let many = false as boolean;
    if (coded && f.complete) {
      // The body with every choice position as one byte, and where each of them is in it; a combination splices in
      // the 2-byte forms.
      const isChoice = new Set(choices.flatMap((c) => c.pos));
      const baseBytes: number[] = [];
      const at = new Map<number, number>();
      for (const [s, e] of f.body) for (let i = s; i < e; i++) {
        if (isChoice.has(i)) at.set(i, baseBytes.length);
        pushUnit(baseBytes, u[i], ambiguous(u[i]) ? !isChoice.has(i) && (decision.get(i) ?? false) : true);
      }
      const base = Buffer.from(baseBytes);
      const build = (wide: number[]): Buffer => {
        const pieces: Buffer[] = [];
        let from = 0;
        for (const p of [...wide].sort((x, y) => x - y)) {
          const o = at.get(p)!;
          pieces.push(base.subarray(from, o), Buffer.from(String.fromCodePoint(u[p]), 'utf8'));
          from = o + 1;
        }
        pieces.push(base.subarray(from));
        return Buffer.concat(pieces);
      };
      // Depth first over the groups in body order; a choice whose body prefix (up to the group's end) already fails
      // to decode is not extended.
      let tried = 0;
      const search = (g: number, chosen: number[]): void => {
        if (many || tried > MAX_COMBINATIONS) return;
        if (g === choices.length) {
          tried++;
          if (decodes(f.coding, build(chosen))) {
            if (found) many = true;
            else found = [chosen];
          }
          return;
        }
        const last = choices[g].pos[choices[g].pos.length - 1];
        for (const c of combinations(choices[g].pos, choices[g].k)) {
          const next = [...chosen, ...c];
          if (g < choices.length - 1) {
            tried++;
            const end = at.get(last)! + 1 + c.length;
            if (!decodesPrefix(f.coding, build(next).subarray(0, end))) continue;
          }
          search(g + 1, next);
        }
      };
      search(0, []);
    }
    if (found && !many) {
      byChecksum = true;
      const set = new Set(found.flat());
      for (const c of choices) for (const p of c.pos) decision.set(p, set.has(p));
    } else {
      for (const c of choices) for (const p of c.pos) {
        decision.set(p, !coded);
        undecided.push(p);
      }
    }
  }
  const undecidedLines = new Set<number>();
  let base = 0;
  const starts = m.lines.map((l) => ((base += l.units.length), base - l.units.length));
  for (const p of undecided) {
    let k = starts.length - 1;
    while (k > 0 && starts[k] > p) k--;
    undecidedLines.add(k);
  }
  return { wide: (p) => decision.get(p) ?? true, byChecksum, undecidedLines };
}

/** True when `body` decodes under `coding` with its checksum intact (gzip CRC32/ISIZE, zlib Adler-32; br: no error). */
function decodes(coding: string, body: Buffer): boolean {
  try {
    if (coding === 'gzip' || coding === 'x-gzip') gunzipSync(body);
    else if (coding === 'deflate') inflateSync(body);
    else if (coding === 'br') brotliDecompressSync(body);
    else return false;
    return true;
  } catch {
    return false;
  }
}

/** False when the start of a coded body already fails to decode (gzip/deflate; other codings cannot be checked early). */
function decodesPrefix(coding: string, prefix: Buffer): boolean {
  try {
    const opts = { finishFlush: zlibConstants.Z_SYNC_FLUSH };
    if (coding === 'gzip' || coding === 'x-gzip') gunzipSync(prefix, opts);
    else if (coding === 'deflate') inflateSync(prefix, opts);
    return true;
  } catch {
    return false;
  }
}

function* combinations(items: number[], k: number, from = 0, acc: number[] = []): Generator<number[]> {
  if (acc.length === k) return yield [...acc];
  for (let i = from; i <= items.length - (k - acc.length); i++) {
    acc.push(items[i]);
    yield* combinations(items, k, i + 1, acc);
    acc.pop();
  }
}
