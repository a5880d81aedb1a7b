/**
 * The parser's domain logic: raw TLS plaintext fragments → HTTP/1.1 events, without any NATS dependency.
 * See {@link HttpStreamParser}.
 */
export { HttpStreamParser, connRef } from './http-stream-parser';
export type { ConnCloseInput, DeadLetterDraft, HttpStreamParserOptions, ParseOutput, ParserDeadLetterReason, ParserStats } from './types';
export { SseDecoder, SseTooLargeError } from './sse-decoder';
export { DecodeError, IncrementalDecoder, decodeAll, parseContentCodings } from './content-coding';
export { parseHead, startVerdict, bodyFraming, HeadError, type ParsedHead, type Framing, type StartVerdict } from './http-head';
export { ByteQueue, concatBytes } from './byte-queue';
