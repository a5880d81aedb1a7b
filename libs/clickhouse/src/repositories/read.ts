/**
 * What every read of the store shares, public: the time inputs the API and the CLI accept, the database option, the
 * ISO 8601 form of stored ns and a list's row limit. Used by each repository in this folder.
 */

/**
 * A point in time: a `Date`, bigint wall-clock ns, a number of ms since the epoch, an ISO 8601 string, or a
 * relative duration back from now: `30s`, `15m`, `2h`, `7d`, `1w`.
 */
export type TimeInput = Date | bigint | number | string;

/** Converts a {@link TimeInput} to wall-clock ns. Throws on an unparseable string. */
export function timeToNs(t: TimeInput, now: number = Date.now()): bigint {
  if (typeof t === 'bigint') return t;
  if (typeof t === 'number') return BigInt(Math.round(t)) * 1_000_000n;
  if (t instanceof Date) return BigInt(t.getTime()) * 1_000_000n;
  const rel = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$/.exec(t);
  if (rel) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[rel[2] as 's' | 'm' | 'h' | 'd' | 'w'];
    return BigInt(Math.round(now - Number(rel[1]) * unit)) * 1_000_000n;
  }
  if (/^\d{13,}$/.test(t.trim())) return BigInt(t.trim()) * (t.trim().length >= 18 ? 1n : 1_000_000n);
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new Error(`not a time: ${JSON.stringify(t)} (use ISO 8601 or a duration like 15m, 2h, 7d)`);
  return BigInt(ms) * 1_000_000n;
}

/** Common query option: database (default `agentsight`). */
export interface DbOption {
  database?: string;
}

/** Wall-clock ns (bigint or decimal text) → ISO 8601 UTC, ms precision. */
export function nsIso(ns: string | bigint): string {
  return new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();
}

/** A list's row limit: `limit` (else `dflt`) capped at 100 000. Throws when it is not a non-negative integer. */
export function clampLimit(limit: number | undefined, dflt: number): number {
  const l = limit ?? dflt;
  if (!Number.isInteger(l) || l < 0) throw new Error(`limit must be a non-negative integer: ${limit}`);
  return Math.min(l, 100_000);
}
