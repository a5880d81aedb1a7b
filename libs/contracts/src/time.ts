/** Wall-clock ns (bigint) to an ISO 8601 string with ms precision. */
export function nsToIso(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString();
}

/** Current wall-clock time in ns. */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}
