/**
 * The HPACK Huffman code (RFC 7541 §5.2, Appendix B): decoding of Huffman-coded string literals.
 *
 * The code of Appendix B is canonical — codes of one length are consecutive in symbol order, and each length's first
 * code follows the previous length's last — so it is fully defined by the code length of each of the 257 symbols
 * (octets 0–255 and EOS = 256), which is all this module stores. The codes are rebuilt from the lengths at load time
 * ({@link huffmanCode}) and the spec's examples (Appendix C.4, C.6) are checked against them in the tests.
 */

/** Code length in bits of symbols 0..256 (256 = EOS), RFC 7541 Appendix B. */
// prettier-ignore
const LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, //   0– 15
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, //  16– 31
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,         //  32– 47  ' ' … '/'
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,              //  48– 63  '0' … '?'
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,                //  64– 79  '@' … 'O'
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,             //  80– 95  'P' … '_'
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,                //  96–111  '`' … 'o'
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,            // 112–127  'p' … DEL
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128–143
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144–159
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160–175
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176–191
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192–207
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208–223
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224–239
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240–255
  30,                                                             // 256 EOS
];

/** Symbol count (256 octets + EOS). */
const SYMBOLS = 257;
const EOS = 256;

/** Codes (right-aligned, as printed in Appendix B) rebuilt from {@link LENGTHS}. */
const CODES: number[] = (() => {
  if (LENGTHS.length !== SYMBOLS) throw new Error(`HPACK Huffman table has ${LENGTHS.length} lengths, expected ${SYMBOLS}`);
  const order = [...Array(SYMBOLS).keys()].sort((a, b) => LENGTHS[a] - LENGTHS[b] || a - b);
  const codes = new Array<number>(SYMBOLS);
  let code = 0;
  let len = LENGTHS[order[0]];
  for (let i = 0; i < order.length; i++) {
    const s = order[i];
    if (i > 0) {
      code += 1;
      // Multiplication, not <<: codes reach 30 bits and the shifted value must stay a positive number.
      code *= 2 ** (LENGTHS[s] - len);
    }
    len = LENGTHS[s];
    codes[s] = code;
  }
  return codes;
})();

/**
 * Binary decoding tree: node n has children `TREE[2n]` (bit 0) and `TREE[2n+1]` (bit 1); a child value ≥ 0 is an inner
 * node, a value < 0 is the leaf of symbol `-value - 1`. Node 0 is the root.
 */
const TREE: Int32Array = (() => {
  const tree = new Int32Array(2 * SYMBOLS).fill(0);
  let nodes = 1;
  for (let s = 0; s < SYMBOLS; s++) {
    let n = 0;
    for (let b = LENGTHS[s] - 1; b >= 0; b--) {
      const bit = Math.floor(CODES[s] / 2 ** b) & 1;
      const slot = 2 * n + bit;
      if (b === 0) {
        tree[slot] = -s - 1;
      } else {
        if (tree[slot] === 0) tree[slot] = nodes++;
        n = tree[slot];
      }
    }
  }
  return tree;
})();

/** A Huffman-coded string that RFC 7541 §5.2 declares a decoding error. */
export class HuffmanError extends Error {}

/** The Appendix B code of `symbol` (0–255, or 256 = EOS): `{ code, bits }`, code right-aligned. For tests and tools. */
export function huffmanCode(symbol: number): { code: number; bits: number } {
  return { code: CODES[symbol], bits: LENGTHS[symbol] };
}

/**
 * Decodes a Huffman-coded string literal (RFC 7541 §5.2) into its octets.
 * @throws HuffmanError when the input contains EOS, or ends in padding longer than 7 bits or not made of the
 *   most-significant bits of EOS (all ones).
 */
export function huffmanDecode(src: Uint8Array): Uint8Array {
  // Decoded output is at most 8/5 of the input (shortest code is 5 bits).
  const out = new Uint8Array(Math.ceil((src.length * 8) / 5));
  let w = 0;
  let node = 0;
  /** Bits read since the last complete symbol, and whether they were all ones (a valid padding prefix). */
  let pending = 0;
  let allOnes = true;
  for (let i = 0; i < src.length; i++) {
    const byte = src[i];
    for (let b = 7; b >= 0; b--) {
      const bit = (byte >> b) & 1;
      const next = TREE[2 * node + bit];
      pending++;
      if (bit === 0) allOnes = false;
      if (next < 0) {
        const sym = -next - 1;
        if (sym === EOS) throw new HuffmanError('Huffman-coded string contains EOS');
        out[w++] = sym;
        node = 0;
        pending = 0;
        allOnes = true;
      } else node = next;
    }
  }
  if (pending > 7) throw new HuffmanError(`Huffman padding of ${pending} bits (at most 7 allowed)`);
  if (!allOnes) throw new HuffmanError('Huffman padding is not a prefix of EOS');
  return out.subarray(0, w);
}

/**
 * Huffman-encodes `octets` (RFC 7541 §5.2; padding with the most-significant bits of EOS). The parser never encodes;
 * this is for tests that build header blocks.
 */
export function huffmanEncode(octets: Uint8Array): Uint8Array {
  const bytes: number[] = [];
  let acc = 0;
  let nbits = 0;
  for (const o of octets) {
    const { code, bits } = huffmanCode(o);
    for (let b = bits - 1; b >= 0; b--) {
      acc = (acc << 1) | (Math.floor(code / 2 ** b) & 1);
      if (++nbits === 8) {
        bytes.push(acc);
        acc = 0;
        nbits = 0;
      }
    }
  }
  if (nbits > 0) bytes.push(((acc << (8 - nbits)) | ((1 << (8 - nbits)) - 1)) & 0xff);
  return Uint8Array.from(bytes);
}
