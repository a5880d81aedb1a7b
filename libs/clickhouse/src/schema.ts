/**
 * agentsight's ClickHouse schema (works on a server and on embedded chDB).
 *
 * Choices:
 * - Every table is `ReplacingMergeTree(ingested_at)` ORDER BY its deterministic id (the ids of the contracts are
 *   derived from the inputs, so a redelivered or replayed message produces the same id). Writing a row twice is
 *   therefore harmless: background merges keep one (the latest `ingested_at`), and every query reads with `FINAL`
 *   so duplicates are never visible even before a merge. Dedup happens within a partition, so the partition key
 *   is derived from the row's own (deterministic) event time, never from `ingested_at`; that is also what lets every
 *   read's `FINAL` merge each partition on its own (`do_not_merge_across_partitions_select_final`, client.ts),
 *   except over `dead_letters` ({@link FINAL_ACROSS_PARTITIONS}).
 * - `ingested_at DateTime64(9,'UTC') DEFAULT now64(9)`: filled by the server; rows from `rows.ts` omit it.
 * - Times are `DateTime64(9,'UTC')` (wall-clock ns, exact: the contracts' bigint ns fit).
 * - Token counts are `Nullable(UInt64)`: null = the provider did not report it (distinct from 0). `usage_source` says
 *   whether they are the provider's (`reported`) or counted by agentsight with `usage_tokenizer` (`estimated`).
 * - JSON payloads (`tool_calls`, `raw_usage`, `attributes`, `details`) are `String` holding JSON text: portable
 *   across ClickHouse versions and read with `JSONExtract*` when needed.
 * - Bodies (`exchanges.*_body`) are `String` with an `*_body_encoding` column: `utf8` = the bytes were valid UTF-8
 *   and are stored as that text; `base64` = anything else, stored base64. Either way the bytes round-trip exactly
 *   (see `getExchange`). Streamed responses keep no concatenated body in the contract; their `response_body` is the
 *   SSE events re-serialised as `event: <event>\n` + (`id: <id>\n`) + one `data: <line>\n` per data line + `\n`
 *   (comments, `retry:` fields and the original line endings are not preserved).
 * - Secrets are redacted before rows are built (`rows.ts`), so no column ever holds an API key.
 * - Strings that repeat (host, model, provider …) are `LowCardinality`.
 * - Costs are `Nullable(Float64)` USD at list prices: null = unpriced (never 0 for "unknown").
 * - Versioned records (tool uses, `execute_tool` / `invoke_agent` events) live in `tool_uses` and `genai_spans`,
 *   `ReplacingMergeTree(version)` without partitions (a record's time fields can move between versions), so the highest
 *   version wins whatever the insert order. Their `tool` audit records share `audit_events`: `auditRow` sets their
 *   `ingested_at` to the record's version (ns after the epoch) so there too the highest version wins.
 * - Tables may already exist on users' machines with an older layout: columns added later are listed in
 *   {@link COLUMN_MIGRATIONS} and added by {@link ensureSchema} with `ALTER TABLE … ADD COLUMN IF NOT EXISTS`; rows whose meaning changed are
 *   corrected by {@link dataMigrations} (e.g. reasoning included in `output_tokens`, issue 8).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { queryNumberRows, queryRows } from './repositories/sql';
import { RESOURCE_SAMPLES_NET_COLUMNS, RESOURCE_SAMPLES_PARTITION, resourceSamplesDdl } from './resources';

/** Tables created by {@link ensureSchema}. */
export const TABLES = ['llm_calls', 'exchanges', 'audit_events', 'dead_letters', 'tool_uses', 'genai_spans', 'resource_samples'] as const;
export type TableName = (typeof TABLES)[number];

/** Default database name. */
export const DEFAULT_DATABASE = 'agentsight';

const TS = "DateTime64(9, 'UTC')";
const ENGINE = 'ENGINE = ReplacingMergeTree(ingested_at)';

/** A column added after its table was first released (name, type with COMMENT, and the column it follows). */
export interface ColumnMigration {
  table: TableName;
  name: string;
  type: string;
  after: string;
}

/** Cost columns of `llm_calls` (issue 4), in CREATE order after `exchange_id`. */
const LLM_CALLS_COST_COLUMNS: ColumnMigration[] = [
  { table: 'llm_calls', name: 'cost_usd', type: "Nullable(Float64) COMMENT 'USD at list prices (GenAiInferenceEvent.cost_usd); null = unpriced'", after: 'exchange_id' },
  { table: 'llm_calls', name: 'price_id', type: "Nullable(String) COMMENT 'price-table entry used (GenAiInferenceEvent.cost.price_id)'", after: 'cost_usd' },
];

/**
 * Usage provenance columns of `llm_calls` (issue 4, token estimation), in CREATE order after `price_id`:
 * `usage_source` = `reported` (the provider's counts) | `estimated` (counted by agentsight because the provider
 * reported none; `LlmCall.usage_source`), rows from before the column existed read `reported` (they only ever held
 * provider counts); `usage_tokenizer` = the tokenizer of estimated counts (`o200k_base`, `qwen3`,
 * `estimate:o200k_base`, …), null when reported.
 */
const LLM_CALLS_USAGE_COLUMNS: ColumnMigration[] = [
  {
    table: 'llm_calls',
    name: 'usage_source',
    type: "LowCardinality(String) DEFAULT 'reported' COMMENT 'reported | estimated (token counts counted by agentsight: the provider reported none)'",
    after: 'price_id',
  },
  { table: 'llm_calls', name: 'usage_tokenizer', type: "Nullable(String) COMMENT 'tokenizer of estimated token counts; null when reported'", after: 'usage_source' },
];

/**
 * Agent-session columns of `llm_calls`, after `usage_tokenizer`: `conversation_id` (`gen_ai.conversation.id`) and
 * `agent_name` (`gen_ai.agent.name`); null for calls stored before they existed.
 */
const LLM_CALLS_SESSION_COLUMNS: ColumnMigration[] = [
  { table: 'llm_calls', name: 'conversation_id', type: "Nullable(String) COMMENT 'gen_ai.conversation.id (agent session)'", after: 'usage_tokenizer' },
  { table: 'llm_calls', name: 'agent_name', type: "LowCardinality(Nullable(String)) COMMENT 'gen_ai.agent.name'", after: 'conversation_id' },
];

/**
 * Token breakdown columns of `llm_calls` (`LlmCall.usage_detail`, `agentsight token --detail`), after `agent_name`:
 * input tokens by role and output tokens by type, scaled to the call's totals; null when the call has no breakdown
 * (no totals, or stored before the breakdown existed).
 */
const LLM_CALLS_DETAIL_COLUMNS: ColumnMigration[] = [
  { table: 'llm_calls', name: 'input_system_tokens', type: "Nullable(UInt64) COMMENT 'input tokens of the system role: system prompt, instructions, tool definitions'", after: 'agent_name' },
  { table: 'llm_calls', name: 'input_user_tokens', type: "Nullable(UInt64) COMMENT 'input tokens of user messages'", after: 'input_system_tokens' },
  { table: 'llm_calls', name: 'input_assistant_tokens', type: "Nullable(UInt64) COMMENT 'input tokens of earlier assistant turns and their tool calls'", after: 'input_user_tokens' },
  { table: 'llm_calls', name: 'input_tool_tokens', type: "Nullable(UInt64) COMMENT 'input tokens of tool results'", after: 'input_assistant_tokens' },
  { table: 'llm_calls', name: 'output_text_tokens', type: "Nullable(UInt64) COMMENT 'output tokens of answer text'", after: 'input_tool_tokens' },
  { table: 'llm_calls', name: 'output_reasoning_tokens', type: "Nullable(UInt64) COMMENT 'output tokens of reasoning/thinking'", after: 'output_text_tokens' },
  { table: 'llm_calls', name: 'output_tool_call_tokens', type: "Nullable(UInt64) COMMENT 'output tokens of tool calls (names + arguments)'", after: 'output_reasoning_tokens' },
];

/** Latency columns of `llm_calls` (issue 9, time to first chunk of streamed calls), after `output_tool_call_tokens`. */
const LLM_CALLS_LATENCY_COLUMNS: ColumnMigration[] = [
  {
    table: 'llm_calls', name: 'time_to_first_chunk_ms',
    type: "Nullable(Float64) COMMENT 'streamed calls: ms from the first request byte to the first SSE event (gen_ai.response.time_to_first_chunk); null otherwise'",
    after: 'output_tool_call_tokens',
  },
];

/** Columns added to existing tables since the first schema, oldest first (each becomes an idempotent ALTER). */
export const COLUMN_MIGRATIONS: readonly ColumnMigration[] = [
  ...LLM_CALLS_COST_COLUMNS, ...LLM_CALLS_USAGE_COLUMNS, ...LLM_CALLS_SESSION_COLUMNS, ...LLM_CALLS_DETAIL_COLUMNS, ...LLM_CALLS_LATENCY_COLUMNS,
  ...RESOURCE_SAMPLES_NET_COLUMNS,
];

/**
 * Sorting keys that differ from the table's first release, as `system.tables.sorting_key` prints them. A table found
 * with another key is rebuilt by {@link relayoutTable}.
 * - `audit_events` (host, ts, id), was `id`: every read of it is a time window (a session's process tree, the processes
 *   page, causal links' look-back), which under `FINAL` merged the whole table when ordered by id alone; ordered by
 *   time, `FINAL` merges just the window's granules. Deduplication is still by id: an audit record's id is derived
 *   from its content, so copies of one record share host and ts too. The exception is a `tool` record, whose ts is
 *   its tool use's start and may move when a later version learns the start: readers keep the highest
 *   `details.version` per id ({@link latestToolVersions}) and count with `uniqExact(id)`.
 */
export const SORTING_KEYS = { audit_events: 'host, ts, id' } as const satisfies Partial<Record<TableName, string>>;

/** A data-skipping index (ClickHouse `INDEX name expr TYPE type GRANULARITY g`) of one table. */
export interface SkipIndex {
  table: TableName;
  name: string;
  /** The indexed expression; a query must filter on exactly this expression for the index to skip granules. */
  expr: string;
  type: string;
  granularity: number;
}

/**
 * Data-skipping indexes, created with their tables and added to tables of older versions by {@link ensureSchema}.
 * - `audit_events.summary_ngrams`: a bloom filter of the 3-grams of `lowerUTF8(summary)` per granule (8,192 rows),
 *   so the processes search ({@link summaryContains}) reads only the granules
 *   that can hold the text: a path or command found a few times in a month of audit rows reads a few granules
 *   instead of every one (1M rows: 115-450 ms → 10-19 ms for a term absent from them, measured in bench/README.md). 32 KiB per
 *   granule (4 bytes per row, ~0.6 MB compressed per 1M rows) keeps false positives rare for tens of thousands of
 *   distinct 3-grams per granule; a term shorter than 3 characters cannot use it and scans, as before.
 */
export const SKIP_INDEXES: readonly SkipIndex[] = [
  { table: 'audit_events', name: 'summary_ngrams', expr: 'lowerUTF8(summary)', type: 'ngrambf_v1(3, 32768, 3, 0)', granularity: 1 },
];

/**
 * `INDEX [IF NOT EXISTS] <name> <expr> TYPE <type> GRANULARITY <g>`, the form CREATE TABLE and `ADD INDEX` share
 * (`ifNotExists` only in `ADD INDEX`).
 */
function indexDefinition(i: SkipIndex, ifNotExists = false): string {
  return `INDEX ${ifNotExists ? 'IF NOT EXISTS ' : ''}${quoteIdent(i.name)} ${i.expr} TYPE ${i.type} GRANULARITY ${i.granularity}`;
}

/**
 * The predicate "`summary` contains `{param:String}`, case-insensitively" (SQL text): ClickHouse's own
 * `positionCaseInsensitiveUTF8(summary, q) > 0`, and the same test written on the indexed expression of
 * `audit_events.summary_ngrams`, `lowerUTF8(summary) LIKE '%' || <q lowered, with \, % and _ escaped> || '%'`, so the
 * index skips granules (the pattern is a constant expression of the parameter, which ClickHouse folds before index
 * analysis). The `position` test comes first: `AND` evaluates the slower `LIKE` only on the rows it keeps.
 */
export function summaryContains(param: string): string {
  return String.raw`(positionCaseInsensitiveUTF8(summary, {${param}:String}) > 0 AND lowerUTF8(summary) LIKE concat('%', replaceRegexpAll(lowerUTF8({${param}:String}), '([\\\\%_])', '\\\\\\1'), '%'))`;
}

/**
 * The command an exec audit record ran (SQL over `details`): the basename of `argv[0]`, else of `filename`. The overview's
 * top commands, `agentsight audit --summary` and {@link EXEC_COMMANDS} all name commands with it.
 */
export const EXEC_COMMAND =
  "replaceRegexpOne(if(JSONExtractString(details, 'argv', 1) != '', JSONExtractString(details, 'argv', 1), JSONExtractString(details, 'filename')), '^.*/', '')";

/**
 * `exec_commands`: the distinct ids of exec audit records per host, UTC hour and command ({@link EXEC_COMMAND}), as
 * `uniqExact` states (`AggregatingMergeTree`), filled from every insert into `audit_events` by the materialized view
 * `exec_commands_mv`, so the overview's top commands over a month merge ~720 hourly states per command instead of
 * reading and JSON-parsing every exec record's details (bench/README.md). Exact under replay: a record stored twice
 * adds its id twice to one hour's set, and a set counts it once, as `uniqExact(id)` over the raw rows did (copies of
 * an exec record share its ts, hence its hour). Partitioned by the hour's day like `audit_events` by its ts' day, so the
 * size cap drops the same days of both (retention.ts); its TTL keeps an hour until the last row of it expired from
 * `audit_events`. Created by {@link ensureSchema} on embedded chDB and single servers (not over a cluster's
 * Distributed tables: there the overview reads the raw rows); an existing store's exec records are copied in once
 * (the table's comment says when that finished, see {@link execCommandsReady}).
 */
export const EXEC_COMMANDS = 'exec_commands';
const EXEC_COMMANDS_MV = 'exec_commands_mv';
/** `exec_commands`' comment once an existing store's exec records were copied in. */
const EXEC_COMMANDS_COMPLETE = 'complete: every exec record of audit_events is counted';

/** The SELECT turning `audit_events` rows into `exec_commands` rows (the view's, and the one-time copy's). */
function execCommandsSelect(db: string, where = ''): string {
  return `SELECT host, toDateTime(toStartOfHour(ts), 'UTC') AS hour, ${EXEC_COMMAND} AS name, uniqExactState(id) AS ids
    FROM ${db}.audit_events WHERE type = 'process' AND action = 'exec'${where} GROUP BY host, hour, name`;
}

/** TTL of `exec_commands` for `days`: an hour is kept until its last second's audit rows expired (see {@link ttlExpression}). */
function execCommandsTtl(days: number): string {
  // Written as ClickHouse prints it back (create_table_query), which the comparison in ensureExecCommands relies on.
  return `(hour + toIntervalHour(1)) + toIntervalDay(${days})`;
}

/**
 * Creates {@link EXEC_COMMANDS} and its view when missing, and copies the exec records already stored into it once
 * (again after `audit_events` was rebuilt, `rebuilt`, since the view watched the old table); sets its TTL to `days`
 * (0 = none). The view is created before the copy, so a record inserted meanwhile is counted by one or both (a set).
 * Throws the ClickHouse error on failure; a failed copy is redone on the next start (the comment is set after it).
 */
async function ensureExecCommands(client: ClickHouseClient, database: string, days: number, rebuilt: boolean): Promise<void> {
  const db = quoteIdent(database);
  const table = qualified(database, EXEC_COMMANDS);
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${table} (
      host LowCardinality(String),
      hour DateTime('UTC') COMMENT 'UTC hour of the exec records',
      name String COMMENT 'command (EXEC_COMMAND)',
      ids AggregateFunction(uniqExact, String) COMMENT 'audit_events ids of the exec records'
    ) ENGINE = AggregatingMergeTree
    PARTITION BY toYYYYMMDD(hour)
    ORDER BY (hour, host, name)
    ${days > 0 ? `TTL ${execCommandsTtl(days)}` : ''}`,
  });
  if (rebuilt) await client.command({ query: `DROP VIEW IF EXISTS ${qualified(database, EXEC_COMMANDS_MV)} SYNC` });
  await client.command({ query: `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(database, EXEC_COMMANDS_MV)} TO ${table} AS ${execCommandsSelect(db)}` });
  const [t] = await queryRows<{ comment: string; q: string }>(client, 'SELECT comment, create_table_query AS q FROM system.tables WHERE database = {db:String} AND name = {t:String}', { db: database, t: EXEC_COMMANDS });
  if (rebuilt || t?.comment !== EXEC_COMMANDS_COMPLETE) {
    await client.command({ query: `INSERT INTO ${table} ${execCommandsSelect(db)}` });
    await client.command({ query: `ALTER TABLE ${table} MODIFY COMMENT '${EXEC_COMMANDS_COMPLETE}'` });
  }
  const q = t?.q ?? '';
  if (days > 0 && !q.includes(`TTL ${execCommandsTtl(days)}`)) await client.command({ query: `ALTER TABLE ${table} MODIFY TTL ${execCommandsTtl(days)}` });
  if (days === 0 && /\bTTL /.test(q)) await client.command({ query: `ALTER TABLE ${table} REMOVE TTL` });
}

/** True when {@link EXEC_COMMANDS} of `database` exists and counts every exec record (its one-time copy finished). */
export async function execCommandsReady(client: ClickHouseClient, database: string = DEFAULT_DATABASE): Promise<boolean> {
  const [t] = await queryRows<{ comment: string }>(client, 'SELECT comment FROM system.tables WHERE database = {db:String} AND name = {t:String}', { db: database, t: EXEC_COMMANDS });
  return t?.comment === EXEC_COMMANDS_COMPLETE;
}

/** `ALTER TABLE … ADD COLUMN IF NOT EXISTS` statements bringing older tables of `database` up to date. */
export function migrationStatements(database: string = DEFAULT_DATABASE): string[] {
  return COLUMN_MIGRATIONS.map(
    (c) => `ALTER TABLE ${qualified(database, c.table)} ADD COLUMN IF NOT EXISTS ${quoteIdent(c.name)} ${c.type} AFTER ${quoteIdent(c.after)}`,
  );
}

/** Default of `AGENTSIGHT_RETENTION_DAYS`: rows older than this many days are deleted by their table's TTL. */
export const DEFAULT_RETENTION_DAYS = 90;

/** Options of the schema: how long rows are kept. */
export interface SchemaOptions {
  /** Days a row is kept after its time column ({@link TTL_COLUMNS}); 0 = no TTL; default {@link DEFAULT_RETENTION_DAYS}. */
  retentionDays?: number;
}

/** `AGENTSIGHT_RETENTION_DAYS` (whole days; 0 = no TTL, rows kept until the size cap), else {@link DEFAULT_RETENTION_DAYS}; throws on a bad value. */
export function retentionDays(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.AGENTSIGHT_RETENTION_DAYS;
  if (v === undefined || v.trim() === '') return DEFAULT_RETENTION_DAYS;
  // The TTL is a DateTime (until 2106): more than 10000 days would overflow it.
  if (!/^\d+$/.test(v.trim()) || Number(v) > 10_000) throw new Error(`AGENTSIGHT_RETENTION_DAYS must be a whole number of days from 0 (no TTL) to 10000, not ${JSON.stringify(v)}`);
  return Number(v);
}

/**
 * Partition keys: one partition per day of the row's own (deterministic) event time, so a replayed row lands in the
 * partition of its first copy and the size cap can drop whole days, oldest first. The versioned tables (`tool_uses`,
 * `genai_spans`) stay unpartitioned (their time fields move between versions, and dedup is per partition).
 */
export const PARTITION_KEYS = {
  llm_calls: 'toYYYYMMDD(start_time)',
  exchanges: 'toYYYYMMDD(start_time)',
  audit_events: 'toYYYYMMDD(ts)',
  dead_letters: 'toYYYYMMDD(ts)',
  resource_samples: RESOURCE_SAMPLES_PARTITION,
} as const satisfies Partial<Record<TableName, string>>;

/**
 * `dead_letters` is the one partitioned table whose copies of a row may land in different partitions: a dead letter's
 * id is deterministic but its `ts` is when it was made, so a replay across midnight stores it again in another day.
 * Its reads add this clause so `FINAL` merges across partitions there (the client's default,
 * `do_not_merge_across_partitions_select_final`, would show both copies); the table is small, so it costs little.
 */
export const FINAL_ACROSS_PARTITIONS = 'SETTINGS do_not_merge_across_partitions_select_final = 0';

/** The column each table's TTL counts from: the event time; for the versioned tables the time the row was stored. */
export const TTL_COLUMNS: Record<TableName, string> = {
  llm_calls: 'start_time', exchanges: 'start_time', audit_events: 'ts', dead_letters: 'ts', tool_uses: 'ingested_at', genai_spans: 'ingested_at',
  resource_samples: 'ts',
};

/** Table of what the size cap dropped (one row per table and day), read by `agentsight status` and the capture page. */
export const RETENTION_LOG = 'retention_drops';

/** TTL expression of `table` for `days`, as the DDL and `MODIFY TTL` write it. */
export function ttlExpression(table: TableName, days: number): string {
  return `toDateTime(${TTL_COLUMNS[table]}) + toIntervalDay(${days})`;
}

/** DDL statements of the schema for `database` (each `IF NOT EXISTS`). */
export function schemaStatements(database: string = DEFAULT_DATABASE, opts: SchemaOptions = {}): string[] {
  const db = quoteIdent(database);
  const days = opts.retentionDays ?? DEFAULT_RETENTION_DAYS;
  const ttl = (t: TableName) => (days > 0 ? `TTL ${ttlExpression(t, days)}` : '');
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    `CREATE TABLE IF NOT EXISTS ${db}.llm_calls (
      call_id String COMMENT 'LLM call id (LlmCall.id = GenAiInferenceEvent.llm_call_id)',
      event_id String COMMENT 'GenAiInferenceEvent.id',
      name String COMMENT '<operation> <model>',
      host LowCardinality(String),
      start_time ${TS} COMMENT 'first request byte, wall clock',
      end_time ${TS} COMMENT 'last response byte, wall clock',
      duration_ms Float64,
      pid UInt32,
      process_name LowCardinality(String),
      server_address LowCardinality(String),
      http_status Nullable(UInt16),
      operation LowCardinality(String) COMMENT 'gen_ai.operation.name',
      provider LowCardinality(String) COMMENT 'gen_ai.provider.name',
      request_model LowCardinality(Nullable(String)),
      response_model LowCardinality(Nullable(String)),
      response_id Nullable(String),
      finish_reasons Array(String),
      input_tokens Nullable(UInt64) COMMENT 'includes cached input (semconv)',
      output_tokens Nullable(UInt64),
      cache_read_input_tokens Nullable(UInt64),
      cache_creation_input_tokens Nullable(UInt64),
      reasoning_output_tokens Nullable(UInt64),
      error_type Nullable(String),
      tool_calls String COMMENT 'JSON array of {id,name,arguments}',
      raw_usage String COMMENT 'JSON: provider usage object or null',
      attributes String COMMENT 'JSON: gen_ai.* / server.* / http.* attributes',
      output_text String,
      exchange_id String,
      ${COLUMN_MIGRATIONS.filter((c) => c.table === 'llm_calls').map((c) => `${c.name} ${c.type}`).join(',\n      ')},
      ingested_at ${TS} DEFAULT now64(9)
    ) ${ENGINE}
    PARTITION BY ${PARTITION_KEYS.llm_calls}
    ORDER BY call_id
    ${ttl('llm_calls')}`,
    `CREATE TABLE IF NOT EXISTS ${db}.exchanges (
      exchange_id String,
      host LowCardinality(String),
      conn_key String,
      pid UInt32,
      tid UInt32,
      uid UInt32,
      comm LowCardinality(String),
      ppid Nullable(UInt32),
      process_exe String,
      process_argv Array(String) COMMENT 'redacted',
      server_address LowCardinality(String),
      method LowCardinality(String),
      target String COMMENT 'request-target, redacted',
      request_version LowCardinality(String),
      request_headers Array(Tuple(String, String)) COMMENT 'wire order, secret values redacted',
      request_body String,
      request_body_encoding LowCardinality(String) COMMENT 'utf8 | base64',
      request_body_incomplete LowCardinality(Nullable(String)) COMMENT 'short | decode_error | null',
      has_response Bool,
      status Nullable(UInt16),
      reason String,
      response_headers Array(Tuple(String, String)),
      response_body String COMMENT 'for streams: SSE events re-serialised (event:/id:/data: lines)',
      response_body_encoding LowCardinality(String),
      response_body_incomplete LowCardinality(Nullable(String)),
      streaming Bool,
      sse_events UInt32,
      start_time ${TS} COMMENT 'first request byte',
      end_time ${TS} COMMENT 'last response byte (last request byte when no response)',
      ingested_at ${TS} DEFAULT now64(9)
    ) ${ENGINE}
    PARTITION BY ${PARTITION_KEYS.exchanges}
    ORDER BY exchange_id
    ${ttl('exchanges')}`,
    `CREATE TABLE IF NOT EXISTS ${db}.audit_events (
      id String,
      type LowCardinality(String) COMMENT 'llm | tool | process | file | net | capture',
      action LowCardinality(String),
      host LowCardinality(String),
      ts ${TS},
      pid UInt32,
      ppid UInt32,
      comm LowCardinality(String),
      summary String COMMENT 'redacted',
      details String COMMENT 'JSON, redacted',
      ingested_at ${TS} DEFAULT now64(9),
      ${SKIP_INDEXES.filter((i) => i.table === 'audit_events').map((i) => indexDefinition(i)).join(',\n      ')}
    ) ${ENGINE}
    PARTITION BY ${PARTITION_KEYS.audit_events}
    ORDER BY (${SORTING_KEYS.audit_events})
    ${ttl('audit_events')}`,
    `CREATE TABLE IF NOT EXISTS ${db}.dead_letters (
      id String,
      stage LowCardinality(String),
      host LowCardinality(String),
      reason LowCardinality(String),
      error String,
      input_subject String,
      input_seq UInt64,
      input_id Nullable(String),
      conn_key Nullable(String),
      sample_base64 String COMMENT 'first bytes of the input, redacted when UTF-8 text',
      ts ${TS},
      ingested_at ${TS} DEFAULT now64(9)
    ) ${ENGINE}
    PARTITION BY ${PARTITION_KEYS.dead_letters}
    ORDER BY id
    ${ttl('dead_letters')}`,
    `CREATE TABLE IF NOT EXISTS ${db}.tool_uses (
      id String COMMENT 'ToolUse.id',
      version UInt32 COMMENT '1 request known, 2 result known, 3 both; the highest is kept',
      source LowCardinality(String) COMMENT 'llm | mcp',
      host LowCardinality(String),
      pid UInt32 COMMENT 'agent process',
      comm LowCardinality(String),
      agent_name LowCardinality(Nullable(String)) COMMENT 'gen_ai.agent.name',
      conversation_id Nullable(String) COMMENT 'gen_ai.conversation.id',
      name LowCardinality(String) COMMENT 'gen_ai.tool.name',
      call_id Nullable(String) COMMENT 'gen_ai.tool.call.id',
      tool_type LowCardinality(String) COMMENT 'gen_ai.tool.type',
      arguments String COMMENT 'redacted',
      result Nullable(String) COMMENT 'redacted; null until seen',
      success Nullable(Bool),
      start_time Nullable(${TS}) COMMENT 'end of the LLM response that requested the call',
      end_time Nullable(${TS}) COMMENT 'start of the request that carried the result',
      duration_ms Nullable(Float64),
      origin_llm_call_id Nullable(String) COMMENT 'llm_calls.call_id of the requesting call',
      result_llm_call_id Nullable(String) COMMENT 'llm_calls.call_id of the call whose request carried the result',
      ingested_at ${TS} DEFAULT now64(9)
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY id
    ${ttl('tool_uses')}`,
    `CREATE TABLE IF NOT EXISTS ${db}.genai_spans (
      id String COMMENT 'GenAiToolEvent.id / GenAiAgentEvent.id',
      version UInt64 COMMENT 'the highest is kept',
      kind LowCardinality(String) COMMENT 'execute_tool | invoke_agent',
      name String COMMENT 'execute_tool <tool> | invoke_agent <agent>',
      host LowCardinality(String),
      pid UInt32,
      process_name LowCardinality(String),
      conversation_id Nullable(String),
      agent_name LowCardinality(Nullable(String)),
      tool_use_id Nullable(String) COMMENT 'execute_tool: tool_uses.id',
      tool_name LowCardinality(Nullable(String)),
      success Nullable(Bool),
      start_time Nullable(${TS}),
      end_time Nullable(${TS}),
      duration_ms Nullable(Float64),
      llm_calls UInt32 COMMENT 'invoke_agent totals',
      tool_uses UInt32,
      tool_errors UInt32,
      input_tokens UInt64,
      output_tokens UInt64,
      cost_usd Nullable(Float64) COMMENT 'USD; null = nothing priced',
      unpriced_calls UInt32,
      attributes String COMMENT 'JSON, redacted',
      ingested_at ${TS} DEFAULT now64(9)
    ) ENGINE = ReplacingMergeTree(version)
    ORDER BY id
    ${ttl('genai_spans')}`,
    resourceSamplesDdl(db, ttl('resource_samples')),
    `CREATE TABLE IF NOT EXISTS ${db}.${RETENTION_LOG} (
      ts ${TS} COMMENT 'when the size cap dropped it',
      table LowCardinality(String),
      partition String COMMENT 'day (YYYYMMDD) dropped; versioned tables: rows ingested up to that day deleted',
      rows UInt64,
      bytes UInt64 COMMENT 'on-disk bytes freed'
    ) ENGINE = MergeTree
    ORDER BY ts`,
  ];
}

/** A correction of rows written by an older version: `count` finds them (one row, column `n`), `fix` rewrites them. */
export interface DataMigration {
  id: string;
  /** The table it corrects. */
  table: TableName;
  count: string;
  fix: string;
}

/**
 * Rows of `llm_calls` stored before reasoning was included in `output_tokens` (OTel GenAI semconv v1.41: reasoning
 * "SHOULD be included in `gen_ai.usage.output_tokens`"): Gemini (`generate_content`) reported
 * `candidatesTokenCount` and xAI `completion_tokens` / `output_tokens` without their reasoning count, and older
 * versions stored those as `output_tokens`. Such a row is recognised by its `output_tokens` still equal to the
 * provider-raw output count in `raw_usage` while `reasoning_output_tokens` > 0 (a corrected row exceeds it by the
 * reasoning count, so the migration is idempotent); `output_tokens` and `gen_ai.usage.output_tokens` in `attributes`
 * become output + reasoning. Costs are unchanged (they were already per token type), and so is the output breakdown
 * (its three parts already summed to output + reasoning). Session totals of `invoke_agent` spans (`genai_spans`)
 * written before are not recomputed.
 */
export function reasoningOutputMigration(database: string = DEFAULT_DATABASE): DataMigration {
  const t = qualified(database, 'llm_calls');
  const rawOut =
    "if(operation = 'generate_content', JSONExtract(raw_usage, 'candidatesTokenCount', 'Nullable(UInt64)'), " +
    "coalesce(JSONExtract(raw_usage, 'completion_tokens', 'Nullable(UInt64)'), JSONExtract(raw_usage, 'output_tokens', 'Nullable(UInt64)')))";
  const where = `(operation = 'generate_content' OR provider = 'x_ai') AND coalesce(reasoning_output_tokens, 0) > 0 AND coalesce(output_tokens, 0) = coalesce(${rawOut}, 0)`;
  const fixed = 'coalesce(output_tokens, 0) + reasoning_output_tokens';
  return {
    id: 'llm_calls.output_tokens_include_reasoning',
    table: 'llm_calls',
    count: `SELECT count() AS n FROM ${t} WHERE ${where}`,
    fix:
      `ALTER TABLE ${t} UPDATE output_tokens = ${fixed}, ` +
      `attributes = if(match(attributes, '"gen_ai\\.usage\\.output_tokens":'), ` +
      `replaceRegexpOne(attributes, '"gen_ai\\.usage\\.output_tokens":[0-9]+', concat('"gen_ai.usage.output_tokens":', toString(${fixed}))), ` +
      `replaceRegexpOne(attributes, '^\\{', concat('{"gen_ai.usage.output_tokens":', toString(${fixed}), if(attributes = '{}', '', ',')))) ` +
      `WHERE ${where} SETTINGS mutations_sync = 2`,
  };
}

/** Row corrections run by {@link ensureSchema}, oldest first (each only when its `count` finds rows). */
export function dataMigrations(database: string = DEFAULT_DATABASE): DataMigration[] {
  return [reasoningOutputMigration(database)];
}

/**
 * Creates the database and tables if missing, then adds the columns of {@link COLUMN_MIGRATIONS} to tables created by
 * an older version (idempotent: safe on every start, concurrently from several processes against a server; rows
 * written before a column existed read its default, i.e. null for the cost columns and `usage_tokenizer`, `reported`
 * for `usage_source`), rebuilds tables whose sorting key changed ({@link relayoutTable}), adds the data-skipping
 * indexes of {@link SKIP_INDEXES} that an older table lacks and builds them for its rows, creates {@link EXEC_COMMANDS} (filled once from the stored rows), then runs the row
 * corrections of {@link dataMigrations} that find rows to correct, and sets each table's TTL to `opts.retentionDays`
 * (`MODIFY TTL`, or `REMOVE TTL` for 0) when it differs. Throws the
 * ClickHouse error on failure.
 *
 * A table found with an engine outside the MergeTree family (a cluster's `Distributed` table over per-node tables,
 * created from `clusterSchemaStatements`, cluster.ts) belongs to whoever runs the cluster: it gets the column
 * migrations (which a Distributed table takes), but no rebuild, TTL change or row correction, which are the
 * per-node tables' business and come with the cluster DDL.
 */
export async function ensureSchema(client: ClickHouseClient, database: string = DEFAULT_DATABASE, opts: SchemaOptions = {}): Promise<void> {
  for (const query of [...schemaStatements(database, opts), ...migrationStatements(database)]) {
    await client.command({ query });
  }
  const engines = await tableEngines(client, database);
  const own = TABLES.filter((t) => /MergeTree$/.test(engines.get(t) ?? ''));
  const rebuilt = new Set<TableName>();
  for (const table of own) if (await relayoutTable(client, database, table, opts)) rebuilt.add(table);
  await addSkipIndexes(client, database, own);
  const days = opts.retentionDays ?? DEFAULT_RETENTION_DAYS;
  if (own.includes('audit_events')) await ensureExecCommands(client, database, days, rebuilt.has('audit_events'));
  for (const table of own) {
    const [t] = await queryRows<{ q: string }>(client, 'SELECT create_table_query AS q FROM system.tables WHERE database = {db:String} AND name = {t:String}', { db: database, t: table });
    const q = t?.q ?? '';
    if (days > 0 && !q.includes(`TTL ${ttlExpression(table, days)}`)) await client.command({ query: `ALTER TABLE ${qualified(database, table)} MODIFY TTL ${ttlExpression(table, days)}` });
    if (days === 0 && /\bTTL /.test(q)) await client.command({ query: `ALTER TABLE ${qualified(database, table)} REMOVE TTL` });
  }
  for (const m of dataMigrations(database)) {
    if (!own.includes(m.table)) continue;
    const [row] = await queryNumberRows<{ n: number }>(client, m.count);
    if (Number(row?.n ?? 0) > 0) await client.command({ query: m.fix });
  }
}

/** Engine of each table of `database` (`ReplacingMergeTree`, `Distributed`, …) by name. */
export async function tableEngines(client: ClickHouseClient, database: string = DEFAULT_DATABASE): Promise<Map<string, string>> {
  const rows = await queryRows<{ name: string; engine: string }>(client, 'SELECT name, engine FROM system.tables WHERE database = {db:String}', { db: database });
  return new Map(rows.map((t) => [t.name, t.engine]));
}

/**
 * Adds each {@link SKIP_INDEXES} entry missing from a table of `tables` (the MergeTree ones) of an older version (`ADD INDEX`), then builds it for the
 * rows already stored (`MATERIALIZE INDEX`, a background mutation: reads stay correct meanwhile, parts without the
 * index are read whole as before). Throws the ClickHouse error on failure.
 */
async function addSkipIndexes(client: ClickHouseClient, database: string, tables: readonly TableName[]): Promise<void> {
  const rows = await queryRows<{ table: string; name: string }>(client, 'SELECT table, name FROM system.data_skipping_indices WHERE database = {db:String}', { db: database });
  const present = new Set(rows.map((r) => `${r.table}.${r.name}`));
  for (const i of SKIP_INDEXES) {
    if (present.has(`${i.table}.${i.name}`) || !tables.includes(i.table)) continue;
    await client.command({ query: `ALTER TABLE ${qualified(database, i.table)} ADD ${indexDefinition(i, true)}` });
    await client.command({ query: `ALTER TABLE ${qualified(database, i.table)} MATERIALIZE INDEX ${quoteIdent(i.name)}` });
  }
}

/**
 * Rebuilds `table` of `database` when its sorting key is not {@link SORTING_KEYS}' or its partition key not
 * {@link PARTITION_KEYS}' (a table created by an older version, e.g. partitioned by month before issue 11): creates `<table>__relayout` from the current DDL, copies every row (with its `ingested_at`, so versions
 * keep their order), swaps the two with `EXCHANGE TABLES`, copies again the rows written to the old table between the
 * first copy and the swap (rows are idempotent, so a row copied twice is one row), and drops the old table. Returns
 * true when it rebuilt. Run it from one process (embedded chDB allows only one anyway; against a server, upgrade
 * with one storage instance running). Throws the ClickHouse error on failure; a failure before the swap leaves the
 * table as it was (the copy is dropped and redone on the next start). A table outside the MergeTree family (a
 * cluster's Distributed table) is never rebuilt.
 */
export async function relayoutTable(client: ClickHouseClient, database: string, table: TableName, opts: SchemaOptions = {}): Promise<boolean> {
  const [current] = await queryRows<{ sorting_key: string; partition_key: string; engine: string }>(
    client,
    'SELECT sorting_key, partition_key, engine FROM system.tables WHERE database = {db:String} AND name = {t:String}',
    { db: database, t: table },
  );
  if (current === undefined || !/MergeTree$/.test(current.engine)) return false; // e.g. a cluster's Distributed table
  const wantSort = (SORTING_KEYS as Partial<Record<TableName, string>>)[table];
  const wantPartition = (PARTITION_KEYS as Partial<Record<TableName, string>>)[table] ?? '';
  if ((wantSort === undefined || current.sorting_key === wantSort) && current.partition_key === wantPartition) return false;
  const prefix = `CREATE TABLE IF NOT EXISTS ${quoteIdent(database)}.${table} (`;
  const ddl = schemaStatements(database, opts).find((s) => s.startsWith(prefix));
  if (!ddl) throw new Error(`no DDL for ${table}`);
  const tmp = qualified(database, `${table}__relayout`);
  const live = qualified(database, table);
  await client.command({ query: `DROP TABLE IF EXISTS ${tmp} SYNC` });
  await client.command({ query: `CREATE TABLE ${tmp} (` + ddl.slice(prefix.length) });
  const columns = await queryRows<{ name: string }>(client, 'SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String} ORDER BY position', { db: database, t: `${table}__relayout` });
  const cols = columns.map((c) => quoteIdent(c.name)).join(', ');
  const copy = (from: string, to: string) => client.command({ query: `INSERT INTO ${to} (${cols}) SELECT ${cols} FROM ${from}` });
  await copy(live, tmp);
  await client.command({ query: `EXCHANGE TABLES ${live} AND ${tmp}` });
  await copy(tmp, live);
  await client.command({ query: `DROP TABLE ${tmp} SYNC` });
  return true;
}

/** Quotes an identifier for SQL (`agentsight` → `` `agentsight` ``). */
export function quoteIdent(name: string): string {
  return '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`';
}

/** A string literal for SQL (`it's` → `'it\'s'`). */
export function quoteString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** `database`.`table`, quoted. */
export function qualified(database: string, table: string): string {
  return `${quoteIdent(database)}.${quoteIdent(table)}`;
}
