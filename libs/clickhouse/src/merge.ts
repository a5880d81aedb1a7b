/**
 * Merging away replaced rows after a replay (`agentsight replay`). A replay writes a new version of each row it
 * re-derives; the ReplacingMergeTree tables keep one per sorting key only once their parts merge, which ClickHouse
 * does in the background when it sees fit, maybe never for a small store. Until then every reader is right (reads
 * use `FINAL`), but the replaced versions stay on disk: the store holds its rows twice (counted by the size cap), and
 * what a replay was run to remove (say a secret a new redaction rule now catches) is still in the files.
 * {@link mergeReplaced} merges each partition holding more than one active part (`OPTIMIZE TABLE … PARTITION ID …
 * FINAL`), which leaves one version per key.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { serverParts } from './parts';
import { DEFAULT_DATABASE, qualified, TABLES, tableEngines } from './schema';

/** Result of {@link mergeReplaced}. */
export interface MergeResult {
  /** Partitions merged, as `<table>/<partition id>`. */
  merged: string[];
  /** Rows of the merged partitions before and after (the difference: replaced versions removed). */
  rowsBefore: number;
  rowsAfter: number;
  /**
   * Why nothing could be merged here, null otherwise: the tables are not this server's MergeTree tables (a
   * cluster's `Distributed` tables: the shards merge their `<table>_local` parts themselves).
   */
  note: string | null;
}

/**
 * Merges every partition of the agentsight ReplacingMergeTree tables that has more than one active part, so each
 * row key keeps its newest version only (see the file comment). Runs on this server (or embedded chDB) and waits for
 * each merge; a partition's merge costs about a rewrite of it. Throws what ClickHouse throws for a failed OPTIMIZE.
 */
export async function mergeReplaced(client: ClickHouseClient, database: string = DEFAULT_DATABASE): Promise<MergeResult> {
  const engines = await tableEngines(client, database);
  const replacing = new Set([...engines].filter(([, e]) => e === 'ReplacingMergeTree').map(([t]) => t));
  const out: MergeResult = { merged: [], rowsBefore: 0, rowsAfter: 0, note: null };
  if (TABLES.some((t) => engines.get(t) === 'Distributed')) {
    out.note = 'Distributed tables (a ClickHouse cluster): the shards merge replaced rows in the background; reads use FINAL meanwhile';
  }
  const todo = (await serverParts(client, database)).filter((p) => replacing.has(p.table) && p.parts > 1);
  for (const p of todo) {
    await client.command({ query: `OPTIMIZE TABLE ${qualified(database, p.table)} PARTITION ID '${p.partition.replace(/'/g, '')}' FINAL` });
    out.merged.push(`${p.table}/${p.partition}`);
    out.rowsBefore += p.rows;
  }
  const after = await serverParts(client, database);
  out.rowsAfter = after.filter((p) => todo.some((t) => t.table === p.table && t.partition === p.partition)).reduce((n, p) => n + p.rows, 0);
  return out;
}
