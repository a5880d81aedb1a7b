/**
 * The store's size cap (`AGENTSIGHT_STORE_MAX_BYTES`): when the tables' active parts take more bytes on disk than the
 * cap, whole days are dropped, oldest first, until the store fits: the day's partition of every partitioned table
 * (`ALTER TABLE … DROP PARTITION`) and, in the unpartitioned versioned tables, the rows stored up to that day
 * (`ALTER TABLE … DELETE`). The newest day present is never dropped, so no table is ever emptied by the cap: a store
 * over the cap with one day left stays over it and {@link CapResult.over} says so. What is dropped is counted in
 * {@link RETENTION_LOG}. Age-based retention is the tables' TTL (`AGENTSIGHT_RETENTION_DAYS`, see schema.ts).
 *
 * On a ClickHouse cluster (Distributed tables over `<table>_local` tables on every node, cluster.ts) the store is the
 * parts of every node, replicas included (parts.ts: `clusterAllReplicas(<cluster>, system.parts)`), and a day is
 * dropped on every node: each node of `system.clusters` is reached over HTTP at its host with `CLICKHOUSE_URL`'s
 * port and credentials (parts.ts {@link openNode}) and the same statements run there on its local tables. So a day
 * goes from the whole cluster, not from one shard, and a node that fails mid-way keeps that day as the oldest, which
 * the next check drops again.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { clusterNodes, nodeName, openNode, partitionParts, serverParts, storePlaces, type TablePlace } from './parts';
import { queryNumberRows } from './repositories/sql';
import { DEFAULT_DATABASE, EXEC_COMMANDS, PARTITION_KEYS, qualified, RETENTION_LOG, tableEngines } from './schema';

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
  /** Store bytes (active parts of the agentsight tables, on every node of a cluster) before and after. */
  before: number;
  after: number;
  /** Days dropped (YYYYMMDD), oldest first. */
  days: string[];
  rows: number;
  bytes: number;
  /** Still over the cap (only the newest day is left). */
  over: boolean;
  /** On a cluster, what was dropped on each node (`host:port` of `system.clusters`); empty on one server. */
  nodes: Array<{ node: string; rows: number; bytes: number }>;
  /** Tables the cap can neither measure nor drop (neither MergeTree tables here nor Distributed tables), else null. */
  note: string | null;
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

/** Bytes on disk of the agentsight tables' active parts (on every node of a cluster, parts.ts {@link partitionParts}). */
export async function storeBytes(client: ClickHouseClient, database: string = DEFAULT_DATABASE): Promise<number> {
  return (await partitionParts(client, database)).reduce((n, p) => n + p.bytes, 0);
}

/** The store's size on disk as it can be known: bytes, or null with why not (see {@link storeSize}). */
export interface StoreSize {
  /** Bytes of the agentsight tables' active parts; null when not known. */
  bytes: number | null;
  /** Why `bytes` is null (null when it is known). */
  note: string | null;
}

/**
 * {@link storeBytes}, or why it is not known: tables that are neither MergeTree tables of this server nor a
 * cluster's `Distributed` tables (their parts cannot be found), or the parts not readable (`system.parts`, or on a
 * cluster a node that does not answer: a sum without it would be too small). Never a zero for a size it does not know.
 */
export async function storeSize(client: ClickHouseClient, database: string = DEFAULT_DATABASE): Promise<StoreSize> {
  try {
    const { places, unknown } = await storePlaces(client, database);
    if (unknown.length) return { bytes: null, note: `not known: ${unknownText(unknown)}` };
    return { bytes: (await partitionParts(client, database, places)).reduce((n, p) => n + p.bytes, 0), note: null };
  } catch (err) {
    return { bytes: null, note: `not known: the tables' parts could not be read (${(err as Error).message.split('\n')[0]})` };
  }
}

function unknownText(unknown: Array<{ table: string; engine: string }>): string {
  return `${unknown.length} table(s) (${unknown.map((u) => `${u.table}: ${u.engine}`).join(', ')}) are neither MergeTree tables of this server nor Distributed tables, so their parts are not found`;
}

/** Options of {@link enforceStoreCap}. */
export interface CapOptions {
  /**
   * The api's server URL (`CLICKHOUSE_URL`). Needed on a cluster, whose nodes are reached at their hosts with this
   * URL's scheme, port and credentials (parts.ts {@link openNode}).
   */
  url?: string;
}

/** Where the cap drops: one server (the api's, or a cluster node) and the tables there that hold the store's parts. */
interface DropTarget {
  client: ClickHouseClient;
  /** `host:port` of a cluster node (its own client, closed after the check); null for the api's server. */
  node: string | null;
  places: TablePlace[];
}

/** The api's server for its own tables, and every node of each cluster for the Distributed ones (see the file comment). */
async function dropTargets(client: ClickHouseClient, places: TablePlace[], url: string | undefined): Promise<DropTarget[]> {
  const own = places.filter((p) => p.cluster === null);
  const out: DropTarget[] = own.length ? [{ client, node: null, places: own }] : [];
  try {
    for (const cluster of new Set(places.flatMap((p) => (p.cluster === null ? [] : [p.cluster])))) {
      if (!url) throw new Error(`the store's tables are Distributed tables of cluster ${cluster}: the size cap drops on each of its nodes and needs CLICKHOUSE_URL to reach them`);
      for (const node of await clusterNodes(client, cluster)) {
        out.push({ client: await openNode(node, url), node: nodeName(node), places: places.filter((p) => p.cluster === cluster) });
      }
    }
    return out;
  } catch (err) {
    await closeNodes(out);
    throw err;
  }
}

async function closeNodes(targets: DropTarget[]): Promise<void> {
  for (const t of targets) if (t.node !== null) await t.client.close();
}

/** One row of {@link RETENTION_LOG}: what one table lost of one day (on one node of a cluster). */
interface Dropped {
  table: string;
  partition: string;
  rows: number;
  bytes: number;
}

/** Drops `day` from the tables of `t` (see the file comment); returns what each table lost there. */
async function dropDay(t: DropTarget, day: string): Promise<Dropped[]> {
  const partitioned = new Set<string>(Object.keys(PARTITION_KEYS));
  const log: Dropped[] = [];
  const bytesOf = async (p: TablePlace) => (await serverParts(t.client, p.database, [p.name])).reduce((n, x) => n + x.bytes, 0);
  for (const p of t.places) {
    const table = qualified(p.database, p.name);
    if (partitioned.has(p.table)) {
      const part = (await serverParts(t.client, p.database, [p.name])).find((x) => x.partition === day);
      if (!part) continue;
      await t.client.command({ query: `ALTER TABLE ${table} DROP PARTITION ID '${day}'` });
      log.push({ table: p.table, partition: day, rows: part.rows, bytes: part.bytes });
      // The hourly exec counts of the dropped audit rows go with them (same day partitions; schema.ts EXEC_COMMANDS).
      if (p.table === 'audit_events' && (await tableEngines(t.client, p.database)).has(EXEC_COMMANDS)) {
        await t.client.command({ query: `ALTER TABLE ${qualified(p.database, EXEC_COMMANDS)} DROP PARTITION ID '${day}'` });
      }
    } else {
      const [n] = await queryNumberRows<{ n: number }>(t.client, `SELECT count() AS n FROM ${table} WHERE toYYYYMMDD(ingested_at) <= ${Number(day)}`);
      if (!Number(n?.n)) continue;
      const was = await bytesOf(p);
      await t.client.command({ query: `ALTER TABLE ${table} DELETE WHERE toYYYYMMDD(ingested_at) <= ${Number(day)} SETTINGS mutations_sync = 2` });
      log.push({ table: p.table, partition: day, rows: Number(n.n), bytes: Math.max(0, was - (await bytesOf(p))) });
    }
  }
  return log;
}

/**
 * Drops the oldest days until the store fits in `maxBytes` (see the file comment); `maxBytes` 0 = no cap. Throws what
 * ClickHouse throws, and on a cluster when a node cannot be reached or is not the server `system.clusters` names
 * (parts.ts {@link openNode}); the days dropped before the failure stay dropped and logged.
 */
export async function enforceStoreCap(client: ClickHouseClient, maxBytes: number, database: string = DEFAULT_DATABASE, opts: CapOptions = {}): Promise<CapResult> {
  const { places, unknown } = await storePlaces(client, database);
  let ps = await partitionParts(client, database, places);
  const total = (x: Array<{ bytes: number }>) => x.reduce((n, p) => n + p.bytes, 0);
  const before = total(ps);
  const out: CapResult = { before, after: before, days: [], rows: 0, bytes: 0, over: false, nodes: [], note: unknown.length ? `the size cap leaves out ${unknownText(unknown)}` : null };
  if (maxBytes <= 0) return out;
  const partitioned = new Set<string>(Object.keys(PARTITION_KEYS));
  let targets: DropTarget[] | null = null;
  try {
    while (total(ps) > maxBytes) {
      const days = [...new Set(ps.filter((p) => partitioned.has(p.table)).map((p) => p.partition))].sort();
      if (days.length <= 1) {
        out.over = true;
        break;
      }
      const day = days[0]!;
      // A day seen again after its drop ran everywhere (parts on a server the drops do not reach): stop, not loop.
      if (out.days.includes(day)) throw new Error(`size cap: day ${day} still has parts after it was dropped on ${targets?.map((t) => t.node ?? 'the api\'s server').join(', ')}`);
      targets ??= await dropTargets(client, places, opts.url);
      const log: Dropped[] = [];
      for (const t of targets) {
        const here = await dropDay(t, day);
        log.push(...here);
        if (t.node === null) continue;
        let n = out.nodes.find((x) => x.node === t.node);
        if (!n) out.nodes.push((n = { node: t.node, rows: 0, bytes: 0 }));
        n.rows += here.reduce((k, l) => k + l.rows, 0);
        n.bytes += total(here);
      }
      if (log.length) await client.insert({ table: qualified(database, RETENTION_LOG), values: log.map((l) => ({ ...l, ts: Date.now() * 1_000_000 })), format: 'JSONEachRow', clickhouse_settings: { date_time_input_format: 'best_effort', distributed_foreground_insert: 1 } });
      out.days.push(day);
      out.rows += log.reduce((n, l) => n + l.rows, 0);
      out.bytes += total(log);
      ps = await partitionParts(client, database, places);
    }
  } finally {
    if (targets) await closeNodes(targets);
  }
  out.after = total(ps);
  return out;
}

/** What the cap has dropped so far, from {@link RETENTION_LOG}. */
export async function droppedTotals(client: ClickHouseClient, database: string = DEFAULT_DATABASE): Promise<DroppedTotals> {
  const [r] = await queryNumberRows<{ days: number; rows: number; bytes: number; last: string | null; newest: string | null }>(
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
