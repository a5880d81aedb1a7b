/** Renders rows as an aligned text table with the given columns (header, value getter). */
export function table<T>(rows: T[], cols: Array<[string, (r: T) => unknown]>): string {
  const cells = rows.map((r) => cols.map(([, get]) => fmt(get(r))));
  const widths = cols.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [line(cols.map(([h]) => h)), ...cells.map(line)].join('\n');
}

function fmt(v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (Array.isArray(v)) return v.join(',');
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(1);
  return String(v);
}
