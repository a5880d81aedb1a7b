/**
 * A FIFO of not-yet-parsed bytes of one connection direction, kept as a list of views into the records' `data`
 * (never concatenated on append, so feeding a message byte by byte stays linear). Each piece remembers the record it
 * came from, so the parser can tell which record carried a given byte (`ts_wall_ns`, `tid` of the first/last byte).
 */
export class ByteQueue<M> {
  private pieces: Uint8Array[] = [];
  private metas: M[] = [];
  /** Index of the first live piece in `pieces` (pieces before it are consumed; compacted lazily). */
  private first = 0;
  /** Bytes of `pieces[first]` already consumed. */
  private firstPos = 0;
  /** Number of bytes available. */
  length = 0;
  /** Stream offset (bytes) of the first available byte. */
  offset = 0;
  /** Set by {@link locate}: the byte's position within its piece. */
  private at = 0;

  /** Appends `data` (not copied: the caller must not mutate it) carried by the record described by `meta`. */
  push(data: Uint8Array, meta: M): void {
    if (data.length === 0) return;
    this.pieces.push(data);
    this.metas.push(meta);
    this.length += data.length;
  }

  /** Byte at index `i` (0 ≤ i < length) relative to the first available byte. O(pieces) worst case. */
  byteAt(i: number): number {
    const p = this.locate(i);
    return this.pieces[p][this.at];
  }

  /** Meta of the record carrying byte `i` (relative to the first available byte). */
  metaAt(i: number): M {
    let p = this.first;
    let pos = this.firstPos + i;
    while (p < this.pieces.length - 1 && pos >= this.pieces[p].length) {
      pos -= this.pieces[p].length;
      p++;
    }
    return this.metas[p];
  }

  /**
   * Calls `visit(byte, index)` for bytes `from`.. until it returns true; returns that index or -1. Linear in the
   * bytes visited (the caller keeps its own scan position across pushes to stay linear overall).
   */
  scan(from: number, visit: (byte: number, index: number) => boolean): number {
    if (from >= this.length) return -1;
    let p = this.locate(from);
    let pos = this.at;
    let idx = from;
    for (; p < this.pieces.length; p++, pos = 0) {
      const piece = this.pieces[p];
      for (; pos < piece.length; pos++, idx++) if (visit(piece[pos], idx)) return idx;
    }
    return -1;
  }

  /** Index of the first LF (0x0A) at or after `from`, or -1. */
  indexOfLf(from: number): number {
    if (from >= this.length) return -1;
    let p = this.locate(from);
    let pos = this.at;
    let base = from - pos;
    for (; p < this.pieces.length; p++) {
      const piece = this.pieces[p];
      const hit = piece.indexOf(0x0a, pos);
      if (hit >= 0) return base + hit;
      base += piece.length;
      pos = 0;
    }
    return -1;
  }

  /** Removes and returns the first `n` bytes as one contiguous array: a view when they lie in one piece, else one copy. */
  take(n: number): Uint8Array {
    if (n === 0) return new Uint8Array(0);
    const piece = this.pieces[this.first];
    if (piece.length - this.firstPos >= n) {
      const v = piece.subarray(this.firstPos, this.firstPos + n);
      this.skip(n);
      return v;
    }
    const out = new Uint8Array(n);
    let w = 0;
    this.takeViews(n, (v) => {
      out.set(v, w);
      w += v.length;
    });
    return out;
  }

  /** A copy of the first `n` bytes (n ≤ length), left in the queue. */
  peek(n: number): Uint8Array {
    if (n > this.length) throw new RangeError(`ByteQueue.peek(${n}) beyond ${this.length}`);
    const out = new Uint8Array(n);
    let w = 0;
    for (let i = this.first, pos = this.firstPos; w < n; i++, pos = 0) {
      const piece = this.pieces[i];
      const k = Math.min(piece.length - pos, n - w);
      out.set(piece.subarray(pos, pos + k), w);
      w += k;
    }
    return out;
  }

  /**
   * Removes the first `n` bytes, handing them to `sink` as views (no copy), one per record piece, with the piece's
   * meta and the stream offset of the view's first byte.
   */
  takeViews(n: number, sink: (view: Uint8Array, meta: M, offset: number) => void): void {
    let left = n;
    while (left > 0) {
      const piece = this.pieces[this.first];
      const avail = piece.length - this.firstPos;
      const k = avail < left ? avail : left;
      sink(this.firstPos === 0 && k === piece.length ? piece : piece.subarray(this.firstPos, this.firstPos + k), this.metas[this.first], this.offset);
      this.skip(k);
      left -= k;
    }
  }

  /** Drops the first `n` bytes (n ≤ length). */
  skip(n: number): void {
    if (n > this.length) throw new RangeError(`ByteQueue.skip(${n}) beyond ${this.length}`);
    this.length -= n;
    this.offset += n;
    let left = n;
    while (left > 0) {
      const avail = this.pieces[this.first].length - this.firstPos;
      if (left < avail) {
        this.firstPos += left;
        break;
      }
      left -= avail;
      this.pieces[this.first] = EMPTY;
      (this.metas as unknown[])[this.first] = undefined;
      this.first++;
      this.firstPos = 0;
    }
    if (this.length === 0) this.clearPieces();
    else if (this.first > 64 && this.first * 2 > this.pieces.length) {
      this.pieces = this.pieces.slice(this.first);
      this.metas = this.metas.slice(this.first);
      this.first = 0;
    }
  }

  /**
   * Where byte `i` (0 ≤ i < length, relative to the first available byte) lies: returns the index of its piece in
   * `pieces` and leaves its position within that piece in {@link at} (a field, so the hot paths allocate nothing).
   */
  private locate(i: number): number {
    let p = this.first;
    let pos = this.firstPos + i;
    while (pos >= this.pieces[p].length) {
      pos -= this.pieces[p].length;
      p++;
    }
    this.at = pos;
    return p;
  }

  /** Drops everything and repositions the queue at stream offset `offset`. */
  reset(offset: number): void {
    this.clearPieces();
    this.length = 0;
    this.offset = offset;
  }

  private clearPieces(): void {
    this.pieces = [];
    this.metas = [];
    this.first = 0;
    this.firstPos = 0;
  }
}

const EMPTY = new Uint8Array(0);

/** Concatenates `parts` (total `total` bytes) with a single copy; returns the part itself when there is one. */
export function concatBytes(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let w = 0;
  for (const p of parts) {
    out.set(p, w);
    w += p.length;
  }
  return out;
}
