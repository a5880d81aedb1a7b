/**
 * Dead letters (`dead_letters`): the newest ones (`GET /api/dead-letters`) and the capture page's groups by stage and
 * reason (`GET /api/capture`). Read with `FINAL` per partition ({@link FINAL_ACROSS_PARTITIONS}: copies of a dead
 * letter may span partitions); times ISO 8601 UTC.
 */
import type { DeadLetterGroup } from '@agentsight/contracts';
import type { ClickHouseClient } from '@clickhouse/client';
import type { DeadLetterRow } from '../rows';
import { DEFAULT_DATABASE, FINAL_ACROSS_PARTITIONS, qualified } from '../schema';
import { clampLimit, nsIso, type DbOption, type TimeInput } from './read';
import { addFilter, addSince, num, queryRows, whereClause } from './sql';

/**
 * One stored dead letter: its `dead_letters` row ({@link DeadLetterRow}: `sample_base64` the first bytes of the
 * offending input, redacted if text) with `input_seq` as a number and `ts` as ISO 8601 UTC (ms).
 */
export type DeadLetterEntry = Omit<DeadLetterRow, 'input_seq' | 'ts'> & { input_seq: number; ts: string };

/** Filters of {@link listDeadLetters} (each an exact match). */
export interface ListDeadLettersOptions extends DbOption {
  /** Only dead letters of this stage (`parser`, `aggregator`, …). */
  stage?: string;
  /** Only dead letters with this reason. */
  reason?: string;
  /** Only dead letters at or after this time (see {@link TimeInput}). */
  since?: TimeInput;
  /** Max rows (default 100), newest first. */
  limit?: number;
}

/** Dead letters, newest first. */
export async function listDeadLetters(client: ClickHouseClient, opts: ListDeadLettersOptions = {}): Promise<DeadLetterEntry[]> {
  const where: string[] = [];
  const params: Record<string, unknown> = { limit: clampLimit(opts.limit, 100) };
  addFilter(where, params, 'stage = {stage:String}', { stage: opts.stage });
  addFilter(where, params, 'reason = {reason:String}', { reason: opts.reason });
  addSince(where, params, 'ts', opts.since);
  type R = Omit<DeadLetterEntry, 'ts' | 'input_seq'> & { ts_ns: string; input_seq: string };
  const rs = await queryRows<R>(
    client,
    `SELECT id, stage, host, reason, error, input_subject, input_seq, input_id, conn_key, sample_base64,
            toString(toUnixTimestamp64Nano(ts)) AS ts_ns
     FROM ${qualified(opts.database ?? DEFAULT_DATABASE, 'dead_letters')} FINAL
     ${whereClause(where)}
     ORDER BY ts DESC, id
     LIMIT {limit:UInt32} ${FINAL_ACROSS_PARTITIONS}`,
    params,
  );
  return rs.map(({ ts_ns, input_seq, ...r }) => ({ ...r, input_seq: Number(input_seq), ts: nsIso(ts_ns) }));
}


/** Dead letters grouped by stage and reason, most first, with the newest one's error and sample. */
export async function deadLetterGroups(client: ClickHouseClient, database = DEFAULT_DATABASE): Promise<DeadLetterGroup[]> {
  const rs = await queryRows<Record<string, string>>(
    client,
    `SELECT stage, reason, count() AS count, toString(toUnixTimestamp64Nano(max(ts))) AS last_ns, argMax(error, ts) AS last_error,
            argMax(sample_base64, ts) AS last_sample
     FROM ${qualified(database, 'dead_letters')} FINAL GROUP BY stage, reason ORDER BY count DESC, stage, reason ${FINAL_ACROSS_PARTITIONS}`,
  );
  return rs.map((r) => ({ stage: r.stage, reason: r.reason, count: num(r.count), last_ts: nsIso(r.last_ns), last_error: r.last_error, last_sample_base64: r.last_sample }));
}

