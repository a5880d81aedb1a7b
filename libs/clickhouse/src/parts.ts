/**
 * Where the agentsight tables' data parts are, and how many bytes they take on disk.
 *
 * On embedded chDB and a single server the tables are this server's MergeTree tables: their parts are in its
 * `system.parts`. On a ClickHouse cluster (the DDL of cluster.ts) each table is a `Distributed` table over a local
 * table on every node (`<table>_local`): its parts are in every node's `system.parts`, read in one query through the
 * api's server with `clusterAllReplicas('<cluster>', system.parts)` (every replica of every shard, so the bytes count
 * each replica's copy: bytes on disk, as on one server). {@link storePlaces} tells the two apart from `system.tables`
 * (the Distributed engine's own arguments name the cluster and the local table); {@link partitionParts} sums the
 * parts wherever they are. The size cap (retention.ts) drops them where they are: on a cluster on every node
 * ({@link clusterNodes}, {@link openNode}), since ClickHouse has no statement that drops a partition through a
 * Distributed table, and `ON CLUSTER` needs a DDL queue (Keeper) that not every cluster has.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { openClickHouse } from './client';
import { queryNumberRows } from './repositories/sql';
import { DEFAULT_DATABASE, quoteString, TABLES, type TableName } from './schema';

/** Where one agentsight table's parts are. */
export interface TablePlace {
  /** The agentsight table ({@link TABLES}). */
  table: TableName;
  /** Database and table holding the parts: the table itself, or its Distributed table's local table on each node. */
  database: string;
  name: string;
  /** The Distributed table's cluster (its `remote_servers` name); null for a MergeTree table of this server. */
  cluster: string | null;
}

/** {@link storePlaces}' answer. */
export interface StorePlaces {
  /** The agentsight tables of the database whose parts can be found (absent tables are left out). */
  places: TablePlace[];
  /** Tables that are neither MergeTree tables of this server nor Distributed tables (their parts are not found). */
  unknown: Array<{ table: TableName; engine: string }>;
}

/** One argument of a Distributed engine as ClickHouse prints it: `'quoted'`, `` `quoted` `` or a bare identifier. */
const ARG = "\\s*(?:'((?:[^'\\\\]|\\\\.)*)'|`((?:[^`\\\\]|\\\\.)*)`|([A-Za-z_]\\w*))\\s*";
const DISTRIBUTED = new RegExp(`^Distributed\\(${ARG},${ARG},${ARG}[,)]`);

/**
 * The cluster, database and table of a `Distributed(cluster, database, table[, sharding key[, policy]])` engine
 * (`system.tables.engine_full`), null for another engine or a form it does not know (e.g. a database given as an
 * expression such as `currentDatabase()`).
 */
export function parseDistributed(engineFull: string): { cluster: string; database: string; table: string } | null {
  const m = DISTRIBUTED.exec(engineFull.trim());
  if (!m) return null;
  const arg = (i: number) => (m[i] ?? m[i + 1] ?? m[i + 2]!).replace(/\\(.)/g, '$1');
  return { cluster: arg(1), database: arg(4), table: arg(7) };
}

/** Where each agentsight table of `database` keeps its parts (see the file comment); throws what ClickHouse throws. */
export async function storePlaces(client: ClickHouseClient, database: string = DEFAULT_DATABASE): Promise<StorePlaces> {
  const tables = await queryNumberRows<{ name: TableName; engine: string; engine_full: string }>(
    client,
    'SELECT name, engine, engine_full FROM system.tables WHERE database = {db:String} AND name IN {tables:Array(String)}',
    { db: database, tables: [...TABLES] },
  );
  const out: StorePlaces = { places: [], unknown: [] };
  for (const t of tables) {
    const dist = t.engine === 'Distributed' ? parseDistributed(t.engine_full) : null;
    if (/MergeTree$/.test(t.engine)) out.places.push({ table: t.name, database, name: t.name, cluster: null });
    else if (dist) out.places.push({ table: t.name, database: dist.database, name: dist.table, cluster: dist.cluster });
    else out.unknown.push({ table: t.name, engine: t.engine });
  }
  return out;
}

/** The active parts of one partition of an agentsight table, summed (over every node of a cluster). */
export interface PartitionParts {
  /** The agentsight table (its own name, also on a cluster where the parts are `<table>_local`'s). */
  table: string;
  /** `partition_id` (YYYYMMDD of a day-partitioned table, `all` for an unpartitioned one). */
  partition: string;
  /** Active parts. */
  parts: number;
  rows: number;
  /** Bytes on disk. */
  bytes: number;
}

/**
 * The active parts per partition of tables `names` of `database` in `source` (`system.parts`, or a table function
 * over several servers' `system.parts`), with the table named as `names` maps it.
 */
async function partsIn(client: ClickHouseClient, source: string, database: string, names: Map<string, string>): Promise<PartitionParts[]> {
  return (await queryNumberRows<PartitionParts>(
    client,
    `SELECT table, partition_id AS partition, count() AS parts, sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM ${source}
     WHERE database = {db:String} AND active AND table IN {tables:Array(String)} GROUP BY table, partition_id`,
    { db: database, tables: [...names.keys()] },
  )).map((p) => ({ table: names.get(p.table) ?? p.table, partition: p.partition, parts: Number(p.parts), rows: Number(p.rows), bytes: Number(p.bytes) }));
}

/**
 * The active parts per partition of tables `tables` of `database` on this server only (its `system.parts`; default
 * the agentsight tables), named as they are here: replay's merge (merge.ts) and the size cap on one node use it.
 */
export async function serverParts(client: ClickHouseClient, database: string = DEFAULT_DATABASE, tables: readonly string[] = TABLES): Promise<PartitionParts[]> {
  return partsIn(client, 'system.parts', database, new Map(tables.map((t) => [t, t])));
}

/**
 * The agentsight tables' active parts per partition wherever they are (see the file comment): this server's for its
 * MergeTree tables, every node's for a cluster's Distributed tables (one `clusterAllReplicas` query per cluster,
 * summed over the nodes). Tables of {@link StorePlaces.unknown} are left out. Throws what ClickHouse throws, e.g.
 * when a node of the cluster does not answer (a sum without it would be too small).
 */
export async function partitionParts(client: ClickHouseClient, database: string = DEFAULT_DATABASE, places?: TablePlace[]): Promise<PartitionParts[]> {
  const where = places ?? (await storePlaces(client, database)).places;
  const groups = new Map<string, { source: string; database: string; names: Map<string, string> }>();
  for (const p of where) {
    const source = p.cluster === null ? 'system.parts' : `clusterAllReplicas(${quoteString(p.cluster)}, system.parts)`;
    const key = `${source}\0${p.database}`;
    if (!groups.has(key)) groups.set(key, { source, database: p.database, names: new Map() });
    groups.get(key)!.names.set(p.name, p.table);
  }
  const out: PartitionParts[] = [];
  for (const g of groups.values()) out.push(...(await partsIn(client, g.source, g.database, g.names)));
  return out;
}

/** One server of a cluster, as `system.clusters` of the api's server lists it. */
export interface ClusterNode {
  cluster: string;
  shard: number;
  replica: number;
  /** `host_name` of `remote_servers` and its native TCP `port`. */
  host: string;
  port: number;
}

/** The nodes of `cluster` (every replica of every shard); throws when this server does not know the cluster. */
export async function clusterNodes(client: ClickHouseClient, cluster: string): Promise<ClusterNode[]> {
  const nodes = await queryNumberRows<{ shard_num: number; replica_num: number; host_name: string; port: number }>(
    client,
    'SELECT shard_num, replica_num, host_name, port FROM system.clusters WHERE cluster = {c:String} ORDER BY shard_num, replica_num',
    { c: cluster },
  );
  if (!nodes.length) throw new Error(`cluster ${cluster} is not in system.clusters of the api's server (its remote_servers)`);
  return nodes.map((n) => ({ cluster, shard: Number(n.shard_num), replica: Number(n.replica_num), host: n.host_name, port: Number(n.port) }));
}

/** `host:port` of a node, as messages name it. */
export function nodeName(node: ClusterNode): string {
  return `${node.host}:${node.port}`;
}

/**
 * The HTTP URL of a cluster node: `baseUrl` (the api's `CLICKHOUSE_URL`) with the node's host in place of its own,
 * keeping the scheme, port, user, password and path, i.e. every node is expected to serve HTTP on the same port for
 * the same user, as nodes made from one configuration do.
 */
export function nodeUrl(baseUrl: string, host: string): string {
  const u = new URL(baseUrl);
  u.hostname = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return u.toString();
}

/**
 * A client of `node` at {@link nodeUrl}, checked to be that node: its `tcpPort()` must be the node's port, so a host
 * name that leads elsewhere (another server, a load balancer) is refused rather than dropping partitions there.
 * Throws, naming the node and its URL (without the password), when it does not answer or is another server.
 */
export async function openNode(node: ClusterNode, baseUrl: string): Promise<ClickHouseClient> {
  const url = nodeUrl(baseUrl, node.host);
  const shown = (() => { const u = new URL(url); u.password = ''; return u.toString(); })();
  const client = await openClickHouse({ url });
  try {
    const [r] = await queryNumberRows<{ port: number }>(client, 'SELECT tcpPort() AS port');
    if (Number(r?.port) !== node.port) throw new Error(`it answers with native port ${r?.port}: another server`);
    return client;
  } catch (err) {
    await client.close();
    throw new Error(`cluster ${node.cluster} node ${nodeName(node)} at ${shown}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}

