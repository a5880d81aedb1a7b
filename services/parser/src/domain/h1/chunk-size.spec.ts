import fc from 'fast-check';
import { chunkSize } from './connection';

/** The rule chunkSize replaced, on a latin1 string of the line (kept here as the reference it must agree with). */
function byString(line: Uint8Array): number {
  const text = Buffer.from(line).toString('latin1');
  const semi = text.indexOf(';');
  const sizeText = (semi >= 0 ? text.slice(0, semi) : text).trim();
  return /^[0-9a-fA-F]{1,15}$/.test(sizeText) ? parseInt(sizeText, 16) : -1;
}

const bytes = (s: string) => Buffer.from(s, 'latin1');

test('chunk-size lines: sizes, extensions, white space, invalid lines', () => {
  expect(chunkSize(bytes('1a\r\n'))).toBe(26);
  expect(chunkSize(bytes('FF;name=value\r\n'))).toBe(255);
  expect(chunkSize(bytes('0\r\n'))).toBe(0);
  expect(chunkSize(bytes(' \t10 \r\n'))).toBe(16);
  expect(chunkSize(bytes('10\xa0\n'))).toBe(16); // NBSP is white space to trim() too
  expect(chunkSize(bytes('\r\n'))).toBe(-1);
  expect(chunkSize(bytes('1 0\r\n'))).toBe(-1);
  expect(chunkSize(bytes('0x10\r\n'))).toBe(-1);
  expect(chunkSize(bytes('-1\r\n'))).toBe(-1);
  expect(chunkSize(bytes('1234567890abcdef\r\n'))).toBe(-1); // 16 digits
  expect(chunkSize(bytes('fffffffffffffff\r\n'))).toBe(parseInt('fffffffffffffff', 16));
});

test('chunkSize agrees with the string rule on arbitrary lines', () => {
  const alphabet = fc.constantFrom(...'0123456789abcdefABCDEFgxX; \t\r\n\v\f\xa0\x85=-'.split('').map((c) => c.charCodeAt(0)));
  const line = fc.oneof(
    fc.array(alphabet, { maxLength: 24 }),
    fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 24 }),
    fc.tuple(fc.stringMatching(/^[0-9a-fA-F]{1,16}$/), fc.string({ maxLength: 8 })).map(([h, ext]) => [...bytes(`${h}${ext ? `;${ext}` : ''}\r\n`)]),
  );
  fc.assert(fc.property(line, (b) => chunkSize(Uint8Array.from(b)) === byString(Uint8Array.from(b))), { numRuns: 20_000 });
});
