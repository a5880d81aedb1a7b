/**
 * HTTP/2 reassembly of one TLS connection (RFC 9113 over TLS, `h2`): both directions' frames → the same HTTP events
 * HTTP/1.1 yields, per stream, with `stream_id` set.
 *
 * Per direction: the client preface (write side), frames parsed across arbitrary record boundaries, header blocks
 * (HEADERS/PUSH_PROMISE + CONTINUATION) decoded in order by that direction's {@link HpackDecoder}; DATA (padding
 * removed) feeds the stream's body exactly like an HTTP/1.1 body (gzip/deflate/br, SSE streaming, limits); END_STREAM
 * ends a message; a second HEADERS with END_STREAM is a trailer section (appended to `headers` like HTTP/1.1
 * trailers). SETTINGS_HEADER_TABLE_SIZE sent by one side bounds the other side's encoder (the opposite direction's
 * decoder). RST_STREAM ends the stream's messages in both directions with `body_incomplete: 'reset'` and emits a
 * `stream_reset`; a server GOAWAY does the same for client streams above its last-stream-id, and after a GOAWAY with an
 * error code, streams still open when the connection ends are ended as reset by it. Server push (PUSH_PROMISE and
 * even-numbered streams) is decoded for HPACK and otherwise ignored; PING, PRIORITY, WINDOW_UPDATE and unknown frame
 * types are ignored.
 *
 * Restart: a direction's consumed offset ({@link H2Connection.consumed}) only moves to a frame boundary where no message
 * of that direction is in progress and no header block is open; {@link H2Connection.snapshot} is the direction's state
 * at that offset (HPACK dynamic table, highest client stream id, broken flag), which the parser persists with the
 * offset, so after a restart the direction resumes there with the same table ({@link H2Connection.resume}).
 *
 * Failures: an HPACK error, a malformed header block sequence or a hole in the capture make the direction's dynamic
 * table unknowable; its messages in progress are ended as `short`, an `h2_error` dead letter is reported, and the
 * direction is ignored until the connection ends ("broken"). The other direction carries on.
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
  type StreamReset,
} from '@agentsight/contracts';
import { ByteQueue, concatBytes } from '../byte-queue';
import { isEventStream, MessageBody, type MessageEnd, type Pos } from '../message-body';
import { MAX_HEADER_FIELDS } from '../h1/head';
import type { ParseOutput, ParserDeadLetterReason, ParserStats } from '../types';
import { CLIENT_PREFACE, errorName, Flags, FRAME_HEADER_BYTES, FrameError, framePayload, FrameType, parseFrameHeader, parseGoaway, parseRstStream, parseSettings, Setting, type FrameHeader } from './frames';
import { HpackDecoder, HpackError, type HpackSnapshot } from './hpack';

/** Most messages in progress per direction (a peer's MAX_CONCURRENT_STREAMS is typically 100–250). */
const MAX_OPEN_MESSAGES = 4096;
/** How many recently reset / answered stream ids a connection remembers. */
const RECENT_STREAMS = 1024;

/** What the connection needs from the parser that owns it. */
export interface H2Host {
  /** The connection key ({@link connKey}). */
  readonly key: string;
  /** Body size limit (bytes), as {@link HttpStreamParserOptions.maxMessageBytes}. */
  readonly maxMessage: number;
  /** SSE events per response limit, as {@link HttpStreamParserOptions.maxSseEvents}. */
  readonly maxSseEvents?: number;
  /** Header list size limit (bytes, RFC 9113 §6.5.2 accounting), as {@link HttpStreamParserOptions.maxHeaderBytes}. */
  readonly maxHeader: number;
  /** The parser's counters, updated in place. */
  readonly stats: ParserStats;
  connRef(rec: RawSslRecord): ConnRef;
  deadLetter(out: ParseOutput, rec: RawSslRecord | null, reason: ParserDeadLetterReason, error: string, sample: Uint8Array): void;
}

/**
 * A direction's state at its consumed offset, as persisted by the parser (JSON-serialisable): the HPACK decoder,
 * the highest client stream id that began a request (write side; 0 on the read side), whether the direction is broken.
 */
export interface H2DirSnapshot {
  v: 1;
  hpack: HpackSnapshot;
  lastStream: number;
  broken: boolean;
}

/** One direction of one stream: a request (write side) or a response (read side) being read. */
interface H2Message {
  stream: number;
  dir: Direction;
  kind: 'request' | 'response';
  start: Pos;
  lastRec: RawSslRecord;
  /** Stream offset after the last frame that contributed to the message. */
  end: number;
  method: string;
  target: string;
  status: number;
  headers: HeaderList;
  trailers: HeaderList;
  /** DATA payloads: content decoding, SSE events, size limit (as an HTTP/1.1 body). */
  body: MessageBody;
  /** `connRef` of the record of the message's first byte, made once and shared by the message's events. */
  conn: ConnRef;
}

/** A header block being gathered (HEADERS or PUSH_PROMISE, then CONTINUATIONs until END_HEADERS). */
interface Block {
  type: number;
  stream: number;
  endStream: boolean;
  parts: Uint8Array[];
  bytes: number;
  start: Pos;
}

class Side {
  readonly q = new ByteQueue<RawSslRecord>();
  hpack = new HpackDecoder();
  /** Octets of the client preface still expected (write side only). */
  prefaceLeft: number;
  block: Block | null = null;
  readonly msgs = new Map<number, H2Message>();
  /** Highest stream id that began a message on this side (the client's streams on the write side). */
  lastStream = 0;
  broken = false;
  /** Stream offset the next byte must have (a different one is a hole). */
  next = 0;
  consumed = 0;
  snap: H2DirSnapshot;
  private snapVersion = -1;
  constructor(readonly dir: Direction) {
    this.prefaceLeft = dir === 'write' ? CLIENT_PREFACE.length : 0;
    this.snap = this.takeSnapshot();
  }
  takeSnapshot(): H2DirSnapshot {
    this.snapVersion = this.hpack.version;
    return { v: 1, hpack: this.hpack.snapshot(), lastStream: this.lastStream, broken: this.broken };
  }
  /** At a frame boundary with nothing in progress: the consumed offset moves here, with the state as it is now. */
  settle(): void {
    if (this.msgs.size > 0 || this.block || (this.prefaceLeft > 0 && this.prefaceLeft < CLIENT_PREFACE.length)) return;
    this.consumed = this.q.offset;
    if (this.hpack.version !== this.snapVersion || this.snap.lastStream !== this.lastStream || this.snap.broken !== this.broken) this.snap = this.takeSnapshot();
  }
}

/** Adds `id` to an insertion-ordered set kept at most {@link RECENT_STREAMS} long. */
function remember(set: Set<number>, id: number): void {
  set.add(id);
  if (set.size > RECENT_STREAMS) set.delete(set.values().next().value as number);
}

/**
 * HTTP/2 state of one connection. Created by the parser when the write side starts with the client preface or the
 * read side with a server SETTINGS frame; fed with each direction's new bytes in stream order. Never throws from
 * {@link push} for protocol problems (they become dead letters); a bug may throw, the parser then reports it.
 */
export class H2Connection {
  readonly write = new Side('write');
  readonly read = new Side('read');
  /** Streams reset (RST_STREAM or GOAWAY): later frames for them are ignored. */
  private readonly resetStreams = new Set<number>();
  /** Streams whose response began (a second response HEADERS would be trailers or bogus, never a new response). */
  private readonly answered = new Set<number>();
  /** Streams whose request ended and whose response has not begun (a GOAWAY may reset them). */
  private readonly awaiting = new Set<number>();
  /** Streams whose response ended normally (a later RST_STREAM concerns nothing). */
  private readonly finished = new Set<number>();
  /** A GOAWAY with an error code: streams open when the connection ends are ended as reset by it. */
  private goaway: StreamReset | null = null;

  constructor(private readonly host: H2Host) {
    host.stats.h2Connections++;
  }

  private side(dir: Direction): Side {
    return dir === 'write' ? this.write : this.read;
  }

  /** Starts `dir` at stream offset `offset` (where its h2 bytes begin); a side that cannot start there is broken. */
  startAt(dir: Direction, offset: number): void {
    const s = this.side(dir);
    s.q.reset(offset);
    s.next = offset;
    s.consumed = offset;
    if (offset > 0) s.broken = true;
    s.snap = s.takeSnapshot();
  }

  /**
   * After a restart: `dir` resumes at `offset` (a consumed offset this connection reported) in the state `snap` it
   * had there. A missing or invalid snapshot at a non-zero offset leaves the direction broken (its HPACK table is lost).
   */
  resume(dir: Direction, offset: number, snap: H2DirSnapshot | null): void {
    const s = this.side(dir);
    for (const m of s.msgs.values()) m.body.close();
    s.msgs.clear();
    s.block = null;
    s.q.reset(offset);
    s.next = offset;
    s.consumed = offset;
    s.prefaceLeft = dir === 'write' && offset < CLIENT_PREFACE.length ? CLIENT_PREFACE.length - offset : 0;
    let ok = offset === 0;
    if (snap && snap.v === 1) {
      try {
        s.hpack = HpackDecoder.restore(snap.hpack);
        s.lastStream = Number.isSafeInteger(snap.lastStream) ? snap.lastStream : 0;
        s.broken = snap.broken === true;
        ok = true;
      } catch {
        ok = false;
      }
    }
    if (!ok) s.broken = true;
    s.snap = s.takeSnapshot();
  }

  /** Bytes of `dir` below this offset are in emitted events or deliberately dropped (see the module comment). */
  consumed(dir: Direction): number {
    return this.side(dir).consumed;
  }

  /** The state of `dir` at {@link consumed} (to persist with it). */
  snapshot(dir: Direction): H2DirSnapshot {
    return this.side(dir).snap;
  }

  /** Bytes buffered (queued frames and non-streamed bodies). */
  bufferedBytes(): number {
    let n = 0;
    for (const s of [this.write, this.read]) {
      n += s.q.length;
      for (const m of s.msgs.values()) n += m.body.bufferedBytes();
      if (s.block) n += s.block.bytes;
    }
    return n;
  }

  /** New bytes of `dir` (no duplicates: the parser removed them) starting at stream offset `offset`, carried by `rec`. */
  push(dir: Direction, data: Uint8Array, offset: number, rec: RawSslRecord, out: ParseOutput): void {
    const s = this.side(dir);
    if (offset !== s.next) this.hole(s, offset, rec, out);
    s.next = offset + data.length;
    if (s.broken) {
      this.host.stats.discardedBytes += data.length;
      s.q.reset(s.next);
      s.consumed = s.next;
      s.settle();
      return;
    }
    s.q.push(data, rec);
    this.drive(s, out);
  }

  /**
   * The connection ended (process exit / idle eviction): everything in progress is ended as `short` (or as reset by
   * an earlier GOAWAY with an error code), then both directions are closed at their current ends. A frame cut short
   * (its 9-octet header or payload incomplete) or a header block still waiting for its CONTINUATION is reported as
   * an `h2_error` dead letter with a sample of the bytes (a direction already broken was reported when it broke).
   */
  finishAll(out: ParseOutput): void {
    for (const s of [this.write, this.read]) {
      for (const m of [...s.msgs.values()]) {
        if (this.goaway) this.finish(s, m, 'reset', out, this.goaway);
        else this.finish(s, m, 'short', out);
      }
      if (!s.broken && (s.q.length > 0 || s.block)) {
        const what = s.block ? `a header block of stream ${s.block.stream} without its END_HEADERS` : `a frame cut short (${s.q.length} of its octets)`;
        const sample = s.q.peek(Math.min(s.q.length, DEAD_LETTER_SAMPLE_BYTES));
        this.host.deadLetter(out, s.block ? s.block.start.rec : s.q.metaAt(0), 'h2_error', `${s.dir}: connection ended inside ${what} at stream offset ${s.q.offset}`, sample);
      }
      if (s.block) this.host.stats.discardedBytes += s.block.bytes;
      s.block = null;
      this.host.stats.discardedBytes += s.q.length;
      s.q.reset(s.next);
      s.settle();
    }
  }

  /** Ends the connection at the given offsets: nothing more is parsed (later bytes are dropped). */
  closeAt(writeEnd: number, readEnd: number): void {
    for (const [s, end] of [[this.write, writeEnd], [this.read, readEnd]] as const) {
      const at = Math.max(s.next, end);
      s.q.reset(at);
      s.next = at;
      s.broken = true;
      s.consumed = at;
      s.snap = s.takeSnapshot();
    }
  }

  // ---------------------------------------------------------------------------------------------------------------

  private drive(s: Side, out: ParseOutput): void {
    const q = s.q;
    for (;;) {
      if (s.broken) {
        this.host.stats.discardedBytes += q.length;
        q.reset(s.next);
        s.consumed = s.next;
        s.settle();
        return;
      }
      if (s.prefaceLeft > 0) {
        const done = CLIENT_PREFACE.length - s.prefaceLeft;
        const k = Math.min(s.prefaceLeft, q.length);
        for (let i = 0; i < k; i++) {
          if (q.byteAt(i) !== CLIENT_PREFACE[done + i]) {
            this.breakSide(s, q.metaAt(i), 'write: bytes at the start of an HTTP/2 connection are not the client preface', out);
            return;
          }
        }
        q.skip(k);
        s.prefaceLeft -= k;
        if (s.prefaceLeft > 0) return;
        s.settle();
        continue;
      }
      if (q.length < FRAME_HEADER_BYTES) return;
      const hb = new Uint8Array(FRAME_HEADER_BYTES);
      for (let i = 0; i < FRAME_HEADER_BYTES; i++) hb[i] = q.byteAt(i);
      const h = parseFrameHeader(hb);
      const total = FRAME_HEADER_BYTES + h.length;
      if (q.length < total) return;
      const start: Pos = { offset: q.offset, rec: q.metaAt(0) };
      const lastRec = q.metaAt(total - 1);
      q.skip(FRAME_HEADER_BYTES);
      const payload = q.take(h.length);
      this.frame(s, h, payload, start, lastRec, q.offset, out);
      s.settle();
    }
  }

  private frame(s: Side, h: FrameHeader, payload: Uint8Array, start: Pos, lastRec: RawSslRecord, end: number, out: ParseOutput): void {
    if (s.block && h.type !== FrameType.CONTINUATION) {
      this.breakSide(s, start.rec, `${s.dir}: ${typeName(h.type)} frame inside a header block of stream ${s.block.stream} (CONTINUATION expected)`, out);
      return;
    }
    switch (h.type) {
      case FrameType.DATA: {
        let data: Uint8Array;
        try {
          data = framePayload(h, payload);
        } catch (e) {
          this.frameError(s, h, e, start, payload, out);
          return;
        }
        const m = s.msgs.get(h.streamId);
        if (!m) {
          this.host.stats.discardedBytes += payload.length;
          return;
        }
        m.end = end;
        if (data.length > 0) this.bodyBytes(m, data, { offset: start.offset, rec: lastRec }, end, out);
        else m.lastRec = lastRec;
        if (h.flags & Flags.END_STREAM) this.finish(s, m, 'complete', out);
        return;
      }
      case FrameType.HEADERS:
      case FrameType.PUSH_PROMISE: {
        let frag: Uint8Array;
        try {
          frag = framePayload(h, payload);
        } catch (e) {
          // The block cannot be decoded, so the dynamic table is lost.
          this.breakSide(s, start.rec, `${s.dir}: ${e instanceof Error ? e.message : String(e)} (${typeName(h.type)}, stream ${h.streamId})`, out, payload);
          return;
        }
        const block: Block = { type: h.type, stream: h.streamId, endStream: h.type === FrameType.HEADERS && (h.flags & Flags.END_STREAM) !== 0, parts: [frag], bytes: frag.length, start };
        if (h.flags & Flags.END_HEADERS) this.headerBlock(s, block, lastRec, end, out);
        else s.block = block;
        return;
      }
      case FrameType.CONTINUATION: {
        const b = s.block;
        if (!b || b.stream !== h.streamId) {
          this.breakSide(s, start.rec, `${s.dir}: CONTINUATION on stream ${h.streamId} without an open header block`, out, payload);
          return;
        }
        b.parts.push(payload);
        b.bytes += payload.length;
        if (b.bytes > this.host.maxHeader * 4) {
          this.breakSide(s, start.rec, `${s.dir}: header block of stream ${b.stream} exceeds ${this.host.maxHeader * 4} bytes`, out);
          return;
        }
        if (h.flags & Flags.END_HEADERS) {
          s.block = null;
          this.headerBlock(s, b, lastRec, end, out);
        }
        return;
      }
      case FrameType.RST_STREAM: {
        let code: number;
        try {
          code = parseRstStream(payload);
        } catch (e) {
          this.frameError(s, h, e, start, payload, out);
          return;
        }
        this.reset(h.streamId, { frame: 'RST_STREAM', error_code: code, error: errorName(code), by: s.dir }, start, lastRec, end, s.dir, out);
        return;
      }
      case FrameType.SETTINGS: {
        if (h.flags & Flags.ACK || h.streamId !== 0) return;
        let settings: Array<[number, number]>;
        try {
          settings = parseSettings(payload);
        } catch (e) {
          this.frameError(s, h, e, start, payload, out);
          return;
        }
        // The sender of SETTINGS decodes what the other side encodes.
        const peer = s === this.write ? this.read : this.write;
        for (const [id, value] of settings) if (id === Setting.HEADER_TABLE_SIZE) peer.hpack.setLimit(value);
        return;
      }
      case FrameType.GOAWAY: {
        let g: { lastStreamId: number; errorCode: number };
        try {
          g = parseGoaway(payload);
        } catch (e) {
          this.frameError(s, h, e, start, payload, out);
          return;
        }
        const info: StreamReset = { frame: 'GOAWAY', error_code: g.errorCode, error: errorName(g.errorCode), by: s.dir };
        if (g.errorCode !== 0) this.goaway = info;
        // A server's last-stream-id concerns client streams: those above it were not processed and never will be.
        if (s === this.read) {
          const ids = new Set<number>([...this.write.msgs.keys(), ...this.read.msgs.keys(), ...this.awaiting]);
          for (const id of [...ids].sort((a, b) => a - b)) if (id > g.lastStreamId && id % 2 === 1) this.reset(id, info, start, lastRec, end, s.dir, out);
        }
        return;
      }
      default:
        // PING, PRIORITY, WINDOW_UPDATE, and unknown types (RFC 9113 §5.5: ignored).
        return;
    }
  }

  /** A frame-level error that does not lose the HPACK state: reported, the frame ignored, its stream ended short. */
  private frameError(s: Side, h: FrameHeader, e: unknown, start: Pos, payload: Uint8Array, out: ParseOutput): void {
    const msg = e instanceof FrameError ? e.message : String(e);
    this.host.deadLetter(out, start.rec, 'h2_error', `${s.dir}: ${typeName(h.type)} frame on stream ${h.streamId} at stream offset ${start.offset}: ${msg}`, payload.subarray(0, DEAD_LETTER_SAMPLE_BYTES));
    const m = s.msgs.get(h.streamId);
    if (m) this.finish(s, m, 'short', out);
  }

  /** Decodes a complete header block (always: the dynamic table depends on it) and applies it to its stream. */
  private headerBlock(s: Side, b: Block, lastRec: RawSslRecord, end: number, out: ParseOutput): void {
    const block = concatBytes(b.parts, b.bytes);
    let decoded: { headers: HeaderList; tooLarge: boolean };
    try {
      decoded = s.hpack.decode(block, this.host.maxHeader);
    } catch (e) {
      this.breakSide(s, b.start.rec, `${s.dir}: HPACK: ${e instanceof HpackError ? e.message : String(e)} (stream ${b.stream}, stream offset ${b.start.offset})`, out, block);
      return;
    }
    if (b.type === FrameType.PUSH_PROMISE || b.stream === 0 || b.stream % 2 === 0 || this.resetStreams.has(b.stream)) return;
    if (decoded.tooLarge || decoded.headers.length > MAX_HEADER_FIELDS) {
      const what = decoded.tooLarge ? `exceeds ${this.host.maxHeader} bytes` : `has ${decoded.headers.length} fields, more than ${MAX_HEADER_FIELDS}`;
      this.host.deadLetter(out, b.start.rec, 'too_large', `${s.dir}: header list of stream ${b.stream} ${what} (stream offset ${b.start.offset})`, block.subarray(0, DEAD_LETTER_SAMPLE_BYTES));
      const m = s.msgs.get(b.stream);
      if (m) this.finish(s, m, 'short', out);
      return;
    }
    const existing = s.msgs.get(b.stream);
    if (existing) {
      // A trailer section (RFC 9113 §8.1): appended to the message's headers.
      for (const [k, v] of decoded.headers) if (!k.startsWith(':')) existing.trailers.push([k, v]);
      existing.lastRec = lastRec;
      existing.end = end;
      if (b.endStream) this.finish(s, existing, 'complete', out);
      return;
    }
    if (s === this.write) {
      if (b.stream <= s.lastStream) return; // a closed stream's late HEADERS: nothing to attach to
      s.lastStream = b.stream;
    } else {
      const status = Number(pseudo(decoded.headers, ':status'));
      if (status >= 100 && status < 200) {
        this.host.stats.interimResponses++;
        return;
      }
      if (this.answered.has(b.stream)) return;
      remember(this.answered, b.stream);
      this.awaiting.delete(b.stream);
    }
    if (s.msgs.size >= MAX_OPEN_MESSAGES) {
      this.host.deadLetter(out, b.start.rec, 'h2_error', `${s.dir}: more than ${MAX_OPEN_MESSAGES} streams in progress; stream ${b.stream} ignored`, new Uint8Array(0));
      return;
    }
    const m = this.begin(s, b, decoded.headers, lastRec, end, out);
    if (b.endStream) this.finish(s, m, 'complete', out);
  }

  private begin(s: Side, b: Block, fields: HeaderList, lastRec: RawSslRecord, end: number, out: ParseOutput): H2Message {
    const headers: HeaderList = [];
    let method = '';
    let path = '';
    let authority: string | undefined;
    let status = 0;
    for (const [k, v] of fields) {
      if (k === ':method') method = v;
      else if (k === ':path') path = v;
      else if (k === ':authority') authority = v;
      else if (k === ':status') status = Number(v);
      else if (!k.startsWith(':')) headers.push([k, v]);
    }
    if (authority !== undefined && headerValue(headers, 'host') === undefined) headers.unshift(['host', authority]);
    const kind = s === this.write ? 'request' : 'response';
    const streaming = kind === 'response' && !b.endStream && isEventStream(headers);
    const m: H2Message = {
      stream: b.stream,
      dir: s.dir,
      kind,
      start: b.start,
      lastRec,
      end,
      method,
      target: path || (method === 'CONNECT' ? authority ?? '' : ''),
      status,
      headers,
      trailers: [],
      conn: this.host.connRef(b.start.rec),
      body: new MessageBody(
        {
          maxMessage: this.host.maxMessage,
          maxSseEvents: this.host.maxSseEvents,
          stats: this.host.stats,
          label: `${s.dir} message of stream ${b.stream}`,
          base: (type, ordinal, first, last, end) => this.base(m, type, ordinal, first, last, end),
          deadLetter: (o, rec, reason, error, sample) => this.host.deadLetter(o, rec, reason, error, sample),
        },
        headers,
        streaming,
        lastRec,
        out,
      ),
    };
    s.msgs.set(b.stream, m);
    if (streaming) {
      out.events.push({
        ...this.base(m, 'response_head', 0, b.start.rec, lastRec, end),
        type: 'response_head',
        status,
        reason: '',
        version: 'HTTP/2',
        headers,
        streaming: true,
      });
    }
    return m;
  }

  /** A piece of DATA payload (padding removed) of `m`, from the frame at `at`, ending at stream offset `frameEnd`. */
  private bodyBytes(m: H2Message, v: Uint8Array, at: Pos, frameEnd: number, out: ParseOutput): void {
    m.lastRec = at.rec;
    m.body.write(v, at, frameEnd, out);
  }

  /** Ends a message: emits it (request/response, or response_end for a stream) and forgets it. */
  private finish(s: Side, m: H2Message, how: MessageEnd, out: ParseOutput, reset?: StreamReset): void {
    s.msgs.delete(m.stream);
    if (how === 'short') this.host.stats.shortBodies++;
    if (!m.body.discard) {
      if (m.body.streaming) this.finishStream(m, how, out, reset);
      else this.finishWhole(m, how, out, reset);
    }
    m.body.close();
    if (m.kind === 'request' && how === 'complete') remember(this.awaiting, m.stream);
    if (m.kind === 'response') {
      this.awaiting.delete(m.stream);
      if (how === 'complete') remember(this.finished, m.stream);
    }
    s.settle();
  }

  private finishWhole(m: H2Message, how: MessageEnd, out: ParseOutput, reset?: StreamReset): void {
    const whole = m.body.whole(how, m.lastRec, out);
    if (!whole) return;
    const { body, incomplete } = whole;
    const headers = m.trailers.length > 0 ? [...m.headers, ...m.trailers] : m.headers;
    const ev: HttpRequestEvent | HttpResponseEvent =
      m.kind === 'request'
        ? { ...this.base(m, 'request', 0, m.start.rec, m.lastRec, m.end), type: 'request', method: m.method, target: m.target, version: 'HTTP/2', headers, body }
        : { ...this.base(m, 'response', 0, m.start.rec, m.lastRec, m.end), type: 'response', status: m.status, reason: '', version: 'HTTP/2', headers, body };
    if (incomplete) ev.body_incomplete = incomplete;
    if (incomplete === 'reset' && reset) ev.reset = reset;
    if (m.kind === 'request') this.host.stats.requests++;
    else this.host.stats.responses++;
    out.events.push(ev);
  }

  private finishStream(m: H2Message, how: MessageEnd, out: ParseOutput, reset?: StreamReset): void {
    const fields = m.body.endStream(how, m.lastRec, m.end, out);
    this.host.stats.responses++;
    const ev: HttpEvent = { ...this.base(m, 'response_end', 0, m.start.rec, m.lastRec, m.end), ...fields };
    if (how === 'reset' && reset) ev.reset = reset;
    out.events.push(ev);
  }

  /** Stream `id` was reset: its messages end as `reset`, then a `stream_reset` tells that nothing more will come. */
  private reset(id: number, info: StreamReset, start: Pos, lastRec: RawSslRecord, end: number, dir: Direction, out: ParseOutput): void {
    if (id === 0 || this.resetStreams.has(id)) return;
    remember(this.resetStreams, id);
    this.host.stats.h2Resets++;
    for (const s of [this.write, this.read]) {
      const m = s.msgs.get(id);
      if (m) this.finish(s, m, 'reset', out, info);
    }
    this.awaiting.delete(id);
    if (this.finished.has(id)) return; // the exchange was complete: nothing to end
    out.events.push({
      v: 1,
      id: deriveId('http', this.host.key, 'h2', id, 'stream_reset'),
      conn: this.host.connRef(start.rec),
      span: { dir, start_offset: start.offset, end_offset: end },
      stream_id: id,
      start_ns: start.rec.ts_wall_ns,
      end_ns: lastRec.ts_wall_ns,
      type: 'stream_reset',
      reset: info,
    });
  }

  /** A hole in `s` (lost bytes): what was in progress ends short and the direction is broken. */
  private hole(s: Side, offset: number, rec: RawSslRecord, out: ParseOutput): void {
    const from = s.next;
    this.host.stats.gaps++;
    this.host.stats.gapBytes += Math.max(0, offset - from);
    const wasBroken = s.broken;
    this.host.stats.discardedBytes += s.q.length;
    s.q.reset(offset);
    s.next = offset;
    if (!wasBroken) this.breakSide(s, rec, `${s.dir}: bytes [${from}, ${offset}) of an HTTP/2 connection were not captured; its header compression state is lost`, out);
  }

  /** The direction can no longer be decoded: end its messages short, report, and ignore it from now on. */
  private breakSide(s: Side, rec: RawSslRecord | null, error: string, out: ParseOutput, sample?: Uint8Array): void {
    this.host.deadLetter(out, rec, 'h2_error', `${error}; this direction is ignored until the connection ends`, (sample ?? new Uint8Array(0)).subarray(0, DEAD_LETTER_SAMPLE_BYTES));
    for (const m of [...s.msgs.values()]) this.finish(s, m, 'short', out);
    s.block = null;
    s.broken = true;
    this.host.stats.discardedBytes += s.q.length;
    s.q.reset(s.next);
    s.prefaceLeft = 0;
    s.settle();
  }

  private base(m: H2Message, type: HttpEvent['type'], ordinal: number, first: RawSslRecord, last: RawSslRecord, end: number) {
    return {
      v: 1 as const,
      id: deriveId('http', this.host.key, m.dir, 'h2', m.stream, type, ordinal),
      conn: m.conn,
      span: { dir: m.dir, start_offset: m.start.offset, end_offset: end },
      stream_id: m.stream,
      start_ns: first.ts_wall_ns,
      end_ns: last.ts_wall_ns,
    };
  }
}

function pseudo(fields: HeaderList, name: string): string | undefined {
  for (const [k, v] of fields) if (k === name) return v;
  return undefined;
}

function typeName(type: number): string {
  for (const [k, v] of Object.entries(FrameType)) if (v === type) return k;
  return `frame type 0x${type.toString(16)}`;
}
