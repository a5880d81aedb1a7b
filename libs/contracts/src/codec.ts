/**
 * The wire codec of every subject: msgpack (msgpackr). Decoding maps uint64/int64 to a JS number when it is a safe
 * integer and to a bigint otherwise (`int64AsType: 'auto'`), so ns timestamps must go through {@link normalizeNs}
 * or the typed decoders; bigints encode as 64-bit msgpack ints.
 */
import { Packr } from 'msgpackr';

// 'auto' is implemented by msgpackr's unpacker but missing from its typings.
const packr = new Packr({ useRecords: false, int64AsType: 'auto' as 'bigint', mapsAsObjects: true, variableMapSize: true });

/** Encodes a payload as msgpack. Throws on values msgpack cannot represent. */
export function encode(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decodes a msgpack payload. Throws (an Error with a message) on malformed input. */
export function decode<T = unknown>(bytes: Uint8Array): T {
  return packr.unpack(bytes) as T;
}
