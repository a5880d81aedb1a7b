/**
 * Tool uses (`tool_uses`): `/api/tools`, the session and call pages and the CLI. Read with `FINAL` (the highest
 * version of each id); parameters bound server-side; times ISO 8601 UTC (ms) plus exact ns as decimal strings.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { ToolUseRow } from '../rows';
import { commonColumns, selectLatest, type RecordListOptions } from './versioned';

/**
 * One stored tool use: the `tool_uses` row ({@link ToolUseRow}: the ToolUse fields, `arguments`/`result` redacted) with
 * `start_time`/`end_time` as ISO 8601 UTC (ms) and `start_ns`/`end_ns` the exact wall-clock ns as decimal text
 * (null = unknown).
 */
export type ToolUseEntry = ToolUseRow & { start_ns: string | null; end_ns: string | null };

/** Filters of {@link listToolUses}: those of {@link RecordListOptions} and the process. */
export interface ListToolUsesOptions extends RecordListOptions {
  /** Only tool uses of this agent process. */
  pid?: number;
}

/** Columns of `tool_uses` in table order. */
const TOOL_USE_COLUMNS = [
  'id', 'version', 'source', 'host', 'pid', 'comm', 'agent_name', 'conversation_id', 'name', 'call_id', 'tool_type', 'arguments', 'result',
  'success', 'start_time', 'end_time', 'duration_ms', 'origin_llm_call_id', 'result_llm_call_id',
] as const satisfies ReadonlyArray<keyof ToolUseRow>;

/** Tool uses, newest first (by start, else end). */
export async function listToolUses(client: ClickHouseClient, opts: ListToolUsesOptions = {}): Promise<ToolUseEntry[]> {
  const rows = await selectLatest<ToolUseRow, Omit<ToolUseEntry, 'start_time' | 'end_time'>>(
    client,
    'tool_uses',
    TOOL_USE_COLUMNS,
    opts,
    opts.pid !== undefined ? ['pid = {pid:UInt32}'] : [],
    opts.pid !== undefined ? { pid: opts.pid } : {},
  );
  return rows.map((r) => ({ ...r, ...commonColumns(r) }));
}

