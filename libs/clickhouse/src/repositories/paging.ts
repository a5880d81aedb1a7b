/**
 * Time ranges, bucket widths, sorts and page cursors of the dashboard's lists (`/api/llm-calls`, `/api/processes`,
 * `/api/agent-sessions`, `/api/timeseries`). Pure: no SQL here.
 */
import { timeToNs, type TimeInput } from './read';

/** A resolved `[from, to)` range in ns. */
export interface NsRange {
  fromNs: bigint;
  toNs: bigint;
}

/**
 * Resolves `from`/`to` ({@link TimeInput}: ISO 8601, ms, or `24h` back from now) to ns; defaults: the last 24 h up to
 * now. Throws (a readable message) on an unparseable time or when `from` is not before `to`.
 */
export function resolveRange(from?: TimeInput, to?: TimeInput, now: number = Date.now()): NsRange {
  const toNs = to === undefined || to === '' ? BigInt(now) * 1_000_000n : timeToNs(to, now);
  const fromNs = from === undefined || from === '' ? toNs - 24n * 3600n * 1_000_000_000n : timeToNs(from, now);
  if (fromNs >= toNs) throw new Error('from must be before to');
  return { fromNs, toNs };
}

const NICE_INTERVALS = [1, 5, 10, 30, 60, 300, 600, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400];

/** The bucket width for a range: the smallest "nice" width giving at most `maxBuckets` buckets, seconds. */
export function intervalFor(r: NsRange, maxBuckets = 120): number {
  const seconds = Number((r.toNs - r.fromNs) / 1_000_000_000n);
  return NICE_INTERVALS.find((i) => seconds / i <= maxBuckets) ?? NICE_INTERVALS[NICE_INTERVALS.length - 1];
}

/** A keyset cursor: the sort time (ns) and id of the last item of a page, as opaque base64url text. */
export function encodeCursor(ns: string | bigint, id: string): string {
  return Buffer.from(JSON.stringify([String(ns), id])).toString('base64url');
}

/** An offset cursor (lists sorted by something else than time): the number of rows already shown. */
export function encodeOffsetCursor(offset: number): string {
  return Buffer.from(JSON.stringify(['o', offset])).toString('base64url');
}

/** Decodes {@link encodeOffsetCursor}'s text; throws `bad cursor` on anything else. */
export function decodeOffsetCursor(c: string): number {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v[0] === 'o' && Number.isInteger(v[1]) && v[1] >= 0) return v[1];
  } catch {
    /* fall through */
  }
  throw new Error('bad cursor');
}

/** A list's sort: key (one of `keys`) and direction; throws a readable error on anything else. */
export interface SortSpec {
  key: string;
  dir: 'asc' | 'desc';
}

/** Decodes {@link encodeCursor}'s text; throws `bad cursor` on anything else. */
export function decodeCursor(c: string): { ns: string; id: string } {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && /^\d+$/.test(v[0]) && typeof v[1] === 'string') return { ns: v[0], id: v[1] };
  } catch {
    /* fall through */
  }
  throw new Error('bad cursor');
}
