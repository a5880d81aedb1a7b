import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { deriveId } from './ids';

test('deriveId: the ids derived before stay the same (stored rows and Nats-Msg-Ids depend on them)', () => {
  expect(deriveId('http', 'bench/bench-boot/1/100000/0x7f0000000000', 'read', 93, 'sse_event', 7)).toBe('57d4f5c167dd38d31dae30982f4aa60d');
  expect(deriveId('exchange', 'é☃', 12n)).toBe('2db5a22f1504bddd509d48d110dbf7ef');
});

test('deriveId is the first 32 hex digits of sha256 of the parts joined by U+001F (UTF-8)', () => {
  const reference = (parts: Array<string | number | bigint>) => createHash('sha256').update(parts.map(String).join('\u001f')).digest('hex').slice(0, 32);
  const part = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.integer(), fc.bigInt());
  fc.assert(fc.property(fc.array(part, { maxLength: 8 }), (parts) => deriveId(...parts) === reference(parts)), { numRuns: 2000 });
});
