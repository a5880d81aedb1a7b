/**
 * What the two versioned record tables (`tool_uses`, `genai_spans`) share as read: their list filters and the
 * latest-version select (`FINAL`, newest first), with times read back as exact ns text and ISO 8601 UTC (ms).
 * Internal except {@link RecordListOptions}; the repositories are tool-uses.ts and genai-spans.ts.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { GenAiSpanRow, RecordTimeColumns, ToolUseRow } from '../rows';
import { DEFAULT_DATABASE, qualified } from '../schema';
import { clampLimit, nsIso, type DbOption, type TimeInput } from './read';
import { addFilter, addSince, n, queryRows, whereClause } from './sql';

/** Filters of both lists ({@link listToolUses}, {@link listGenAiSpans}). */
export interface RecordListOptions extends DbOption {
  /** Only records of this `gen_ai.conversation.id`. */
  conversation?: string;
  /** Only records that started (else ended) at or after this time. */
  since?: TimeInput;
  /** Max rows (default 200, at most 100 000), newest first. */
  limit?: number;
  /** Only records with one of these ids. */
  ids?: string[];
}

function bool(v: unknown): boolean | null {
  return v === null || v === undefined ? null : v === true || v === 1 || v === '1' || v === 'true';
}

/**
 * `SELECT <columns>` over the latest version of each id of a versioned table (`FINAL`), newest first (by start, else
 * end), filtered by `extra` (SQL conditions whose `{name:Type}` parameters are in `params`) and the `conversation`,
 * `since` and `limit` (default 200) of `opts`. The `start_time` / `end_time` columns are read as `start_ns` / `end_ns`
 * (wall-clock ns as decimal text, null = unknown). Rows as JSONEachRow objects (ClickHouse's JSON types: 64-bit
 * integers may be strings). Throws on a bad limit or time.
 */
export async function selectLatest<Row, R>(
  client: ClickHouseClient,
  table: 'tool_uses' | 'genai_spans',
  columns: ReadonlyArray<keyof Row & string>,
  opts: RecordListOptions,
  extra: string[] = [],
  params: Record<string, unknown> = {},
): Promise<R[]> {
  const where = [...extra];
  params = { ...params, limit: clampLimit(opts.limit, 200) };
  addFilter(where, params, 'conversation_id = {conv:String}', { conv: opts.conversation });
  addFilter(where, params, 'id IN {ids:Array(String)}', { ids: opts.ids });
  addSince(where, params, 'coalesce(start_time, end_time)', opts.since);
  return queryRows<R>(
    client,
    `SELECT ${columns.map(asRead).join(', ')}
            FROM ${qualified(opts.database ?? DEFAULT_DATABASE, table)} FINAL
            ${whereClause(where)}
            ORDER BY coalesce(start_time, end_time) DESC, id
            LIMIT {limit:UInt32}`,
    params,
  );
}

/** A column as {@link selectLatest} reads it: the times as exact ns text. */
function asRead(c: string): string {
  return c === 'start_time' || c === 'end_time'
    ? `if(isNull(${c}), NULL, toString(toUnixTimestamp64Nano(${c}))) AS ${c === 'start_time' ? 'start_ns' : 'end_ns'}`
    : c;
}

/** Columns both tables share, as read back: numbers as numbers, `success` as boolean, times as ISO 8601 (ms). */
export function commonColumns(r: {
  version: unknown;
  pid: unknown;
  success: unknown;
  duration_ms: unknown;
  start_ns: string | null;
  end_ns: string | null;
}): Pick<ToolUseRow & GenAiSpanRow, 'version' | 'pid' | 'success'> & RecordTimeColumns {
  return {
    version: Number(r.version),
    pid: Number(r.pid),
    success: bool(r.success),
    duration_ms: n(r.duration_ms),
    start_time: r.start_ns === null ? null : nsIso(r.start_ns),
    end_time: r.end_ns === null ? null : nsIso(r.end_ns),
  };
}
