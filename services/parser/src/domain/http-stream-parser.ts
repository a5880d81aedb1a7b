/**
 * Incremental HTTP/1.1 and HTTP/2 reassembly of TLS plaintext (RFC 9112 framing, RFC 9113 + RFC 7541 HPACK for h2,
 * RFC 9110 content codings, WHATWG SSE).
 *
 * HTTP/2: a connection whose write side begins with the client connection preface (`PRI * HTTP/2.0…`) or whose read
 * side begins with a server SETTINGS frame is handed to an {@link H2Connection} (./h2/connection), which emits the
 * same events per stream with `stream_id` set; everything below about framing is HTTP/1.1.
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
 * Body framing (RFC 9112 §6.3): HEAD/1xx/204/304 responses have no body (request methods are queued per connection
 * for the pairing); Transfer-Encoding chunked (extensions ignored, trailer fields appended to `headers` of
 * `request`/`response` events); Content-Length; otherwise a request has no body and a response is read until the
 * connection closes — the probe reports no close, so such a response ends when its connection is evicted by
 * {@link HttpStreamParser.evictIdle}. A CONNECT 2xx or 101 response turns the connection opaque (ignored, counted).
 */
import {
  DEAD_LETTER_SAMPLE_BYTES,
  connKey,
  deriveId,
  headerValue,
  hostToken,
  normalizeNs,
  rawMsgId,
  Subjects,
  type ConnRef,
  type Direction,
  type HeaderList,
  type HttpEvent,
  type HttpRequestEvent,
  type HttpResponseEvent,
  type RawSslRecord,
} from '@agentsight/contracts';
import { ByteQueue } from './byte-queue';
import { bodyFraming, HeadError, MAX_HEADER_FIELDS, MAX_START_LINE, parseHead, startVerdict, type Framing, type ParsedHead } from './http-head';
import { isEventStream, MessageBody, type Pos } from './message-body';
import { H2Connection, type H2DirSnapshot, type H2Host } from './h2/connection';
import { CLIENT_PREFACE, looksLikeServerPreface } from './h2/frames';
import type { ConnCloseInput, ParserDeadLetter, HttpStreamParserOptions, ParseOutput, ParserDeadLetterReason, ParserStats } from './types';

const DEFAULT_MAX_MESSAGE = 256 * 1024 * 1024;
const DEFAULT_MAX_HEADER = 256 * 1024;
const MAX_CHUNK_LINE = 4096;
const MAX_PENDING_METHODS = 1024;
const LF = 0x0a;
const CR = 0x0d;

/** A message whose head has been parsed and whose body is being read. */
interface Message {
  head: ParsedHead;
  start: Pos;
  /** Record carrying the last byte read so far. */
  lastRec: RawSslRecord;
  framing: Framing;
  /** `length` framing: body bytes still expected. */
  remaining: number;
  /** `chunked` framing state. */
  chunkPhase: 'size' | 'data' | 'crlf' | 'trailers';
  chunkLeft: number;
  trailers: HeaderList;
  trailerBytes: number;
  /** More than MAX_HEADER_FIELDS trailer fields came (reported once; the extra ones dropped). */
  trailersCut?: boolean;
  expectContinue: boolean;
  /** The body after transfer decoding: content decoding, SSE events, size limit. */
  body: MessageBody;
}

type Mode =
  /** At a message boundary or reading a head. */
  | 'head'
  /** Reading a body. */
  | 'body'
  /** Lost sync: dropping bytes until a record starts with a plausible start line. */
  | 'resync'
  /** Not HTTP/1 (h2, upgraded, tunnel): everything is dropped. */
  | 'opaque';

class DirState {
  readonly q = new ByteQueue<RawSslRecord>();
  /** Stream offset after the last byte received; -1 until the first record (or resumeAt). */
  next = -1;
  /** consumedOffset(): only moves at message boundaries or over discarded bytes. */
  consumed = 0;
  mode: Mode = 'head';
  /** The head being read starts at a known boundary (so garbage there is reported), not at a resync guess. */
  strict = true;
  /** Head scanning: 0 = reading the start line, 1 = reading header fields. */
  headPhase: 0 | 1 = 0;
  headScan = 0;
  /** Blank-line detector: 0 in a line, 1 after LF, 2 after LF CR. */
  nl = 0;
  notHttpReported = false;
  msg: Message | null = null;
  /**
   * Holes declared as gaps, `[from, to)` stream offsets, oldest first (at most {@link MAX_HOLES}): bytes arriving
   * later inside one are late, not duplicates (see {@link HttpStreamParser.push}); the late part is cut out.
   */
  holes: Array<[number, number]> = [];
  constructor(readonly dir: Direction) {}
}

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
  readonly write = new DirState('write');
  readonly read = new DirState('read');
  /** Methods of requests not yet answered by a final response, oldest first. */
  readonly methods: Array<{ method: string; msg: Message | null }> = [];
  lastSeenNs = 0n;
  /** The latest record of the connection (names the connection in a `connection_end`). */
  ref: Pick<RawSslRecord, 'host' | 'boot_id' | 'run' | 'pid' | 'tid' | 'uid' | 'comm' | 'ssl' | 'partition'> | null = null;
  /** A `connection_end` was emitted. */
  ended = false;
  /** Set when the connection is HTTP/2: it then parses both directions, the DirStates only place bytes. */
  h2: H2Connection | null = null;
  constructor(readonly key: string) {}
  side(dir: Direction): DirState {
    return dir === 'write' ? this.write : this.read;
  }
}

/** Output collector passed through one call. */
type Out = ParseOutput;
const newOut = (): Out => ({ events: [], deadLetters: [] });

/**
 * Stateful, synchronous HTTP/1.1 reassembler for many TLS connections. Not thread-safe (single consumer per
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
    const out = newOut();
    let conn: ConnState | undefined;
    try {
      if (!rec || !ArrayBuffer.isView(rec.data) || !Number.isSafeInteger(rec.stream_offset) || rec.stream_offset < 0 || (rec.dir !== 'write' && rec.dir !== 'read')) {
        this.deadLetter(out, rec, 'contract', 'raw ssl record without data, with an invalid stream_offset or dir', rec && ArrayBuffer.isView(rec.data) ? rec.data : new Uint8Array(0));
        return out;
      }
      this.st.records++;
      this.st.bytes += rec.data.length;
      const key = connKey(rec);
      conn = this.conns.get(key);
      if (!conn) {
        conn = new ConnState(key);
        this.conns.set(key, conn);
      }
      if (rec.ts_wall_ns > conn.lastSeenNs) conn.lastSeenNs = rec.ts_wall_ns;
      conn.ref = rec;
      this.feed(conn, conn.side(rec.dir), rec, out);
    } catch (e) {
      // A bug must not take the consumer down: report it and reset the direction.
      this.deadLetter(out, rec, 'internal_error', e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e), rec?.data ?? new Uint8Array(0));
      if (conn && rec) this.resetToResync(conn.side(rec.dir));
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
      c = new ConnState(key);
      this.conns.set(key, c);
    }
    const d = c.side(dir);
    d.msg?.body.close();
    d.msg = null;
    d.next = offset;
    d.consumed = offset;
    d.q.reset(offset);
    d.mode = 'head';
    d.strict = true;
    this.resetHeadScan(d);
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
      for (const d of [c.write, c.read]) {
        try {
          if (d.msg) this.finish(c, d, d.msg, d.msg.framing.type === 'close' ? 'complete' : 'short', sink);
          this.unfinishedHead(c, d, 'evicted idle', sink);
          this.st.discardedBytes += d.q.length;
        } catch (e) {
          sink.deadLetters.push(this.draft(null, key, 'internal_error', e instanceof Error ? e.message : String(e), new Uint8Array(0)));
        }
        d.msg?.body.close();
      }
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
        c = new ConnState(key);
        this.conns.set(key, c);
      }
      const ts = normalizeNs(rec.ts_wall_ns);
      if (ts > c.lastSeenNs) c.lastSeenNs = ts;
      if (c.h2) {
        c.h2.finishAll(out);
        c.h2.closeAt(rec.write_offset, rec.read_offset);
      }
      for (const d of [c.write, c.read]) {
        const closeAt = d.dir === 'write' ? rec.write_offset : rec.read_offset;
        if (d.msg) this.finish(c, d, d.msg, d.msg.framing.type === 'close' ? 'complete' : 'short', out);
        this.unfinishedHead(c, d, 'closed', out);
        this.st.discardedBytes += d.q.length;
        const at = Math.max(d.next, Number.isSafeInteger(closeAt) ? closeAt : 0, 0);
        d.q.reset(at);
        d.next = at;
        d.consumed = at;
        d.mode = 'head';
        d.strict = true;
        this.resetHeadScan(d);
      }
      c.methods.length = 0;
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
    for (const c of this.conns.values())
      for (const d of [c.write, c.read]) {
        buffered += d.q.length;
        if (d.msg) buffered += d.msg.body.bufferedBytes();
      }
    for (const c of this.conns.values()) if (c.h2) buffered += c.h2.bufferedBytes();
    return { ...this.st, deadLetters: { ...this.st.deadLetters }, connections: this.conns.size, bufferedBytes: buffered };
  }

  // ---------------------------------------------------------------------------------------------------------------

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
        this.enterResync(d);
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
      if (!c.h2) this.gap(c, d, start, out); // (an HTTP/2 connection sees the hole itself)
    }
    const dataOffset = end - data.length;
    if (!c.h2 && atRecordStart && dataOffset === 0 && this.startsH2(c, d, data)) this.beginH2(c, d);
    if (c.h2) {
      c.h2.push(d.dir, data, dataOffset, rec, out);
      d.next = end;
      return;
    }
    // A response starting while its request body is still short of Content-Length: the request is all there is.
    if (d.dir === 'read' && !d.msg && d.q.length === 0 && d.mode !== 'opaque') this.finishShortRequest(c, out);

    if (d.mode === 'opaque') {
      this.discard(d, data.length, end);
      return;
    }
    if (d.mode === 'resync') {
      if (!atRecordStart || startVerdict((i) => data[i], Math.min(data.length, 32), d.dir === 'write') !== 'maybe') {
        this.discard(d, data.length, end);
        return;
      }
      d.mode = 'head';
      d.strict = false;
      this.resetHeadScan(d);
    }
    d.q.push(data, rec);
    d.next = end;
    this.drive(c, d, out);
  }

  /** Runs the state machine over the queued bytes as far as they go. */
  private drive(c: ConnState, d: DirState, out: Out): void {
    for (;;) {
      if (d.mode === 'head') {
        if (!this.readHead(c, d, out)) return;
      } else if (d.mode === 'body') {
        if (!this.readBody(c, d, out)) return;
      } else {
        // resync / opaque: whatever is queued is dropped.
        this.discard(d, d.q.length, d.next);
        return;
      }
    }
  }

  /** Reads a head; returns true when one was consumed (or dropped) and parsing can go on. */
  private readHead(c: ConnState, d: DirState, out: Out): boolean {
    const q = d.q;
    if (d.headPhase === 0) {
      // Empty lines before a message are ignored (RFC 9112 §2.2).
      let k = 0;
      while (k < q.length && (q.byteAt(k) === CR || q.byteAt(k) === LF)) k++;
      if (k > 0) {
        q.skip(k);
        d.consumed = q.offset;
        d.headScan = 0;
      }
      if (q.length === 0) return false;
      const lf = q.indexOfLf(d.headScan);
      const lineLen = lf < 0 ? q.length : lf;
      const verdict = startVerdict((i) => q.byteAt(i), Math.min(lineLen, 32), d.dir === 'write');
      if (verdict === 'h2' && d.dir === 'write' && q.offset === 0 && c.methods.length === 0) {
        // The preface arrived in pieces too short to be recognised on arrival: hand what is queued to HTTP/2.
        this.beginH2(c, d);
        const h2 = c.h2!;
        this.resetHeadScan(d);
        q.takeViews(q.length, (v, rec, off) => h2.push(d.dir, v, off, rec, out));
        return false;
      }
      if (verdict === 'h2') return this.headFailure(c, d, 'unsupported_protocol', `HTTP/2 connection preface (PRI * HTTP/2.0) at stream offset ${q.offset}, not at the start of the connection`, out);
      if (verdict === 'no') return this.headFailure(c, d, 'not_http', `${d.dir === 'write' ? 'request' : 'status'} line expected at stream offset ${q.offset}`, out);
      if (lf < 0) {
        if (q.length > MAX_START_LINE) return this.headFailure(c, d, 'not_http', `no line end within ${MAX_START_LINE} bytes at stream offset ${q.offset}`, out);
        d.headScan = q.length;
        return false;
      }
      d.headPhase = 1;
      d.headScan = lf + 1;
      d.nl = 1;
    }
    let nl = d.nl;
    const endIdx = q.scan(d.headScan, (b) => {
      if (b === LF) {
        if (nl !== 0) return true;
        nl = 1;
      } else if (b === CR && nl === 1) nl = 2;
      else nl = 0;
      return false;
    });
    if (endIdx < 0) {
      d.nl = nl;
      d.headScan = q.length;
      if (q.length > this.maxHeader) return this.headFailure(c, d, 'http_parse_error', `header block exceeds ${this.maxHeader} bytes`, out);
      return false;
    }
    if (endIdx + 1 > this.maxHeader) return this.headFailure(c, d, 'http_parse_error', `header block exceeds ${this.maxHeader} bytes`, out);
    const start: Pos = { offset: q.offset, rec: q.metaAt(0) };
    const endRec = q.metaAt(endIdx);
    let head: ParsedHead;
    let framing: Framing;
    const isRequest = d.dir === 'write';
    const headBytes = q.take(endIdx + 1);
    try {
      head = parseHead(headBytes, isRequest);
      const interim = head.kind === 'response' && head.status >= 100 && head.status < 200;
      framing = bodyFraming(head, interim || isRequest ? undefined : c.methods[0]?.method);
    } catch (e) {
      const he = e instanceof HeadError ? e : new HeadError(String(e), 'http_parse_error');
      const sample = Uint8Array.from(headBytes.subarray(0, DEAD_LETTER_SAMPLE_BYTES));
      return this.headFailure(c, d, he.reason, `${he.message} (stream offset ${start.offset})`, out, sample, start.rec);
    }
    this.resetHeadScan(d);
    d.strict = true;
    this.beginMessage(c, d, head, framing, start, endRec, out);
    return true;
  }

  private beginMessage(c: ConnState, d: DirState, head: ParsedHead, framing: Framing, start: Pos, headEndRec: RawSslRecord, out: Out): void {
    const headEnd = d.q.offset;
    if (head.kind === 'response') {
      if (head.status >= 100 && head.status < 200) {
        this.st.interimResponses++;
        d.consumed = headEnd;
        if (head.status === 101) this.makeOpaque(c);
        return;
      }
      const req = c.methods.shift();
      if (req?.method === 'CONNECT' && head.status >= 200 && head.status < 300) {
        d.consumed = headEnd;
        this.makeOpaque(c);
        return;
      }
    } else {
      c.methods.push({ method: head.method, msg: null });
      if (c.methods.length > MAX_PENDING_METHODS) c.methods.shift();
    }
    const tooManyFields = head.headers.length > MAX_HEADER_FIELDS;
    const streaming = !tooManyFields && head.kind === 'response' && framing.type !== 'none' && isEventStream(head.headers);
    const msg: Message = {
      head,
      start,
      lastRec: headEndRec,
      framing,
      remaining: framing.type === 'length' ? framing.length : 0,
      chunkPhase: 'size',
      chunkLeft: 0,
      trailers: [],
      trailerBytes: 0,
      expectContinue: head.kind === 'request' && /100-continue/i.test(headerValue(head.headers, 'expect') ?? ''),
      body: new MessageBody(
        {
          maxMessage: this.maxMessage,
          maxSseEvents: this.maxSseEvents,
          stats: this.st,
          label: `${d.dir} message at stream offset ${start.offset}`,
          base: (type, ordinal, first, last, end) => this.base(c, d, msg, type, ordinal, first, last, end),
          deadLetter: (o, rec, reason, error, sample) => this.deadLetter(o, rec, reason, error, sample, c.key),
        },
        head.headers,
        streaming,
        headEndRec,
        out,
      ),
    };
    if (head.kind === 'request') c.methods[c.methods.length - 1].msg = msg;
    d.msg = msg;
    d.mode = 'body';
    if (tooManyFields) msg.body.tooLarge(headEndRec, `header section has ${head.headers.length} fields, more than ${MAX_HEADER_FIELDS}`, out);
    else if (framing.type === 'length' && framing.length > this.maxMessage && !streaming) msg.body.tooLarge(headEndRec, `Content-Length ${framing.length} exceeds ${this.maxMessage} bytes`, out);
    if (streaming) {
      if (head.kind === 'response')
        out.events.push({
          ...this.base(c, d, msg, 'response_head', 0, start.rec, headEndRec, headEnd),
          type: 'response_head',
          status: head.status,
          reason: head.reason,
          version: head.version,
          headers: head.headers,
          streaming: true,
        });
    }
    if (framing.type === 'none') this.finish(c, d, msg, 'complete', out);
  }

  /** Reads body bytes; returns true when the message ended and parsing can go on. */
  private readBody(c: ConnState, d: DirState, out: Out): boolean {
    const msg = d.msg!;
    const q = d.q;
    switch (msg.framing.type) {
      case 'length': {
        const k = Math.min(msg.remaining, q.length);
        if (k > 0) {
          q.takeViews(k, (v, rec, off) => this.bodyBytes(msg, v, rec, off, out));
          msg.remaining -= k;
        }
        if (msg.remaining > 0) return false;
        this.finish(c, d, msg, 'complete', out);
        return true;
      }
      case 'close':
        if (q.length > 0) q.takeViews(q.length, (v, rec, off) => this.bodyBytes(msg, v, rec, off, out));
        return false;
      case 'chunked':
        return this.readChunked(c, d, msg, out);
      default:
        this.finish(c, d, msg, 'complete', out);
        return true;
    }
  }

  /** Chunked transfer coding (RFC 9112 §7.1). */
  private readChunked(c: ConnState, d: DirState, msg: Message, out: Out): boolean {
    const q = d.q;
    for (;;) {
      switch (msg.chunkPhase) {
        case 'size': {
          const lf = q.indexOfLf(0);
          if (lf < 0) {
            if (q.length > MAX_CHUNK_LINE) return this.bodyFailure(c, d, msg, `chunk-size line longer than ${MAX_CHUNK_LINE} bytes`, out);
            return false;
          }
          msg.lastRec = q.metaAt(lf);
          const line = Buffer.from(q.take(lf + 1)).toString('latin1');
          const semi = line.indexOf(';');
          const sizeText = (semi >= 0 ? line.slice(0, semi) : line).trim();
          if (!/^[0-9a-fA-F]{1,15}$/.test(sizeText)) return this.bodyFailure(c, d, msg, `invalid chunk-size line ${JSON.stringify(line.slice(0, 40))}`, out);
          const size = parseInt(sizeText, 16);
          if (size === 0) msg.chunkPhase = 'trailers';
          else {
            msg.chunkPhase = 'data';
            msg.chunkLeft = size;
          }
          break;
        }
        case 'data': {
          const k = Math.min(msg.chunkLeft, q.length);
          if (k > 0) {
            q.takeViews(k, (v, rec, off) => this.bodyBytes(msg, v, rec, off, out));
            msg.chunkLeft -= k;
          }
          if (msg.chunkLeft > 0) return false;
          msg.chunkPhase = 'crlf';
          break;
        }
        case 'crlf': {
          if (q.length === 0) return false;
          const b0 = q.byteAt(0);
          if (b0 === LF) q.skip(1);
          else if (b0 === CR) {
            if (q.length < 2) return false;
            if (q.byteAt(1) !== LF) return this.bodyFailure(c, d, msg, 'chunk data not followed by CRLF', out);
            q.skip(2);
          } else return this.bodyFailure(c, d, msg, 'chunk data not followed by CRLF', out);
          msg.chunkPhase = 'size';
          break;
        }
        case 'trailers': {
          const lf = q.indexOfLf(0);
          if (lf < 0) {
            if (msg.trailerBytes + q.length > this.maxHeader) return this.bodyFailure(c, d, msg, `trailer section exceeds ${this.maxHeader} bytes`, out);
            return false;
          }
          msg.lastRec = q.metaAt(lf);
          msg.trailerBytes += lf + 1;
          const line = Buffer.from(q.take(lf + 1)).toString('latin1').replace(/\r?\n$/, '');
          if (line === '') {
            this.finish(c, d, msg, 'complete', out);
            return true;
          }
          const colon = line.indexOf(':');
          if (colon > 0) {
            if (msg.trailers.length < MAX_HEADER_FIELDS) msg.trailers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
            else if (!msg.trailersCut) {
              // The section's end is still found by its blank line: keep the message, drop the extra fields.
              msg.trailersCut = true;
              this.deadLetter(out, msg.lastRec, 'too_large', `${d.dir}: trailer section has more than ${MAX_HEADER_FIELDS} fields, the rest dropped (message at stream offset ${msg.start.offset})`, new Uint8Array(0), c.key);
            }
          }
          if (msg.trailerBytes > this.maxHeader) return this.bodyFailure(c, d, msg, `trailer section exceeds ${this.maxHeader} bytes`, out);
          break;
        }
      }
    }
  }

  /** One piece of body (transfer coding removed), at stream offset `off`, carried by `rec`. */
  private bodyBytes(msg: Message, v: Uint8Array, rec: RawSslRecord, off: number, out: Out): void {
    msg.lastRec = rec;
    msg.body.write(v, { offset: off, rec }, off + v.length, out);
  }

  /** Ends a message: emits it, moves consumedOffset, and gets ready for the next one. */
  private finish(c: ConnState, d: DirState, msg: Message, how: 'complete' | 'short', out: Out): void {
    const end = d.q.offset;
    const missing = how === 'short' && msg.framing.type === 'length' && msg.remaining > 0 ? msg.remaining : undefined;
    if (how === 'short') this.st.shortBodies++;
    if (!msg.body.discard) {
      if (msg.body.streaming) this.finishStream(c, d, msg, how, end, out);
      else this.finishWhole(c, d, msg, how, missing, end, out);
    }
    msg.body.close();
    if (msg.head.kind === 'request') {
      const m = c.methods.find((x) => x.msg === msg);
      if (m) m.msg = null;
    }
    d.msg = null;
    d.mode = 'head';
    d.strict = true;
    this.resetHeadScan(d);
    d.consumed = end;
  }

  private finishWhole(c: ConnState, d: DirState, msg: Message, how: 'complete' | 'short', missing: number | undefined, end: number, out: Out): void {
    const whole = msg.body.whole(how, msg.lastRec, out);
    if (!whole) return;
    const { body, incomplete } = whole;
    const head = msg.head;
    const headers = msg.trailers.length > 0 ? [...head.headers, ...msg.trailers] : head.headers;
    const ev: HttpRequestEvent | HttpResponseEvent =
      head.kind === 'request'
        ? { ...this.base(c, d, msg, 'request', 0, msg.start.rec, msg.lastRec, end), type: 'request', method: head.method, target: head.target, version: head.version, headers, body }
        : { ...this.base(c, d, msg, 'response', 0, msg.start.rec, msg.lastRec, end), type: 'response', status: head.status, reason: head.reason, version: head.version, headers, body };
    if (incomplete) ev.body_incomplete = incomplete;
    if (missing !== undefined) ev.body_missing_bytes = missing;
    if (head.kind === 'request') this.st.requests++;
    else this.st.responses++;
    out.events.push(ev);
  }

  private finishStream(c: ConnState, d: DirState, msg: Message, how: 'complete' | 'short', end: number, out: Out): void {
    const fields = msg.body.endStream(how, msg.lastRec, end, out);
    this.st.responses++;
    out.events.push({ ...this.base(c, d, msg, 'response_end', 0, msg.start.rec, msg.lastRec, end), ...fields });
  }

  /** The common event fields. `end` = stream offset after the last byte of what the event covers. */
  /** Emits the connection's `connection_end` (once; a closed connection is not ended again when evicted). */
  private endConnection(c: ConnState, reason: 'close' | 'idle', ts: bigint, out: Out): void {
    if (c.ended || !c.ref) return;
    c.ended = true;
    const at = c.write.consumed;
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

  private base(c: ConnState, d: DirState, msg: Message, type: HttpEvent['type'], ordinal: number, first: RawSslRecord, last: RawSslRecord, end: number) {
    return {
      v: 1 as const,
      id: deriveId('http', c.key, d.dir, msg.start.offset, type, ordinal),
      conn: connRef(c.key, msg.start.rec),
      span: { dir: d.dir, start_offset: msg.start.offset, end_offset: end },
      start_ns: first.ts_wall_ns,
      end_ns: last.ts_wall_ns,
    };
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
    if (c.write.next > 0 || c.methods.length > 0) return false;
    if (data.length >= 9) return looksLikeServerPreface(data);
    // A shorter first read: the start of a frame header (length < 2^16, type SETTINGS, no flags), never `HTTP/1.`.
    return data[0] === 0 && (data.length < 4 || data[3] === 4) && (data.length < 5 || data[4] === 0);
  }

  /** Turns `c` into an HTTP/2 connection; `d` starts at offset 0, the other side where it is (broken if past 0). */
  private beginH2(c: ConnState, d: DirState): void {
    const host: H2Host = {
      key: c.key,
      maxMessage: this.maxMessage,
      maxSseEvents: this.maxSseEvents,
      maxHeader: this.maxHeader,
      stats: this.st,
      connRef: (rec) => connRef(c.key, rec),
      deadLetter: (out, rec, reason, error, sample) => this.deadLetter(out, rec, reason, error, sample, c.key),
    };
    const h2 = new H2Connection(host);
    const other = d.dir === 'write' ? c.read : c.write;
    h2.startAt(d.dir, 0);
    h2.startAt(other.dir, Math.max(0, other.next));
    c.h2 = h2;
  }

  // --- failures and resync ---------------------------------------------------------------------------------------

  /** A head that is not (valid) HTTP: report as the reason says, drop the queued bytes, resync. Returns false. */
  private headFailure(c: ConnState, d: DirState, reason: ParserDeadLetterReason, error: string, out: Out, sample?: Uint8Array, rec?: RawSslRecord): boolean {
    const q = d.q;
    const first = rec ?? (q.length > 0 ? q.metaAt(0) : null);
    if (!sample) sample = q.length > 0 ? Uint8Array.from(q.take(Math.min(q.length, DEAD_LETTER_SAMPLE_BYTES))) : new Uint8Array(0);
    if (reason === 'unsupported_protocol') {
      this.deadLetter(out, first, reason, `${d.dir}: ${error}`, sample, c.key);
      this.makeOpaque(c);
      return false;
    }
    if (reason === 'not_http' && !d.strict) {
      // A resync guess that did not pan out: keep looking, silently.
    } else if (reason === 'not_http') {
      if (!d.notHttpReported) {
        d.notHttpReported = true;
        this.deadLetter(out, first, reason, `${d.dir}: ${error}`, sample, c.key);
      }
    } else this.deadLetter(out, first, reason, `${d.dir}: ${error}`, sample, c.key);
    this.resetToResync(d);
    return false;
  }

  /**
   * At a connection's end (`how`: closed or evicted idle): the bytes of a head that never completed (a start line
   * or header block cut short: the process exited, or the rest was never captured) are reported as an
   * `http_parse_error` dead letter with their sample, so a truncated message is never dropped silently. A resync
   * guess (`strict` false: bytes after a gap or late join that only looked like a start line) stays silent, as on
   * the way in. The caller drops the bytes.
   */
  private unfinishedHead(c: ConnState, d: DirState, how: 'closed' | 'evicted idle', out: Out): void {
    if (d.mode !== 'head' || !d.strict || d.q.length === 0) return;
    const sample = d.q.peek(Math.min(d.q.length, DEAD_LETTER_SAMPLE_BYTES));
    const what = d.dir === 'write' ? 'request' : 'response';
    this.deadLetter(out, d.q.metaAt(0), 'http_parse_error', `${d.dir}: connection ${how} inside a ${what} head: ${d.q.length} bytes at stream offset ${d.q.offset} without a complete start line and header block`, sample, c.key);
  }

  /** A framing error inside a body: the message is emitted as far as it got (short), then the direction resyncs. */
  private bodyFailure(c: ConnState, d: DirState, msg: Message, error: string, out: Out): boolean {
    const sample = Uint8Array.from(d.q.take(Math.min(d.q.length, DEAD_LETTER_SAMPLE_BYTES)));
    this.deadLetter(out, msg.lastRec, 'http_parse_error', `${d.dir}: ${error} (message at stream offset ${msg.start.offset})`, sample, c.key);
    this.finish(c, d, msg, 'short', out);
    this.resetToResync(d);
    return false;
  }

  /** Hole in the stream: end the message in progress as short, drop partial heads, resync at `newOffset`. */
  private gap(c: ConnState, d: DirState, newOffset: number, out: Out): void {
    this.st.gaps++;
    this.st.gapBytes += newOffset - d.next;
    if (d.msg) this.finish(c, d, d.msg, 'short', out);
    this.st.discardedBytes += d.q.length;
    d.q.reset(newOffset);
    d.next = newOffset;
    d.consumed = newOffset;
    if (d.mode !== 'opaque') this.enterResync(d);
  }

  /** The `write` side's only unanswered request is short of its Content-Length: emit it as is. */
  private finishShortRequest(c: ConnState, out: Out): void {
    const w = c.write;
    const m = w.msg;
    if (!m || m.head.kind !== 'request' || m.framing.type !== 'length' || m.remaining <= 0 || m.expectContinue) return;
    if (c.methods.length !== 1 || c.methods[0].msg !== m) return;
    this.finish(c, w, m, 'short', out);
    // Any late body bytes are not a request: skip to the next plausible request line.
    this.enterResync(w);
  }

  private makeOpaque(c: ConnState): void {
    for (const d of [c.write, c.read]) {
      d.msg?.body.close();
      d.msg = null;
      this.st.discardedBytes += d.q.length;
      d.q.reset(d.next < 0 ? 0 : d.next);
      if (d.next >= 0) d.consumed = d.next;
      d.mode = 'opaque';
    }
  }

  private resetToResync(d: DirState): void {
    d.msg?.body.close();
    d.msg = null;
    this.st.discardedBytes += d.q.length;
    const at = d.next < 0 ? d.q.offset : d.next;
    d.q.reset(at);
    d.consumed = at;
    this.enterResync(d);
  }

  private enterResync(d: DirState): void {
    if (d.mode === 'opaque') return;
    d.mode = 'resync';
    d.strict = false;
    this.resetHeadScan(d);
    this.st.resyncs++;
  }

  private discard(d: DirState, n: number, end: number): void {
    this.st.discardedBytes += n;
    d.next = end;
    d.q.reset(end);
    d.consumed = end;
  }

  private resetHeadScan(d: DirState): void {
    d.headPhase = 0;
    d.headScan = 0;
    d.nl = 0;
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
