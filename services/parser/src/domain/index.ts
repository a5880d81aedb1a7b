/**
 * The parser's domain logic: raw TLS plaintext fragments → HTTP/1.1 and HTTP/2 events, without any NATS dependency.
 * See {@link HttpStreamParser}.
 */
export { HttpStreamParser, connRef } from './http-stream-parser';
export type { ConnCloseInput, ParserDeadLetter, HttpStreamParserOptions, ParseOutput, ParserDeadLetterReason, ParserStats } from './types';
export { SseDecoder, SseTooLargeError } from './sse-decoder';
export { DecodeError, IncrementalDecoder, decodeAll, parseContentCodings } from './content-coding';
export { MAX_SSE_EVENTS, MessageBody, isEventStream, type BodyOwner, type MessageEnd } from './message-body';
export { parseHead, startVerdict, bodyFraming, HeadError, type ParsedHead, type Framing, type StartVerdict } from './h1/head';
export { ByteQueue, concatBytes } from './byte-queue';
export { H1Connection } from './h1/connection';
export { H2Connection, type H2DirSnapshot } from './h2/connection';
export { HpackDecoder, HpackError, STATIC_TABLE, type HpackSnapshot } from './h2/hpack';
export { huffmanDecode, huffmanEncode, HuffmanError } from './h2/huffman';
export { CLIENT_PREFACE, encodeFrame, errorName, FrameType, Flags } from './h2/frames';
export { JsonRpcFramer, JSONRPC_MAX_FRAME, isJsonRpcMessage, type FramerOutput, type FramerPosition, type FramerStats, type JsonRpcFrame, type JsonRpcFraming, type JsonRpcMessage, type JsonRpcReject } from './jsonrpc';
export { McpToolCalls, MemoryMcpStateStore, mcpToolUseId, observerKey, pairKey, type McpStateStore, type StdioMeta, type StdioStream } from './mcp';
export { EventBatcher, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, eventBytes, eventPk } from './event-batches';
