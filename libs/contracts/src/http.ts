/**
 * HTTP messages reassembled by the parser from one TLS connection's byte streams (subject
 * `agentsight.http.<host>.<partition>`). Each event is contract v1 ({@link HttpEvent}); the subject's payload is
 * contract v2, {@link HttpEventBatch}: consecutive events of one connection and direction in one message. Terms follow RFC 9112 (HTTP/1.1), RFC 9113 (HTTP/2) and the
 * WHATWG server-sent-events spec.
 *
 * HTTP/2: each stream yields the same events as an HTTP/1.1 message, with `stream_id` set (absent = HTTP/1.1),
 * `version` `HTTP/2`, header names lower-case as sent, pseudo-header fields removed (`:method` → `method`, `:path` →
 * `target`, `:status` → `status`, `:authority` → a `host` field first in `headers` unless one was sent), and `reason`
 * empty (HTTP/2 has no reason phrase). Events of concurrent streams interleave; pair them by (conn.key, stream_id).
 */
import type { Direction } from './raw';
import { deriveId } from './ids';

/** A TLS connection as the pipeline names it. `key` is {@link connKey} of the raw records. */
export interface ConnRef {
  key: string;
  host: string;
  boot_id: string;
  run: number;
  pid: number;
  /** Thread id of the first record of the message. */
  tid: number;
  uid: number;
  comm: string;
  /** The `SSL*` pointer as `0x…` hex. */
  ssl: string;
  partition: number;
}

/** Header fields in wire order, names as sent (compare case-insensitively). */
export type HeaderList = Array<[name: string, value: string]>;

/**
 * Why a body is not the whole body: `short` = fewer bytes than announced arrived (Content-Length not reached, the
 * connection ended or went idle first, a hole in the capture), `decode_error` = content coding failed (`body` is then
 * as received), `reset` = the HTTP/2 stream was ended by RST_STREAM or GOAWAY before its END_STREAM (see `reset`).
 */
export type BodyIncomplete = 'short' | 'decode_error' | 'reset';

/**
 * How an HTTP/2 stream was ended early (RFC 9113 §6.4 RST_STREAM, §6.8 GOAWAY). For GOAWAY: the stream id was above
 * the frame's last-stream-id (never processed by the peer), or the connection ended after a GOAWAY with an error.
 */
export interface StreamReset {
  frame: 'RST_STREAM' | 'GOAWAY';
  /** HTTP/2 error code (RFC 9113 §7), e.g. 8. */
  error_code: number;
  /** Its name, e.g. `CANCEL`, `NO_ERROR`; `0x…` for codes RFC 9113 does not define. */
  error: string;
  /** Who sent the frame: `write` = the traced process, `read` = its peer. */
  by: Direction;
}

/** Where in the connection's byte stream for `dir` a message lies: bytes [start_offset, end_offset). */
export interface StreamSpan {
  dir: Direction;
  start_offset: number;
  end_offset: number;
}

interface HttpEventBase {
  v: 1;
  /**
   * Deterministic: sha256 of (conn.key, span.dir, span.start_offset, type, ordinal) for HTTP/1.1, of (conn.key,
   * span.dir, `h2`, stream_id, type, ordinal) for HTTP/2 — see {@link deriveId}.
   */
  id: string;
  /**
   * HTTP/2 stream identifier (RFC 9113 §5.1.1: odd, client-initiated) of the message; absent for HTTP/1.1 and for
   * `connection_end`.
   */
  stream_id?: number;
  conn: ConnRef;
  span: StreamSpan;
  /** Wall-clock ns of the record carrying the first byte of the message/event. */
  start_ns: bigint;
  /** Wall-clock ns of the record carrying its last byte. */
  end_ns: bigint;
}

/** The body of a message emitted whole (`request`, `response`), and how it falls short of the message's body. */
interface WholeBody {
  /** Decoded body bytes (after chunked and gzip/deflate/br decoding). */
  body: Uint8Array;
  /**
   * Set when the body is not the whole body (see {@link BodyIncomplete}): `short` = fewer bytes than Content-Length
   * arrived (for a request: before the response began, e.g. post-hoc redaction in a capture), `decode_error` =
   * content coding failed (then `body` is as received), `reset` = HTTP/2 stream reset before the message ended.
   */
  body_incomplete?: BodyIncomplete;
  /** Bytes missing when `body_incomplete` is `short`. */
  body_missing_bytes?: number;
  /** HTTP/2: set when `body_incomplete` is `reset`. */
  reset?: StreamReset;
}

/** A complete HTTP/1.1 request (headers + whole body, transfer coding removed, content coding decoded). */
export interface HttpRequestEvent extends HttpEventBase, WholeBody {
  type: 'request';
  method: string;
  /** request-target as sent, e.g. `/v1/chat/completions?x=1`. */
  target: string;
  /** e.g. `HTTP/1.1`. */
  version: string;
  headers: HeaderList;
}

/** Status line and headers of a response, as both `response_head` and `response` carry them. */
interface ResponseHead {
  status: number;
  /** Reason phrase as sent; empty for HTTP/2. */
  reason: string;
  version: string;
  headers: HeaderList;
}

/** Status line and headers of a response whose body follows as a whole (`response`) or as SSE events. */
export interface HttpResponseHeadEvent extends HttpEventBase, ResponseHead {
  type: 'response_head';
  /** True when the body is `text/event-stream`: `sse_event`s then `response_end` follow. */
  streaming: boolean;
}

/** A complete non-streamed response: head + decoded body. */
export interface HttpResponseEvent extends HttpEventBase, ResponseHead, WholeBody {
  type: 'response';
}

/** One server-sent event of a streamed response (WHATWG HTML §9.2 "event stream interpretation"). */
export interface SseEvent {
  /** The `event:` field, or `message` when absent. */
  event: string;
  /** The `data:` lines joined by `\n`. */
  data: string;
  /** The `id:` field when present. */
  last_event_id?: string;
}

export interface HttpSseEvent extends HttpEventBase, SseEvent {
  type: 'sse_event';
  /** Position of this event in its response, from 0. */
  ordinal: number;
}

/** End of a streamed response body (chunked terminator, Content-Length reached, or connection close). */
export interface HttpResponseEndEvent extends HttpEventBase {
  type: 'response_end';
  /** Number of `sse_event`s emitted for this response. */
  events: number;
  /** Total decoded body bytes. */
  body_bytes: number;
  body_incomplete?: BodyIncomplete;
  /** HTTP/2: set when `body_incomplete` is `reset`. */
  reset?: StreamReset;
}

/**
 * HTTP/2: stream `stream_id` was reset (RST_STREAM, or GOAWAY not covering it) and has nothing more to come. Emitted
 * after whatever the stream had in progress was finished (with `body_incomplete: 'reset'`), so a request with no
 * response started yet ends here. `span` is the frame that ended it.
 */
export interface HttpStreamResetEvent extends HttpEventBase {
  type: 'stream_reset';
  stream_id: number;
  reset: StreamReset;
}

/**
 * The connection ended: its process exited (`close`, from the probe's `ssl_close`) or it was idle past the parser's
 * limit (`idle`). Always the connection's last event; whatever it had in progress was emitted before it (finished as
 * incomplete where its end was not seen), so a request still unanswered will get no response. `span` is the write
 * direction's end.
 */
export interface HttpConnectionEndEvent extends HttpEventBase {
  type: 'connection_end';
  reason: 'close' | 'idle';
}

export type HttpEvent =
  | HttpRequestEvent
  | HttpResponseHeadEvent
  | HttpResponseEvent
  | HttpSseEvent
  | HttpResponseEndEvent
  | HttpStreamResetEvent
  | HttpConnectionEndEvent;

/** Case-insensitive header lookup; returns the first value or undefined. */
export function headerValue(headers: HeaderList, name: string): string | undefined {
  const n = name.toLowerCase();
  for (const [k, v] of headers) if (k.toLowerCase() === n) return v;
  return undefined;
}

/**
 * Payload of `agentsight.http.<host>.<partition>`, contract v2: consecutive events of one connection and one
 * direction (`span.dir`), in the connection's event order, all of one HTTP message (a batch never spans the end of a
 * request or response, so a resume at a message boundary starts a batch). The parser publishes what a connection
 * completed in one input batch this way instead of one message per event (a streamed response is hundreds of SSE
 * events). Consumers apply `events` in order, as if each had come in its own message.
 */
export interface HttpEventBatch {
  v: 2;
  /** {@link httpBatchId} of `events`: the `Nats-Msg-Id`. */
  id: string;
  /** At least one event; every one with the same `conn.key` and `span.dir`. */
  events: HttpEvent[];
}

/** Version of {@link HttpEventBatch}, the payload of the http subject. */
export const HTTP_BATCH_VERSION = 2 as const;

/**
 * Deterministic id of a batch: sha256 of (`http_batch`, first event id, last event id, number of events) — the same
 * events give the same id, so a batch published again after a redelivery is dropped by JetStream's duplicate window.
 */
export function httpBatchId(events: readonly HttpEvent[]): string {
  return deriveId('http_batch', events[0].id, events[events.length - 1].id, events.length);
}

/**
 * The events of one message of the http subject, in order: a v2 {@link HttpEventBatch}, or a single v1 {@link HttpEvent}
 * (streams written before v2). Returns null for anything else (wrong version, no events, an event without `id`,
 * `type`, `conn.key` or `span`), which the consumer dead-letters.
 */
export function httpEventsOf(payload: unknown): HttpEvent[] | null {
  const p = payload as { v?: unknown; events?: unknown[] } | null;
  if (!p || typeof p !== 'object') return null;
  if (p.v === 1) return isHttpEvent(p) ? [p as unknown as HttpEvent] : null;
  if (p.v !== 2 || !Array.isArray(p.events) || p.events.length === 0) return null;
  for (const e of p.events) if (!isHttpEvent(e)) return null;
  return p.events as HttpEvent[];
}

function isHttpEvent(e: unknown): boolean {
  const x = e as HttpEvent | null;
  return !!x && typeof x === 'object' && x.v === 1 && typeof x.id === 'string' && typeof x.type === 'string'
    && !!x.conn && typeof x.conn.key === 'string' && !!x.span && typeof x.span.end_offset === 'number';
}
