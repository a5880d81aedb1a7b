/** Formatting of numbers, costs and times for the views (one place, so cards, tables and charts agree). */

/** USD for people: `unpriced` when unknown (never $0 for "unknown"); 2 decimals from $1, 4 from 1¢, else 6. */
export function usd(v: number | null | undefined): string {
  if (v === null || v === undefined) return 'unpriced';
  const a = Math.abs(v);
  return `$${v.toFixed(a === 0 || a >= 1 ? 2 : a >= 0.01 ? 4 : 6)}`;
}

/** An integer with thousands separators; `—` for null (not reported). */
export function int(v: number | null | undefined): string {
  return v === null || v === undefined ? '—' : Math.round(v).toLocaleString('en-US');
}

/** Milliseconds: `12 ms`, `1.25 s`; `—` for null. */
export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  return v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(2)} s`;
}

/** An ISO time as `YYYY-MM-DD HH:MM:SS.mmm` UTC (what the API stores), `—` for null. */
export function time(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').replace('Z', '') : '—';
}

/** Bytes: `512 B`, `1.5 KiB`, `3.2 MiB`. */
export function bytes(v: number): string {
  if (v < 1024) return `${v} B`;
  if (v < 1 << 20) return `${(v / 1024).toFixed(1)} KiB`;
  if (v < 1 << 30) return `${(v / (1 << 20)).toFixed(1)} MiB`;
  return `${(v / (1 << 30)).toFixed(2)} GiB`;
}

/** CPU seconds: `0.42 s`, `12.3 s`, `192 s`; `—` for null (not sampled). */
export function cpuSeconds(v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  return `${v >= 100 ? Math.round(v) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} s`;
}
