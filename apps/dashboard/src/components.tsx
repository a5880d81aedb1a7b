/** Shared pieces of the views: time-range picker, server-paged table (TanStack Table), pager, query states. */
import { flexRender, getCoreRowModel, useReactTable, type ColumnDef } from '@tanstack/react-table';
import type { UseQueryResult } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { RANGE_PRESETS, useParams, useRange } from './url';

export function RangePicker() {
  const [p, set] = useParams();
  const r = useRange();
  return (
    <div className="range" data-testid="range">
      {RANGE_PRESETS.map((x) => (
        <button key={x} className={r.label === x ? 'active' : ''} onClick={() => set({ range: x, from: undefined, to: undefined })}>{x}</button>
      ))}
      <label>
        from <input type="datetime-local" value={p.from ? p.from.slice(0, 16) : ''} onChange={(e) => set({ from: e.target.value ? new Date(e.target.value + 'Z').toISOString() : undefined, range: undefined })} />
      </label>
      <label>
        to <input type="datetime-local" value={p.to ? p.to.slice(0, 16) : ''} onChange={(e) => set({ to: e.target.value ? new Date(e.target.value + 'Z').toISOString() : undefined })} />
      </label>
      <span className="muted">times in UTC</span>
    </div>
  );
}

/** Loading / error / content of a query; the server's reason is shown on an error. */
export function Loaded<T>({ q, children }: { q: UseQueryResult<T>; children: (data: T) => ReactNode }) {
  if (q.isPending) return <p className="muted">loading…</p>;
  if (q.isError) return <p className="error" role="alert">{(q.error as Error).message}</p>;
  return <>{children(q.data)}</>;
}

/** A table over one page of rows (rows come sorted, filtered and paged from the server). */
/**
 * `columns` from `createColumnHelper<T>()` (mixed value types, hence `unknown[]`). `sortable` maps a column id to the
 * API's `sort` key: its header then sorts on the server (URL `sort` and `order`; a second click flips the order).
 */
export function DataTable<T>({ rows, columns, testId, empty = 'nothing here', sortable = {} }: { rows: T[]; columns: unknown[]; testId?: string; empty?: string; sortable?: Record<string, string> }) {
  const [p, set] = useParams();
  const table = useReactTable({ data: rows, columns: columns as ColumnDef<T, unknown>[], getCoreRowModel: getCoreRowModel(), manualPagination: true, manualSorting: true, manualFiltering: true });
  const header = (id: string, content: ReactNode) => {
    const key = sortable[id];
    if (!key) return content;
    const active = p.sort === key;
    const dir = active ? (p.order === 'asc' ? 'asc' : 'desc') : null;
    return (
      <button className="sort" data-testid={`sort-${key}`} onClick={() => set({ sort: key, order: active && dir === 'desc' ? 'asc' : 'desc' })}>
        {content} {dir === 'desc' ? '▼' : dir === 'asc' ? '▲' : '↕'}
      </button>
    );
  };
  return (
    <table className="grid" data-testid={testId}>
      <thead>
        {table.getHeaderGroups().map((g) => (
          <tr key={g.id}>{g.headers.map((h) => <th key={h.id}>{header(h.column.id, flexRender(h.column.columnDef.header, h.getContext()))}</th>)}</tr>
        ))}
      </thead>
      <tbody>
        {table.getRowModel().rows.map((r) => (
          <tr key={r.id}>{r.getVisibleCells().map((c) => <td key={c.id}>{flexRender(c.column.columnDef.cell, c.getContext())}</td>)}</tr>
        ))}
        {rows.length === 0 && <tr><td colSpan={columns.length} className="muted">{empty}</td></tr>}
      </tbody>
    </table>
  );
}

/** Cursor pager: "newest" clears the cursor, "older" follows `next_cursor` (both in the URL). */
export function Pager({ next }: { next: string | null }) {
  const [p, set] = useParams();
  return (
    <div className="pager">
      <button disabled={!p.cursor} onClick={() => set({ cursor: undefined })}>⇤ newest</button>
      <button disabled={!next} onClick={() => set({ cursor: next ?? undefined }, true)}>older →</button>
    </div>
  );
}

/** A text filter bound to one URL parameter (applied on Enter or blur). */
export function FilterInput({ name, label, width = 10 }: { name: string; label: string; width?: number }) {
  const [p, set] = useParams();
  return (
    <label className="filter">
      {label}{' '}
      <input
        name={name}
        defaultValue={p[name] ?? ''}
        key={p[name] ?? ''}
        size={width}
        onKeyDown={(e) => e.key === 'Enter' && set({ [name]: (e.target as HTMLInputElement).value.trim() || undefined })}
        onBlur={(e) => (e.target.value.trim() || undefined) !== p[name] && set({ [name]: e.target.value.trim() || undefined })}
      />
    </label>
  );
}

export function Kpi({ label, value, sub, testId }: { label: string; value: ReactNode; sub?: ReactNode; testId?: string }) {
  return (
    <div className="kpi" data-testid={testId}>
      <div className="kpi-label">{label}</div>
      <div className="kpi-value">{value}</div>
      {sub && <div className="kpi-sub">{sub}</div>}
    </div>
  );
}
