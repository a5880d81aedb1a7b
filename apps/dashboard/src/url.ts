/** Filters and the time range live in the URL (deep links; back/forward work). */
import { useSearchParams } from 'react-router-dom';

export const RANGE_PRESETS = ['1h', '24h', '7d', '30d'] as const;

/** The view's time range from the URL: `range` preset (default `24h`) or custom `from`/`to` (ISO 8601). */
export function useRange(): { from: string; to: string | undefined; label: string } {
  const [sp] = useSearchParams();
  const from = sp.get('from');
  if (from) return { from, to: sp.get('to') || undefined, label: 'custom' };
  const r = sp.get('range') || '24h';
  return { from: r, to: undefined, label: r };
}

/** URL search params as an object and a setter that merges (empty = removed) and drops the page cursor on filter changes. */
export function useParams(): [Record<string, string>, (patch: Record<string, string | undefined>, keepCursor?: boolean) => void] {
  const [sp, setSp] = useSearchParams();
  const values = Object.fromEntries(sp.entries());
  const set = (patch: Record<string, string | undefined>, keepCursor = false) => {
    const next = new URLSearchParams(sp);
    if (!keepCursor) next.delete('cursor');
    for (const [k, v] of Object.entries(patch)) if (v === undefined || v === '') next.delete(k); else next.set(k, v);
    setSp(next);
  };
  return [values, set];
}
