/**
 * HTTP messages reassembled by the parser from one TLS connection's byte streams (subject
 * `agentsight.http.<host>.<partition>`), contract v1. Terms follow RFC 9112 (HTTP/1.1), RFC 9113 (HTTP/2) and the
 * WHATWG server-sent-events spec.
 *
 * HTTP/2: each stream yields the same events as an HTTP/1.1 message, with `stream_id` set (absent = HTTP/1.1),
 * `version` `HTTP/2`, header names lower-case as sent, pseudo-header fields removed (`:method` → `method`, `:path` →
 * `target`, `:status` → `status`, `:authority` → a `host` field first in `headers` unless one was sent), and `reason`
 * empty (HTTP/2 has no reason phrase). Events of concurrent streams interleave; pair them by (conn.key, stream_id).
 */
import type { Direction } from './raw';

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

/** A complete HTTP/1.1 request (headers + whole body, transfer coding removed, content coding decoded). */
export interface HttpRequestEvent extends HttpEventBase {
  type: 'request';
  method: string;
  /** request-target as sent, e.g. `/v1/chat/completions?x=1`. */
  target: string;
  /** e.g. `HTTP/1.1`. */
  version: string;
  headers: HeaderList;
  /** Decoded body bytes (after chunked and gzip/deflate/br decoding). */
  body: Uint8Array;
  /**
   * Set when the body is not the whole body: `short` = fewer bytes than Content-Length arrived before the response
   * began (e.g. post-hoc redaction in a capture), `decode_error` = content coding failed (then `body` is as received),
   * `reset` = HTTP/2 stream reset before the request ended (see {@link BodyIncomplete}).
   */
  body_incomplete?: BodyIncomplete;
  /** Bytes missing when `body_incomplete` is `short`. */
  body_missing_bytes?: number;
  /** HTTP/2: set when `body_incomplete` is `reset`. */
  reset?: StreamReset;
}

/** Status line and headers of a response whose body follows as a whole (`response`) or as SSE events. */
export interface HttpResponseHeadEvent extends HttpEventBase {
  type: 'response_head';
  status: number;
  reason: string;
  version: string;
  headers: HeaderList;
  /** True when the body is `text/event-stream`: `sse_event`s then `response_end` follow. */
  streaming: boolean;
}

/** A complete non-streamed response: head + decoded body. */
export interface HttpResponseEvent extends HttpEventBase {
  type: 'response';
  status: number;
  reason: string;
  version: string;
  headers: HeaderList;
  body: Uint8Array;
  body_incomplete?: BodyIncomplete;
  body_missing_bytes?: number;
  /** HTTP/2: set when `body_incomplete` is `reset`. */
  reset?: StreamReset;
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
