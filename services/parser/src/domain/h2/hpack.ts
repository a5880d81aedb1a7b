/**
 * HPACK header-block decoding (RFC 7541): static table (Appendix A), dynamic table with size updates and eviction
 * (§2.3, §4, §6.3), integer (§5.1) and string literal (§5.2, Huffman in ./huffman) representations.
 *
 * One {@link HpackDecoder} per connection direction: the dynamic table is shared by every header block the peer's
 * encoder sends on that connection, so blocks must be decoded exactly once each, in order (including blocks whose
 * header lists are then ignored, e.g. PUSH_PROMISE or HEADERS of reset streams). The decoder state is serialisable
 * ({@link HpackDecoder.snapshot}, {@link HpackDecoder.restore}) so the parser can resume after a restart.
 */
import type { HeaderList } from '@agentsight/contracts';
import { huffmanDecode, HuffmanError } from './huffman';

/** The default SETTINGS_HEADER_TABLE_SIZE and initial dynamic table size (RFC 9113 §6.5.2), in bytes. */
export const DEFAULT_HEADER_TABLE_SIZE = 4096;

/**
 * Largest dynamic table this decoder keeps (bytes; 64 KiB, what browsers announce, 16× the default). A peer's
 * SETTINGS_HEADER_TABLE_SIZE above it is clamped here; an encoder that then sizes its table beyond it is an HPACK error
 * (`h2_error` dead letter naming this cap), so one connection cannot make the parser hold up to 4 GiB of table.
 */
export const MAX_HPACK_TABLE_BYTES = 64 * 1024;

/** RFC 7541 Appendix A, indices 1..61. */
// prettier-ignore
export const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', ''],
];

/** A header block that cannot be decoded (RFC 9113 COMPRESSION_ERROR): the direction's dynamic table is then lost. */
export class HpackError extends Error {}

/** A dynamic-table entry; `size` = name octets + value octets + 32 (RFC 7541 §4.1). */
interface Entry {
  name: string;
  value: string;
  size: number;
  nameOctets: number;
}

/**
 * Serialisable decoder state: dynamic table entries newest first as `[name, value, entry size, name octets]`, the
 * table's current maximum size and the SETTINGS_HEADER_TABLE_SIZE limit (bytes).
 */
export interface HpackSnapshot {
  entries: Array<[string, string, number, number]>;
  maxSize: number;
  limit: number;
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/** Header text as the HTTP/1.1 parser produces it: UTF-8 when valid, else Latin-1 (octet per character). */
function text(bytes: Uint8Array): string {
  try {
    return utf8Fatal.decode(bytes);
  } catch {
    return latin1.decode(bytes);
  }
}

/** Decoded header list of one block, and whether it was cut at the caller's `maxListBytes` (the table is still updated). */
export interface DecodedBlock {
  headers: HeaderList;
  /** The list exceeded `maxListBytes` (sum of name + value + 32 per field, RFC 9113 SETTINGS_MAX_HEADER_LIST_SIZE). */
  tooLarge: boolean;
}

/**
 * Decoder of one direction's header blocks (RFC 7541 §3). Not thread-safe.
 */
export class HpackDecoder {
  /** Newest first. */
  private entries: Entry[] = [];
  private size = 0;
  /** Current maximum table size (bytes), changed by dynamic table size updates. */
  private maxSize: number;
  /**
   * Largest maximum the encoder may choose: the decoding side's SETTINGS_HEADER_TABLE_SIZE (bytes), at most
   * {@link MAX_HPACK_TABLE_BYTES}.
   */
  private limit: number;
  /** SETTINGS_HEADER_TABLE_SIZE as announced (bytes; may exceed {@link limit}), for error messages. */
  private announced: number;
  /** Bumped on every table change (cheap "did it change since the last snapshot" test). */
  version = 0;

  /** @param limit initial SETTINGS_HEADER_TABLE_SIZE in bytes (also the initial table size), default 4096. */
  constructor(limit = DEFAULT_HEADER_TABLE_SIZE) {
    this.announced = limit;
    this.limit = Math.min(limit, MAX_HPACK_TABLE_BYTES);
    this.maxSize = this.limit;
  }

  /**
   * The decoding side announced SETTINGS_HEADER_TABLE_SIZE = `bytes`: the encoder may now size its table up to this
   * (signalled by a size update in a later block). A smaller value than the current size is enforced by the encoder's
   * obligatory size update, not here. Clamped to {@link MAX_HPACK_TABLE_BYTES}.
   */
  setLimit(bytes: number): void {
    this.announced = bytes;
    this.limit = Math.min(bytes, MAX_HPACK_TABLE_BYTES);
  }

  /**
   * Decodes one complete header block (HEADERS/PUSH_PROMISE payload + CONTINUATIONs, padding and priority removed).
   * @param maxListBytes header-list size above which fields are no longer collected (the block is still decoded).
   * @throws HpackError on any malformed representation, index out of range, size update above the limit or not at
   *   the start of the block, or a Huffman error. The table may then be partially updated: treat it as lost.
   */
  decode(block: Uint8Array, maxListBytes = Number.MAX_SAFE_INTEGER): DecodedBlock {
    const headers: HeaderList = [];
    let listBytes = 0;
    let tooLarge = false;
    let pos = 0;
    let fieldSeen = false;
    const int = (prefixBits: number): number => {
      if (pos >= block.length) throw new HpackError('header block ends inside an integer');
      const max = (1 << prefixBits) - 1;
      let v = block[pos++] & max;
      if (v < max) return v;
      let m = 1;
      for (;;) {
        if (pos >= block.length) throw new HpackError('header block ends inside an integer');
        const b = block[pos++];
        v += (b & 0x7f) * m;
        m *= 128;
        if (v > 0x7fffffff) throw new HpackError('integer larger than 2^31-1');
        if ((b & 0x80) === 0) return v;
      }
    };
    const str = (): { s: string; n: number } => {
      if (pos >= block.length) throw new HpackError('header block ends before a string literal');
      const huffman = (block[pos] & 0x80) !== 0;
      const len = int(7);
      if (pos + len > block.length) throw new HpackError(`string literal of ${len} bytes runs past the block end`);
      let raw = block.subarray(pos, pos + len);
      pos += len;
      if (huffman) {
        try {
          raw = huffmanDecode(raw);
        } catch (e) {
          throw new HpackError(e instanceof HuffmanError ? e.message : String(e));
        }
      }
      return { s: text(raw), n: raw.length };
    };
    const emit = (name: string, value: string, size: number) => {
      listBytes += size;
      if (listBytes > maxListBytes) tooLarge = true;
      if (!tooLarge) headers.push([name, value]);
    };
    while (pos < block.length) {
      const b = block[pos];
      if (b & 0x80) {
        // Indexed header field (§6.1).
        const e = this.at(int(7));
        emit(e.name, e.value, e.size);
        fieldSeen = true;
      } else if ((b & 0xc0) === 0x40 || (b & 0xf0) === 0x00 || (b & 0xf0) === 0x10) {
        // Literal with incremental indexing (§6.2.1, 6-bit prefix), without indexing / never indexed (4-bit prefix).
        const incremental = (b & 0xc0) === 0x40;
        const idx = int(incremental ? 6 : 4);
        let name: string;
        let nameOctets: number;
        if (idx === 0) {
          const n = str();
          name = n.s;
          nameOctets = n.n;
        } else {
          const e = this.at(idx);
          name = e.name;
          nameOctets = e.nameOctets;
        }
        const v = str();
        const size = nameOctets + v.n + 32;
        if (incremental) this.insert({ name, value: v.s, size, nameOctets });
        emit(name, v.s, size);
        fieldSeen = true;
      } else {
        // Dynamic table size update (§6.3): 001xxxxx, only at the start of a block (§4.2).
        if (fieldSeen) throw new HpackError('dynamic table size update after a header field');
        const n = int(5);
        if (n > this.limit) {
          if (n <= this.announced) throw new HpackError(`dynamic table size update to ${n} above the parser's cap of ${MAX_HPACK_TABLE_BYTES} bytes (MAX_HPACK_TABLE_BYTES)`);
          throw new HpackError(`dynamic table size update to ${n} above the limit ${this.limit}`);
        }
        this.maxSize = n;
        this.evict(0);
        this.version++;
      }
    }
    return { headers, tooLarge };
  }

  /** Current dynamic table as `[name, value]` newest first (index 62 first), and its size in bytes. For tests. */
  table(): { entries: Array<[string, string]>; size: number; maxSize: number } {
    return { entries: this.entries.map((e) => [e.name, e.value]), size: this.size, maxSize: this.maxSize };
  }

  /** A copy of the state (see {@link HpackSnapshot}). */
  snapshot(): HpackSnapshot {
    return { entries: this.entries.map((e) => [e.name, e.value, e.size, e.nameOctets]), maxSize: this.maxSize, limit: this.limit };
  }

  /**
   * A decoder in the state of `s`.
   * @throws HpackError when `s` is not a valid snapshot.
   */
  static restore(s: HpackSnapshot): HpackDecoder {
    if (!s || !Array.isArray(s.entries) || !Number.isSafeInteger(s.maxSize) || !Number.isSafeInteger(s.limit)) throw new HpackError('invalid HPACK snapshot');
    const d = new HpackDecoder(s.limit);
    d.maxSize = s.maxSize;
    for (const [name, value, size, nameOctets] of s.entries) {
      if (typeof name !== 'string' || typeof value !== 'string' || !Number.isSafeInteger(size) || !Number.isSafeInteger(nameOctets)) throw new HpackError('invalid HPACK snapshot entry');
      d.entries.push({ name, value, size, nameOctets });
      d.size += size;
    }
    return d;
  }

  private at(index: number): Entry {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC_TABLE.length) {
      const [name, value] = STATIC_TABLE[index - 1];
      return { name, value, size: name.length + value.length + 32, nameOctets: name.length };
    }
    const e = this.entries[index - STATIC_TABLE.length - 1];
    if (!e) throw new HpackError(`index ${index} beyond the dynamic table (${this.entries.length} entries)`);
    return e;
  }

  /** Adds an entry (§4.4): evicts until it fits; an entry larger than the table empties it and is not added. */
  private insert(e: Entry): void {
    this.version++;
    if (e.size > this.maxSize) {
      this.entries = [];
      this.size = 0;
      return;
    }
    this.evict(e.size);
    this.entries.unshift(e);
    this.size += e.size;
  }

  /** Evicts oldest entries until `room` more bytes fit under maxSize (§4.3, §4.4). */
  private evict(room: number): void {
    while (this.entries.length > 0 && this.size + room > this.maxSize) this.size -= this.entries.pop()!.size;
  }
}
