/**
 * Incremental HTTP/1.1 and HTTP/2 reassembly of TLS plaintext (RFC 9112 framing, RFC 9113 + RFC 7541 HPACK for h2,
 * RFC 9110 content codings, WHATWG SSE).
 *
 * HTTP/2: a connection whose write side begins with the client connection preface (`PRI * HTTP/2.0…`) or whose read
 * side begins with a server SETTINGS frame is handed to an {@link H2Connection} (./h2/connection), which emits the
 * same events per stream with `stream_id` set; otherwise it is HTTP/1.1, parsed by {@link H1Connection} (./h1/connection).
 *
 * One {@link HttpStreamParser} holds the state of every connection it has seen. Connections are keyed by
 * {@link connKey} of the raw records; each has two independent directions: `write` (what the process sent:
 * requests) and `read` (responses). Bytes of a direction are placed by `stream_offset`, so duplicates and replays
 * are ignored and holes (lost records) are detected.
 *
 * Output, per message:
 * - a request → one `request` event once its body is complete;
 * - a non-`text/event-stream` response → one `response` event with the whole decoded body;
 * - a `text/event-stream` response → `response_head` (streaming: true) at once, one `sse_event` per event as soon as
 *   its terminating blank line has been decoded (through chunked framing and gzip/deflate/br), then `response_end`.
 * 1xx interim responses are consumed and counted, not emitted (the contract has no event for them).
 *
 * Ids are deterministic — `deriveId('http', conn.key, dir, message start offset, type, ordinal)` (ordinal = event
 * index for `sse_event`, else 0) — so replaying the same records yields the same ids.
 *
 * This file places bytes and tells the protocols apart; HTTP/1.1 framing (body framing, chunked coding, trailers,
 * resync) is {@link H1Connection} (./h1/connection, heads in ./h1/head), HTTP/2 is {@link H2Connection}
 * (./h2/connection); both hand bodies to ./message-body.
 */
import {
  DEAD_LETTER_SAMPLE_BYTES,
  connKey,
  deriveId,
  hostToken,
  normalizeNs,
  rawMsgId,
  Subjects,
  type ConnRef,
  type Direction,
  type RawSslRecord,
} from '@agentsight/contracts';
import { H1Connection, type DirState } from './h1/connection';
import { H2Connection, type H2DirSnapshot, type H2Host } from './h2/connection';
import { CLIENT_PREFACE, looksLikeServerPreface } from './h2/frames';
import type { ConnCloseInput, ParserDeadLetter, HttpStreamParserOptions, ParseOutput, ParserDeadLetterReason, ParserStats } from './types';

const DEFAULT_MAX_MESSAGE = 256 * 1024 * 1024;
const DEFAULT_MAX_HEADER = 256 * 1024;

/** Declared holes remembered per direction (the oldest is forgotten first; its late bytes then count as duplicates). */
const MAX_HOLES = 32;

/**
 * Bytes of `[start, end)` inside `holes`, which loses them (what came has arrived, so a second copy is a duplicate).
 * Returns how many bytes were late.
 */
function takeLate(holes: Array<[number, number]>, start: number, end: number): number {
  let late = 0;
  for (let i = 0; i < holes.length; i++) {
    const [a, b] = holes[i]!;
    const lo = Math.max(a, start);
    const hi = Math.min(b, end);
    if (lo >= hi) continue;
    late += hi - lo;
    const rest: Array<[number, number]> = [];
    if (a < lo) rest.push([a, lo]);
    if (hi < b) rest.push([hi, b]);
    holes.splice(i, 1, ...rest);
    i += rest.length - 1;
  }
  return late;
}

class ConnState {
  /** The HTTP/1 state of both directions (once the connection is HTTP/2, its DirStates only place bytes). */
  readonly h1: H1Connection;
  lastSeenNs = 0n;
  /** The latest record of the connection (names the connection in a `connection_end`). */
  ref: Pick<RawSslRecord, 'host' | 'boot_id' | 'run' | 'pid' | 'tid' | 'uid' | 'comm' | 'ssl' | 'partition'> | null = null;
  /** A `connection_end` was emitted. */
  ended = false;
  /** Set when the connection is HTTP/2: it then parses both directions, the DirStates only place bytes. */
  h2: H2Connection | null = null;
  /**
   * @param host what its HTTP/2 (and, with `beginH2`, HTTP/1) parser needs of the {@link HttpStreamParser}
   * @param h1 makes its HTTP/1 state
   */
  constructor(
    readonly key: string,
    readonly host: H2Host,
    h1: (c: ConnState) => H1Connection,
  ) {
    this.h1 = h1(this);
  }
  side(dir: Direction): DirState {
    return this.h1.side(dir);
  }
}

/** Output collector passed through one call. */
type Out = ParseOutput;
const newOut = (): Out => ({ events: [], deadLetters: [] });

/**
 * Stateful, synchronous HTTP/1.1 and HTTP/2 reassembler for many TLS connections. Not thread-safe (single consumer per
 * partition). Never throws from its public methods: problems become dead letters and counters.
 */
export class HttpStreamParser {
  private readonly conns = new Map<string, ConnState>();
  private readonly maxMessage: number;
  private readonly maxSseEvents: number | undefined;
  private readonly maxHeader: number;
  private readonly st: ParserStats = {
    records: 0,
    bytes: 0,
    duplicateBytes: 0,
    lateRecords: 0,
    lateBytes: 0,
    gaps: 0,
    gapBytes: 0,
    requests: 0,
    responses: 0,
    streamedResponses: 0,
    sseEvents: 0,
    interimResponses: 0,
    lateJoins: 0,
    resyncs: 0,
    discardedBytes: 0,
    shortBodies: 0,
    sseIncompleteTails: 0,
    deadLetters: {},
    evictedConnections: 0,
    h2Connections: 0,
    h2Resets: 0,
    connections: 0,
    bufferedBytes: 0,
  };

  /** @param opts size limits, see {@link HttpStreamParserOptions}. */
  constructor(opts: HttpStreamParserOptions = {}) {
    this.maxMessage = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
    this.maxHeader = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
    this.maxSseEvents = opts.maxSseEvents;
  }

  /**
   * Feeds one raw fragment, in partition (capture) order, and returns what it completed. Bytes below what was
   * already received for (conn, dir) are ignored (duplicates, replays); a hole in `stream_offset` ends the message in
   * progress as incomplete (`body_incomplete: 'short'`) and resyncs. When the first byte of a response arrives while
   * the only unanswered request is still short of its Content-Length (and did not `Expect: 100-continue`), that
   * request is emitted with `body_incomplete: 'short'` and `body_missing_bytes`. Never throws.
   */
  push(rec: RawSslRecord): ParseOutput {
    return this.pushInto(rec, newOut());
  }

  /**
   * {@link push} appending what `rec` completed to `out` (events and dead letters after those already there) instead
   * of a new output per record; `key` is `connKey(rec)` when the caller has it already. Returns `out`. Never throws.
   */
  pushInto(rec: RawSslRecord, out: ParseOutput, key?: string): ParseOutput {
    let conn: ConnState | undefined;
    try {
      if (!rec || !ArrayBuffer.isView(rec.data) || !Number.isSafeInteger(rec.stream_offset) || rec.stream_offset < 0 || (rec.dir !== 'write' && rec.dir !== 'read')) {
        this.deadLetter(out, rec, 'contract', 'raw ssl record without data, with an invalid stream_offset or dir', rec && ArrayBuffer.isView(rec.data) ? rec.data : new Uint8Array(0));
        return out;
      }
      this.st.records++;
      this.st.bytes += rec.data.length;
      key ??= connKey(rec);
      conn = this.conns.get(key);
      if (!conn) {
        conn = this.newConn(key);
        this.conns.set(key, conn);
      }
      if (rec.ts_wall_ns > conn.lastSeenNs) conn.lastSeenNs = rec.ts_wall_ns;
      conn.ref = rec;
      this.feed(conn, conn.side(rec.dir), rec, out);
    } catch (e) {
      // A bug must not take the consumer down: report it and reset the direction.
      this.deadLetter(out, rec, 'internal_error', e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e), rec?.data ?? new Uint8Array(0));
      if (conn && rec) conn.h1.resetToResync(conn.side(rec.dir));
    }
    return out;
  }

  /**
   * Bytes of (conn, dir) below this stream offset are fully represented in emitted events or deliberately discarded,
   * so a record may be acked once `consumedOffset >= rec.stream_offset + rec.data.length`. Moves only at message
   * boundaries (end of a request or of a whole response, streamed or not) and over discarded bytes, since a restart
   * can only resume there. 0 for an unknown connection.
   */
  consumedOffset(key: string, dir: Direction): number {
    const c = this.conns.get(key);
    if (!c) return 0;
    return c.h2 ? c.h2.consumed(dir) : c.side(dir).consumed;
  }

  /**
   * HTTP/2 connections: the state of (conn, dir) at {@link consumedOffset} (HPACK dynamic table …), to persist with the
   * offset and hand back to {@link resumeAt}; null for HTTP/1 and unknown connections. JSON-serialisable.
   */
  h2State(key: string, dir: Direction): H2DirSnapshot | null {
    return this.conns.get(key)?.h2?.snapshot(dir) ?? null;
  }

  /**
   * After a restart: bytes of (conn, dir) below `offset` were consumed before (offset is a message boundary taken from
   * {@link consumedOffset}); they are skipped when replayed and parsing restarts at `offset`. Call before pushing that
   * direction's records. Request methods of the previous run are lost, so a response to a HEAD request that was
   * in flight at the restart is parsed as if it had a body. `h2` is {@link h2State} as it was at that offset: given, the
   * connection resumes as HTTP/2 with that HPACK state (an HTTP/2 connection resumed without it at a non-zero offset
   * cannot decode that direction any more and ignores it).
   */
  resumeAt(key: string, dir: Direction, offset: number, h2?: H2DirSnapshot | null): void {
    let c = this.conns.get(key);
    if (!c) {
      c = this.newConn(key);
      this.conns.set(key, c);
    }
    const d = c.side(dir);
    c.h1.resumeAt(dir, offset);
    if (h2 && !c.h2) this.beginH2(c, d);
    c.h2?.resume(dir, offset, h2 ?? null);
  }

  /**
   * Drops the state of connections whose last record is older than `olderThanNs` (wall-clock ns) and returns their
   * keys. Messages in flight are finalised into `out` when given (else their events are lost): a response without
   * length (read until close) ends normally — eviction is how its end is observed, since the probe reports no close;
   * any other body is emitted as far as it got with `body_incomplete: 'short'` (and `body_missing_bytes` when the
   * Content-Length tells); partial heads are dropped (counted in `discardedBytes`) and dead-lettered as
   * `http_parse_error` unless they were a resync guess.
   */
  evictIdle(olderThanNs: bigint, out?: ParseOutput): string[] {
    const sink = out ?? newOut();
    const evicted: string[] = [];
    for (const [key, c] of this.conns) {
      if (c.lastSeenNs >= olderThanNs) continue;
      try {
        c.h2?.finishAll(sink);
      } catch (e) {
        sink.deadLetters.push(this.draft(null, key, 'internal_error', e instanceof Error ? e.message : String(e), new Uint8Array(0)));
      }
      c.h1.evict(sink);
      this.endConnection(c, 'idle', c.lastSeenNs, sink);
      this.conns.delete(key);
      evicted.push(key);
      this.st.evictedConnections++;
    }
    return evicted;
  }

  /**
   * End of a connection (the contract's `ssl_close` record: the producer saw the process exit; `write_offset` /
   * `read_offset` = bytes it published per direction). Messages in flight are finalised as on eviction (a response
   * read until close ends normally; any other unfinished body, e.g. a stream whose terminator the client never read,
   * is emitted with `body_incomplete: 'short'`), partial heads are dropped (an `http_parse_error` dead letter, unless
   * a resync guess), and both directions count as consumed up to the close offsets, so every record of the
   * connection can be acked. The state is kept (so {@link consumedOffset} answers) until {@link evictIdle} drops it;
   * bytes arriving later parse as new messages.
   * Never throws.
   */
  close(rec: ConnCloseInput): ParseOutput {
    const out = newOut();
    let key = '';
    try {
      key = connKey(rec);
      let c = this.conns.get(key);
      if (!c) {
        c = this.newConn(key);
        this.conns.set(key, c);
      }
      const ts = normalizeNs(rec.ts_wall_ns);
      if (ts > c.lastSeenNs) c.lastSeenNs = ts;
      if (c.h2) {
        c.h2.finishAll(out);
        c.h2.closeAt(rec.write_offset, rec.read_offset);
      }
      c.h1.close(rec.write_offset, rec.read_offset, out);
      c.ref = rec;
      this.endConnection(c, 'close', ts, out);
    } catch (e) {
      out.deadLetters.push(this.draft(null, key || null, 'internal_error', e instanceof Error ? e.message : String(e), new Uint8Array(0)));
    }
    return out;
  }

  /** Counters and gauges (see {@link ParserStats}). */
  stats(): ParserStats {
    let buffered = 0;
    for (const c of this.conns.values()) buffered += c.h1.bufferedBytes();
    for (const c of this.conns.values()) if (c.h2) buffered += c.h2.bufferedBytes();
    return { ...this.st, deadLetters: { ...this.st.deadLetters }, connections: this.conns.size, bufferedBytes: buffered };
  }

  // ---------------------------------------------------------------------------------------------------------------

  /** A new connection's state: HTTP/1 until its first bytes say HTTP/2. */
  private newConn(key: string): ConnState {
    const host: H2Host = {
      key,
      maxMessage: this.maxMessage,
      maxSseEvents: this.maxSseEvents,
      maxHeader: this.maxHeader,
      stats: this.st,
      connRef: (rec) => connRef(key, rec),
      deadLetter: (out, rec, reason, error, sample) => this.deadLetter(out, rec, reason, error, sample, key),
    };
    return new ConnState(key, host, (c) =>
      new H1Connection({
        ...host,
        beginH2: (d) => {
          this.beginH2(c, d);
          return c.h2!;
        },
      }),
    );
  }

  /** Places the bytes of `rec` in its direction `d` (duplicates dropped, holes seen) and hands them to HTTP/1 or HTTP/2. */
  private feed(c: ConnState, d: DirState, rec: RawSslRecord, out: Out): void {
    let data = rec.data;
    const start = rec.stream_offset;
    const end = start + data.length;
    if (d.next < 0) {
      d.next = start;
      d.consumed = start;
      d.q.reset(start);
      if (start > 0) {
        // Capture began in the middle of this direction: find the next message start.
        this.st.lateJoins++;
        c.h1.enterResync(d);
      }
    }
    if (start < d.next) {
      // Below what was received: a duplicate (replay, redelivery), or late: bytes of a hole already declared a gap
      // (the message around it was finished short), which cannot be parsed any more; said once per late record.
      const below = Math.min(end, d.next);
      const late = takeLate(d.holes, start, below);
      this.st.duplicateBytes += below - start - late;
      if (late) {
        this.st.lateRecords++;
        this.st.lateBytes += late;
        this.deadLetter(out, rec, 'late_record', `${late} bytes of ${d.dir} offsets [${start}, ${below}) arrived after that hole was declared a gap; not parsed`, rec.data.subarray(0, below - start));
      }
      if (end <= d.next) return;
    }
    let atRecordStart = true;
    if (start < d.next) {
      data = data.subarray(d.next - start);
      atRecordStart = false;
    } else if (start > d.next) {
      d.holes.push([d.next, start]);
      if (d.holes.length > MAX_HOLES) d.holes.shift();
      if (!c.h2) c.h1.gap(d, start, out); // (an HTTP/2 connection sees the hole itself)
    }
    const dataOffset = end - data.length;
    if (!c.h2 && atRecordStart && dataOffset === 0 && this.startsH2(c, d, data)) this.beginH2(c, d);
    if (c.h2) {
      c.h2.push(d.dir, data, dataOffset, rec, out);
      d.next = end;
      return;
    }
    c.h1.push(d, data, atRecordStart, end, rec, out);
  }

  /** Emits the connection's `connection_end` (once; a closed connection is not ended again when evicted). */
  private endConnection(c: ConnState, reason: 'close' | 'idle', ts: bigint, out: Out): void {
    if (c.ended || !c.ref) return;
    c.ended = true;
    const at = c.h1.write.consumed;
    out.events.push({
      v: 1,
      id: deriveId('http', c.key, 'connection_end'),
      conn: connRef(c.key, c.ref),
      span: { dir: 'write', start_offset: at, end_offset: at },
      start_ns: ts,
      end_ns: ts,
      type: 'connection_end',
      reason,
    });
  }

  // --- HTTP/2 ----------------------------------------------------------------------------------------------------

  /**
   * Whether the first bytes of a direction (stream offset 0) open an HTTP/2 connection: the client preface on the write
   * side (at least its first 4 octets, `PRI `, when the record is shorter), or a server SETTINGS frame on the read side
   * while the write side has sent nothing.
   */
  private startsH2(c: ConnState, d: DirState, data: Uint8Array): boolean {
    if (d.q.length > 0 || d.msg || d.mode === 'opaque') return false;
    if (d.dir === 'write') {
      const n = Math.min(data.length, CLIENT_PREFACE.length);
      if (n < 4) return false;
      for (let i = 0; i < n; i++) if (data[i] !== CLIENT_PREFACE[i]) return false;
      return true;
    }
    if (c.h1.write.next > 0 || c.h1.methods.length > 0) return false;
    if (data.length >= 9) return looksLikeServerPreface(data);
    // A shorter first read: the start of a frame header (length < 2^16, type SETTINGS, no flags), never `HTTP/1.`.
    return data[0] === 0 && (data.length < 4 || data[3] === 4) && (data.length < 5 || data[4] === 0);
  }

  /** Turns `c` into an HTTP/2 connection; `d` starts at offset 0, the other side where it is (broken if past 0). */
  private beginH2(c: ConnState, d: DirState): void {
    const h2 = new H2Connection(c.host);
    const other = d.dir === 'write' ? c.h1.read : c.h1.write;
    h2.startAt(d.dir, 0);
    h2.startAt(other.dir, Math.max(0, other.next));
    c.h2 = h2;
  }

  // --- dead letters ----------------------------------------------------------------------------------------------

  private deadLetter(out: Out, rec: RawSslRecord | null | undefined, reason: ParserDeadLetterReason, error: string, sample: Uint8Array, key?: string): void {
    const k = key ?? (rec && typeof rec.host === 'string' ? safeConnKey(rec) : null);
    out.deadLetters.push(this.draft(rec ?? null, k, reason, error, sample));
  }

  private draft(rec: RawSslRecord | null, key: string | null, reason: ParserDeadLetterReason, error: string, sample: Uint8Array): ParserDeadLetter {
    this.st.deadLetters[reason] = (this.st.deadLetters[reason] ?? 0) + 1;
    const inputId = rec && rec.boot_id !== undefined ? rawMsgId(rec) : null;
    const host = rec?.host ?? '';
    return {
      v: 1,
      id: deriveId('dlq', 'parser', inputId ?? key ?? '', reason),
      stage: 'parser',
      host,
      reason,
      error,
      input_subject: rec ? Subjects.rawSsl(hostToken(host), rec.partition) : '',
      input_id: inputId,
      conn_key: key,
      sample: sample.length > DEAD_LETTER_SAMPLE_BYTES ? Uint8Array.from(sample.subarray(0, DEAD_LETTER_SAMPLE_BYTES)) : sample,
      ts_ns: rec?.ts_wall_ns ?? 0n,
    };
  }
}

function safeConnKey(rec: RawSslRecord): string | null {
  try {
    return connKey(rec);
  } catch {
    return null;
  }
}

/** The contract's ConnRef of a connection, from one of its records (tid/comm: that record's). */
export function connRef(key: string, rec: Pick<RawSslRecord, 'host' | 'boot_id' | 'run' | 'pid' | 'tid' | 'uid' | 'comm' | 'ssl' | 'partition'>): ConnRef {
  return {
    key,
    host: rec.host,
    boot_id: rec.boot_id,
    run: rec.run,
    pid: rec.pid,
    tid: rec.tid,
    uid: rec.uid,
    comm: rec.comm,
    ssl: `0x${rec.ssl.toString(16)}`,
    partition: rec.partition,
  };
}
