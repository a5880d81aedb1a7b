import { clusterSchemaStatements, DEFAULT_DATABASE, retentionDays, schemaStatements, migrationStatements } from '@agentsight/clickhouse';

/** Options of `agentsight schema` (commander's `--no-*` flags arrive as `replicated: false` / `onCluster: false`). */
export interface SchemaCommandOptions {
  cluster?: string;
  database?: string;
  replicated?: boolean;
  onCluster?: boolean;
}

/**
 * Text printed by `agentsight schema`: the DDL of agentsight's tables as SQL statements, each ended by `;` and a
 * blank line. Without `cluster`: the single-server schema the api applies itself at start (tables, then the column
 * migrations). With `cluster`: the cluster DDL of `clusterSchemaStatements` (per-node `_local` tables, replicated
 * unless `replicated` is false, and Distributed tables; `ON CLUSTER` unless `onCluster` is false), for an operator to
 * run before the first api start and again after an upgrade. The TTL is `AGENTSIGHT_RETENTION_DAYS` of `env`.
 * Throws on a bad `AGENTSIGHT_RETENTION_DAYS`.
 */
export function schemaText(o: SchemaCommandOptions, env: NodeJS.ProcessEnv = process.env): string {
  const database = o.database || DEFAULT_DATABASE;
  const days = retentionDays(env);
  const statements = o.cluster
    ? clusterSchemaStatements({ cluster: o.cluster, database, replicated: o.replicated !== false, onCluster: o.onCluster !== false, retentionDays: days })
    : [...schemaStatements(database, { retentionDays: days }), ...migrationStatements(database)];
  return statements.map((s) => `${s};\n`).join('\n');
}
