/**
 * The store's size per table, for the capture page (`GET /api/capture`) and the tests: rows after dedup (`FINAL`) and
 * bytes on disk of the active parts (every node's on a cluster).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { partitionParts, storePlaces } from '../parts';
import { DEFAULT_DATABASE, FINAL_ACROSS_PARTITIONS, TABLES, qualified, type TableName } from '../schema';
import type { DbOption } from './read';
import { queryRows } from './sql';

/** Row counts (after dedup, i.e. with FINAL) of every table. */
export async function countRows(client: ClickHouseClient, opts: DbOption = {}): Promise<Record<TableName, number>> {
  const db = opts.database ?? DEFAULT_DATABASE;
  const rowsOf = (t: TableName) => (t === 'dead_letters' ? `(SELECT id FROM ${qualified(db, t)} FINAL ${FINAL_ACROSS_PARTITIONS})` : `${qualified(db, t)} FINAL`);
  const query = TABLES.map((t) => `SELECT '${t}' AS table, count() AS n FROM ${rowsOf(t)}`).join(' UNION ALL ');
  const rs = await queryRows<{ table: TableName; n: string }>(client, query);
  const out = Object.fromEntries(TABLES.map((t) => [t, 0])) as Record<TableName, number>;
  for (const r of rs) out[r.table] = Number(r.n);
  return out;
}

/**
 * Row counts and on-disk bytes of every table (active parts, on every node of a cluster: parts.ts). `bytes` is null
 * where it is not known: a table whose parts cannot be found (neither a MergeTree table here nor a Distributed one),
 * or every table when the parts cannot be read (a cluster node down; {@link storeSize} says why).
 */
export async function tableSizes(client: ClickHouseClient, database = DEFAULT_DATABASE): Promise<Array<{ table: string; rows: number; bytes: number | null }>> {
  const where = await storePlaces(client, database).catch(() => null);
  const parts = where && (await partitionParts(client, database, where.places).catch(() => null));
  const known = new Set(where?.places.map((p) => p.table));
  const rows = await countRows(client, { database });
  return TABLES.map((t) => ({
    table: t, rows: rows[t],
    bytes: parts && known.has(t) ? parts.filter((p) => p.table === t).reduce((n, p) => n + p.bytes, 0) : null,
  }));
}
