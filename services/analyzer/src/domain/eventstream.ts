/**
 * AWS event-stream (`application/vnd.amazon.eventstream`), the binary framing of Bedrock's ConverseStream and
 * InvokeModelWithResponseStream responses (https://docs.aws.amazon.com/transcribe/latest/dg/streaming-setting-up.html#streaming-event-stream
 * describes the format; Smithy calls it `vnd.amazon.eventstream`).
 *
 * One message = `[total length u32 BE][headers length u32 BE][prelude CRC32 u32 BE][headers][payload][message CRC32 u32 BE]`,
 * the prelude CRC covering the first 8 bytes and the message CRC everything before it (CRC-32/ISO-HDLC, as zlib).
 * A header = `[name length u8][name][value type u8][value]`, types 0 true, 1 false, 2 i8, 3 i16, 4 i32, 5 i64,
 * 6 bytes (u16 length), 7 string (u16 length, UTF-8), 8 timestamp (i64 ms), 9 UUID (16 bytes).
 */

/** A header value: strings for strings, UUIDs (hex) and 64-bit values (decimal text), numbers, booleans, bytes. */
export type EventStreamHeaderValue = string | number | boolean | Uint8Array;

/** One decoded event-stream message. */
export interface EventStreamMessage {
  /** Headers by name, e.g. `:event-type` → `contentBlockDelta`, `:message-type` → `event` | `exception` | `error`. */
  headers: Record<string, EventStreamHeaderValue>;
  payload: Uint8Array;
  /** Byte offset of the message in the body. */
  offset: number;
}

/** A framing problem found while decoding: a CRC mismatch, an impossible length, a truncated last message. */
export interface EventStreamProblem {
  /** Index of the message concerned (the number of messages decoded before it for a framing error). */
  index: number;
  offset: number;
  error: string;
}

/** Result of {@link decodeEventStream}: the messages read (best effort) and every problem met. */
export interface EventStreamDecode {
  messages: EventStreamMessage[];
  problems: EventStreamProblem[];
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320, as zlib/PNG/gzip) of some bytes, as an unsigned 32-bit number. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const PRELUDE = 12;
const MIN_MESSAGE = PRELUDE + 4;
const utf8 = new TextDecoder('utf-8', { fatal: false });

/** True when the bytes start like an event-stream message (a sane prelude whose CRC matches). */
export function looksLikeEventStream(b: Uint8Array): boolean {
  if (b.length < MIN_MESSAGE) return false;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const total = v.getUint32(0);
  const hlen = v.getUint32(4);
  return total >= MIN_MESSAGE && hlen <= total - MIN_MESSAGE && v.getUint32(8) === crc32(b.subarray(0, 8));
}

function decodeHeaders(b: Uint8Array, v: DataView): Record<string, EventStreamHeaderValue> | string {
  const out: Record<string, EventStreamHeaderValue> = {};
  let p = 0;
  const need = (n: number) => p + n <= b.length;
  while (p < b.length) {
    const nameLen = b[p++];
    if (!need(nameLen + 1)) return `header name overruns the headers at ${p}`;
    const name = utf8.decode(b.subarray(p, p + nameLen));
    p += nameLen;
    const type = b[p++];
    let value: EventStreamHeaderValue;
    switch (type) {
      case 0:
      case 1:
        value = type === 0;
        break;
      case 2:
        if (!need(1)) return 'truncated byte header';
        value = v.getInt8(p);
        p += 1;
        break;
      case 3:
        if (!need(2)) return 'truncated short header';
        value = v.getInt16(p);
        p += 2;
        break;
      case 4:
        if (!need(4)) return 'truncated int header';
        value = v.getInt32(p);
        p += 4;
        break;
      case 5:
      case 8:
        if (!need(8)) return 'truncated long header';
        value = v.getBigInt64(p).toString();
        p += 8;
        break;
      case 6:
      case 7: {
        if (!need(2)) return 'truncated header length';
        const len = v.getUint16(p);
        p += 2;
        if (!need(len)) return `header ${name} overruns the headers`;
        value = type === 7 ? utf8.decode(b.subarray(p, p + len)) : b.slice(p, p + len);
        p += len;
        break;
      }
      case 9:
        if (!need(16)) return 'truncated uuid header';
        value = Array.from(b.subarray(p, p + 16), (x) => x.toString(16).padStart(2, '0')).join('');
        p += 16;
        break;
      default:
        return `unknown header value type ${type} for ${name}`;
    }
    out[name] = value;
  }
  return out;
}

/**
 * Decodes a whole event-stream body into messages, verifying both CRCs. Best effort and total (never throws): a
 * message whose CRC does not match is still decoded (and reported) when its lengths are sane; an impossible length
 * or a truncated tail stops decoding there (reported).
 */
export function decodeEventStream(body: Uint8Array): EventStreamDecode {
  const messages: EventStreamMessage[] = [];
  const problems: EventStreamProblem[] = [];
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let off = 0;
  while (off < body.length) {
    const index = messages.length;
    if (body.length - off < MIN_MESSAGE) {
      problems.push({ index, offset: off, error: `truncated message: ${body.length - off} trailing bytes` });
      break;
    }
    const total = v.getUint32(off);
    const hlen = v.getUint32(off + 4);
    const preludeOk = v.getUint32(off + 8) === crc32(body.subarray(off, off + 8));
    if (!preludeOk) problems.push({ index, offset: off, error: `prelude CRC32 mismatch (total length ${total}, headers length ${hlen})` });
    if (total < MIN_MESSAGE || hlen > total - MIN_MESSAGE) {
      problems.push({ index, offset: off, error: `impossible lengths (total ${total}, headers ${hlen})` });
      break;
    }
    if (off + total > body.length) {
      problems.push({ index, offset: off, error: `truncated message: ${total} bytes announced, ${body.length - off} present` });
      break;
    }
    const frame = body.subarray(off, off + total);
    const msgCrc = v.getUint32(off + total - 4);
    if (preludeOk && msgCrc !== crc32(frame.subarray(0, total - 4))) problems.push({ index, offset: off, error: 'message CRC32 mismatch' });
    const hb = frame.subarray(PRELUDE, PRELUDE + hlen);
    const headers = decodeHeaders(hb, new DataView(hb.buffer, hb.byteOffset, hb.byteLength));
    if (typeof headers === 'string') {
      problems.push({ index, offset: off, error: headers });
      messages.push({ headers: {}, payload: frame.subarray(PRELUDE + hlen, total - 4), offset: off });
    } else {
      messages.push({ headers, payload: frame.subarray(PRELUDE + hlen, total - 4), offset: off });
    }
    off += total;
  }
  return { messages, problems };
}
