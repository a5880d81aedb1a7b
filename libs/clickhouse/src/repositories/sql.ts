/**
 * SQL helpers the repositories of this folder share (internal: not exported by the package). Parameters are always
 * bound server-side (`{name:Type}`); results are read as JSONEachRow objects, whose 64-bit integers may be strings.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { decodeCursor, type NsRange } from './paging';
import { timeToNs, type TimeInput } from './read';

/** The rows of `query` (parameters `params`, bound server-side) as JSONEachRow objects. Throws the ClickHouse error. */
export async function queryRows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' });
  return rs.json<T>();
}

/**
 * As {@link queryRows}, with 64-bit integers read as JSON numbers (`output_format_json_quote_64bit_integers = 0`):
 * for byte and row counts of system tables, exact below 2^53. Throws the ClickHouse error.
 */
export async function queryNumberRows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
  return rs.json<T>();
}

/** A nullable number column: null (or absent) stays null, anything else `Number(v)`. */
export function n(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** A count or sum column: null or absent reads 0. */
export const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

/** `s` parsed as JSON, or `s` itself when it does not parse. */
export function parseJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

/** A JSON object column (`details`, `attributes`) parsed; `{}` when the text is not JSON or not an object. */
export function jsonObject(s: string): Record<string, unknown> {
  const v = parseJson(s);
  return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
}

/** A sum of USD costs rounded to 1e-12 USD (float noise of the sum removed). */
export const usd = (v: number): number => Math.round(v * 1e12) / 1e12;

/** An `llm_calls` call's model: the response model, else the request model, else `?`. */
export const MODEL = "coalesce(response_model, request_model, '?')";
/** An `llm_calls` call's agent: `gen_ai.agent.name`, else the process name. */
export const AGENT = 'coalesce(agent_name, process_name)';

/** The parameters `from`/`to` (ns as decimal text) of {@link inRange}. */
export const rangeParams = (r: NsRange) => ({ from: r.fromNs.toString(), to: r.toNs.toString() });
/** `col` in `[{from}, {to})` (ns parameters, see {@link rangeParams}). */
export const inRange = (col: string) => `${col} >= fromUnixTimestamp64Nano({from:Int64}, 'UTC') AND ${col} < fromUnixTimestamp64Nano({to:Int64}, 'UTC')`;

/** `WHERE c1 AND c2 …` of the SQL conditions `conds`; '' when there are none. */
export const whereClause = (conds: readonly string[]): string => (conds.length ? `WHERE ${conds.join(' AND ')}` : '');

/** `since` resolved to wall-clock ns (`now`, ms, for a relative one), null when absent or empty. Throws on an unparseable time. */
export function sinceNs(since: TimeInput | undefined, now?: number): bigint | null {
  return since === undefined || since === '' ? null : timeToNs(since, now);
}

/** `col` at or after the parameter `since` (wall-clock ns as decimal text, see {@link addSince}). */
export const atOrAfterSince = (col: string): string => `${col} >= fromUnixTimestamp64Nano({since:Int64}, 'UTC')`;

/**
 * A list's `since` filter: pushes {@link atOrAfterSince}(`col`) onto `where` and sets `params.since` (ns text) when
 * `since` is given (a {@link TimeInput}, e.g. ns already resolved by {@link sinceNs}); leaves both as they are when it
 * is null, absent or empty. Throws on an unparseable time.
 */
export function addSince(where: string[], params: Record<string, unknown>, col: string, since: TimeInput | null | undefined): void {
  const ns = since === null ? null : sinceNs(since);
  if (ns === null) return;
  where.push(atOrAfterSince(col));
  params.since = ns.toString();
}

/**
 * A list's filter: pushes the SQL condition `clause` onto `where` and assigns `values` (the query parameters it names,
 * e.g. `'agent_name = {agent:String}'` with `{ agent }`) onto `params`, when the filter is given: `values` is an
 * object and none of its values is undefined, null or '' (0, false and empty arrays count as given). Leaves both as
 * they are otherwise, so a filter left out of a request selects every row.
 */
export function addFilter(where: string[], params: Record<string, unknown>, clause: string, values: Record<string, unknown> | null | undefined | false): void {
  if (!values || Object.values(values).some((v) => v === undefined || v === null || v === '')) return;
  where.push(clause);
  Object.assign(params, values);
}

/**
 * A keyset list's "after" cursor: when `cursor` is given, decodes it ({@link decodeCursor}: the opaque base64url text
 * of `[ns, id]` that `encodeCursor` made from the last item of the previous page, `ns` its sort time as wall-clock ns
 * in decimal text, `id` its id), pushes onto `where` the condition selecting the rows after that item and sets
 * `params.cns` (ns text) and `params.cid`. "After" assumes the list is ordered `timeCol DESC, idCol ASC` (newest first,
 * ties by id): rows strictly older than `ns`, or of time `ns` with an id greater than `id`. Returns the decoded cursor,
 * or null (`where` and `params` untouched) when `cursor` is absent or empty. Throws `bad cursor` on any other text.
 */
export function addAfterCursor(where: string[], params: Record<string, unknown>, timeCol: string, idCol: string, cursor: string | undefined): { ns: string; id: string } | null {
  if (!cursor) return null;
  const c = decodeCursor(cursor);
  const at = "fromUnixTimestamp64Nano({cns:Int64}, 'UTC')";
  where.push(`(${timeCol} < ${at} OR (${timeCol} = ${at} AND ${idCol} > {cid:String}))`);
  Object.assign(params, { cns: c.ns, cid: c.id });
  return c;
}
