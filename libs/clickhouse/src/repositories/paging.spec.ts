import { decodeCursor, decodeOffsetCursor, encodeCursor, encodeOffsetCursor, intervalFor, resolveRange } from './paging';

const NOW = Date.parse('2026-12-04T03:00:00.000Z');
const MS = 1_000_000n;
const H = 3600n * 1000n * MS;

describe('dashboard ranges', () => {
  test('no from/to is the last 24 h up to now; a relative from counts back from now', () => {
    expect(resolveRange(undefined, undefined, NOW)).toEqual({ fromNs: BigInt(NOW) * MS - 24n * H, toNs: BigInt(NOW) * MS });
    expect(resolveRange('2h', '', NOW)).toEqual({ fromNs: BigInt(NOW) * MS - 2n * H, toNs: BigInt(NOW) * MS });
    expect(resolveRange('2026-12-01T00:00:00Z', '2026-12-02T00:00:00Z', NOW)).toEqual({
      fromNs: BigInt(Date.parse('2026-12-01T00:00:00Z')) * MS, toNs: BigInt(Date.parse('2026-12-02T00:00:00Z')) * MS,
    });
  });

  test('from not before to, or an unparseable time, is refused with a readable reason', () => {
    expect(() => resolveRange('2026-12-02T00:00:00Z', '2026-12-01T00:00:00Z', NOW)).toThrow('from must be before to');
    expect(() => resolveRange('1h', '1h', NOW)).toThrow('from must be before to');
    expect(() => resolveRange('yesterday-ish', undefined, NOW)).toThrow(/not a time/);
  });

  test('the bucket width is the smallest nice width giving at most 120 buckets', () => {
    const range = (seconds: bigint) => ({ fromNs: 0n, toNs: seconds * 1_000_000_000n });
    expect(intervalFor(range(60n))).toBe(1);
    expect(intervalFor(range(121n))).toBe(5);
    expect(intervalFor(range(86_400n))).toBe(900);
    expect(intervalFor(range(30n * 86_400n))).toBe(6 * 3600);
    // Wider than 120 weeks: the widest width, more buckets.
    expect(intervalFor(range(1000n * 86_400n))).toBe(7 * 86_400);
    expect(intervalFor(range(86_400n), 24)).toBe(3600);
  });
});

describe('page cursors', () => {
  test('a keyset cursor gives back its time and id; an offset cursor its offset', () => {
    expect(decodeCursor(encodeCursor(1_764_817_200_123_456_789n, 'call-1'))).toEqual({ ns: '1764817200123456789', id: 'call-1' });
    expect(decodeCursor(encodeCursor('42', ''))).toEqual({ ns: '42', id: '' });
    expect(decodeOffsetCursor(encodeOffsetCursor(0))).toBe(0);
    expect(decodeOffsetCursor(encodeOffsetCursor(150))).toBe(150);
  });

  test('anything else is a bad cursor, including the other kind', () => {
    for (const c of ['', 'not base64 json', Buffer.from('[1,2,3]').toString('base64url'), Buffer.from('["x1","a"]').toString('base64url'), encodeOffsetCursor(5)]) {
      expect(() => decodeCursor(c)).toThrow('bad cursor');
    }
    for (const c of ['', encodeCursor(5n, 'a'), Buffer.from('["o",-1]').toString('base64url'), Buffer.from('["o",1.5]').toString('base64url')]) {
      expect(() => decodeOffsetCursor(c)).toThrow('bad cursor');
    }
  });
});
