/**
 * HTTP/2 framing (RFC 9113 §4, §6): the connection preface, frame header layout, frame types, flags, settings and
 * error codes, and the payload helpers the connection needs (padding, priority, RST_STREAM, GOAWAY, SETTINGS).
 */

/** The client connection preface (RFC 9113 §3.4), 24 octets, sent before the client's first SETTINGS frame. */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Size of a frame header in octets. */
export const FRAME_HEADER_BYTES = 9;

/** Frame types (RFC 9113 §6). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags (RFC 9113 §6). */
export const Flags = {
  END_STREAM: 0x1,
  /** SETTINGS and PING. */
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

/** SETTINGS parameters the parser uses (RFC 9113 §6.5.2). */
export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  MAX_FRAME_SIZE: 0x5,
} as const;

/** Error code names (RFC 9113 §7), by code. */
export const ERROR_NAMES: readonly string[] = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED',
  'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];

/** Name of an HTTP/2 error code, e.g. 8 → `CANCEL`; an unknown code as `0x…` hex. */
export function errorName(code: number): string {
  return ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}

/** A frame header (RFC 9113 §4.1). `length` is the payload size in octets (24 bits); `streamId` has the R bit cleared. */
export interface FrameHeader {
  length: number;
  type: number;
  flags: number;
  streamId: number;
}

/** A frame whose payload breaks RFC 9113 (bad padding, wrong length): the connection would fail with an error. */
export class FrameError extends Error {}

/** Parses the 9 header octets at `b[0..9)`. */
export function parseFrameHeader(b: Uint8Array): FrameHeader {
  return {
    length: (b[0] << 16) | (b[1] << 8) | b[2],
    type: b[3],
    flags: b[4],
    streamId: ((b[5] & 0x7f) * 2 ** 24) + ((b[6] << 16) | (b[7] << 8) | b[8]),
  };
}

/**
 * Whether `b` (at least 9 octets) starts with what a server sends first on an h2 connection: a non-ACK SETTINGS frame
 * on stream 0 whose length is a multiple of 6 (RFC 9113 §3.4).
 */
export function looksLikeServerPreface(b: Uint8Array): boolean {
  if (b.length < FRAME_HEADER_BYTES) return false;
  const h = parseFrameHeader(b);
  return h.type === FrameType.SETTINGS && h.flags === 0 && h.streamId === 0 && h.length % 6 === 0 && h.length <= 6 * 64;
}

/**
 * The field block fragment (or data) of a HEADERS/PUSH_PROMISE/DATA payload: padding removed (PADDED flag), and
 * for HEADERS the priority fields (PRIORITY flag) and for PUSH_PROMISE the promised stream id skipped.
 * @throws FrameError when the pad length or fixed fields exceed the payload.
 */
export function framePayload(h: FrameHeader, payload: Uint8Array): Uint8Array {
  let start = 0;
  let pad = 0;
  if (h.type !== FrameType.DATA && h.type !== FrameType.HEADERS && h.type !== FrameType.PUSH_PROMISE) return payload;
  if (h.flags & Flags.PADDED) {
    if (payload.length < 1) throw new FrameError('PADDED frame without a pad length');
    pad = payload[0];
    start = 1;
  }
  if (h.type === FrameType.HEADERS && h.flags & Flags.PRIORITY) start += 5;
  if (h.type === FrameType.PUSH_PROMISE) start += 4;
  if (start + pad > payload.length) throw new FrameError(`padding (${pad}) and fixed fields (${start}) exceed the ${payload.length}-byte payload`);
  return payload.subarray(start, payload.length - pad);
}

/** SETTINGS payload → `[identifier, value]` pairs. @throws FrameError when its length is not a multiple of 6. */
export function parseSettings(payload: Uint8Array): Array<[number, number]> {
  if (payload.length % 6 !== 0) throw new FrameError(`SETTINGS payload of ${payload.length} bytes (not a multiple of 6)`);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < payload.length; i += 6) {
    out.push([(payload[i] << 8) | payload[i + 1], readU32(payload, i + 2)]);
  }
  return out;
}

/** RST_STREAM payload → error code. @throws FrameError when it is not 4 octets. */
export function parseRstStream(payload: Uint8Array): number {
  if (payload.length !== 4) throw new FrameError(`RST_STREAM payload of ${payload.length} bytes (must be 4)`);
  return readU32(payload, 0);
}

/** GOAWAY payload → last stream id and error code (debug data ignored). @throws FrameError when shorter than 8 octets. */
export function parseGoaway(payload: Uint8Array): { lastStreamId: number; errorCode: number } {
  if (payload.length < 8) throw new FrameError(`GOAWAY payload of ${payload.length} bytes (at least 8)`);
  return { lastStreamId: readU32(payload, 0) & 0x7fffffff, errorCode: readU32(payload, 4) };
}

function readU32(b: Uint8Array, i: number): number {
  return b[i] * 2 ** 24 + ((b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]);
}

/** Encodes one frame (header + payload). The parser never writes frames; tests use this to build byte streams. */
export function encodeFrame(type: number, flags: number, streamId: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const b = Buffer.alloc(FRAME_HEADER_BYTES + payload.length);
  b[0] = (payload.length >> 16) & 0xff;
  b[1] = (payload.length >> 8) & 0xff;
  b[2] = payload.length & 0xff;
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(streamId & 0x7fffffff, 5);
  b.set(payload, FRAME_HEADER_BYTES);
  return b;
}
