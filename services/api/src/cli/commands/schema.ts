/** `agentsight schema`: the ClickHouse DDL, for one server or a cluster (logic in `../schema.ts`). */
import type { Command } from 'commander';

/** Registers `schema`. */
export function registerSchema(p: Command): void {
  p.command('schema').description('print the ClickHouse DDL: the server schema, or with --cluster per-node ReplicatedReplacingMergeTree tables and Distributed tables (ON CLUSTER)')
    .option('--cluster <name>', "cluster name of the servers' remote_servers")
    .option('--database <db>', 'database', 'agentsight')
    .option('--no-replicated', 'with --cluster: plain ReplacingMergeTree per shard (no Keeper)')
    .option('--no-on-cluster', 'with --cluster: statements to run on each node yourself (no ON CLUSTER)')
    .action(async (o) => { process.stdout.write((await import('../schema')).schemaText(o)); });
}
