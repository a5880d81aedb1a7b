/**
 * HTTP/1.1 reassembly of one TLS connection (RFC 9112 framing): both directions' bytes → HTTP events, the same ones
 * HTTP/2 ({@link H2Connection}, ../h2/connection) yields per stream, without `stream_id`. The parser
 * ({@link HttpStreamParser}) places each record's bytes by `stream_offset` (duplicates dropped, holes reported through
 * {@link H1Connection.gap}) and hands the new bytes of a direction to {@link H1Connection.push}; heads are parsed by
 * `./head`, bodies go through `../message-body` like HTTP/2 DATA.
 *
 * Body framing (RFC 9112 §6.3): HEAD/1xx/204/304 responses have no body (request methods are queued per connection
 * for the pairing); Transfer-Encoding chunked (extensions ignored, trailer fields appended to `headers` of
 * `request`/`response` events); Content-Length; otherwise a request has no body and a response is read until the
 * connection closes — the probe reports no close, so such a response ends when its connection is evicted by
 * {@link HttpStreamParser.evictIdle}. A CONNECT 2xx or 101 response turns the connection opaque (ignored, counted).
 * 1xx interim responses are consumed and counted, not emitted (the contract has no event for them).
 *
 * Resync: after a hole, a late join or a framing error, a direction drops bytes until a record starts with a
 * plausible start line ({@link startVerdict}); a head found that way that turns out not to be HTTP is dropped
 * silently, one at a known message boundary is reported (`not_http`, once per direction).
 */
import {
  DEAD_LETTER_SAMPLE_BYTES,
  deriveId,
  headerValue,
  type ConnRef,
  type Direction,
  type HeaderList,
  type HttpEvent,
  type HttpRequestEvent,
  type HttpResponseEvent,
  type RawSslRecord,
} from '@agentsight/contracts';
import { ByteQueue } from '../byte-queue';
import { isEventStream, MessageBody, type Pos } from '../message-body';
import type { H2Connection, H2Host } from '../h2/connection';
import type { ParseOutput, ParserDeadLetterReason, ParserStats } from '../types';
import { bodyFraming, HeadError, MAX_HEADER_FIELDS, MAX_START_LINE, parseHead, startVerdict, type Framing, type ParsedHead } from './head';

const MAX_CHUNK_LINE = 4096;
const MAX_PENDING_METHODS = 1024;
const LF = 0x0a;
const CR = 0x0d;

/** What the connection needs from the parser that owns it: what an HTTP/2 connection needs, and a way to become one. */
export interface H1Host extends H2Host {
  /**
   * The write side's HTTP/2 client preface arrived in pieces too short to be recognised on arrival (`d` at stream
   * offset 0): turns the connection into HTTP/2 and returns it; the queued bytes are then handed to it.
   */
  beginH2(d: DirState): H2Connection;
}


/** A message whose head has been parsed and whose body is being read. */
export interface Message {
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
  /**
   * The connection as every event of this message names it (`connRef` of the record of its first byte), made once per
   * message and shared by its events (a streamed response has hundreds).
   */
  conn: ConnRef;
}

export type Mode =
  /** At a message boundary or reading a head. */
  | 'head'
  /** Reading a body. */
  | 'body'
  /** Lost sync: dropping bytes until a record starts with a plausible start line. */
  | 'resync'
  /** Not HTTP/1 (h2, upgraded, tunnel): everything is dropped. */
  | 'opaque';

/** One direction of an HTTP/1 connection: its queued bytes, where they stand, and the message being read. */
export class DirState {
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
   * Holes declared as gaps, `[from, to)` stream offsets, oldest first (at most `MAX_HOLES`): bytes arriving
   * later inside one are late, not duplicates (see {@link HttpStreamParser.push}); the late part is cut out.
   */
  holes: Array<[number, number]> = [];
  constructor(readonly dir: Direction) {}
}

type Out = ParseOutput;

/**
 * HTTP/1.1 state of one connection: the two directions (`write`: requests, `read`: responses) and the methods of the
 * requests not yet answered. Synchronous; never throws on bad input (dead letters and counters instead).
 */
export class H1Connection {
  readonly write = new DirState('write');
  readonly read = new DirState('read');
  /** Methods of requests not yet answered by a final response, oldest first. */
  readonly methods: Array<{ method: string; msg: Message | null }> = [];
  private readonly st: ParserStats;
  private readonly maxMessage: number;
  private readonly maxSseEvents: number | undefined;
  private readonly maxHeader: number;

  constructor(private readonly host: H1Host) {
    this.st = host.stats;
    this.maxMessage = host.maxMessage;
    this.maxSseEvents = host.maxSseEvents;
    this.maxHeader = host.maxHeader;
  }

  side(dir: Direction): DirState {
    return dir === 'write' ? this.write : this.read;
  }

  /**
   * New bytes of `d`: `data` (stream offsets up to `end`, the part of `rec` not seen before; `atRecordStart` when it
   * begins where `rec` begins), parsed as far as they go.
   */
  push(d: DirState, data: Uint8Array, atRecordStart: boolean, end: number, rec: RawSslRecord, out: Out): void {
    // A response starting while its request body is still short of Content-Length: the request is all there is.
    if (d.dir === 'read' && !d.msg && d.q.length === 0 && d.mode !== 'opaque') this.finishShortRequest(out);

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
    this.drive(d, out);
  }

  /** After a restart: `dir` parses again from `offset`, a message boundary (see {@link HttpStreamParser.resumeAt}). */
  resumeAt(dir: Direction, offset: number): void {
    const d = this.side(dir);
    d.msg?.body.close();
    d.msg = null;
    d.next = offset;
    d.consumed = offset;
    d.q.reset(offset);
    d.mode = 'head';
    d.strict = true;
    this.resetHeadScan(d);
  }

  /**
   * The connection is evicted idle: messages in flight are finalised (a response read until close ends normally, any
   * other as `short`), partial heads reported, queued bytes counted as discarded. A bug here becomes an
   * `internal_error` dead letter per direction.
   */
  evict(out: Out): void {
    for (const d of [this.write, this.read]) {
      try {
        if (d.msg) this.finish(d, d.msg, d.msg.framing.type === 'close' ? 'complete' : 'short', out);
        this.unfinishedHead(d, 'evicted idle', out);
        this.st.discardedBytes += d.q.length;
      } catch (e) {
        this.host.deadLetter(out, null, 'internal_error', e instanceof Error ? e.message : String(e), new Uint8Array(0));
      }
      d.msg?.body.close();
    }
  }

  /**
   * The connection closed (`writeOffset`/`readOffset`: bytes published per direction): messages in flight are
   * finalised as on eviction, and each direction is consumed up to its close offset (or as far as it got), ready to
   * parse later bytes as new messages.
   */
  close(writeOffset: number, readOffset: number, out: Out): void {
    for (const d of [this.write, this.read]) {
      const closeAt = d.dir === 'write' ? writeOffset : readOffset;
      if (d.msg) this.finish(d, d.msg, d.msg.framing.type === 'close' ? 'complete' : 'short', out);
      this.unfinishedHead(d, 'closed', out);
      this.st.discardedBytes += d.q.length;
      const at = Math.max(d.next, Number.isSafeInteger(closeAt) ? closeAt : 0, 0);
      d.q.reset(at);
      d.next = at;
      d.consumed = at;
      d.mode = 'head';
      d.strict = true;
      this.resetHeadScan(d);
    }
    this.methods.length = 0;
  }

  /** Bytes held: queued and not parsed, plus what the messages in progress buffer. */
  bufferedBytes(): number {
    let buffered = 0;
    for (const d of [this.write, this.read]) {
      buffered += d.q.length;
      if (d.msg) buffered += d.msg.body.bufferedBytes();
    }
    return buffered;
  }

  /** Runs the state machine over the queued bytes as far as they go. */
  private drive(d: DirState, out: Out): void {
    for (;;) {
      if (d.mode === 'head') {
        if (!this.readHead(d, out)) return;
      } else if (d.mode === 'body') {
        if (!this.readBody(d, out)) return;
      } else {
        // resync / opaque: whatever is queued is dropped.
        this.discard(d, d.q.length, d.next);
        return;
      }
    }
  }

  /** Reads a head; returns true when one was consumed (or dropped) and parsing can go on. */
  private readHead(d: DirState, out: Out): boolean {
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
      if (verdict === 'h2' && d.dir === 'write' && q.offset === 0 && this.methods.length === 0) {
        // The preface arrived in pieces too short to be recognised on arrival: hand what is queued to HTTP/2.
        const h2 = this.host.beginH2(d);
        this.resetHeadScan(d);
        q.takeViews(q.length, (v, rec, off) => h2.push(d.dir, v, off, rec, out));
        return false;
      }
      if (verdict === 'h2') return this.headFailure(d, 'unsupported_protocol', `HTTP/2 connection preface (PRI * HTTP/2.0) at stream offset ${q.offset}, not at the start of the connection`, out);
      if (verdict === 'no') return this.headFailure(d, 'not_http', `${d.dir === 'write' ? 'request' : 'status'} line expected at stream offset ${q.offset}`, out);
      if (lf < 0) {
        if (q.length > MAX_START_LINE) return this.headFailure(d, 'not_http', `no line end within ${MAX_START_LINE} bytes at stream offset ${q.offset}`, out);
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
      if (q.length > this.maxHeader) return this.headFailure(d, 'http_parse_error', `header block exceeds ${this.maxHeader} bytes`, out);
      return false;
    }
    if (endIdx + 1 > this.maxHeader) return this.headFailure(d, 'http_parse_error', `header block exceeds ${this.maxHeader} bytes`, out);
    const start: Pos = { offset: q.offset, rec: q.metaAt(0) };
    const endRec = q.metaAt(endIdx);
    let head: ParsedHead;
    let framing: Framing;
    const isRequest = d.dir === 'write';
    const headBytes = q.take(endIdx + 1);
    try {
      head = parseHead(headBytes, isRequest);
      const interim = head.kind === 'response' && head.status >= 100 && head.status < 200;
      framing = bodyFraming(head, interim || isRequest ? undefined : this.methods[0]?.method);
    } catch (e) {
      const he = e instanceof HeadError ? e : new HeadError(String(e), 'http_parse_error');
      const sample = Uint8Array.from(headBytes.subarray(0, DEAD_LETTER_SAMPLE_BYTES));
      return this.headFailure(d, he.reason, `${he.message} (stream offset ${start.offset})`, out, sample, start.rec);
    }
    this.resetHeadScan(d);
    d.strict = true;
    this.beginMessage(d, head, framing, start, endRec, out);
    return true;
  }

  private beginMessage(d: DirState, head: ParsedHead, framing: Framing, start: Pos, headEndRec: RawSslRecord, out: Out): void {
    const headEnd = d.q.offset;
    if (head.kind === 'response') {
      if (head.status >= 100 && head.status < 200) {
        this.st.interimResponses++;
        d.consumed = headEnd;
        if (head.status === 101) this.makeOpaque();
        return;
      }
      const req = this.methods.shift();
      if (req?.method === 'CONNECT' && head.status >= 200 && head.status < 300) {
        d.consumed = headEnd;
        this.makeOpaque();
        return;
      }
    } else {
      this.methods.push({ method: head.method, msg: null });
      if (this.methods.length > MAX_PENDING_METHODS) this.methods.shift();
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
      conn: this.host.connRef(start.rec),
      body: new MessageBody(
        {
          maxMessage: this.maxMessage,
          maxSseEvents: this.maxSseEvents,
          stats: this.st,
          label: `${d.dir} message at stream offset ${start.offset}`,
          base: (type, ordinal, first, last, end) => this.base(d, msg, type, ordinal, first, last, end),
          deadLetter: (o, rec, reason, error, sample) => this.host.deadLetter(o, rec, reason, error, sample),
        },
        head.headers,
        streaming,
        headEndRec,
        out,
      ),
    };
    if (head.kind === 'request') this.methods[this.methods.length - 1].msg = msg;
    d.msg = msg;
    d.mode = 'body';
    if (tooManyFields) msg.body.tooLarge(headEndRec, `header section has ${head.headers.length} fields, more than ${MAX_HEADER_FIELDS}`, out);
    else if (framing.type === 'length' && framing.length > this.maxMessage && !streaming) msg.body.tooLarge(headEndRec, `Content-Length ${framing.length} exceeds ${this.maxMessage} bytes`, out);
    if (streaming) {
      if (head.kind === 'response')
        out.events.push({
          ...this.base(d, msg, 'response_head', 0, start.rec, headEndRec, headEnd),
          type: 'response_head',
          status: head.status,
          reason: head.reason,
          version: head.version,
          headers: head.headers,
          streaming: true,
        });
    }
    if (framing.type === 'none') this.finish(d, msg, 'complete', out);
  }

  /** Reads body bytes; returns true when the message ended and parsing can go on. */
  private readBody(d: DirState, out: Out): boolean {
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
        this.finish(d, msg, 'complete', out);
        return true;
      }
      case 'close':
        if (q.length > 0) q.takeViews(q.length, (v, rec, off) => this.bodyBytes(msg, v, rec, off, out));
        return false;
      case 'chunked':
        return this.readChunked(d, msg, out);
      default:
        this.finish(d, msg, 'complete', out);
        return true;
    }
  }

  /** Chunked transfer coding (RFC 9112 §7.1). */
  private readChunked(d: DirState, msg: Message, out: Out): boolean {
    const q = d.q;
    for (;;) {
      switch (msg.chunkPhase) {
        case 'size': {
          const lf = q.indexOfLf(0);
          if (lf < 0) {
            if (q.length > MAX_CHUNK_LINE) return this.bodyFailure(d, msg, `chunk-size line longer than ${MAX_CHUNK_LINE} bytes`, out);
            return false;
          }
          msg.lastRec = q.metaAt(lf);
          const lineBytes = q.take(lf + 1);
          const size = chunkSize(lineBytes);
          if (size < 0) return this.bodyFailure(d, msg, `invalid chunk-size line ${JSON.stringify(latin1(lineBytes).slice(0, 40))}`, out);
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
            if (q.byteAt(1) !== LF) return this.bodyFailure(d, msg, 'chunk data not followed by CRLF', out);
            q.skip(2);
          } else return this.bodyFailure(d, msg, 'chunk data not followed by CRLF', out);
          msg.chunkPhase = 'size';
          break;
        }
        case 'trailers': {
          const lf = q.indexOfLf(0);
          if (lf < 0) {
            if (msg.trailerBytes + q.length > this.maxHeader) return this.bodyFailure(d, msg, `trailer section exceeds ${this.maxHeader} bytes`, out);
            return false;
          }
          msg.lastRec = q.metaAt(lf);
          msg.trailerBytes += lf + 1;
          const line = latin1(q.take(lf + 1)).replace(/\r?\n$/, '');
          if (line === '') {
            this.finish(d, msg, 'complete', out);
            return true;
          }
          const colon = line.indexOf(':');
          if (colon > 0) {
            if (msg.trailers.length < MAX_HEADER_FIELDS) msg.trailers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
            else if (!msg.trailersCut) {
              // The section's end is still found by its blank line: keep the message, drop the extra fields.
              msg.trailersCut = true;
              this.host.deadLetter(out, msg.lastRec, 'too_large', `${d.dir}: trailer section has more than ${MAX_HEADER_FIELDS} fields, the rest dropped (message at stream offset ${msg.start.offset})`, new Uint8Array(0));
            }
          }
          if (msg.trailerBytes > this.maxHeader) return this.bodyFailure(d, msg, `trailer section exceeds ${this.maxHeader} bytes`, out);
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
  private finish(d: DirState, msg: Message, how: 'complete' | 'short', out: Out): void {
    const end = d.q.offset;
    const missing = how === 'short' && msg.framing.type === 'length' && msg.remaining > 0 ? msg.remaining : undefined;
    if (how === 'short') this.st.shortBodies++;
    if (!msg.body.discard) {
      if (msg.body.streaming) this.finishStream(d, msg, how, end, out);
      else this.finishWhole(d, msg, how, missing, end, out);
    }
    msg.body.close();
    if (msg.head.kind === 'request') {
      const m = this.methods.find((x) => x.msg === msg);
      if (m) m.msg = null;
    }
    d.msg = null;
    d.mode = 'head';
    d.strict = true;
    this.resetHeadScan(d);
    d.consumed = end;
  }

  private finishWhole(d: DirState, msg: Message, how: 'complete' | 'short', missing: number | undefined, end: number, out: Out): void {
    const whole = msg.body.whole(how, msg.lastRec, out);
    if (!whole) return;
    const { body, incomplete } = whole;
    const head = msg.head;
    const headers = msg.trailers.length > 0 ? [...head.headers, ...msg.trailers] : head.headers;
    const ev: HttpRequestEvent | HttpResponseEvent =
      head.kind === 'request'
        ? { ...this.base(d, msg, 'request', 0, msg.start.rec, msg.lastRec, end), type: 'request', method: head.method, target: head.target, version: head.version, headers, body }
        : { ...this.base(d, msg, 'response', 0, msg.start.rec, msg.lastRec, end), type: 'response', status: head.status, reason: head.reason, version: head.version, headers, body };
    if (incomplete) ev.body_incomplete = incomplete;
    if (missing !== undefined) ev.body_missing_bytes = missing;
    if (head.kind === 'request') this.st.requests++;
    else this.st.responses++;
    out.events.push(ev);
  }

  private finishStream(d: DirState, msg: Message, how: 'complete' | 'short', end: number, out: Out): void {
    const fields = msg.body.endStream(how, msg.lastRec, end, out);
    this.st.responses++;
    out.events.push({ ...this.base(d, msg, 'response_end', 0, msg.start.rec, msg.lastRec, end), ...fields });
  }


  /** The common event fields. `end` = stream offset after the last byte of what the event covers. */

  private base(d: DirState, msg: Message, type: HttpEvent['type'], ordinal: number, first: RawSslRecord, last: RawSslRecord, end: number) {
    return {
      v: 1 as const,
      id: deriveId('http', this.host.key, d.dir, msg.start.offset, type, ordinal),
      conn: msg.conn,
      span: { dir: d.dir, start_offset: msg.start.offset, end_offset: end },
      start_ns: first.ts_wall_ns,
      end_ns: last.ts_wall_ns,
    };
  }

  // --- failures and resync ---------------------------------------------------------------------------------------

  /** A head that is not (valid) HTTP: report as the reason says, drop the queued bytes, resync. Returns false. */
  private headFailure(d: DirState, reason: ParserDeadLetterReason, error: string, out: Out, sample?: Uint8Array, rec?: RawSslRecord): boolean {
    const q = d.q;
    const first = rec ?? (q.length > 0 ? q.metaAt(0) : null);
    if (!sample) sample = q.length > 0 ? Uint8Array.from(q.take(Math.min(q.length, DEAD_LETTER_SAMPLE_BYTES))) : new Uint8Array(0);
    if (reason === 'unsupported_protocol') {
      this.host.deadLetter(out, first, reason, `${d.dir}: ${error}`, sample);
      this.makeOpaque();
      return false;
    }
    if (reason === 'not_http' && !d.strict) {
      // A resync guess that did not pan out: keep looking, silently.
    } else if (reason === 'not_http') {
      if (!d.notHttpReported) {
        d.notHttpReported = true;
        this.host.deadLetter(out, first, reason, `${d.dir}: ${error}`, sample);
      }
    } else this.host.deadLetter(out, first, reason, `${d.dir}: ${error}`, sample);
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
  private unfinishedHead(d: DirState, how: 'closed' | 'evicted idle', out: Out): void {
    if (d.mode !== 'head' || !d.strict || d.q.length === 0) return;
    const sample = d.q.peek(Math.min(d.q.length, DEAD_LETTER_SAMPLE_BYTES));
    const what = d.dir === 'write' ? 'request' : 'response';
    this.host.deadLetter(out, d.q.metaAt(0), 'http_parse_error', `${d.dir}: connection ${how} inside a ${what} head: ${d.q.length} bytes at stream offset ${d.q.offset} without a complete start line and header block`, sample);
  }

  /** A framing error inside a body: the message is emitted as far as it got (short), then the direction resyncs. */
  private bodyFailure(d: DirState, msg: Message, error: string, out: Out): boolean {
    const sample = Uint8Array.from(d.q.take(Math.min(d.q.length, DEAD_LETTER_SAMPLE_BYTES)));
    this.host.deadLetter(out, msg.lastRec, 'http_parse_error', `${d.dir}: ${error} (message at stream offset ${msg.start.offset})`, sample);
    this.finish(d, msg, 'short', out);
    this.resetToResync(d);
    return false;
  }

  /** Hole in the stream: end the message in progress as short, drop partial heads, resync at `newOffset`. */
  gap(d: DirState, newOffset: number, out: Out): void {
    this.st.gaps++;
    this.st.gapBytes += newOffset - d.next;
    if (d.msg) this.finish(d, d.msg, 'short', out);
    this.st.discardedBytes += d.q.length;
    d.q.reset(newOffset);
    d.next = newOffset;
    d.consumed = newOffset;
    if (d.mode !== 'opaque') this.enterResync(d);
  }

  /** The `write` side's only unanswered request is short of its Content-Length: emit it as is. */
  private finishShortRequest(out: Out): void {
    const w = this.write;
    const m = w.msg;
    if (!m || m.head.kind !== 'request' || m.framing.type !== 'length' || m.remaining <= 0 || m.expectContinue) return;
    if (this.methods.length !== 1 || this.methods[0].msg !== m) return;
    this.finish(w, m, 'short', out);
    // Any late body bytes are not a request: skip to the next plausible request line.
    this.enterResync(w);
  }

  private makeOpaque(): void {
    for (const d of [this.write, this.read]) {
      d.msg?.body.close();
      d.msg = null;
      this.st.discardedBytes += d.q.length;
      d.q.reset(d.next < 0 ? 0 : d.next);
      if (d.next >= 0) d.consumed = d.next;
      d.mode = 'opaque';
    }
  }

  resetToResync(d: DirState): void {
    d.msg?.body.close();
    d.msg = null;
    this.st.discardedBytes += d.q.length;
    const at = d.next < 0 ? d.q.offset : d.next;
    d.q.reset(at);
    d.consumed = at;
    this.enterResync(d);
  }

  enterResync(d: DirState): void {
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
}

/** Bytes as latin1 text (one byte, one character), without copying them first. */
function latin1(v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');
}

/** Whether a byte, read as latin1, is white space to `String.prototype.trim` (TAB, LF, VT, FF, CR, SP, NBSP). */
function isTrimSpace(b: number): boolean {
  return (b >= 0x09 && b <= 0x0d) || b === 0x20 || b === 0xa0;
}

/**
 * The chunk-size of a chunk-size line (RFC 9112 §7.1: `chunk-size [ chunk-ext ] CRLF`, the line with its LF):
 * 1 to 15 hex digits before any `;` (extensions ignored), white space around them tolerated; -1 when not valid.
 * Read from the bytes (no string per chunk).
 */
export function chunkSize(line: Uint8Array): number {
  let end = line.indexOf(0x3b /* ';' */);
  if (end < 0) end = line.length;
  let start = 0;
  while (start < end && isTrimSpace(line[start])) start++;
  while (end > start && isTrimSpace(line[end - 1])) end--;
  const digits = end - start;
  if (digits < 1 || digits > 15) return -1;
  let size = 0;
  for (let i = start; i < end; i++) {
    const b = line[i];
    const v = b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x61 && b <= 0x66 ? b - 0x57 : b >= 0x41 && b <= 0x46 ? b - 0x37 : -1;
    if (v < 0) return -1;
    size = size * 16 + v;
  }
  // Beyond 2^53 a double cannot hold every size: take what parseInt makes of it, as before.
  return digits > 13 ? parseInt(latin1(line.subarray(start, end)), 16) : size;
}
