/**
 * The store's size cap (`AGENTSIGHT_STORE_MAX_BYTES`): when the tables' active parts take more bytes on disk than the
 * cap, whole days are dropped, oldest first, until the store fits: the day's partition of every partitioned table
 * (`ALTER TABLE … DROP PARTITION`) and, in the unpartitioned versioned tables, the rows stored up to that day
 * (`ALTER TABLE … DELETE`). The newest day present is never dropped, so no table is ever emptied by the cap: a store
 * over the cap with one day left stays over it and {@link CapResult.over} says so. What is dropped is counted in
 * {@link RETENTION_LOG}. Age-based retention is the tables' TTL (`AGENTSIGHT_RETENTION_DAYS`, see schema.ts).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { DEFAULT_DATABASE, EXEC_COMMANDS, PARTITION_KEYS, qualified, RETENTION_LOG, TABLES, tableEngines, type TableName } from './schema';

/** Default of `AGENTSIGHT_STORE_MAX_BYTES`: 10 GiB. */
export const DEFAULT_STORE_MAX_BYTES = 10 * 1024 ** 3;

/** `AGENTSIGHT_STORE_MAX_BYTES` (bytes, or with K/M/G/T, powers of 1024; `0` = no cap), else the default; throws on a bad value. */
export function storeMaxBytes(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.AGENTSIGHT_STORE_MAX_BYTES?.trim();
  if (!v) return DEFAULT_STORE_MAX_BYTES;
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(v);
  if (!m) throw new Error(`AGENTSIGHT_STORE_MAX_BYTES must be bytes or a size like 5G, not ${JSON.stringify(v)}`);
  return Math.round(Number(m[1]) * 1024 ** ' KMGT'.indexOf(m[2].toUpperCase() || ' '));
}

/** Result of one {@link enforceStoreCap}. */
export interface CapResult {
  /** Store bytes (active parts of the agentsight tables) before and after. */
  before: number;
  after: number;
  /** Days dropped (YYYYMMDD), oldest first. */
  days: string[];
  rows: number;
  bytes: number;
  /** Still over the cap (only the newest day is left). */
  over: boolean;
}

/** Totals of what the cap has dropped so far ({@link RETENTION_LOG}). */
export interface DroppedTotals {
  days: number;
  rows: number;
  bytes: number;
  /** ISO time of the last drop, null when none. */
  last: string | null;
  /** The newest day dropped (YYYYMMDD), null when none. */
  newest_day: string | null;
}

async function rows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
  return (await rs.json()) as T[];
}

/** The active parts of one partition of an agentsight table, summed. */
export interface PartitionParts {
  table: string;
  /** `partition_id` (YYYYMMDD of a day-partitioned table, `all` for an unpartitioned one). */
  partition: string;
  /** Active parts. */
  parts: number;
  rows: number;
  /** Bytes on disk. */
  bytes: number;
}

/** The agentsight tables' active parts per partition, from this server's `system.parts`. */
export async function partitionParts(client: ClickHouseClient, database: string = DEFAULT_DATABASE): Promise<PartitionParts[]> {
  return (await rows<PartitionParts>(
    client,
    `SELECT table, partition_id AS partition, count() AS parts, sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM system.parts
     WHERE database = {db:String} AND active AND table IN {tables:Array(String)} GROUP BY table, partition_id`,
    { db: database, tables: [...TABLES] },
  )).map((p) => ({ ...p, parts: Number(p.parts), rows: Number(p.rows), bytes: Number(p.bytes) }));
}


/** Bytes on disk of the agentsight tables' active parts. */
export async function storeBytes(client: ClickHouseClient, database: string = DEFAULT_DATABASE): Promise<number> {
  return (await partitionParts(client, database)).reduce((n, p) => n + Number(p.bytes), 0);
}

/** The store's size on disk as it can be known from this server: bytes, or null with why not (see {@link storeSize}). */
export interface StoreSize {
  /** Bytes of the agentsight tables' active parts; null when not known here. */
  bytes: number | null;
  /** Why `bytes` is null (null when it is known). */
  note: string | null;
}

/**
 * {@link storeBytes}, or why it is not known here: tables that are not MergeTree tables of this server (a
 * ClickHouse cluster's `Distributed` tables, cluster.ts: their parts are the shards' `<table>_local` tables, on other
 * servers; the size cap, which drops this server's parts, does not apply to them either), or `system.parts` not
 * readable. Never a zero for a size it does not know.
 */
export async function storeSize(client: ClickHouseClient, database: string = DEFAULT_DATABASE): Promise<StoreSize> {
  try {
    const engines = await tableEngines(client, database);
    const elsewhere = TABLES.filter((t) => engines.has(t) && !/MergeTree$/.test(engines.get(t)!));
    if (elsewhere.length) {
      const kinds = [...new Set(elsewhere.map((t) => engines.get(t)))].join('/');
      return {
        bytes: null,
        note: `not known from this server: ${elsewhere.length} table(s) are ${kinds} tables (a ClickHouse cluster) whose data is on the shards' <table>_local tables; sum system.parts over the cluster (clusterAllReplicas); the size cap (AGENTSIGHT_STORE_MAX_BYTES) is not applied to them`,
      };
    }
    return { bytes: await storeBytes(client, database), note: null };
  } catch (err) {
    return { bytes: null, note: `not known: system.parts could not be read (${(err as Error).message.split('\n')[0]})` };
  }
}

/** Drops the oldest days until the store fits in `maxBytes` (see the file comment); `maxBytes` 0 = no cap. */
export async function enforceStoreCap(client: ClickHouseClient, maxBytes: number, database: string = DEFAULT_DATABASE): Promise<CapResult> {
  let ps = await partitionParts(client, database);
  const total = (x: PartitionParts[]) => x.reduce((n, p) => n + Number(p.bytes), 0);
  const before = total(ps);
  const out: CapResult = { before, after: before, days: [], rows: 0, bytes: 0, over: false };
  if (maxBytes <= 0) return out;
  const partitioned = new Set(Object.keys(PARTITION_KEYS));
  const versioned = TABLES.filter((t) => !partitioned.has(t));
  while (total(ps) > maxBytes) {
    const days = [...new Set(ps.filter((p) => partitioned.has(p.table)).map((p) => p.partition))].sort();
    if (days.length <= 1) {
      out.over = true;
      break;
    }
    const day = days[0];
    const log: Array<{ table: string; partition: string; rows: number; bytes: number }> = [];
    for (const p of ps.filter((x) => x.partition === day && partitioned.has(x.table))) {
      await client.command({ query: `ALTER TABLE ${qualified(database, p.table)} DROP PARTITION ID '${day}'` });
      log.push({ table: p.table, partition: day, rows: Number(p.rows), bytes: Number(p.bytes) });
    }
    // The hourly exec counts of the dropped audit rows go with them (same day partitions; schema.ts EXEC_COMMANDS).
    if (log.some((l) => l.table === 'audit_events') && (await tableEngines(client, database)).has(EXEC_COMMANDS)) {
      await client.command({ query: `ALTER TABLE ${qualified(database, EXEC_COMMANDS)} DROP PARTITION ID '${day}'` });
    }
    for (const t of versioned as TableName[]) {
      const [n] = await rows<{ n: number }>(client, `SELECT count() AS n FROM ${qualified(database, t)} WHERE toYYYYMMDD(ingested_at) <= ${Number(day)}`);
      if (!Number(n?.n)) continue;
      const was = total(ps.filter((x) => x.table === t));
      await client.command({ query: `ALTER TABLE ${qualified(database, t)} DELETE WHERE toYYYYMMDD(ingested_at) <= ${Number(day)} SETTINGS mutations_sync = 2` });
      const now = total((await partitionParts(client, database)).filter((x) => x.table === t));
      log.push({ table: t, partition: day, rows: Number(n.n), bytes: Math.max(0, was - now) });
    }
    if (log.length) await client.insert({ table: qualified(database, RETENTION_LOG), values: log.map((l) => ({ ...l, ts: Date.now() * 1_000_000 })), format: 'JSONEachRow', clickhouse_settings: { date_time_input_format: 'best_effort' } });
    out.days.push(day);
    out.rows += log.reduce((n, l) => n + l.rows, 0);
    out.bytes += log.reduce((n, l) => n + l.bytes, 0);
    ps = await partitionParts(client, database);
  }
  out.after = total(ps);
  return out;
}

/** What the cap has dropped so far, from {@link RETENTION_LOG}. */
export async function droppedTotals(client: ClickHouseClient, database: string = DEFAULT_DATABASE): Promise<DroppedTotals> {
  const [r] = await rows<{ days: number; rows: number; bytes: number; last: string | null; newest: string | null }>(
    client,
    `SELECT uniqExact(partition) AS days, sum(rows) AS rows, sum(bytes) AS bytes,
            if(count() = 0, NULL, toString(max(ts))) AS last, if(count() = 0, NULL, max(partition)) AS newest
     FROM ${qualified(database, RETENTION_LOG)}`,
  );
  return {
    days: Number(r?.days ?? 0), rows: Number(r?.rows ?? 0), bytes: Number(r?.bytes ?? 0),
    last: r?.last ? new Date(`${r.last.replace(' ', 'T')}Z`).toISOString() : null, newest_day: r?.newest ?? null,
  };
}
