/**
 * HTTP content codings (RFC 9110 §8.4.1): `gzip`/`x-gzip`, `deflate` (zlib-wrapped as the RFC says, or raw deflate as
 * some servers send it — told apart by the zlib header check), `br`, and `zstd` when the Node runtime has it
 * (Node ≥ 22.15); `identity` is a no-op. Stacked codings (`Content-Encoding: gzip, br`) are undone last-first.
 *
 * Two entry points:
 * - {@link decodeAll}: one-shot, for whole (non-streamed) bodies, public `zlib.*Sync` API, output capped.
 * - {@link IncrementalDecoder}: synchronous incremental decoding, so a compressed SSE stream yields its events as the
 *   bytes arrive. Node's public streaming zlib API is asynchronous, so this drives the zlib handle the same way
 *   `zlib.*Sync` does internally (`_handle.writeSync` + `_writeState`, stable since Node 10) without closing it after
 *   each call. If a future runtime lacks those internals, {@link IncrementalDecoder.supported} is false and the
 *   decoder buffers the compressed bytes and decodes them once at the end (events then come at the end of the body).
 */
import { constants as bufferConstants } from 'node:buffer';
import * as zlib from 'node:zlib';

/** Raised when a body cannot be decoded: corrupt or truncated data, unknown coding, or output over the cap. */
export class DecodeError extends Error {
  constructor(
    message: string,
    /**
     * `too_large` when the decoded output would exceed the absolute cap, `decompression_limit` when it would exceed
     * the expansion-ratio cap ({@link decompressionLimit}: a decompression bomb), else `decode_error`.
     */
    readonly kind: 'decode_error' | 'too_large' | 'decompression_limit' = 'decode_error',
  ) {
    super(message);
    this.name = 'DecodeError';
  }
}

type Coding = 'gzip' | 'deflate' | 'br' | 'zstd';

/**
 * Decoded bytes a content-coded body may always reach, whatever its compression ratio (bytes; 1 MiB). Above it the
 * {@link MAX_DECOMPRESSION_RATIO} applies.
 */
export const DECOMPRESSION_FLOOR_BYTES = 1024 * 1024;

/**
 * Largest expansion allowed above {@link DECOMPRESSION_FLOOR_BYTES}: decoded bytes per coded (wire) byte received so
 * far (200×; ordinary text and JSON compress 3–20×, a gzip bomb of zeros ~1000×).
 */
export const MAX_DECOMPRESSION_RATIO = 200;

/**
 * Most decoded bytes allowed once `codedBytes` coded bytes were received: max({@link DECOMPRESSION_FLOOR_BYTES},
 * {@link MAX_DECOMPRESSION_RATIO} × `codedBytes`). More is a decompression bomb ({@link DecodeError} kind
 * `decompression_limit`). With stacked codings every stage's output is held to it.
 */
export function decompressionLimit(codedBytes: number): number {
  return Math.max(DECOMPRESSION_FLOOR_BYTES, MAX_DECOMPRESSION_RATIO * codedBytes);
}

/** The error for output over `min(maxOutput, decompressionLimit(codedBytes))`. */
function overLimit(codedBytes: number, maxOutput: number): DecodeError {
  const ratioCap = decompressionLimit(codedBytes);
  if (ratioCap < maxOutput)
    return new DecodeError(
      `decoded body exceeds ${ratioCap} bytes, more than ${MAX_DECOMPRESSION_RATIO}× its ${codedBytes} coded bytes (decompression bomb)`,
      'decompression_limit',
    );
  return new DecodeError(`decoded body exceeds ${maxOutput} bytes`, 'too_large');
}

/** zlib's own ceiling for `maxOutputLength` (the largest Buffer). */
const MAX_OUTPUT_LENGTH = bufferConstants.MAX_LENGTH;

const zstdAvailable = typeof (zlib as unknown as Record<string, unknown>).createZstdDecompress === 'function';

/**
 * Parses a `Content-Encoding` field value into the codings to undo, in the order they were applied (RFC 9110
 * §8.4). `identity` and empty members are dropped. Throws {@link DecodeError} for a coding this runtime cannot decode.
 */
export function parseContentCodings(value: string | undefined): Coding[] {
  if (!value) return [];
  const out: Coding[] = [];
  for (const raw of value.split(',')) {
    const c = raw.trim().toLowerCase();
    if (c === '' || c === 'identity') continue;
    if (c === 'gzip' || c === 'x-gzip') out.push('gzip');
    else if (c === 'deflate') out.push('deflate');
    else if (c === 'br') out.push('br');
    else if (c === 'zstd' && zstdAvailable) out.push('zstd');
    else throw new DecodeError(`unsupported content coding '${c}'`);
  }
  return out;
}

/** True when the first two bytes are a valid zlib (RFC 1950) header: CM = 8, CINFO ≤ 7, FCHECK ok. */
function isZlibHeader(b0: number, b1: number): boolean {
  return (b0 & 0x0f) === 8 && b0 >> 4 <= 7 && ((b0 << 8) | b1) % 31 === 0;
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Decodes a whole body. `codings` as returned by {@link parseContentCodings}; `maxOutput` caps the decoded size
 * (bytes), and so does {@link decompressionLimit} of the body's length (zlib stops there, nothing more is allocated).
 * Throws {@link DecodeError} (`too_large` when `maxOutput` is hit, `decompression_limit` when the ratio cap is).
 */
export function decodeAll(body: Uint8Array, codings: readonly Coding[], maxOutput: number): Uint8Array {
  let cur: Uint8Array = body;
  const cap = Math.min(maxOutput, decompressionLimit(body.length));
  const opts = { maxOutputLength: Math.max(1, Math.min(cap, MAX_OUTPUT_LENGTH)) };
  for (let i = codings.length - 1; i >= 0; i--) {
    try {
      switch (codings[i]) {
        case 'gzip':
          cur = zlib.gunzipSync(cur, opts);
          break;
        case 'deflate':
          cur = cur.length >= 2 && isZlibHeader(cur[0], cur[1]) ? zlib.inflateSync(cur, opts) : zlib.inflateRawSync(cur, opts);
          break;
        case 'br':
          cur = zlib.brotliDecompressSync(cur, opts);
          break;
        case 'zstd':
          cur = (zlib as unknown as { zstdDecompressSync(b: Uint8Array, o: object): Buffer }).zstdDecompressSync(cur, opts);
          break;
      }
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw overLimit(body.length, maxOutput);
      throw new DecodeError(`${codings[i]}: ${errMessage(e)}`);
    }
  }
  return cur;
}

/** Minimal view of the zlib internals used for synchronous incremental decoding. */
interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void;
}
interface ZlibEngine {
  _handle: ZlibHandle | null;
  _writeState: Uint32Array;
  destroyed: boolean;
  errored?: Error | null;
  on(ev: 'error', fn: (e: Error) => void): unknown;
  destroy(): void;
}

const OUT_CHUNK = 16 * 1024;

/** One synchronous incremental decoding step (one coding). */
class ZlibStep {
  private engine: ZlibEngine | null = null;
  private out = Buffer.allocUnsafe(OUT_CHUNK);
  private outOff = 0;
  /** deflate only: bytes held until the 2-byte header tells zlib from raw deflate. */
  private head: Uint8Array | null = null;
  private readonly flush: number;
  private readonly finishFlush: number;

  constructor(private readonly coding: Coding) {
    const brotliLike = coding === 'br' || coding === 'zstd';
    this.flush = brotliLike ? zlib.constants.BROTLI_OPERATION_FLUSH : zlib.constants.Z_SYNC_FLUSH;
    this.finishFlush = brotliLike ? zlib.constants.BROTLI_OPERATION_FINISH : zlib.constants.Z_FINISH;
    if (coding === 'zstd') {
      const c = zlib.constants as unknown as Record<string, number>;
      this.flush = c.ZSTD_e_flush ?? this.flush;
      this.finishFlush = c.ZSTD_e_end ?? this.finishFlush;
    }
    if (coding !== 'deflate') this.engine = makeEngine(coding === 'gzip' ? zlib.createGunzip() : coding === 'br' ? zlib.createBrotliDecompress() : (zlib as unknown as { createZstdDecompress(): unknown }).createZstdDecompress());
  }

  write(input: Uint8Array, finish: boolean, emit: (b: Uint8Array) => void): void {
    if (!this.engine) {
      // deflate: decide zlib vs raw on the first two bytes.
      const held = this.head ? Buffer.concat([this.head, input]) : input;
      if (held.length < 2 && !finish) {
        this.head = held.length ? Uint8Array.from(held) : null;
        return;
      }
      this.head = null;
      this.engine = makeEngine(held.length >= 2 && isZlibHeader(held[0], held[1]) ? zlib.createInflate() : zlib.createInflateRaw());
      input = held;
    }
    const engine = this.engine;
    const handle = engine._handle;
    if (!handle) throw new DecodeError(`${this.coding}: decoder already failed`);
    const state = engine._writeState;
    const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    let inOff = 0;
    let availIn = buf.length;
    for (;;) {
      const availOutBefore = OUT_CHUNK - this.outOff;
      handle.writeSync(finish ? this.finishFlush : this.flush, buf, inOff, availIn, this.out, this.outOff, availOutBefore);
      if (engine.destroyed || !engine._handle) throw new DecodeError(`${this.coding}: ${engine.errored?.message ?? 'decoder error'}`);
      const availOutAfter = state[0];
      const availInAfter = state[1];
      const have = availOutBefore - availOutAfter;
      if (have > 0) {
        emit(this.out.subarray(this.outOff, this.outOff + have));
        this.outOff += have;
      }
      inOff += availIn - availInAfter;
      availIn = availInAfter;
      if (availOutAfter === 0 || this.outOff >= OUT_CHUNK) {
        // Emitted views keep the old buffer alive; decode into a fresh one.
        this.out = Buffer.allocUnsafe(OUT_CHUNK);
        this.outOff = 0;
      }
      if (availOutAfter !== 0) break;
    }
  }

  close(): void {
    this.engine?.destroy();
    this.engine = null;
  }
}

function makeEngine(stream: unknown): ZlibEngine {
  const e = stream as ZlibEngine;
  // The engine reports errors by destroying itself, which emits 'error' on the next tick: keep that from crashing.
  e.on('error', () => undefined);
  return e;
}

const incrementalSupported = (() => {
  try {
    const e = zlib.createGunzip() as unknown as ZlibEngine;
    // Not `instanceof`: under a vm context (e.g. Jest) Node's internals come from another realm.
    const ok = !!e._handle && typeof e._handle.writeSync === 'function' && Object.prototype.toString.call(e._writeState) === '[object Uint32Array]';
    e.on('error', () => undefined);
    e.destroy();
    return ok;
  } catch {
    return false;
  }
})();

/**
 * Incremental decoder for a chain of codings: `write()` returns the decoded bytes available so far (possibly
 * none), `end()` the rest and verifies the stream is complete (e.g. the gzip CRC32/ISIZE trailer). Both throw
 * {@link DecodeError}; after an error the decoder is unusable. Output is capped at `maxOutput` bytes in total
 * (`too_large`) and at {@link decompressionLimit} of the coded bytes written so far (`decompression_limit`), checked
 * per 16 KiB of output so a bomb is stopped before its output is held.
 */
export class IncrementalDecoder {
  /** False when the runtime lacks the zlib internals; then output comes only from `end()`. */
  static readonly supported = incrementalSupported;
  private readonly steps: ZlibStep[];
  private readonly buffered: Uint8Array[] | null;
  private bufferedBytes = 0;
  /** Coded bytes written so far. */
  private codedBytes = 0;
  /** Output bytes of each step so far (in decoding order). */
  private readonly stepOut: number[];

  constructor(
    private readonly codings: readonly Coding[],
    private readonly maxOutput: number,
  ) {
    // Steps in decoding order: the last applied coding is undone first.
    this.steps = incrementalSupported ? codings.map((c) => new ZlibStep(c)).reverse() : [];
    this.buffered = incrementalSupported ? null : [];
    this.stepOut = this.steps.map(() => 0);
  }

  /** Feeds encoded bytes; returns the decoded bytes they completed. */
  write(input: Uint8Array): Uint8Array[] {
    this.codedBytes += input.length;
    if (this.buffered) {
      this.buffered.push(input);
      this.bufferedBytes += input.length;
      return [];
    }
    return this.run(input, false);
  }

  /** Signals the end of the encoded bytes; returns the remaining decoded bytes. Throws when the stream is truncated. */
  end(): Uint8Array[] {
    if (this.buffered) {
      const all = Buffer.concat(this.buffered, this.bufferedBytes);
      return [decodeAll(all, this.codings, this.maxOutput)];
    }
    return this.run(new Uint8Array(0), true);
  }

  /** Releases the zlib handles. */
  close(): void {
    for (const s of this.steps) s.close();
  }

  private run(input: Uint8Array, finish: boolean): Uint8Array[] {
    let cur: Uint8Array[] = [input];
    const limit = Math.min(this.maxOutput, decompressionLimit(this.codedBytes));
    for (let i = 0; i < this.steps.length; i++) {
      const step = this.steps[i];
      const next: Uint8Array[] = [];
      const emit = (b: Uint8Array): void => {
        this.stepOut[i] += b.length;
        if (this.stepOut[i] > limit) throw overLimit(this.codedBytes, this.maxOutput);
        next.push(b);
      };
      try {
        for (const piece of cur) step.write(piece, false, emit);
        if (finish) step.write(new Uint8Array(0), true, emit);
      } catch (e) {
        this.close();
        throw e instanceof DecodeError ? e : new DecodeError(errMessage(e));
      }
      cur = next;
    }
    return cur.length === 1 && cur[0] === input && input.length === 0 ? [] : cur;
  }
}
