import type { DeadLetter, DeadLetterDraft, HttpEvent, RawSslCloseRecord } from '@agentsight/contracts';

/**
 * What {@link HttpStreamParser.close} needs of a connection-close record (the contract's `ssl_close` raw record):
 * the connection identity (as in {@link ConnRef}), the wall-clock time (ns) and the bytes published per direction
 * (the next `stream_offset` each direction would have had).
 */
export type ConnCloseInput = Pick<RawSslCloseRecord, 'host' | 'boot_id' | 'run' | 'pid' | 'tid' | 'uid' | 'comm' | 'ssl' | 'partition' | 'write_offset' | 'read_offset'> & {
  ts_wall_ns: bigint | number;
};

/** Options of {@link HttpStreamParser}. All sizes in bytes. */
export interface HttpStreamParserOptions {
  /**
   * Largest message body kept (wire bytes, and decoded bytes of a non-streamed body; for a streamed SSE body, the
   * largest single event). A larger message is skipped with a `too_large` dead letter; parsing carries on after it.
   * Default 256 MiB.
   */
  maxMessageBytes?: number;
  /** Largest head (start line + header fields) or trailer section; larger → `http_parse_error`. Default 256 KiB. */
  maxHeaderBytes?: number;
  /**
   * Most SSE events of one streamed response; the next one and all after it are not emitted (`too_large` dead letter,
   * the response still ends). Default `MAX_SSE_EVENTS` (262,144).
   */
  maxSseEvents?: number;
}

/** Dead-letter causes produced by the parser. */
export type ParserDeadLetterReason =
  /** A direction's bytes at a message boundary are not HTTP/1.x (once per connection direction). */
  | 'not_http'
  /** An HTTP/2 preface where a connection is already HTTP/1 (not at its start): the whole connection is then ignored. */
  | 'unsupported_protocol'
  /**
   * HTTP/2: a malformed frame (its stream ends short), or an HPACK error, broken header-block sequence or capture hole
   * after which that direction cannot be decoded any more (ignored until the connection ends).
   */
  | 'h2_error'
  /** A malformed head, chunk-size line or framing header; the direction resyncs. */
  | 'http_parse_error'
  /** Content coding failed (corrupt, truncated or unsupported coding); the message is still emitted. */
  | 'decode_error'
  /**
   * A message beyond a size limit: `maxMessageBytes` (body, decoded body, SSE event), more than `maxSseEvents` SSE
   * events in a response (the rest are not emitted, the response ends), or more than
   * `MAX_HEADER_FIELDS` header fields (HTTP/1.1 head or HTTP/2 header list); the message is skipped. Too many
   * HTTP/1.1 trailer fields: the rest are dropped, the message is kept.
   */
  | 'too_large'
  /**
   * A content-coded body decoding to more than `decompressionLimit()` (1 MiB and 200× its coded bytes so far): a
   * decompression bomb. A whole body is skipped; a streamed one stops its events and ends `decode_error`.
   */
  | 'decompression_limit'
  /** The input record breaks the raw contract (no `data`, bad offset …). */
  | 'contract'
  /**
   * A record (or its start) inside a hole of its direction that was already declared a gap: the record came after
   * later ones (say behind them after a broker restart). Its bytes are not parsed (the message around them was
   * emitted short); counted in `lateRecords`/`lateBytes`, never taken for a duplicate. Once per late record.
   */
  | 'late_record'
  /** A bug in the parser; that direction's state was reset. */
  | 'internal_error';

/**
 * A parser dead letter: a contract {@link DeadLetterDraft} the domain fills with everything of the {@link DeadLetter}
 * contract but `input_seq` (the JetStream sequence, known only to the shell). `id` = deriveId('dlq', 'parser',
 * input_id, reason) with `input_id` the raw record's Nats-Msg-Id; `input_subject` is the record's raw subject; `ts_ns`
 * the record's wall-clock ns.
 */
export type ParserDeadLetter = DeadLetterDraft<ParserDeadLetterReason> & Omit<DeadLetter, 'input_seq' | 'reason'>;

/** What one call produced, in emission order. */
export interface ParseOutput {
  events: HttpEvent[];
  deadLetters: ParserDeadLetter[];
}

/** Counters since construction (monotonic) plus current gauges. */
export interface ParserStats {
  records: number;
  bytes: number;
  /** Bytes of records (or record prefixes) below the direction's stream position: replays, duplicates. */
  duplicateBytes: number;
  /** Records arriving inside a hole already declared a gap (each a `late_record` dead letter), and their late bytes. */
  lateRecords: number;
  lateBytes: number;
  /** Holes in a direction's stream offsets (lost records) and the bytes missing in them. */
  gaps: number;
  gapBytes: number;
  requests: number;
  responses: number;
  streamedResponses: number;
  sseEvents: number;
  interimResponses: number;
  /** Directions first seen mid-stream (capture began late) that had to resync. */
  lateJoins: number;
  /** Times a direction entered resync (late join, gap, garbage, parse error, short request). */
  resyncs: number;
  /** Bytes dropped while resyncing or after a protocol we do not parse. */
  discardedBytes: number;
  /** Requests finalised short of their Content-Length (response began / eviction). */
  shortBodies: number;
  /** Streams that ended inside an SSE event (the incomplete event is discarded, per spec). */
  sseIncompleteTails: number;
  deadLetters: Record<string, number>;
  evictedConnections: number;
  /** Connections parsed as HTTP/2, and HTTP/2 streams ended by RST_STREAM or GOAWAY. */
  h2Connections: number;
  h2Resets: number;
  /** Gauges. */
  connections: number;
  bufferedBytes: number;
}
