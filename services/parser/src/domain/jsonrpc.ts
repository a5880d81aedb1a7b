/**
 * JSON-RPC 2.0 framing of one captured byte stream (one direction of one process' stdin/stdout/stderr), as local
 * MCP servers and language servers use it:
 *
 * - newline-delimited JSON: MCP spec 2025-06-18, "Transports / stdio": each message is one line of UTF-8 JSON
 *   without embedded newlines, ended by `\n` (a `\r` before it is accepted);
 * - `Content-Length:` framing (LSP base protocol, also used by some early MCP servers): header lines
 *   `Content-Length: <bytes>` (and optional `Content-Type: …`), ended by an empty line (`\r\n\r\n`; `\n\n` is
 *   accepted), then exactly that many bytes of JSON.
 *
 * Both framings may appear on one stream (the framing is decided per message). Everything else a program writes
 * (log lines, prompts, a `{`-line that is not JSON-RPC) is skipped and counted, never an error. A frame that looks
 * like JSON-RPC but is broken (a `{`-line mentioning `"jsonrpc"` that does not parse, a parsed object with a wrong
 * `jsonrpc` member, a `Content-Length` header with a bad value or a body that is not a JSON-RPC message) is
 * reported as a {@link JsonRpcReject}, which the stage dead-letters.
 *
 * The framer is fed records in stream order with their stream offsets (bytes): bytes it already consumed
 * (a replay) are dropped, a gap (bytes lost before the producer) makes it skip to the next line start. It never
 * copies record data on append ({@link ByteQueue}), so a message split across reads at every byte stays linear.
 */
import { DEAD_LETTER_SAMPLE_BYTES, JSON_DEPTH_REASON, jsonDepthError, jsonTooDeep, MAX_JSON_DEPTH } from '@agentsight/contracts';
import { ByteQueue } from './byte-queue';

/** A JSON-RPC 2.0 request, notification or response object, as parsed. */
export interface JsonRpcMessage {
  jsonrpc: '2.0';
  id?: string | number | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code?: number; message?: string; data?: unknown };
}

/** How a frame was delimited. */
export type JsonRpcFraming = 'ndjson' | 'content-length';

/** One complete JSON-RPC frame. `M` is the caller's description of the record that carried a byte. */
export interface JsonRpcFrame<M> {
  framing: JsonRpcFraming;
  /** Stream offset of the frame's first byte (the header's, for `content-length`), bytes. */
  offset: number;
  /** Bytes of the whole frame: header and body, or line and its newline. */
  length: number;
  /** The JSON text (the body, or the line without its `\r\n`). */
  text: string;
  /** The parsed message; an array for a JSON-RPC batch (older MCP revisions allowed them). */
  message: JsonRpcMessage | JsonRpcMessage[];
  /** Metas of the records carrying the frame's first and last byte. */
  first: M;
  last: M;
}

/** A frame that looks like JSON-RPC but is broken (dead-letter material). */
export interface JsonRpcReject<M> {
  reason: 'jsonrpc_parse_error' | 'jsonrpc_invalid' | 'jsonrpc_frame_error' | 'jsonrpc_too_large' | typeof JSON_DEPTH_REASON | 'incomplete_message';
  error: string;
  /** Stream offset of the frame's first byte, bytes. */
  offset: number;
  /** First bytes (at most 4 KiB) of the frame. */
  sample: Uint8Array;
  meta: M;
}

/** Output of one {@link JsonRpcFramer.push}: complete frames and rejects, in stream order. */
export interface FramerOutput<M> {
  frames: JsonRpcFrame<M>[];
  rejects: JsonRpcReject<M>[];
}

/** Counters of one stream since the framer was created. */
export interface FramerStats {
  frames: number;
  /** Non-JSON-RPC lines skipped (a line still in progress is counted when its newline comes). */
  skippedLines: number;
  /** Bytes skipped: non-JSON-RPC lines and stray bytes, bytes of rejected frames, and the partial line after a gap. */
  skippedBytes: number;
  rejected: number;
  /** Times bytes were missing (the next record started beyond the bytes seen) and the bytes missing. */
  gaps: number;
  gapBytes: number;
}

/** Where a resumed framer continues: the consumed offset and whether it was inside a line being skipped. */
export interface FramerPosition {
  /** Stream offset of the first byte not consumed, bytes. */
  offset: number;
  /** True when that byte is in the middle of a skipped line (skip up to its newline). */
  inSkippedLine: boolean;
}

/** Largest frame accepted, bytes (a `{`-line without a newline this long is given up on). Default 64 MiB. */
export const JSONRPC_MAX_FRAME = 64 * 1024 * 1024;
/** Largest `Content-Length` header block, bytes. */
const MAX_HEADER = 8192;
const CONTENT_LENGTH = 'content-length:';
const LF = 0x0a;
const CR = 0x0d;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** True when `v` is a JSON-RPC 2.0 object: `jsonrpc: "2.0"` and a method (request/notification) or an id (response). */
export function isJsonRpcMessage(v: unknown): v is JsonRpcMessage {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  if (o.jsonrpc !== '2.0') return false;
  if (typeof o.method === 'string') return true;
  return 'id' in o && ('result' in o || 'error' in o);
}

/**
 * Frames JSON-RPC messages out of one byte stream. Not thread-safe, one instance per (process, fd, direction).
 *
 * @param maxFrame largest frame kept while waiting for its end, bytes (default {@link JSONRPC_MAX_FRAME}).
 */
export class JsonRpcFramer<M> {
  private readonly q = new ByteQueue<M>();
  /** Inside a line that is being skipped (up to and including its LF). */
  private skipping = false;
  /** Bytes of the current `{`-line already searched for its LF (keeps byte-by-byte feeding linear). */
  private scanned = 0;
  /** Parsed `Content-Length` header of the message in progress: header bytes and body bytes. */
  private header: { headerLen: number; bodyLen: number } | null = null;
  readonly stats: FramerStats = { frames: 0, skippedLines: 0, skippedBytes: 0, rejected: 0, gaps: 0, gapBytes: 0 };

  constructor(private readonly maxFrame = JSONRPC_MAX_FRAME) {}

  /** Consumed position: every byte before it is in a returned frame or reject, or was skipped. */
  position(): FramerPosition {
    return { offset: this.q.offset, inSkippedLine: this.skipping };
  }

  /** Bytes received but not yet consumed (a message in progress). */
  get buffered(): number {
    return this.q.length;
  }

  /** Before the first push: continue at `pos` (what a previous owner of the stream committed). */
  resumeAt(pos: FramerPosition): void {
    if (this.q.length || pos.offset < this.q.offset) return;
    this.q.reset(pos.offset);
    this.skipping = pos.inSkippedLine;
    this.scanned = 0;
    this.header = null;
  }

  /**
   * Feeds the bytes `data` found at stream offset `offset` (bytes), carried by the record described by `meta`;
   * returns the frames and rejects they complete. `data` is not copied and must not be changed afterwards.
   */
  push(data: Uint8Array, offset: number, meta: M): FramerOutput<M> {
    const out: FramerOutput<M> = { frames: [], rejects: [] };
    const expected = this.q.offset + this.q.length;
    const end = offset + data.length;
    if (end <= expected) return out; // replayed bytes, already consumed or buffered
    if (offset < expected) {
      data = data.subarray(expected - offset);
      offset = expected;
    }
    if (offset > expected) {
      // Bytes lost before us: whatever was in progress cannot complete; resynchronise at the next line start.
      this.stats.gaps++;
      this.stats.gapBytes += offset - expected;
      this.abandon(out, `${offset - expected} bytes missing`);
      this.q.reset(offset);
      this.skipping = true;
    }
    this.q.push(data, meta);
    this.drain(out);
    return out;
  }

  /**
   * Gives up on a message in progress (the stream went idle or ended): a started JSON-RPC frame becomes an
   * `incomplete_message` reject, anything else is skipped. Afterwards nothing is buffered.
   */
  finish(): FramerOutput<M> {
    const out: FramerOutput<M> = { frames: [], rejects: [] };
    this.abandon(out, 'stream idle or ended inside the message');
    return out;
  }

  private abandon(out: FramerOutput<M>, why: string): void {
    const n = this.q.length;
    if (!n) return;
    const b0 = this.q.byteAt(0);
    if (!this.skipping && (b0 === 0x7b || b0 === 0x5b || this.header || this.startsContentLength() === 'yes')) {
      this.reject(out, 'incomplete_message', `unfinished JSON-RPC frame of ${n} bytes: ${why}`, n);
    } else {
      this.stats.skippedBytes += n;
      this.q.skip(n);
    }
    this.header = null;
    this.scanned = 0;
  }

  private drain(out: FramerOutput<M>): void {
    while (this.q.length > 0) {
      if (this.skipping) {
        const lf = this.q.indexOfLf(0);
        const n = lf < 0 ? this.q.length : lf + 1;
        this.stats.skippedBytes += n;
        this.q.skip(n);
        if (lf < 0) return;
        this.skipping = false;
        this.stats.skippedLines++;
        continue;
      }
      if (this.header) {
        if (!this.takeBody(out)) return;
        continue;
      }
      const b0 = this.q.byteAt(0);
      if (b0 === LF || b0 === CR) {
        // Empty line / stray CR between messages.
        this.stats.skippedBytes++;
        this.q.skip(1);
        continue;
      }
      if (b0 === 0x7b /* { */ || b0 === 0x5b /* [ */) {
        if (!this.takeLine(out)) return;
        continue;
      }
      const cl = this.startsContentLength();
      if (cl === 'maybe') return; // wait for more bytes
      if (cl === 'yes') {
        if (!this.takeHeader(out)) return;
        continue;
      }
      this.skipping = true; // some other line: skip it
    }
  }

  /** Whether the buffered bytes start with `Content-Length:` (case-insensitive): yes, no, or maybe (too short). */
  private startsContentLength(): 'yes' | 'no' | 'maybe' {
    const n = Math.min(this.q.length, CONTENT_LENGTH.length);
    for (let i = 0; i < n; i++) {
      let b = this.q.byteAt(i);
      if (b >= 0x41 && b <= 0x5a) b += 0x20;
      if (b !== CONTENT_LENGTH.charCodeAt(i)) return 'no';
    }
    return n === CONTENT_LENGTH.length ? 'yes' : 'maybe';
  }

  /** A `{`/`[` line: frames it when its LF is here; false when more bytes are needed. */
  private takeLine(out: FramerOutput<M>): boolean {
    const lf = this.q.indexOfLf(this.scanned);
    if (lf < 0) {
      this.scanned = this.q.length;
      if (this.q.length > this.maxFrame) {
        this.reject(out, 'jsonrpc_too_large', `line longer than ${this.maxFrame} bytes without a newline`, this.q.length);
        this.skipping = true;
        return true;
      }
      return false;
    }
    this.scanned = 0;
    const first = this.q.metaAt(0);
    const last = this.q.metaAt(lf);
    const offset = this.q.offset;
    const bytes = this.q.take(lf + 1);
    const body = bytes.subarray(0, lf > 0 && bytes[lf - 1] === CR ? lf - 1 : lf);
    let text: string;
    let value: unknown;
    try {
      text = utf8.decode(body);
    } catch {
      this.skipped(lf + 1); // not UTF-8: program output, not JSON-RPC
      return true;
    }
    try {
      value = JSON.parse(text);
    } catch (e) {
      if (text.includes('"jsonrpc"')) this.rejectBytes(out, 'jsonrpc_parse_error', `invalid JSON in a JSON-RPC line: ${(e as Error).message}`, offset, bytes, first);
      else this.skipped(lf + 1);
      return true;
    }
    if (jsonTooDeep(value, MAX_JSON_DEPTH, text.length)) {
      if (text.includes('"jsonrpc"')) this.rejectBytes(out, JSON_DEPTH_REASON, `${jsonDepthError()} in a JSON-RPC line`, offset, bytes, first);
      else this.skipped(lf + 1);
      return true;
    }
    this.classify(out, value, text, 'ndjson', offset, bytes, first, last, false);
    return true;
  }

  /** Parses a `Content-Length` header block; false when more bytes are needed. */
  private takeHeader(out: FramerOutput<M>): boolean {
    let pos = 0;
    let bodyLen: number | null = null;
    let bad: string | null = null;
    for (;;) {
      const lf = this.q.indexOfLf(pos);
      if (lf < 0 || lf >= MAX_HEADER) {
        if (this.q.length < MAX_HEADER && lf < 0) return false;
        this.reject(out, 'jsonrpc_frame_error', `Content-Length header block longer than ${MAX_HEADER} bytes`, Math.min(this.q.length, MAX_HEADER));
        this.skipping = true;
        return true;
      }
      let line = '';
      for (let i = pos; i < lf; i++) line += String.fromCharCode(this.q.byteAt(i));
      if (line.endsWith('\r')) line = line.slice(0, -1);
      pos = lf + 1;
      if (line === '') break; // end of the header block
      const colon = line.indexOf(':');
      const name = colon < 0 ? '' : line.slice(0, colon).trim().toLowerCase();
      const value = colon < 0 ? '' : line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d{1,10}$/.test(value)) bad = `invalid Content-Length value ${JSON.stringify(value.slice(0, 40))}`;
        else bodyLen = Number(value);
      } else if (name !== 'content-type') {
        bad = `unexpected header line ${JSON.stringify(line.slice(0, 60))}`;
      }
    }
    if (bad || bodyLen === null || bodyLen > this.maxFrame) {
      this.reject(out, 'jsonrpc_frame_error', bad ?? (bodyLen === null ? 'no Content-Length' : `Content-Length ${bodyLen} above ${this.maxFrame}`), pos);
      return true;
    }
    this.header = { headerLen: pos, bodyLen };
    return true;
  }

  /** The body of a parsed `Content-Length` header; false when more bytes are needed. */
  private takeBody(out: FramerOutput<M>): boolean {
    const { headerLen, bodyLen } = this.header!;
    const total = headerLen + bodyLen;
    if (this.q.length < total) return false;
    this.header = null;
    const first = this.q.metaAt(0);
    const last = this.q.metaAt(total - 1);
    const offset = this.q.offset;
    const bytes = this.q.take(total);
    let text: string;
    let value: unknown;
    try {
      text = utf8.decode(bytes.subarray(headerLen));
      value = JSON.parse(text);
    } catch (e) {
      this.rejectBytes(out, 'jsonrpc_parse_error', `invalid JSON in a Content-Length frame: ${(e as Error).message}`, offset, bytes, first);
      return true;
    }
    if (jsonTooDeep(value, MAX_JSON_DEPTH, text.length)) {
      this.rejectBytes(out, JSON_DEPTH_REASON, `${jsonDepthError()} in a Content-Length frame`, offset, bytes, first);
      return true;
    }
    this.classify(out, value, text, 'content-length', offset, bytes, first, last, true);
    return true;
  }

  private classify(out: FramerOutput<M>, value: unknown, text: string, framing: JsonRpcFraming, offset: number,
    bytes: Uint8Array, first: M, last: M, strict: boolean): void {
    const ok = Array.isArray(value) ? value.length > 0 && value.every(isJsonRpcMessage) : isJsonRpcMessage(value);
    if (ok) {
      this.stats.frames++;
      out.frames.push({ framing, offset, length: bytes.length, text, message: value as JsonRpcMessage | JsonRpcMessage[], first, last });
      return;
    }
    const looksRpc = (v: unknown) => !!v && typeof v === 'object' && 'jsonrpc' in (v as object);
    if (strict || looksRpc(value) || (Array.isArray(value) && value.some(looksRpc))) {
      this.rejectBytes(out, 'jsonrpc_invalid', 'not a valid JSON-RPC 2.0 message (jsonrpc "2.0" with a method, or an id with result/error)', offset, bytes, first);
    } else {
      this.skipped(bytes.length); // JSON, but not JSON-RPC: program output
    }
  }

  private skipped(n: number): void {
    this.stats.skippedLines++;
    this.stats.skippedBytes += n;
  }

  /** Rejects (and drops) the first `n` buffered bytes. */
  private reject(out: FramerOutput<M>, reason: JsonRpcReject<M>['reason'], error: string, n: number): void {
    const meta = this.q.metaAt(0);
    const offset = this.q.offset;
    const sample = this.q.take(Math.min(n, DEAD_LETTER_SAMPLE_BYTES)).slice();
    if (n > sample.length) this.q.skip(n - sample.length);
    this.stats.rejected++;
    this.stats.skippedBytes += n;
    out.rejects.push({ reason, error, offset, sample, meta });
    this.scanned = 0;
  }

  private rejectBytes(out: FramerOutput<M>, reason: JsonRpcReject<M>['reason'], error: string, offset: number, bytes: Uint8Array, meta: M): void {
    this.stats.rejected++;
    this.stats.skippedBytes += bytes.length;
    out.rejects.push({ reason, error, offset, sample: bytes.slice(0, DEAD_LETTER_SAMPLE_BYTES), meta });
  }
}
