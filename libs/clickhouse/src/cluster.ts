/**
 * The schema for a ClickHouse cluster, generated from the embedded/server schema ({@link schemaStatements},
 * {@link migrationStatements}), so the two never drift: per table a local table on every node
 * (`<table>_local`, `ReplicatedReplacingMergeTree` / `ReplicatedMergeTree` with the same columns, partitioning,
 * sorting key and TTL) and a `Distributed` table of the table's own name over them, which is what agentsight
 * writes to and reads from. Every statement is `ON CLUSTER` and `IF NOT EXISTS`: running the whole list again after
 * an upgrade adds what is new (columns: `ALTER … ADD COLUMN IF NOT EXISTS` on both tables).
 *
 * Sharding: a row's shard is `cityHash64(<its table's sorting key>)`. ReplacingMergeTree deduplicates by sorting key
 * within one shard only, and every copy of a row (a redelivery, a replay) has the same sorting key, so all copies
 * land on one shard and `FINAL` through the Distributed table (per shard) shows one row.
 *
 * `agentsight schema --cluster NAME` prints these statements (README "ClickHouse server and cluster").
 */
import { migrationStatements, quoteIdent, quoteString, schemaStatements, DEFAULT_DATABASE, type SchemaOptions } from './schema';

/** Suffix of the local (per-node) tables behind each Distributed table. */
export const LOCAL_SUFFIX = '_local';

/** Options of {@link clusterSchemaStatements}. */
export interface ClusterSchemaOptions extends SchemaOptions {
  /** Cluster name of the servers' `remote_servers` (used by `ON CLUSTER` and the Distributed engine). */
  cluster: string;
  /** Database (default `agentsight`). */
  database?: string;
  /**
   * Replicated engines (default true): `Replicated*MergeTree('<zooPath>/<db>/<table>_local', '{replica}', …)`,
   * which needs Keeper and the `{shard}`/`{replica}` macros on every node. False: plain `*MergeTree` on each shard
   * (sharded without replicas).
   */
  replicated?: boolean;
  /** Keeper path prefix of the replicated tables (default `/clickhouse/tables/{shard}`). */
  zooPath?: string;
  /**
   * Add `ON CLUSTER <cluster>` (default true). False: statements to run on each node yourself (e.g. a server
   * without a DDL queue, or the tests' chDB servers).
   */
  onCluster?: boolean;
}

/** A table statement of {@link schemaStatements}: its name, engine and the rest. */
const CREATE_TABLE = /^CREATE TABLE IF NOT EXISTS (`(?:[^`\\]|\\.)+`)\.(\w+) \(/;
const ENGINE = /ENGINE = (ReplacingMergeTree|MergeTree)(?:\(([^)]*)\))?/;
const ORDER_BY = /\n\s*ORDER BY (.+)\n?/;

/**
 * The statements creating agentsight's schema on cluster `opts.cluster`, in order: the database, then per table its
 * local table and its Distributed table, then the column migrations of both (each statement idempotent). Throws
 * when a table statement of the schema has a shape this generator does not know (a new engine), so a schema change
 * cannot silently leave the cluster DDL behind.
 */
export function clusterSchemaStatements(opts: ClusterSchemaOptions): string[] {
  const database = opts.database ?? DEFAULT_DATABASE;
  const db = quoteIdent(database);
  const cluster = quoteIdent(opts.cluster);
  const on = opts.onCluster === false ? '' : ` ON CLUSTER ${cluster}`;
  const replicated = opts.replicated ?? true;
  const zoo = opts.zooPath ?? '/clickhouse/tables/{shard}';
  const out: string[] = [];
  const tables: string[] = [];
  for (const stmt of schemaStatements(database, opts)) {
    if (stmt.startsWith('CREATE DATABASE IF NOT EXISTS ')) {
      out.push(`${stmt}${on}`);
      continue;
    }
    const m = CREATE_TABLE.exec(stmt);
    const engine = ENGINE.exec(stmt);
    const order = ORDER_BY.exec(stmt);
    if (!m || !engine || !order) throw new Error(`clusterSchemaStatements: unknown statement shape: ${stmt.slice(0, 120)}`);
    const table = m[2]!;
    const local = `${table}${LOCAL_SUFFIX}`;
    tables.push(table);
    const args = [
      ...(replicated ? [quoteString(`${zoo}/${database}/${local}`), quoteString('{replica}')] : []),
      ...(engine[2] ? [engine[2]] : []),
    ];
    const engineSql = `ENGINE = ${replicated ? 'Replicated' : ''}${engine[1]}${args.length ? `(${args.join(', ')})` : ''}`;
    out.push(stmt.replace(CREATE_TABLE, `CREATE TABLE IF NOT EXISTS ${db}.${local}${on} (`).replace(ENGINE, engineSql));
    const key = order[1]!.trim().replace(/^\((.*)\)$/, '$1');
    out.push(`CREATE TABLE IF NOT EXISTS ${db}.${table}${on} AS ${db}.${local} ENGINE = Distributed(${cluster}, ${db}, ${local}, cityHash64(${key}))`);
  }
  for (const alter of migrationStatements(database)) {
    const m = /^ALTER TABLE (`(?:[^`\\]|\\.)+`)\.`(\w+)` (.*)$/s.exec(alter);
    if (!m || !tables.includes(m[2]!)) throw new Error(`clusterSchemaStatements: unknown migration shape: ${alter.slice(0, 120)}`);
    for (const t of [`${m[2]}${LOCAL_SUFFIX}`, m[2]!]) out.push(`ALTER TABLE ${db}.${quoteIdent(t)}${on} ${m[3]}`);
  }
  return out;
}
