/**
 * The body of one HTTP message after framing (HTTP/1.1 transfer coding removed, or HTTP/2 DATA payloads): content
 * decoding (RFC 9110 §8.4, see `content-coding.ts`) and, for a `text/event-stream` response, SSE event emission as the
 * bytes arrive (WHATWG HTML §9.2). HTTP/1.1 ({@link HttpStreamParser}) and HTTP/2 ({@link H2Connection}) messages both
 * use it; what differs between them (event ids and spans, how a message is named in errors) comes from a
 * {@link BodyOwner}.
 *
 * Limits: a non-streamed body over `maxMessage` wire bytes, or decoding to more, is dropped (`too_large` dead letter,
 * nothing emitted); one decoding beyond the expansion cap (`decompressionLimit` in `content-coding.ts`) likewise
 * (`decompression_limit`); an SSE event over `maxMessage`, or more than `maxSseEvents` events ({@link MAX_SSE_EVENTS}),
 * stops the stream's events (`too_large`), and so does a
 * streamed body beyond the expansion cap (`decompression_limit`, `body_incomplete: 'decode_error'`). A Content-Encoding this
 * runtime cannot decode, or corrupt coded data, is a `decode_error` dead letter and `body_incomplete: 'decode_error'`.
 */
import type { BodyIncomplete, HeaderList, HttpEvent, HttpSseEvent, RawSslRecord, SseEvent } from '@agentsight/contracts';
import { DEAD_LETTER_SAMPLE_BYTES, headerValue } from '@agentsight/contracts';
import { concatBytes } from './byte-queue';
import { decodeAll, DecodeError, IncrementalDecoder, parseContentCodings } from './content-coding';
import { SseDecoder, SseTooLargeError } from './sse-decoder';
import type { ParseOutput, ParserDeadLetterReason, ParserStats } from './types';


/** Where a piece of a message lies: stream offset (bytes) and the record that carried it. */
export interface Pos {
  offset: number;
  rec: RawSslRecord;
}

/** The fields every HTTP event starts with (`v`, `id`, `stream_id`, `conn`, `span`, `start_ns`, `end_ns`). */
export type HttpEventFields = Pick<HttpSseEvent, 'v' | 'id' | 'stream_id' | 'conn' | 'span' | 'start_ns' | 'end_ns'>;

/**
 * Most SSE events one streamed response may carry (`HttpStreamParserOptions.maxSseEvents`): twice the largest output
 * limit of current models (128k tokens) at one token per event. Beyond it the response's events stop with a
 * `too_large` dead letter (an endless stream of tiny events would otherwise grow the aggregator's exchange without
 * bound); the response still ends, and the connection keeps parsing.
 */
export const MAX_SSE_EVENTS = 262_144;

/** What a {@link MessageBody} needs from the parser of its message. */
export interface BodyOwner {
  /** Body size limit, bytes (`HttpStreamParserOptions.maxMessageBytes`). */
  readonly maxMessage: number;
  /** SSE events per response limit (`HttpStreamParserOptions.maxSseEvents`), default {@link MAX_SSE_EVENTS}. */
  readonly maxSseEvents?: number;
  /** The parser's counters, updated in place (`streamedResponses`, `sseEvents`, `sseIncompleteTails`). */
  readonly stats: ParserStats;
  /** Names the message in dead-letter errors, e.g. `write message at stream offset 0`, `read message of stream 3`. */
  readonly label: string;
  /**
   * The common fields of the message's event `type` #`ordinal`: times of the records `first` and `last`, span ending at
   * stream offset `end`.
   */
  base(type: HttpEvent['type'], ordinal: number, first: RawSslRecord, last: RawSslRecord, end: number): HttpEventFields;
  /** Reports a dead letter of the message's connection (`sample`: the bytes concerned, truncated by the parser). */
  deadLetter(out: ParseOutput, rec: RawSslRecord, reason: ParserDeadLetterReason, error: string, sample: Uint8Array): void;
}

/** One more SSE event than `maxSseEvents` completed in a response. */
class SseTooManyEvents extends Error {
  constructor(max: number) {
    super(`more than ${max} SSE events in one response, the rest not emitted`);
  }
}

/** Whether a response with these headers is an SSE stream (`Content-Type: text/event-stream`). */
export function isEventStream(headers: HeaderList): boolean {
  return /^\s*text\/event-stream\s*(;|$)/i.test(headerValue(headers, 'content-type') ?? '');
}

/** How a message ended: all of it, cut short (hole, framing error, eviction), or its HTTP/2 stream was reset. */
export type MessageEnd = 'complete' | 'short' | 'reset';

/**
 * Body state of one message. Not streamed: the wire bytes are kept and decoded once at the end ({@link whole}).
 * Streamed (an SSE response): bytes are decoded incrementally and each complete event is pushed to the output as an
 * `sse_event` at once ({@link write}); {@link endStream} flushes the decoder and gives the `response_end` fields.
 */
export class MessageBody {
  /** Content codings to undo (`Content-Encoding`, in the order applied). */
  private readonly codings: ReturnType<typeof parseContentCodings> = [];
  /** Set when the Content-Encoding cannot be decoded by this runtime. */
  private readonly codingError: DecodeError | null = null;
  /** Too large: bytes are counted (to stay in sync) but dropped, nothing is emitted. */
  discard = false;
  /** Body bytes received (bytes, before content decoding). */
  private wireBytes = 0;
  /** Non-streamed body, content coding not yet undone. */
  private raw: Uint8Array[] = [];
  private decoder: IncrementalDecoder | null = null;
  private sse: SseDecoder | null = null;
  private sseBroken = false;
  private decodeFailed = false;
  /** `sse_event`s emitted so far. */
  private events = 0;
  /** Decoded bytes of a streamed body so far. */
  private decodedBytes = 0;
  /** Wire position of the body piece where the current (undispatched) SSE event began. */
  private eventStart: Pos | null = null;

  /**
   * `headers` give the content codings; `streaming` = an SSE response (see {@link isEventStream}): it is counted in
   * `stats.streamedResponses` and a Content-Encoding that cannot be decoded is reported now (dead letter carried by
   * `rec`, into `out`).
   */
  constructor(
    private readonly owner: BodyOwner,
    headers: HeaderList,
    readonly streaming: boolean,
    rec: RawSslRecord,
    out: ParseOutput,
  ) {
    try {
      this.codings = parseContentCodings(headerValue(headers, 'content-encoding'));
    } catch (e) {
      this.codingError = e instanceof DecodeError ? e : new DecodeError(String(e));
    }
    if (!streaming) return;
    owner.stats.streamedResponses++;
    this.sse = new SseDecoder(owner.maxMessage);
    if (this.codingError) this.decodeFailure(this.codingError, rec, new Uint8Array(0), out);
    else if (this.codings.length > 0) this.decoder = new IncrementalDecoder(this.codings, Number.MAX_SAFE_INTEGER);
  }

  /** Bytes held for a non-streamed body (bytes; a gauge). */
  bufferedBytes(): number {
    let n = 0;
    for (const r of this.raw) n += r.length;
    return n;
  }

  /** Drops the body as too large: `too_large` dead letter `<label>: <error>` carried by `rec`; nothing will be emitted. */
  tooLarge(rec: RawSslRecord, error: string, out: ParseOutput): void {
    this.discard = true;
    this.raw = [];
    this.owner.deadLetter(out, rec, 'too_large', `${this.owner.label}: ${error}`, new Uint8Array(0));
  }

  /**
   * A piece `v` of body bytes, starting at `at` and ending at stream offset `wireEnd`. Streamed: the SSE events it
   * completes are pushed to `out` (an event's span and times are those of the wire pieces in which its first and last
   * decoded bytes surfaced: compressed bytes do not map to decoded bytes).
   */
  write(v: Uint8Array, at: Pos, wireEnd: number, out: ParseOutput): void {
    this.wireBytes += v.length;
    if (this.discard) return;
    if (!this.streaming) {
      if (this.wireBytes > this.owner.maxMessage) {
        this.tooLarge(at.rec, `body exceeds ${this.owner.maxMessage} bytes`, out);
        return;
      }
      this.raw.push(v);
      return;
    }
    if (this.decodeFailed || this.sseBroken) return;
    if (!this.decoder) {
      this.sseBytes(v, at, wireEnd, out);
      return;
    }
    let pieces: Uint8Array[];
    try {
      pieces = this.decoder.write(v);
    } catch (e) {
      this.decodeFailure(e, at.rec, v, out);
      return;
    }
    for (const p of pieces) this.sseBytes(p, at, wireEnd, out);
  }

  /**
   * The whole decoded body of a non-streamed message that ended as `how`; `rec` = the record of its last byte (carries
   * the dead letters). `incomplete` is `how` when not complete, else `decode_error` when decoding failed (reported).
   * Null when the decoded body is too large (reported; the message is dropped).
   */
  whole(how: MessageEnd, rec: RawSslRecord, out: ParseOutput): { body: Uint8Array; incomplete?: BodyIncomplete } | null {
    const raw = concatBytes(this.raw, this.wireBytes);
    this.raw = [];
    let body: Uint8Array = raw;
    let incomplete: BodyIncomplete | undefined = how === 'complete' ? undefined : how;
    if (this.codingError) {
      if (!incomplete) {
        incomplete = 'decode_error';
        this.owner.deadLetter(out, rec, 'decode_error', `${this.codingError.message} (${this.owner.label})`, raw);
      }
    } else if (this.codings.length > 0 && raw.length > 0) {
      try {
        body = decodeAll(raw, this.codings, this.owner.maxMessage);
      } catch (e) {
        const de = e instanceof DecodeError ? e : new DecodeError(String(e));
        if (de.kind === 'too_large' || de.kind === 'decompression_limit') {
          this.owner.deadLetter(out, rec, de.kind, `${de.message} (${this.owner.label})`, raw);
          return null;
        }
        // A short body cannot be expected to decode; `short` already says why.
        if (!incomplete) {
          incomplete = 'decode_error';
          this.owner.deadLetter(out, rec, 'decode_error', `${de.message} (${this.owner.label})`, raw);
        }
      }
    }
    return incomplete ? { body, incomplete } : { body };
  }

  /**
   * Ends a streamed body that ended as `how` at stream offset `end`, its last byte carried by `rec`: a complete body
   * flushes the content decoder (its last events are pushed to `out`); an unfinished last event counts in
   * `stats.sseIncompleteTails`. Returns the `response_end` fields after the common ones.
   */
  endStream(how: MessageEnd, rec: RawSslRecord, end: number, out: ParseOutput): { type: 'response_end'; events: number; body_bytes: number; body_incomplete?: BodyIncomplete } {
    if (how === 'complete' && this.decoder && !this.decodeFailed) {
      try {
        const at: Pos = { offset: end, rec };
        for (const p of this.decoder.end()) this.sseBytes(p, at, end, out);
      } catch (e) {
        this.decodeFailure(e, rec, new Uint8Array(0), out);
      }
    }
    try {
      if (this.sse && !this.sseBroken && this.sse.end()) this.owner.stats.sseIncompleteTails++;
    } catch (e) {
      // The unfinished last line is over the size limit: reported like an oversized event, the message still ends.
      if (!(e instanceof SseTooLargeError)) throw e;
      this.sseBroken = true;
      this.owner.deadLetter(out, rec, 'too_large', `${e.message} (${this.owner.label})`, new Uint8Array(0));
    }
    const ev: { type: 'response_end'; events: number; body_bytes: number; body_incomplete?: BodyIncomplete } = {
      type: 'response_end',
      events: this.events,
      body_bytes: this.decodedBytes,
    };
    if (how !== 'complete') ev.body_incomplete = how;
    else if (this.decodeFailed) ev.body_incomplete = 'decode_error';
    return ev;
  }

  /** Releases the content decoder (idempotent). */
  close(): void {
    this.decoder?.close();
  }

  /** Decoded SSE bytes that came out of the wire piece starting at `at` and ending at `wireEnd`. */
  private sseBytes(bytes: Uint8Array, at: Pos, wireEnd: number, out: ParseOutput): void {
    if (bytes.length === 0 || this.sseBroken) return;
    this.decodedBytes += bytes.length;
    let evStart: Pos = this.eventStart ?? at;
    const sse = this.sse!;
    try {
      sse.push(bytes, (e: SseEvent) => {
        if (this.events >= (this.owner.maxSseEvents ?? MAX_SSE_EVENTS)) throw new SseTooManyEvents(this.owner.maxSseEvents ?? MAX_SSE_EVENTS);
        const ordinal = this.events++;
        this.owner.stats.sseEvents++;
        // The common fields' object becomes the event (no copy per event); same fields, same order as a spread.
        const ev = this.owner.base('sse_event', ordinal, evStart.rec, at.rec, wireEnd) as HttpSseEvent;
        ev.type = 'sse_event';
        ev.ordinal = ordinal;
        ev.event = e.event;
        ev.data = e.data;
        ev.span.start_offset = evStart.offset;
        if (e.last_event_id !== undefined) ev.last_event_id = e.last_event_id;
        out.events.push(ev);
        // The next event begins in this piece at the earliest.
        evStart = at;
      });
    } catch (e) {
      if (!(e instanceof SseTooLargeError) && !(e instanceof SseTooManyEvents)) throw e;
      this.sseBroken = true;
      this.owner.deadLetter(out, at.rec, 'too_large', `${e.message} (${this.owner.label})`, bytes.subarray(0, DEAD_LETTER_SAMPLE_BYTES));
      return;
    }
    this.eventStart = sse.pending() ? evStart : null;
  }

  private decodeFailure(e: unknown, rec: RawSslRecord, sample: Uint8Array, out: ParseOutput): void {
    this.decodeFailed = true;
    this.decoder?.close();
    this.decoder = null;
    const de = e instanceof DecodeError ? e : new DecodeError(String(e));
    this.owner.deadLetter(out, rec, de.kind, `${de.message} (${this.owner.label})`, sample.subarray(0, DEAD_LETTER_SAMPLE_BYTES));
  }
}
