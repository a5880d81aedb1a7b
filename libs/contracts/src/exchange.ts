/** Request/response exchanges built by the aggregator (subject `agentsight.exchange.<host>`), contract v1. */
import type { BodyIncomplete, ConnRef, HeaderList, SseEvent, StreamReset } from './http';

/** What the pipeline knows of the process behind a connection (from exec/snapshot records). */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  uid: number;
  /** Process name (comm of the exec'd binary). */
  comm: string;
  /** Executable path. */
  exe: string;
  argv: string[];
  /** Wall-clock ns of the exec (or of the /proc snapshot). */
  start_ns: bigint;
}

export interface ExchangeRequest {
  method: string;
  target: string;
  version: string;
  headers: HeaderList;
  body: Uint8Array;
  body_incomplete?: BodyIncomplete;
  start_ns: bigint;
  end_ns: bigint;
}

export interface ExchangeResponse {
  status: number;
  reason: string;
  version: string;
  headers: HeaderList;
  /** Decoded body; for a streamed response, the concatenation is not kept here: see `events`. */
  body: Uint8Array;
  body_incomplete?: BodyIncomplete;
  /** SSE events of a streamed response in order; empty when not streamed. */
  events: SseEvent[];
  streaming: boolean;
  /** Wall-clock ns of the first response byte. */
  start_ns: bigint;
  /**
   * Streamed responses: wall-clock ns of the record carrying the first SSE event's first byte (the "first chunk" of
   * OTel GenAI semconv's `gen_ai.response.time_to_first_chunk`). Absent when not streamed, when no event arrived, and
   * in exchanges of versions before this field.
   */
  first_event_ns?: bigint;
  /** Wall-clock ns of the last response byte. */
  end_ns: bigint;
}

/**
 * One HTTP request with its response (null when the connection ended first) and the process that made it.
 * `id` = deriveId('exchange', request event id).
 */
export interface Exchange {
  v: 1;
  id: string;
  conn: ConnRef;
  process: ProcessInfo | null;
  /** `Host` header of the request (the TLS server name is not captured yet). */
  server_address: string;
  request: ExchangeRequest;
  response: ExchangeResponse | null;
  /** HTTP/2 stream identifier of the exchange; absent for HTTP/1.1. */
  stream_id?: number;
  /** HTTP/2: how the stream was ended early (RST_STREAM / GOAWAY), when it was. */
  stream_reset?: StreamReset;
}
