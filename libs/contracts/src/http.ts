/**
 * HTTP messages reassembled by the parser from one TLS connection's byte streams (subject
 * `agentsight.http.<host>.<partition>`), contract v1. Terms follow RFC 9112 (HTTP/1.1) and the WHATWG
 * server-sent-events spec.
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

/** Where in the connection's byte stream for `dir` a message lies: bytes [start_offset, end_offset). */
export interface StreamSpan {
  dir: Direction;
  start_offset: number;
  end_offset: number;
}

interface HttpEventBase {
  v: 1;
  /** Deterministic: sha256 of (conn.key, span.dir, span.start_offset, type, ordinal) — see {@link deriveId}. */
  id: string;
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
   * began (e.g. post-hoc redaction in a capture), `decode_error` = content coding failed (then `body` is as received).
   */
  body_incomplete?: 'short' | 'decode_error';
  /** Bytes missing when `body_incomplete` is `short`. */
  body_missing_bytes?: number;
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
  body_incomplete?: 'short' | 'decode_error';
  body_missing_bytes?: number;
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
  body_incomplete?: 'short' | 'decode_error';
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
  | HttpConnectionEndEvent;

/** Case-insensitive header lookup; returns the first value or undefined. */
export function headerValue(headers: HeaderList, name: string): string | undefined {
  const n = name.toLowerCase();
  for (const [k, v] of headers) if (k.toLowerCase() === n) return v;
  return undefined;
}
