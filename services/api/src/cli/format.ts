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

/** Prints rows to stdout: as a JSON array with `json`, else as a {@link table} (`(none)` when there are none). */
export function printRows<T>(rows: T[], json: boolean | undefined, cols: Array<[string, (r: T) => unknown]>): void {
  process.stdout.write((json ? JSON.stringify(rows, null, 2) : rows.length ? table(rows, cols) : '(none)') + '\n');
}

/** USD for humans: `unpriced` when unknown (never $0), else `$…` plus how many calls could not be priced. */
export function usdText(cost: number | null, unpriced = 0): string {
  if (cost === null) return 'unpriced';
  const a = Math.abs(cost);
  const v = cost.toFixed(a === 0 || a >= 1 ? 2 : a >= 0.01 ? 4 : 6);
  return `${v.startsWith('-') ? '-$' + v.slice(1) : '$' + v}${unpriced ? ` + ${unpriced} unpriced` : ''}`;
}
