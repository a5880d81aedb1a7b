/**
 * Integration tests against REAL embedded chDB (one client for the whole file: opening costs ~100 ms and a lot
 * of RAM, and a process can hold only one data directory).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import { promisify } from 'node:util';
import { GenAiAttr, redactBytes } from '@agentsight/contracts';
import * as ts from 'typescript';
import { agentEvent, audit, deadLetter, exchange, genaiEvent, oldLlmCallsDdl, T0, toolEvent, toolUse } from '../test/fixtures';
import { CHDB_MALLOC_CONF, openClickHouse, readOwnerPid, type ClickHouseClient } from './client';
import { auditSummary, listAudit, pageAudit } from './repositories/audit';
import { listCalls } from './repositories/calls';
import { deadLetterGroups, listDeadLetters } from './repositories/dead-letters';
import { getExchange } from './repositories/exchanges';
import { listGenAiSpans } from './repositories/genai-spans';
import { overview } from './repositories/overview';
import { countRows, tableSizes } from './repositories/table-sizes';
import { tokenSummary } from './repositories/token-usage';
import { listToolUses } from './repositories/tool-uses';
import { auditRow, deadLetterRow, exchangeRow, genAiSpanRow, llmCallRow, toolUseRow } from './rows';
import { resourceSampleRows } from './resources';
import { ensureSchema, EXEC_COMMANDS, execCommandsReady, migrationStatements, reasoningOutputMigration, relayoutTable, RETENTION_LOG, SKIP_INDEXES, SORTING_KEYS, summaryContains, TABLES } from './schema';
import { BatchWriter, insertRows } from './writer';
import { enforceStoreCap } from './retention';

const run = promisify(execFile);

/** The fixtures' times are from 2024: keep them past the default TTL. */
const KEEP = { retentionDays: 3650 };
let tmp: string;
let dataDir: string;
let client: ClickHouseClient;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-ch-'));
  dataDir = path.join(tmp, 'chdb');
  client = await openClickHouse({ dataDir, ownerName: 'clickhouse.spec' });
});

afterAll(async () => {
  await client?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function scalar(query: string, params: Record<string, unknown> = {}): Promise<string> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' });
  const rows = await rs.json<Record<string, string>>();
  return Object.values(rows[0]!)[0]!;
}

describe("chDB's allocator", () => {
  it('openClickHouse set MALLOC_CONF for chDB before loading it (freed pages returned after ~1 s), none having been set', () => {
    // jest starts without MALLOC_CONF; beforeAll opened chDB, which loaded the library with these jemalloc options.
    expect(process.env.MALLOC_CONF).toBe(CHDB_MALLOC_CONF);
  });
});

describe('schema', () => {
  it('is idempotent (ensureSchema twice)', async () => {
    await ensureSchema(client, undefined, KEEP);
    await ensureSchema(client, undefined, KEEP);
    const rs = await client.query({ query: "SELECT name, engine FROM system.tables WHERE database = 'agentsight' ORDER BY name", format: 'JSONEachRow' });
    const tables = await rs.json<{ name: string; engine: string }>();
    expect(tables.map((t) => t.name)).toEqual([...TABLES, RETENTION_LOG, EXEC_COMMANDS, 'exec_commands_mv'].sort());
    const engines: Record<string, string> = { [RETENTION_LOG]: 'MergeTree', [EXEC_COMMANDS]: 'AggregatingMergeTree', exec_commands_mv: 'MaterializedView' };
    for (const t of tables) expect(t.engine).toBe(engines[t.name] ?? 'ReplacingMergeTree');
  });
});

describe('schema migration of tables created by an older version', () => {
  it('ensureSchema adds the cost and usage-source columns; old rows read null / reported, new rows keep theirs', async () => {
    const db = 'agentsight_old';
    await client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    await client.command({ query: `CREATE DATABASE ${db}` });
    await client.command({ query: oldLlmCallsDdl(db) });
    const { cost_usd: _c, price_id: _p, usage_source: _s, usage_tokenizer: _t, ...oldRow } = llmCallRow(genaiEvent());
    await client.insert({ table: `${db}.llm_calls`, values: [oldRow], format: 'JSONEachRow' });

    expect(migrationStatements(db)).toEqual([
      expect.stringMatching(/^ALTER TABLE `agentsight_old`\.`llm_calls` ADD COLUMN IF NOT EXISTS `cost_usd` Nullable\(Float64\)/),
      expect.stringMatching(/^ALTER TABLE `agentsight_old`\.`llm_calls` ADD COLUMN IF NOT EXISTS `price_id` Nullable\(String\)/),
      expect.stringMatching(/^ALTER TABLE `agentsight_old`\.`llm_calls` ADD COLUMN IF NOT EXISTS `usage_source` LowCardinality\(String\) DEFAULT 'reported' .* AFTER `price_id`$/),
      expect.stringMatching(/^ALTER TABLE `agentsight_old`\.`llm_calls` ADD COLUMN IF NOT EXISTS `usage_tokenizer` Nullable\(String\) .* AFTER `usage_source`$/),
      expect.stringMatching(/ADD COLUMN IF NOT EXISTS `conversation_id` /),
      expect.stringMatching(/ADD COLUMN IF NOT EXISTS `agent_name` /),
      // Token breakdown (usage_detail), in CREATE order after agent_name.
      ...['input_system_tokens', 'input_user_tokens', 'input_assistant_tokens', 'input_tool_tokens', 'output_text_tokens', 'output_reasoning_tokens', 'output_tool_call_tokens']
        .map((c) => expect.stringMatching(new RegExp(`^ALTER TABLE \`agentsight_old\`\\.\`llm_calls\` ADD COLUMN IF NOT EXISTS \`${c}\` Nullable\\(UInt64\\) `))),
      expect.stringMatching(/ADD COLUMN IF NOT EXISTS `time_to_first_chunk_ms` Nullable\(Float64\) .* AFTER `output_tool_call_tokens`$/),
      // Network bytes of the resource samples (contract v2, issue 15).
      ...[['net_sent_bytes', 'fds'], ['net_recv_bytes', 'net_sent_bytes'], ['children_net_sent_bytes', 'net_recv_bytes'], ['children_net_recv_bytes', 'children_net_sent_bytes'],
        ['subtree_net_sent_bytes', 'subtree_rss_bytes'], ['subtree_net_recv_bytes', 'subtree_net_sent_bytes']]
        .map(([c, after]) => expect.stringMatching(new RegExp(`^ALTER TABLE \`agentsight_old\`\\.\`resource_samples\` ADD COLUMN IF NOT EXISTS \`${c}\` Nullable\\(UInt64\\) .* AFTER \`${after}\`$`))),
      expect.stringMatching(/ADD COLUMN IF NOT EXISTS `net_age_ms` Nullable\(UInt32\) .* AFTER `sampler_cpu_ns`$/),
    ]);
    await ensureSchema(client, db, KEEP);
    await ensureSchema(client, db, KEEP); // idempotent on a migrated table too
    const rs = await client.query({ query: `SELECT name, type FROM system.columns WHERE database = '${db}' AND table = 'llm_calls' AND name IN ('cost_usd', 'price_id') ORDER BY name`, format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ name: 'cost_usd', type: 'Nullable(Float64)' }, { name: 'price_id', type: 'Nullable(String)' }]);
    const us = await client.query({ query: `SELECT name, type, default_expression FROM system.columns WHERE database = '${db}' AND table = 'llm_calls' AND name LIKE 'usage_%' ORDER BY name`, format: 'JSONEachRow' });
    expect(await us.json()).toEqual([
      { name: 'usage_source', type: 'LowCardinality(String)', default_expression: "'reported'" },
      { name: 'usage_tokenizer', type: 'Nullable(String)', default_expression: '' },
    ]);

    const priced = genaiEvent({ id: 'genai-new', llm_call_id: 'call-new', start_ns: T0 + 1_000_000_000n, end_ns: T0 + 2_000_000_000n, cost_usd: 0.00033, cost: { breakdown: { input: 0.00004, cache_read: 0.00005, cache_write: 0, output: 0.00024, reasoning: 0 }, price_id: 'openai/gpt-4.1@2026-06-21' } });
    await client.insert({ table: `${db}.llm_calls`, values: [llmCallRow(priced)], format: 'JSONEachRow' });
    const calls = await listCalls(client, { database: db });
    expect(calls.map((c) => [c.call_id, c.cost_usd])).toEqual([['call-new', 0.00033], ['call-1', null]]);
    expect(calls.map((c) => [c.call_id, c.usage_source, c.usage_tokenizer])).toEqual([['call-new', 'reported', null], ['call-1', 'reported', null]]);
    expect(await scalar(`SELECT price_id FROM ${db}.llm_calls FINAL WHERE call_id = 'call-new'`)).toBe('openai/gpt-4.1@2026-06-21');
    expect(await scalar(`SELECT count() FROM ${db}.llm_calls FINAL WHERE price_id IS NULL AND cost_usd IS NULL`)).toBe('1');
    const sum = await tokenSummary(client, { period: 'month', now: Number(T0 / 1_000_000n) + 60_000, database: db });
    expect(sum.totals).toMatchObject({ calls: 2, cost_usd: 0.00033, unpriced_calls: 1 });
    // An estimated call (no usage reported by the provider) keeps its source and tokenizer.
    const estimated = genaiEvent({
      id: 'genai-est', llm_call_id: 'call-est', start_ns: T0 + 3_000_000_000n, end_ns: T0 + 4_000_000_000n, raw_usage: null,
      attrs: { 'gen_ai.usage.input_tokens': 16, 'gen_ai.usage.output_tokens': 290, [GenAiAttr.usageSource]: 'estimated', [GenAiAttr.usageTokenizer]: 'o200k_base' },
    });
    await client.insert({ table: `${db}.llm_calls`, values: [llmCallRow(estimated)], format: 'JSONEachRow' });
    expect((await listCalls(client, { database: db, limit: 1 }))[0]).toMatchObject({
      call_id: 'call-est', usage_source: 'estimated', usage_tokenizer: 'o200k_base', 'gen_ai.usage.input_tokens': 16, 'gen_ai.usage.output_tokens': 290, raw_usage: null,
    });
    expect(await scalar(`SELECT count() FROM ${db}.llm_calls FINAL WHERE usage_source = 'estimated'`)).toBe('1');
    // A streamed call's time to first chunk (seconds in the event, ms in the column); null for the others.
    const streamed = genaiEvent({ id: 'genai-ttfc', llm_call_id: 'call-ttfc', start_ns: T0 + 5_000_000_000n, end_ns: T0 + 6_000_000_000n, attrs: { [GenAiAttr.responseTimeToFirstChunk]: 0.25 } });
    await client.insert({ table: `${db}.llm_calls`, values: [llmCallRow(streamed)], format: 'JSONEachRow' });
    expect(await scalar(`SELECT arrayStringConcat(groupArray(concat(call_id, '=', ifNull(toString(time_to_first_chunk_ms), 'null'))), ',') FROM (SELECT call_id, time_to_first_chunk_ms FROM ${db}.llm_calls FINAL ORDER BY call_id)`))
      .toBe('call-1=null,call-est=null,call-new=null,call-ttfc=250');
  });
});

describe('data migration: reasoning included in output_tokens (issue 8)', () => {
  it('corrects Gemini and xAI rows of older versions once, leaves corrected and other rows alone', async () => {
    const db = 'agentsight_reasoning';
    await client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    await ensureSchema(client, db, KEEP);
    const gem = (id: string, out: number | undefined, raw: Record<string, number>) => genaiEvent({
      id: `genai-${id}`, llm_call_id: id, name: 'generate_content gemini-3-pro-preview',
      attrs: { 'gen_ai.operation.name': 'generate_content', 'gen_ai.provider.name': 'gcp.gemini', 'gen_ai.usage.output_tokens': out as number, 'gen_ai.usage.reasoning.output_tokens': raw.thoughtsTokenCount },
      raw_usage: raw,
    });
    const rows = [
      // Stored by an older version: output = candidatesTokenCount only.
      gem('gem-old', 23, { promptTokenCount: 9, candidatesTokenCount: 23, thoughtsTokenCount: 185 }),
      // Older version, a reply of thoughts only (Gemini omits candidatesTokenCount): output was null.
      gem('gem-thoughts', undefined, { promptTokenCount: 9, thoughtsTokenCount: 19 }),
      // Stored by this version: already 23 + 185.
      gem('gem-new', 208, { promptTokenCount: 9, candidatesTokenCount: 23, thoughtsTokenCount: 185 }),
      genaiEvent({
        id: 'genai-xai', llm_call_id: 'xai-old',
        attrs: { 'gen_ai.provider.name': 'x_ai', 'gen_ai.usage.output_tokens': 26, 'gen_ai.usage.reasoning.output_tokens': 227 },
        raw_usage: { prompt_tokens: 307, completion_tokens: 26, completion_tokens_details: { reasoning_tokens: 227 } },
      }),
      // OpenAI's completion_tokens always included reasoning: untouched.
      genaiEvent({ id: 'genai-oai', llm_call_id: 'oai', attrs: { 'gen_ai.usage.output_tokens': 30, 'gen_ai.usage.reasoning.output_tokens': 20 }, raw_usage: { completion_tokens: 30, completion_tokens_details: { reasoning_tokens: 20 } } }),
    ];
    await client.insert({ table: `${db}.llm_calls`, values: rows.map((r) => llmCallRow(r)), format: 'JSONEachRow' });
    const count = async () => Number(await scalar(reasoningOutputMigration(db).count));
    expect(await count()).toBe(3);
    await ensureSchema(client, db, KEEP);
    expect(await count()).toBe(0);
    await ensureSchema(client, db, KEEP); // idempotent: nothing left to correct, nothing corrected twice
    const calls = await listCalls(client, { database: db });
    const out = Object.fromEntries(calls.map((c) => [c.call_id, [c['gen_ai.usage.output_tokens'], c['gen_ai.usage.reasoning.output_tokens']]]));
    expect(out).toEqual({ 'gem-old': [208, 185], 'gem-thoughts': [19, 19], 'gem-new': [208, 185], 'xai-old': [253, 227], oai: [30, 20] });
    const attrs = await client.query({ query: `SELECT call_id, JSONExtract(attributes, 'gen_ai.usage.output_tokens', 'Nullable(UInt64)') AS o FROM ${db}.llm_calls FINAL ORDER BY call_id`, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
    expect(await attrs.json()).toEqual([
      { call_id: 'gem-new', o: 208 }, { call_id: 'gem-old', o: 208 }, { call_id: 'gem-thoughts', o: 19 }, { call_id: 'oai', o: 30 }, { call_id: 'xai-old', o: 253 },
    ]);
  });
});

describe('idempotent writes', () => {
  it('stores the same rows twice as one row each (FINAL)', async () => {
    const db = 'agentsight_dedup';
    await ensureSchema(client, db, KEEP);
    const rows = {
      llm_calls: llmCallRow(genaiEvent()),
      exchanges: exchangeRow(exchange()),
      audit_events: auditRow(audit()),
      dead_letters: deadLetterRow(deadLetter()),
      tool_uses: toolUseRow(toolUse()),
      genai_spans: genAiSpanRow(toolEvent()),
    };
    for (let i = 0; i < 2; i++) {
      for (const [table, row] of Object.entries(rows)) {
        await client.insert({ table: `${db}.${table}`, values: [row], format: 'JSONEachRow' });
      }
    }
    expect(await countRows(client, { database: db })).toEqual({ llm_calls: 1, exchanges: 1, audit_events: 1, dead_letters: 1, tool_uses: 1, genai_spans: 1, resource_samples: 0 });
    expect(await scalar(`SELECT count() FROM ${db}.llm_calls`)).toBe('2'); // without FINAL both copies may still be there
  });
});

describe('FINAL per partition (do_not_merge_across_partitions_select_final)', () => {
  const DAY = 86_400_000_000_000n;
  it('a dead letter made again on another day (a replay across midnight) is one dead letter everywhere it is read', async () => {
    const db = 'agentsight_dlq_days';
    await ensureSchema(client, db, KEEP);
    for (const ts_ns of [T0, T0 + DAY]) await client.insert({ table: `${db}.dead_letters`, values: [deadLetterRow(deadLetter({ ts_ns }))], format: 'JSONEachRow' });
    expect(await scalar(`SELECT uniqExact(_partition_id) FROM ${db}.dead_letters`)).toBe('2');
    expect((await countRows(client, { database: db })).dead_letters).toBe(1);
    expect((await listDeadLetters(client, { limit: 10, database: db })).map((d) => d.id)).toEqual(['dlq-1']);
    expect((await deadLetterGroups(client, db)).map((g) => g.count)).toEqual([1]);
    expect((await tableSizes(client, db)).find((t) => t.table === 'dead_letters')?.rows).toBe(1);
    const o = await overview(client, { fromNs: T0 - DAY, toNs: T0 + 2n * DAY }, { database: db });
    expect(o.kpis.dead_letters).toBe(1);
  });

  it('the overview counts a call, an exchange and an exec stored twice once, totals and top lists from one read', async () => {
    const db = 'agentsight_overview_dedup';
    await ensureSchema(client, db, KEEP);
    const exec = (id: string, argv: string[], ts_ns: bigint) => auditRow(audit({ id, type: 'process', action: 'exec', ts_ns, summary: `exec ${argv.join(' ')}`, details: { filename: `/usr/bin/${argv[0]}`, argv } }));
    for (let i = 0; i < 2; i++) {
      await client.insert({ table: `${db}.llm_calls`, values: [llmCallRow(genaiEvent()), llmCallRow(genaiEvent({ id: 'ev-2', llm_call_id: 'call-2', exchange_id: 'ex-2', attrs: { 'gen_ai.agent.name': 'codex' } }))], format: 'JSONEachRow' });
      await client.insert({ table: `${db}.audit_events`, values: [exec('x1', ['ls', '-la'], T0), exec('x2', ['ls'], T0 + 1n), exec('x3', ['git', 'status'], T0 + 2n)], format: 'JSONEachRow' });
    }
    const o = await overview(client, { fromNs: T0 - DAY, toNs: T0 + DAY }, { database: db });
    expect(o.kpis.llm_calls).toBe(2);
    expect(o.kpis.input_tokens).toBe(240);
    expect(o.kpis.processes_started).toBe(3);
    expect(o.top_commands).toEqual([{ name: 'ls', count: 2 }, { name: 'git', count: 1 }]);
    expect(o.top_models.map((m) => [m.name, m.count, m.tokens])).toEqual([['gpt-4.1-2025-04-14', 2, 300]]);
    expect(o.top_agents.map((a) => [a.name, a.count])).toEqual([['codex', 1], ['node', 1]]);
  });
});

describe('BatchWriter', () => {
  it('calls onStored only after the insert succeeded, retrying failures', async () => {
    const db = 'agentsight_writer';
    await client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    const errors: number[] = [];
    const writer = new BatchWriter(client, {
      database: db, retryInitialMs: 20, retryMaxMs: 40, maxAttempts: Infinity,
      onError: (_e, info) => errors.push(info.attempt),
    });
    const stored: string[] = [];
    for (const id of ['a', 'b', 'c']) writer.add('probe', { id, v: 1 }, () => stored.push(id));
    // The table does not exist yet: inserts fail and are retried; nothing may be acknowledged. (Waits for two
    // failed attempts rather than a fixed time: an insert into embedded chDB can take seconds on a loaded machine.)
    try {
      for (let i = 0; i < 1000 && errors.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(stored).toEqual([]);
      expect(errors.length).toBeGreaterThanOrEqual(2);
      expect(writer.pending).toBe(3);
    } finally {
      // Even when an assertion failed: let the retrying writer succeed, or its retries keep Jest from exiting.
      await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
      await client.command({ query: `CREATE TABLE IF NOT EXISTS ${db}.probe (id String, v UInt8) ENGINE = MergeTree ORDER BY id` });
    }
    await writer.flush();
    expect(stored.sort()).toEqual(['a', 'b', 'c']);
    expect(await scalar(`SELECT count() FROM ${db}.probe`)).toBe('3');
    await writer.close();
    expect(() => writer.add('probe', { id: 'd', v: 1 }, () => undefined)).toThrow(/closed/);
  });

  it('inserts at once when idle, gathers rows while busy, flushes at maxRows within the interval, and gives up after maxAttempts', async () => {
    const db = 'agentsight_writer';
    // The real client; only the row count of each insert is recorded.
    const inserts: number[] = [];
    const counting = Object.create(client) as typeof client;
    counting.insert = ((p: { values: unknown[] }) => (inserts.push(p.values.length), client.insert(p as never))) as unknown as typeof client.insert;
    const writer = new BatchWriter(counting, { database: db, maxRows: 3, minIntervalMs: 60_000, maxAttempts: 2, retryInitialMs: 10, onError: () => undefined });
    const stored: string[] = [];
    // Two rows in one turn of the event loop on an idle table: one insert at once (the interval is a minute, so
    // nothing else can have stored them).
    writer.add('probe', { id: 'd', v: 2 }, () => stored.push('d'));
    writer.add('probe', { id: 'e', v: 2 }, () => stored.push('e'));
    for (let i = 0; i < 1000 && stored.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(stored).toEqual(['d', 'e']);
    expect(inserts).toEqual([2]);
    // An insert started less than a minute ago: rows wait for the interval, unless maxRows is reached.
    writer.add('probe', { id: 'f', v: 2 }, () => stored.push('f'));
    writer.add('probe', { id: 'g', v: 2 }, () => stored.push('g'));
    await new Promise((r) => setTimeout(r, 20));
    writer.add('probe', { id: 'h', v: 2 }, () => stored.push('h'));
    for (let i = 0; i < 1000 && stored.length < 5; i++) await new Promise((r) => setTimeout(r, 10));
    expect(stored).toEqual(['d', 'e', 'f', 'g', 'h']);
    expect(inserts).toEqual([2, 3]);
    const failed: unknown[] = [];
    writer.add('no_such_table', { id: 'x' }, () => stored.push('x'), (err) => failed.push(err));
    await writer.flush();
    expect(failed).toHaveLength(1);
    expect(stored).not.toContain('x');
    await writer.close();
  });
});

describe('insertRows on chDB (raw insert of one Buffer)', () => {
  it('stores every row exactly (quotes, backslashes, newlines, non-ASCII) without making the batch one V8 string', async () => {
    const db = 'agentsight_raw_insert';
    await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
    await client.command({ query: `CREATE TABLE IF NOT EXISTS ${db}.t (id UInt32, body String, tags Array(String)) ENGINE = MergeTree ORDER BY id` });
    // 4,000 rows of ~4 KiB: a 16 MiB batch, two-byte text in V8 (the CJK character), one row per line.
    const body = (i: number) => `row ${i} "quoted" \\ back\nslash\n\t中文 é 😀 </script> `.repeat(80);
    const rows = Array.from({ length: 4000 }, (_, i) => ({ id: i, body: body(i), tags: ['a', `b${i}`] }));
    const expectedBytes = rows.reduce((n, r) => n + Buffer.byteLength(r.body), 0);
    const largeObjects = () => v8.getHeapSpaceStatistics().find((sp) => sp.space_name === 'large_object_space')!.space_used_size;
    const before = largeObjects();
    await insertRows(client, db, 't', rows);
    // client.insert joined the rows into one string (16+ MiB here, 32 MiB as two-byte) and flattened the SQL around it:
    // large objects V8 frees only in a full GC. The raw path writes each row's text into a Buffer (outside the heap).
    expect(largeObjects() - before).toBeLessThan(4 << 20);
    expect(await scalar(`SELECT count() FROM ${db}.t`)).toBe('4000');
    expect(await scalar(`SELECT sum(length(body)) FROM ${db}.t`)).toBe(String(expectedBytes));
    const rs = await client.query({ query: `SELECT id, body, tags FROM ${db}.t WHERE id IN (0, 3999) ORDER BY id`, format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ id: 0, body: body(0), tags: ['a', 'b0'] }, { id: 3999, body: body(3999), tags: ['a', 'b3999'] }]);
    await insertRows(client, db, 't', []); // nothing to insert: no error, nothing stored
    expect(await scalar(`SELECT count() FROM ${db}.t`)).toBe('4000');
    await expect(insertRows(client, db, 'no_such_table', [{ id: 1 }])).rejects.toThrow(/no_such_table|UNKNOWN_TABLE|doesn't exist/i);
    await client.command({ query: `DROP DATABASE ${db}` });
    // A name the raw insert does not take unquoted goes through client.insert, stored the same.
    await client.command({ query: 'CREATE DATABASE IF NOT EXISTS `agentsight-raw`' });
    await client.command({ query: 'CREATE TABLE IF NOT EXISTS `agentsight-raw`.t (id UInt32, body String) ENGINE = MergeTree ORDER BY id' });
    await insertRows(client, 'agentsight-raw', 't', [{ id: 1, body: body(1) }]);
    expect(await scalar('SELECT body FROM `agentsight-raw`.t')).toBe(body(1));
    await client.command({ query: 'DROP DATABASE `agentsight-raw`' });
  });
});

describe('exchanges: bodies round-trip byte-identical', () => {
  it('stores a 2 MiB binary body as base64 and a 2 MiB text body as text', async () => {
    const bin = randomBytes(2 << 20);
    bin[0] = 0xff; // never valid UTF-8
    // Random valid UTF-8 over many ranges: controls, quotes, backslashes, U+2028, BOM, astral chars …
    const pool = ['a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\r', '\t', '\u0000', '\u001f', '\u007f', 'é', 'ß', '\u2028', '\u2029', '\uFEFF', '中', '😀', '𝄞', '{', '}', '<', '&'];
    const parts: string[] = [];
    let len = 0;
    while (len < 2 << 20) {
      const s = pool[Math.floor(Math.random() * pool.length)]!;
      parts.push(s);
      len += Buffer.byteLength(s);
    }
    const text = new Uint8Array(Buffer.from(parts.join(''), 'utf8'));
    expect(redactBytes(text)).toBe(text); // nothing to redact: must be stored unchanged
    const ex = exchange({ id: 'ex-big' }, { body: bin }, { body: text });
    const writer = new BatchWriter(client);
    let ok = false;
    writer.add('exchanges', exchangeRow(ex), () => (ok = true));
    await writer.close();
    expect(ok).toBe(true);
    const got = await getExchange(client, 'ex-big');
    expect(got).not.toBeNull();
    expect(Buffer.from(got!.request_body).equals(bin)).toBe(true);
    expect(Buffer.from(got!.response_body).equals(Buffer.from(text))).toBe(true);
    expect(await scalar("SELECT request_body_encoding || '/' || response_body_encoding FROM agentsight.exchanges FINAL WHERE exchange_id = 'ex-big'")).toBe('base64/utf8');
    expect(got!.start_ns).toBe(T0);
    expect(got!.request_headers).toEqual([['Host', 'api.openai.com'], ['Content-Type', 'application/json']]);
  });
});

describe('redaction before storage', () => {
  const KEYS = {
    openai: 'sk-proj-Xq3vN8bT2LmP9wRz4YkJ7hFd1sGa6CeU0oVi5nBtQy_AbCdEfGhIjKlMnOp',
    anthropic: 'sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe9Dc8Ba7Zy6Xw5Vu4Ts3Rq2-AbCdEfAA',
    google: 'AIzaSyD3x9Kf8Lm2Qp7Rt5Vw1Yz4Bc6Ne0Hj8Ga',
    aws: 'AKIAIOSFODNN7EXAMPLE',
    opaque: 'Opaque9Secret8Value7XyZ',
    cookie: 'sessCookieVal123456',
  };

  it('never writes a planted key to any column', async () => {
    const db = 'agentsight_redact';
    await ensureSchema(client, db, KEEP);
    const enc = (s: string) => new TextEncoder().encode(s);
    const ex = exchange(
      { id: 'ex-secret', process: { pid: 1, ppid: 0, uid: 0, comm: 'python3', exe: '/usr/bin/python3', argv: ['python3', 'a.py', '--api-key', KEYS.opaque, `--openai=${KEYS.openai}`], start_ns: T0 } },
      {
        target: `/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=${KEYS.google}`,
        headers: [
          ['Host', 'generativelanguage.googleapis.com'],
          ['Authorization', `Bearer ${KEYS.openai}`],
          ['x-api-key', KEYS.anthropic],
          ['x-goog-api-key', KEYS.google],
          ['Cookie', `sid=${KEYS.cookie}`],
          ['X-Amz-Security-Token', KEYS.opaque],
        ],
        body: enc(JSON.stringify({ api_key: KEYS.opaque, contents: [{ parts: [{ text: `here is my key ${KEYS.anthropic} and ${KEYS.aws}` }] }] })),
      },
      {
        streaming: true,
        body: new Uint8Array(),
        headers: [['Set-Cookie', `sid=${KEYS.cookie}; HttpOnly`]],
        events: [{ event: 'message', data: JSON.stringify({ text: `echo ${KEYS.openai}`, token: KEYS.opaque }) }],
      },
    );
    const llm = genaiEvent({
      id: 'genai-secret', llm_call_id: 'call-secret', output_text: `Your key is ${KEYS.anthropic}`,
      tool_calls: [{ id: 't1', name: 'login', arguments: JSON.stringify({ password: KEYS.opaque, header: `Bearer ${KEYS.openai}` }) }],
    });
    const au = audit({ id: 'audit-secret', summary: `exec /usr/bin/curl -H "x-api-key: ${KEYS.anthropic}" -H "Authorization: Bearer ${KEYS.opaque}"`, details: { argv: ['curl', '-H', `Authorization: Bearer ${KEYS.openai}`], env: { OPENAI_API_KEY: KEYS.opaque } } });
    const dl = deadLetter({ id: 'dlq-secret', sample: enc(`POST /v1/messages?key=${KEYS.google} HTTP/1.1\r\nx-api-key: ${KEYS.opaque}\r\nCookie: ${KEYS.cookie}\r\n\r\n{"apiKey":"${KEYS.opaque}"}`), error: `bad header x-api-key: ${KEYS.opaque}` });

    const writer = new BatchWriter(client, { database: db });
    writer.add('exchanges', exchangeRow(ex), () => undefined);
    writer.add('llm_calls', llmCallRow(llm), () => undefined);
    writer.add('audit_events', auditRow(au), () => undefined);
    writer.add('dead_letters', deadLetterRow(dl), () => undefined);
    writer.add('tool_uses', toolUseRow(toolUse({ arguments: `{"command":"curl -H 'x-api-key: ${KEYS.anthropic}' https://x?key=${KEYS.google}"}`, result: `OPENAI_API_KEY=${KEYS.opaque} ${KEYS.openai} ${KEYS.aws} ${KEYS.cookie.length > 0 ? 'Cookie: sid=' + KEYS.cookie : ''}` })), () => undefined);
    writer.add('genai_spans', genAiSpanRow(toolEvent({ attributes: { 'gen_ai.tool.name': 'Bash', 'gen_ai.tool.call.arguments': `{"token":"${KEYS.opaque}","k":"${KEYS.anthropic} ${KEYS.openai} ${KEYS.google} ${KEYS.aws}"}`, 'gen_ai.tool.call.result': `Set-Cookie: sid=${KEYS.cookie}` } })), () => undefined);
    const proc = { pid: 7, ppid: 1, comm: KEYS.openai, start_ticks: 1, utime_ns: 0, stime_ns: 0, children_cpu_ns: 0, rss_bytes: 1, rss_peak_bytes: 1, threads: 1, read_bytes: 0, write_bytes: 0, rchar: 0, wchar: 0, fds: 1 };
    const tree = { procs: 1, cpu_ns: 0, rss_bytes: 1, threads: 1, read_bytes: 0, write_bytes: 0, fds: 1 };
    for (const r of resourceSampleRows({ v: 1, kind: 'resource_sample', id: 'rs-secret', host: 'h', boot_id: 'b', root_pid: 7, root_start_ticks: 1, root_comm: `key ${KEYS.anthropic}`, ts_boot_ns: 1n, ts_wall_ns: T0, interval_ms: 0, procs: [proc], tree, cgroup: null, not_captured: [], sampler_cpu_ns: 0 })) {
      writer.add('resource_samples', r, () => undefined);
    }
    await writer.close();
    expect(await countRows(client, { database: db })).toEqual({ llm_calls: 1, exchanges: 1, audit_events: 1, dead_letters: 1, tool_uses: 1, genai_spans: 1, resource_samples: 1 });

    for (const table of TABLES) {
      const rs = await client.query({ query: 'SELECT name FROM system.columns WHERE database = {db:String} AND table = {t:String}', query_params: { db, t: table }, format: 'JSONEachRow' });
      const cols = (await rs.json<{ name: string }>()).map((c) => c.name);
      // Every column as text, plus base64 columns decoded.
      const exprs = cols.map((c) => `toString(\`${c}\`)`);
      for (const c of cols) if (c.endsWith('base64') || c.endsWith('_body')) exprs.push(`toString(tryBase64Decode(toString(\`${c}\`)))`);
      const all = `arrayStringConcat([${exprs.join(', ')}], '\\n')`;
      expect(await scalar(`SELECT count() FROM ${db}.${table}`)).toBe('1');
      for (const [name, key] of Object.entries(KEYS)) {
        const hits = await scalar(`SELECT count() FROM ${db}.${table} WHERE positionCaseInsensitive(${all}, {k:String}) > 0`, { k: key });
        if (hits !== '0') throw new Error(`${name} key found in ${db}.${table}`);
      }
      // Sanity: the search expression does find text that is there.
      expect(await scalar(`SELECT count() FROM ${db}.${table} WHERE positionCaseInsensitive(${all}, '[REDACTED]') > 0`)).toBe('1');
    }
    const got = await getExchange(client, 'ex-secret', { database: db });
    expect(got!.target).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=[REDACTED]');
    expect(got!.request_headers).toContainEqual(['Authorization', 'Bearer [REDACTED]']);
    expect(got!.process_argv).toEqual(['python3', 'a.py', '--api-key', '[REDACTED]', '--openai=[REDACTED]']);
    expect(Buffer.from(got!.response_body).toString()).toBe(`event: message\ndata: {"text":"echo [REDACTED]","token":"[REDACTED]"}\n\n`);
  });
});

describe('queries', () => {
  const db = 'agentsight_q';

  beforeAll(async () => {
    await ensureSchema(client, db, KEEP);
    const writer = new BatchWriter(client, { database: db });
    writer.add('llm_calls', llmCallRow(genaiEvent()), () => undefined);
    writer.add('llm_calls', llmCallRow(genaiEvent({
      id: 'genai-2', llm_call_id: 'call-2', pid: 7, process_name: 'python3', start_ns: T0 + 60_000_000_000n, end_ns: T0 + 62_000_000_000n,
      attrs: {
        'gen_ai.provider.name': 'anthropic', 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'claude-haiku-4-5',
        'gen_ai.response.model': 'claude-haiku-4-5-20251001', 'gen_ai.response.id': 'msg_1', 'gen_ai.response.finish_reasons': ['end_turn'],
        'gen_ai.usage.input_tokens': 10, 'gen_ai.usage.output_tokens': 222, 'gen_ai.usage.cache_read.input_tokens': 0,
        'gen_ai.usage.cache_creation.input_tokens': 5, 'server.address': 'api.anthropic.com', 'http.response.status_code': 529, 'error.type': 'overloaded_error',
      },
      tool_calls: [], raw_usage: null,
    })), () => undefined);
    writer.add('audit_events', auditRow(audit()), () => undefined);
    writer.add('audit_events', auditRow(audit({ id: 'audit-2', type: 'llm', action: 'llm_call', pid: 7, ts_ns: T0 + 1n, summary: 'anthropic claude-haiku-4-5 in=10 out=222', details: { model: 'claude-haiku-4-5' } })), () => undefined);
    writer.add('dead_letters', deadLetterRow(deadLetter()), () => undefined);
    await writer.close();
  });

  it('listCalls returns the `agentsight calls --json` shape, newest first', async () => {
    const calls = await listCalls(client, { limit: 10, database: db });
    expect(calls.map((c) => c.call_id)).toEqual(['call-2', 'call-1']);
    expect(calls[1]).toEqual({
      call_id: 'call-1',
      start_time: '2024-05-01T12:00:00.123Z',
      duration_ms: 1234.5,
      pid: 4242,
      process_name: 'node',
      'server.address': 'api.openai.com',
      'http.response.status_code': 200,
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4.1',
      'gen_ai.response.model': 'gpt-4.1-2025-04-14',
      'gen_ai.response.id': 'chatcmpl-abc',
      'gen_ai.response.finish_reasons': ['tool_calls'],
      'gen_ai.response.time_to_first_chunk': null,
      'gen_ai.usage.input_tokens': 120,
      'gen_ai.usage.output_tokens': 30,
      'gen_ai.usage.cache_read.input_tokens': 100,
      'gen_ai.usage.cache_creation.input_tokens': null,
      'gen_ai.usage.reasoning.output_tokens': null,
      tool_calls: [
        { name: 'get_weather', arguments: { city: 'Paris', unit: 'c' } },
        { name: 'broken', arguments: '{"city": "Par' },
      ],
      raw_usage: { prompt_tokens: 120, completion_tokens: 30, prompt_tokens_details: { cached_tokens: 100 } },
      'error.type': null,
      output_text: 'Let me check.',
      cost_usd: null,
      usage_source: 'reported',
      usage_tokenizer: null,
      usage_detail: null,
    });
    expect(calls[0]).toMatchObject({ 'http.response.status_code': 529, 'error.type': 'overloaded_error', tool_calls: [], raw_usage: null, 'gen_ai.usage.cache_creation.input_tokens': 5 });
    expect((await listCalls(client, { limit: 10, pid: 7, database: db })).map((c) => c.call_id)).toEqual(['call-2']);
    expect((await listCalls(client, { limit: 10, since: new Date('2024-05-01T12:00:30Z'), database: db })).map((c) => c.call_id)).toEqual(['call-2']);
    expect(await listCalls(client, { limit: 1, database: db })).toHaveLength(1);
  });

  describe('tokenSummary', () => {
    const tdb = 'agentsight_tokens';
    const now = new Date(2024, 4, 15, 12, 0, 0).getTime(); // local noon, Wednesday
    const H = 3_600_000;
    const D = 24 * H;

    beforeAll(async () => {
      await ensureSchema(client, tdb, KEEP);
      const at = (msAgo: number) => BigInt(now - msAgo) * 1_000_000n;
      const mk = (i: number, msAgo: number, provider: string, model: string, inp: number, out: number, cr: number | undefined, cc: number | undefined, cost: number | null, process_name = 'node') =>
        llmCallRow(genaiEvent({
          id: `g${i}`, llm_call_id: `c${i}`, start_ns: at(msAgo), end_ns: at(msAgo) + 1n, process_name,
          attrs: {
            'gen_ai.provider.name': provider, 'gen_ai.response.model': model, 'gen_ai.usage.input_tokens': inp, 'gen_ai.usage.output_tokens': out,
            ...(cr === undefined ? { 'gen_ai.usage.cache_read.input_tokens': undefined as never } : { 'gen_ai.usage.cache_read.input_tokens': cr }),
            ...(cc === undefined ? {} : { 'gen_ai.usage.cache_creation.input_tokens': cc }),
          },
          cost_usd: cost,
          cost: cost === null ? null : { breakdown: { input: cost, cache_read: 0, cache_write: 0, output: 0, reasoning: 0 }, price_id: `test/${model}@2024-01-01` },
        }));
      const rows = [
        mk(1, 1 * H, 'openai', 'gpt-4.1', 100, 10, 50, undefined, 0.001),
        mk(2, 2 * H, 'openai', 'gpt-4.1', 200, 20, undefined, undefined, null), // unpriced
        mk(3, 3 * H, 'anthropic', 'claude-haiku-4-5', 1000, 5, 0, 300, 0.002, 'python3'),
        mk(7, 25 * H, 'openai', 'gpt-4.1', 50, 5, 0, undefined, 0.004), // yesterday 11:00
        mk(4, 3 * D, 'openai', 'gpt-4.1', 1, 1, 1, undefined, 0.0005), // this week
        mk(8, 10 * D, 'anthropic', 'claude-haiku-4-5', 10, 10, 0, 0, null), // last week, unpriced
        mk(5, 20 * D, 'openai', 'gpt-4.1', 7, 7, 7, undefined, 0.0001), // this month
        mk(6, 40 * D, 'openai', 'gpt-4.1', 9999, 9999, 9999, undefined, 1), // last month
      ];
      await client.insert({ table: `${tdb}.llm_calls`, values: [...rows, rows[0]!], format: 'JSONEachRow' });
    });

    it('today, per provider/model: tokens, cost of the priced calls and unpriced calls', async () => {
      const s = await tokenSummary(client, { period: 'today', now, database: tdb });
      expect(s).toMatchObject({ period: 'today', group_by: 'model', from: new Date(2024, 4, 15).toISOString(), to: new Date(now).toISOString() });
      expect(s.rows).toEqual([
        { provider: 'anthropic', model: 'claude-haiku-4-5', process_name: null, calls: 1, input_tokens: 1000, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 300, reasoning_output_tokens: 0, cost_usd: 0.002, unpriced_calls: 0 },
        { provider: 'openai', model: 'gpt-4.1', process_name: null, calls: 2, input_tokens: 300, output_tokens: 30, cache_read_input_tokens: 50, cache_creation_input_tokens: 0, reasoning_output_tokens: 0, cost_usd: 0.001, unpriced_calls: 1 },
      ]);
      expect(s.totals).toEqual({ calls: 3, input_tokens: 1300, output_tokens: 35, cache_read_input_tokens: 50, cache_creation_input_tokens: 300, reasoning_output_tokens: 0, cost_usd: 0.003, unpriced_calls: 1 });
      expect(s.previous).toBeUndefined();
      expect(s.change).toBeUndefined();
    });

    it('periods: yesterday, week, last_week (all unpriced → null, not $0), month, last_month', async () => {
      const t = async (period: Parameters<typeof tokenSummary>[1]['period']) => (await tokenSummary(client, { period, now, database: tdb })).totals;
      expect(await t('yesterday')).toMatchObject({ calls: 1, input_tokens: 50, output_tokens: 5, cost_usd: 0.004, unpriced_calls: 0 });
      expect(await t('week')).toMatchObject({ calls: 5, input_tokens: 1351, output_tokens: 41, cache_read_input_tokens: 51, cost_usd: 0.0075, unpriced_calls: 1 });
      expect(await t('last_week')).toMatchObject({ calls: 1, input_tokens: 10, cost_usd: null, unpriced_calls: 1 });
      expect(await t('month')).toMatchObject({ calls: 7, input_tokens: 1368, output_tokens: 58, cost_usd: 0.0076, unpriced_calls: 2 });
      expect(await t('last_month')).toMatchObject({ calls: 1, input_tokens: 9999, cost_usd: 1, unpriced_calls: 0 });
      // No calls at all: $0 is a fact then, not a guess.
      expect(await tokenSummary(client, { period: 'today', now: now + 400 * D, database: tdb })).toMatchObject({ rows: [], totals: { calls: 0, cost_usd: 0, unpriced_calls: 0 } });
    });

    it('group by provider and by process', async () => {
      const byProvider = await tokenSummary(client, { period: 'today', groupBy: 'provider', now, database: tdb });
      expect(byProvider.rows.map((r) => [r.provider, r.model, r.process_name, r.calls, r.cost_usd])).toEqual([['anthropic', null, null, 1, 0.002], ['openai', null, null, 2, 0.001]]);
      const byProcess = await tokenSummary(client, { period: 'week', groupBy: 'process', now, database: tdb });
      expect(byProcess.rows.map((r) => [r.process_name, r.provider, r.calls, r.input_tokens, r.cost_usd, r.unpriced_calls])).toEqual([
        ['python3', null, 1, 1000, 0.002, 0],
        ['node', null, 4, 351, 0.0055, 1],
      ]);
      expect(byProcess.group_by).toBe('process');
    });

    it('compare: previous period totals and the change', async () => {
      // today (00:00–12:00) vs yesterday 00:00–12:00 (same time of day): only call 7.
      const s = await tokenSummary(client, { period: 'today', compare: true, now, database: tdb });
      expect(s.previous).toEqual({
        from: new Date(2024, 4, 14).toISOString(), to: new Date(2024, 4, 14, 12).toISOString(),
        totals: { calls: 1, input_tokens: 50, output_tokens: 5, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, reasoning_output_tokens: 0, cost_usd: 0.004, unpriced_calls: 0 },
      });
      // cost 0.003 vs 0.004 → −0.001 (−25 %); tokens 1 335 vs 55 → +2 327.3 %
      expect(s.change).toEqual({ calls: 2, input_tokens: 1250, output_tokens: 30, cost_usd: -0.001, cost_usd_pct: -25, tokens_pct: 2327.3 });
      // week vs last_week: last week is entirely unpriced, so the cost change is unknown.
      const w = await tokenSummary(client, { period: 'week', compare: true, now, database: tdb });
      expect(w.previous?.totals).toMatchObject({ calls: 1, cost_usd: null });
      expect(w.change).toMatchObject({ calls: 4, cost_usd: null, cost_usd_pct: null });
      // month vs last_month
      const m = await tokenSummary(client, { period: 'month', compare: true, now, database: tdb });
      expect(m.change).toMatchObject({ calls: 6, cost_usd: -0.9924, cost_usd_pct: -99.2 });
    });
  });

  it('listAudit and listDeadLetters', async () => {
    const all = await listAudit(client, { limit: 10, database: db });
    expect(all.map((a) => a.id)).toEqual(['audit-2', 'audit-1']);
    expect(all[1]).toMatchObject({ type: 'process', action: 'exec', ts: '2024-05-01T12:00:00.123Z', pid: 4242, ppid: 1, details: { duration_ns: '12345678901234567890' } });
    expect((await listAudit(client, { type: 'llm', limit: 10, database: db })).map((a) => a.id)).toEqual(['audit-2']);
    expect((await listAudit(client, { pid: 4242, limit: 10, database: db })).map((a) => a.id)).toEqual(['audit-1']);
    const dl = await listDeadLetters(client, { limit: 10, database: db });
    expect(dl).toEqual([{
      id: 'dlq-1', stage: 'parser', host: 'devbox', reason: 'http_parse_error', error: 'bad request line', input_subject: 'agentsight.raw.ssl.devbox.3',
      input_seq: 77, input_id: 'raw-77', conn_key: 'devbox/boot/1/4242/0x1', sample_base64: Buffer.from('GARBAGE / HTTP/1.1\r\n').toString('base64'),
      ts: '2024-05-01T12:00:00.123Z',
    }]);
    expect(await getExchange(client, 'nope', { database: db })).toBeNull();
  });
});

describe('audit: since filter and auditSummary', () => {
  const adb = 'agentsight_audit';
  const S = 1_000_000_000n;
  /** ISO (ms) of T0 + `sec` seconds: T0 is …:00.123456789, so this is ≤ the record's ns time (at or after includes it). */
  const iso = (sec: number) => new Date(Number(T0 / 1_000_000n) + sec * 1000).toISOString();
  const exec = (id: string, sec: number, pid: number, argv: string[], filename: string) =>
    auditRow(audit({ id, pid, ts_ns: T0 + BigInt(sec) * S, summary: `exec ${filename}`, details: { event: 'exec', filename, argv } }));
  const connect = (id: string, sec: number, target: string, result: number, errno: string | null) =>
    auditRow(audit({ id, type: 'net', action: 'connect', pid: 100, ts_ns: T0 + BigInt(sec) * S, summary: `connect ${target}`, details: { target, result, errno } }));
  const call = (i: number, sec: number, pid: number, provider: string, inp: number, out: number, cost: number | null) =>
    llmCallRow(genaiEvent({
      id: `ag${i}`, llm_call_id: `ac${i}`, pid, start_ns: T0 + BigInt(sec) * S, end_ns: T0 + BigInt(sec) * S + 1n,
      attrs: { 'gen_ai.provider.name': provider, 'gen_ai.usage.input_tokens': inp, 'gen_ai.usage.output_tokens': out },
      cost_usd: cost,
      cost: cost === null ? null : { breakdown: { input: cost, cache_read: 0, cache_write: 0, output: 0, reasoning: 0 }, price_id: 'test/x@2024-01-01' },
    }));

  beforeAll(async () => {
    await ensureSchema(client, adb, KEEP);
    const a1 = exec('a1', 0, 100, ['/usr/bin/git', 'status'], '/usr/bin/git');
    const auditRows = [
      exec('old', -3600, 100, ['curl', 'x'], '/usr/bin/curl'), // before the window
      a1, a1, // stored twice: counted once (FINAL)
      exec('a2', 10, 100, ['git', 'log'], '/usr/bin/git'),
      exec('a3', 20, 100, [], '/bin/ls'), // no argv: basename of filename
      exec('a4', 30, 200, ['python3', 'x.py'], '/usr/bin/python3.12'),
      auditRow(audit({ id: 'a5', action: 'exit', pid: 100, ts_ns: T0 + 40n * S, summary: 'exit 0 after 1.0 ms', details: { event: 'exit', filename: '', argv: [] } })),
      connect('a6', 50, '1.2.3.4:443', 0, null),
      connect('a7', 60, '1.2.3.4:443', -111, 'ECONNREFUSED'),
      connect('a8', 61, '[::1]:80', -115, 'EINPROGRESS'), // in progress: not a failure
      auditRow(audit({ id: 'a9', type: 'file', action: 'open', pid: 100, ts_ns: T0 + 70n * S, summary: 'open /etc/hosts O_RDONLY → fd 3', details: { path: '/etc/hosts' } })),
      auditRow(audit({ id: 'a10', type: 'llm', action: 'llm_call', pid: 100, ts_ns: T0 + 80n * S, summary: 'openai gpt-4.1', details: {} })),
    ];
    const c1 = call(1, 5, 100, 'openai', 100, 10, 0.001);
    const callRows = [
      call(5, -3600, 100, 'openai', 9999, 9999, 1), // before the window
      c1, c1,
      call(3, 7, 100, 'anthropic', 1000, 5, 0.002),
      call(4, 8, 200, 'anthropic', 50, 5, 0.5),
      call(2, 9, 100, 'openai', 200, 20, null), // unpriced
    ];
    await client.insert({ table: `${adb}.audit_events`, values: auditRows, format: 'JSONEachRow' });
    await client.insert({ table: `${adb}.llm_calls`, values: callRows, format: 'JSONEachRow' });
  });

  it('listAudit since: ISO (at or after, inclusive) and relative', async () => {
    const ids = async (since: string) => (await listAudit(client, { since, limit: 100, database: adb })).map((a) => a.id);
    expect(await ids(iso(50))).toEqual(['a10', 'a9', 'a8', 'a7', 'a6']);
    expect(await ids(iso(0))).toHaveLength(10);
    expect(await ids('1h')).toEqual([]); // the fixtures are from 2024
    expect((await listAudit(client, { since: '', limit: 100, database: adb })).map((a) => a.id)).toContain('old');
    await expect(listAudit(client, { since: 'yesterday-ish', database: adb })).rejects.toThrow(/not a time/);
  });

  it('summary over a window: counts per type/action, top commands and connects, providers, tokens and cost', async () => {
    const s = await auditSummary(client, { since: iso(0), database: adb });
    expect(s).toEqual({
      filters: { pid: null, type: null, since: '2024-05-01T12:00:00.123Z' },
      total: 10,
      by_type: [{ type: 'process', count: 5 }, { type: 'net', count: 3 }, { type: 'file', count: 1 }, { type: 'llm', count: 1 }],
      by_action: [
        { type: 'process', action: 'exec', count: 4 }, { type: 'net', action: 'connect', count: 3 },
        { type: 'file', action: 'open', count: 1 }, { type: 'llm', action: 'llm_call', count: 1 }, { type: 'process', action: 'exit', count: 1 },
      ],
      top_commands: [{ command: 'git', count: 2 }, { command: 'ls', count: 1 }, { command: 'python3', count: 1 }],
      top_connects: [{ target: '1.2.3.4:443', count: 2, failed: 1 }, { target: '[::1]:80', count: 1, failed: 0 }],
      providers: [{ provider: 'anthropic', calls: 2 }, { provider: 'openai', calls: 2 }],
      llm: { calls: 4, input_tokens: 1350, output_tokens: 40, cost_usd: 0.503, priced_calls: 3, unpriced_calls: 1 },
    });
  });

  it('summary filtered by pid (no since), by type, and top', async () => {
    const p = await auditSummary(client, { pid: 100, database: adb });
    expect(p.total).toBe(10);
    expect(p.top_commands).toEqual([{ command: 'git', count: 2 }, { command: 'curl', count: 1 }, { command: 'ls', count: 1 }]);
    expect(p.providers).toEqual([{ provider: 'openai', calls: 3 }, { provider: 'anthropic', calls: 1 }]);
    expect(p.llm).toEqual({ calls: 4, input_tokens: 11_299, output_tokens: 10_034, cost_usd: 1.003, priced_calls: 3, unpriced_calls: 1 });

    const n = await auditSummary(client, { type: 'net', since: iso(0), top: 1, database: adb });
    expect(n).toMatchObject({ filters: { type: 'net' }, total: 3, by_type: [{ type: 'net', count: 3 }], top_commands: [], top_connects: [{ target: '1.2.3.4:443', count: 2, failed: 1 }] });
    expect(n.llm.calls).toBe(4); // the LLM section is filtered by pid/since only
  });

  it('summary cost: null when every call in the window is unpriced, 0 with no calls; relative since', async () => {
    const u = await auditSummary(client, { since: new Date(Number(T0 / 1_000_000n) + 8_500).toISOString(), database: adb });
    expect(u.llm).toEqual({ calls: 1, input_tokens: 200, output_tokens: 20, cost_usd: null, priced_calls: 0, unpriced_calls: 1 });
    const now = Number(T0 / 1_000_000n) + 60_000; // relative to T0 + 60 s
    const r = await auditSummary(client, { since: '15s', now, database: adb });
    expect(r.filters.since).toBe('2024-05-01T12:00:45.123Z');
    expect(r.total).toBe(5);
    expect(r.llm).toEqual({ calls: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0, priced_calls: 0, unpriced_calls: 0 });
    expect(r.providers).toEqual([]);
    await expect(auditSummary(client, { since: 'soon', database: adb })).rejects.toThrow(/not a time/);
  });
});

describe('locked data directory', () => {
  it('a second process gets a clear error naming the owner', async () => {
    expect(readOwnerPid(dataDir)).toMatchObject({ pid: process.pid, name: 'clickhouse.spec', alive: true });
    // The child runs the real client.ts, transpiled to JS (it needs only @clickhouse/client and chdb at run time).
    const src = fs.readFileSync(path.join(__dirname, 'client.ts'), 'utf8');
    const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
    fs.writeFileSync(path.join(tmp, 'client.js'), js);
    const child = `
      const { openClickHouse } = require(${JSON.stringify(path.join(tmp, 'client.js'))});
      openClickHouse({ dataDir: process.argv[1] }).then(
        async (c) => { console.log(JSON.stringify({ ok: true })); await c.close(); },
        (e) => console.log(JSON.stringify({ ok: false, name: e.name, code: e.code, ownerPid: e.ownerPid, message: e.message })));`;
    const repoNodeModules = path.resolve(__dirname, '../../../node_modules');
    const { stdout } = await run(process.execPath, ['-e', child, dataDir], { env: { ...process.env, NODE_PATH: repoNodeModules }, timeout: 60_000 });
    const res = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(res).toMatchObject({ ok: false, name: 'ChdbLockedError', code: 'CHDB_LOCKED', ownerPid: process.pid });
    expect(res.message).toContain(dataDir);
    expect(res.message).toContain(`process ${process.pid} (clickhouse.spec)`);
    expect(res.message).toMatch(/Code 76/);
    // Our own client still works.
    expect(Number(await scalar('SELECT 1'))).toBe(1);
  });
});

describe('token breakdown by role and type (usage_detail columns, tokenSummary detail, listCalls)', () => {
  const ddb = 'agentsight_detail';
  const now = new Date(2024, 4, 15, 12, 0, 0).getTime();
  /** The hand-computed call of the analyzer's usage-detail.spec.ts (input 50, output 20 with 3 reasoning). */
  const hand = { input: { system: 11, user: 12, assistant: 17, tool: 10 }, output: { text: 6, reasoning: 3, tool_calls: 11 }, tokenizer: 'o200k_base' };
  const text = { input: { system: 0, user: 16, assistant: 0, tool: 0 }, output: { text: 300, reasoning: 0, tool_calls: 0 }, tokenizer: 'o200k_base' };

  beforeAll(async () => {
    await ensureSchema(client, ddb, KEEP);
    const mk = (i: number, model: string, provider: string, inp: number, out: number, usage_detail: typeof hand | null) =>
      llmCallRow(genaiEvent({
        id: `dg${i}`, llm_call_id: `dc${i}`, start_ns: BigInt(now - i * 60_000) * 1_000_000n, end_ns: BigInt(now - i * 60_000) * 1_000_000n + 1n,
        attrs: { 'gen_ai.provider.name': provider, 'gen_ai.response.model': model, 'gen_ai.usage.input_tokens': inp, 'gen_ai.usage.output_tokens': out },
        ...(usage_detail ? { usage_detail } : {}),
      }));
    await client.insert({ table: `${ddb}.llm_calls`, values: [mk(1, 'gpt-4o', 'openai', 50, 20, hand), mk(2, 'gpt-4o', 'openai', 16, 300, text), mk(3, 'claude-haiku-4-5', 'anthropic', 12, 30, null)], format: 'JSONEachRow' });
  });

  it('sums the breakdown per group and in the totals; calls without one are counted apart', async () => {
    const s = await tokenSummary(client, { period: 'today', now: now + 1000, database: ddb, detail: true });
    const none = { input: { system: 0, user: 0, assistant: 0, tool: 0 }, output: { text: 0, reasoning: 0, tool_calls: 0 }, input_calls: 0, output_calls: 0 };
    // gpt-4o: input 11+0, 12+16, 17+0, 10+0 = 11/28/17/10 (= 50 + 16 input tokens); output 6+300, 3+0, 11+0 = 306/3/11 (= 20 + 300).
    expect(s.rows.map((r) => [r.model, r.input_tokens, r.output_tokens, r.detail])).toEqual([
      ['gpt-4o', 66, 320, { input: { system: 11, user: 28, assistant: 17, tool: 10 }, output: { text: 306, reasoning: 3, tool_calls: 11 }, input_calls: 2, output_calls: 2 }],
      ['claude-haiku-4-5', 12, 30, none],
    ]);
    expect(s.totals.detail).toEqual({ input: { system: 11, user: 28, assistant: 17, tool: 10 }, output: { text: 306, reasoning: 3, tool_calls: 11 }, input_calls: 2, output_calls: 2 });
    // Without `detail`, nothing changes in the summary's shape.
    const plain = await tokenSummary(client, { period: 'today', now: now + 1000, database: ddb });
    expect(plain.totals.detail).toBeUndefined();
    expect(plain.rows.every((r) => r.detail === undefined)).toBe(true);
  });

  it('listCalls returns each call\'s breakdown (null when it has none)', async () => {
    const calls = await listCalls(client, { database: ddb });
    expect(calls.map((c) => [c.call_id, c.usage_detail])).toEqual([
      ['dc1', { input: hand.input, output: hand.output }],
      ['dc2', { input: text.input, output: text.output }],
      ['dc3', null],
    ]);
  });
});


describe('versioned records: tool uses, execute_tool / invoke_agent spans, tool audit records', () => {
  it('keeps the highest version whatever the insert order; calls stay LLM calls only', async () => {
    const db = 'agentsight_versions';
    await ensureSchema(client, db, KEEP);
    const ins = (table: string, row: Record<string, unknown>) => client.insert({ table: `${db}.${table}`, values: [row], format: 'JSONEachRow' });
    // The complete record first, then the older versions (a result-only v2, a request-only v1).
    await ins('tool_uses', toolUseRow(toolUse()));
    await ins('tool_uses', toolUseRow(toolUse({ version: 1, result: null, success: null, end_ns: null, result_llm_call_id: null })));
    await ins('tool_uses', toolUseRow(toolUse({ version: 2, start_ns: null, origin_llm_call_id: null })));
    const tools = await listToolUses(client, { database: db });
    expect(tools).toHaveLength(1);
    expect(tools[0]).toMatchObject({
      id: 'tool-1', version: 3, name: 'Bash', result: 'total 0', success: true, duration_ms: 1500, origin_llm_call_id: 'call-1',
      start_ns: T0.toString(), end_ns: (T0 + 1_500_000_000n).toString(), start_time: '2024-05-01T12:00:00.123Z', conversation_id: 'conv-1', agent_name: 'claude-code',
    });
    expect(await listToolUses(client, { database: db, pid: 1 })).toEqual([]);
    expect(await listToolUses(client, { database: db, conversation: 'conv-1' })).toHaveLength(1);

    await ins('genai_spans', genAiSpanRow(agentEvent()));
    await ins('genai_spans', genAiSpanRow(agentEvent({ version: 2, llm_calls: 1, tool_uses: 0, cost_usd: null })));
    await ins('genai_spans', genAiSpanRow(toolEvent({ version: 2, start_ns: null })));
    await ins('genai_spans', genAiSpanRow(toolEvent()));
    const sessions = await listGenAiSpans(client, { database: db, kind: 'invoke_agent' });
    expect(sessions).toEqual([expect.objectContaining({ id: 'span-agent-1', version: 4, llm_calls: 2, tool_uses: 1, cost_usd: 0.0042, duration_ms: 9000, agent_name: 'claude-code' })]);
    const toolSpans = await listGenAiSpans(client, { database: db, kind: 'execute_tool' });
    expect(toolSpans).toEqual([expect.objectContaining({ id: 'span-tool-1', version: 3, tool_name: 'Bash', tool_use_id: 'tool-1', success: true, duration_ms: 1500 })]);
    expect(() => genAiSpanRow(genaiEvent() as never)).toThrow(/not a span event/);

    const toolAudit = (version: number, summary: string) => audit({ id: 'audit-tool-1', type: 'tool', action: 'execute_tool', summary, details: { tool_use_id: 'tool-1', version } });
    await ins('audit_events', auditRow(toolAudit(3, 'tool Bash {} → ok')));
    await ins('audit_events', auditRow(toolAudit(1, 'tool Bash {} → pending')));
    // A result-only version stamped with the tool's end: another ts, so another row of the table (host, ts, id).
    await ins('audit_events', auditRow({ ...toolAudit(2, 'tool Bash {} → returned'), ts_ns: T0 + 1_500_000_000n }));
    const a = await listAudit(client, { database: db, type: 'tool' });
    expect(a.map((x) => [x.summary, x.details.version])).toEqual([['tool Bash {} → ok', 3]]);
    expect((await auditSummary(client, { database: db, type: 'tool' })).by_type).toEqual([{ type: 'tool', count: 1 }]);
    // Non-versioned audit rows leave ingested_at to the server.
    expect(auditRow(audit()).ingested_at).toBeUndefined();

    // An inference event's session columns.
    await ins('llm_calls', llmCallRow(genaiEvent({ conversation_id: 'conv-1', attrs: { 'gen_ai.agent.name': 'claude-code' } })));
    expect(await scalar(`SELECT concat(conversation_id, '/', agent_name) FROM ${db}.llm_calls FINAL`)).toBe('conv-1/claude-code');
    expect(await listCalls(client, { database: db })).toHaveLength(1);
  });
});

describe('exec_commands: hourly exec id sets behind the overview\'s top commands', () => {
  const H = 3_600_000_000_000n;
  const exec = (i: number, ts_ns: bigint) => {
    const argv = [['ls', 'git', 'node'][i % 3], '-x'];
    return auditRow(audit({ id: `e${i}`, ts_ns, summary: `exec ${argv.join(' ')}`, details: i % 4 === 0 ? { filename: `/usr/bin/${argv[0]}` } : { filename: '/bin/x', argv } }));
  };
  /** The top commands as counted from the raw rows (the query the overview ran before exec_commands). */
  const raw = async (db: string, fromNs: bigint, toNs: bigint) => {
    const rs = await client.query({
      query: `SELECT name, count FROM (SELECT replaceRegexpOne(if(JSONExtractString(details, 'argv', 1) != '', JSONExtractString(details, 'argv', 1), JSONExtractString(details, 'filename')), '^.*/', '') AS name, uniqExact(id) AS count
        FROM ${db}.audit_events WHERE type = 'process' AND action = 'exec' AND ts >= fromUnixTimestamp64Nano({f:Int64}, 'UTC') AND ts < fromUnixTimestamp64Nano({t:Int64}, 'UTC') GROUP BY name) ORDER BY count DESC, name`,
      query_params: { f: fromNs.toString(), t: toNs.toString() }, format: 'JSONEachRow',
    });
    return (await rs.json<{ name: string; count: string }>()).map((r) => ({ name: r.name, count: Number(r.count) }));
  };
  // Execs every 7 minutes over 30 hours from an hour boundary, each stored twice (a replay).
  const base = (T0 / H) * H;
  const rows = Array.from({ length: (30 * 60) / 7 }, (_, i) => exec(i, base + BigInt(i) * 7n * 60_000_000_000n + 123n));
  const ranges: Array<[bigint, bigint]> = [
    [base, base + 30n * H], [base + 17n, base + 29n * H - 5n], [base + H / 2n, base + H - 1n], [base + 5n * H + 1n, base + 7n * H], [base - H, base + 100n * H],
  ];
  const check = async (db: string) => {
    for (const [f, t] of ranges) {
      const o = await overview(client, { fromNs: f, toNs: t }, { database: db, top: 10 });
      const want = await raw(db, f, t);
      expect(o.top_commands).toEqual(want);
      expect(o.kpis.processes_started).toBe(want.reduce((n, c) => n + c.count, 0));
    }
  };

  it('counts each exec once, at any range edges, stored twice, as the raw rows do; an existing store is counted in once', async () => {
    const db = 'agentsight_exec_hours';
    await ensureSchema(client, db, KEEP);
    for (let i = 0; i < 2; i++) await client.insert({ table: `${db}.audit_events`, values: rows, format: 'JSONEachRow' });
    expect(Number(await scalar(`SELECT count() FROM ${db}.exec_commands`))).toBeGreaterThan(0);
    expect((await overview(client, { fromNs: base, toNs: base + 30n * H }, { database: db })).kpis.processes_started).toBe(rows.length);
    await check(db);

    // A store of an older version: audit rows there, no exec_commands yet. ensureSchema counts them in, once.
    const old = 'agentsight_exec_hours_old';
    await ensureSchema(client, old, KEEP);
    await client.command({ query: `DROP VIEW ${old}.exec_commands_mv SYNC` });
    await client.command({ query: `DROP TABLE ${old}.exec_commands SYNC` });
    for (let i = 0; i < 2; i++) await client.insert({ table: `${old}.audit_events`, values: rows, format: 'JSONEachRow' });
    expect(await execCommandsReady(client, old)).toBe(false);
    await check(old); // read from the raw rows meanwhile
    await ensureSchema(client, old, KEEP);
    await ensureSchema(client, old, KEEP);
    expect(await execCommandsReady(client, old)).toBe(true);
    await check(old);
    // Rows stored after the migration go through the view.
    await client.insert({ table: `${old}.audit_events`, values: [exec(10_000, base + 3n * H + 5n)], format: 'JSONEachRow' });
    await check(old);
  });

  it('the size cap drops the hourly counts of the days it drops', async () => {
    const db = 'agentsight_exec_hours_cap';
    await ensureSchema(client, db, KEEP);
    await client.insert({ table: `${db}.audit_events`, values: rows, format: 'JSONEachRow' });
    const days = await scalar(`SELECT uniqExact(_partition_id) FROM ${db}.exec_commands`);
    expect(Number(days)).toBeGreaterThan(1);
    const r = await enforceStoreCap(client, 1, db);
    expect(r.days.length).toBe(Number(days) - 1);
    expect(await scalar(`SELECT uniqExact(_partition_id) FROM ${db}.exec_commands`)).toBe('1');
    await check(db);
  });
});

describe('causal links read from the store (linkEntries)', () => {
  it('links a grandchild exec to the tool use of its agent, with copies stored twice; nothing without a tool use', async () => {
    const db = 'agentsight_links';
    await ensureSchema(client, db, KEEP);
    const s = 1_000_000_000n;
    const tool = audit({
      id: 'audit-tool-ls', type: 'tool', action: 'execute_tool', pid: 100, ppid: 1, ts_ns: T0, summary: 'tool Bash {"command":"ls -la"} → ok',
      details: { tool_use_id: 'tool-ls', version: 3, name: 'Bash', call_id: 'call-1', arguments: '{"command":"ls -la"}', start_ns: T0.toString(), end_ns: (T0 + 5n * s).toString(), origin_llm_call_id: 'llm-1' },
    });
    const exec = (id: string, pid: number, ppid: number, at: bigint, argv: string[]) =>
      audit({ id, pid, ppid, ts_ns: at, comm: argv[0], summary: `exec ${argv.join(' ')}`, details: { event: 'exec', filename: `/usr/bin/${argv[0]}`, argv } });
    const sh = exec('exec-sh', 200, 100, T0 + s, ['sh', '-c', 'ls -la']);
    const ls = exec('exec-ls', 201, 200, T0 + 2n * s, ['ls', '-la']);
    const other = exec('exec-other', 300, 1, T0 + 2n * s, ['ls', '-la']);
    const rows = [tool, sh, ls, other].map((r) => auditRow(r));
    await client.insert({ table: `${db}.audit_events`, values: rows, format: 'JSONEachRow' });
    await client.insert({ table: `${db}.audit_events`, values: rows, format: 'JSONEachRow' });
    const link = { tool_use_id: 'tool-ls', tool_name: 'Bash', call_id: 'call-1', llm_call_id: 'llm-1', agent_pid: 100, ambiguous: false };
    const byId = async (d: string) => new Map((await listAudit(client, { database: d, type: 'process', limit: 100 })).map((a) => [a.id, a.caused_by]));
    const links = await byId(db);
    expect([...links.keys()].sort()).toEqual(['exec-ls', 'exec-other', 'exec-sh']);
    expect(links.get('exec-sh')).toEqual(link);
    expect(links.get('exec-ls')).toEqual(link); // through its parent's start (sh, pid 200, child of the agent)
    expect(links.get('exec-other')).toBeUndefined();
    const page = await pageAudit(client, { range: { fromNs: T0 - s, toNs: T0 + 10n * s } }, { limit: 10 }, db);
    expect(page.items.map((a) => [a.id, a.caused_by?.tool_use_id ?? null])).toEqual([['exec-ls', 'tool-ls'], ['exec-other', null], ['exec-sh', 'tool-ls']]);

    const bare = 'agentsight_links_none';
    await ensureSchema(client, bare, KEEP);
    await client.insert({ table: `${bare}.audit_events`, values: [sh, ls, other].map((r) => auditRow(r)), format: 'JSONEachRow' });
    expect([...(await byId(bare)).values()]).toEqual([undefined, undefined, undefined]);
  });
});

describe('audit_events ordered by time (host, ts, id)', () => {
  const sortingKey = (db: string) => scalar("SELECT sorting_key FROM system.tables WHERE database = {db:String} AND name = 'audit_events'", { db });

  it('a table of an older version (ORDER BY id) is rebuilt with every row and version, once', async () => {
    const db = 'agentsight_old_audit';
    await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
    await client.command({
      query: `CREATE TABLE ${db}.audit_events (id String, type LowCardinality(String), action LowCardinality(String), host LowCardinality(String),
        ts DateTime64(9, 'UTC'), pid UInt32, ppid UInt32, comm LowCardinality(String), summary String, details String,
        ingested_at DateTime64(9, 'UTC') DEFAULT now64(9)) ENGINE = ReplacingMergeTree(ingested_at) PARTITION BY toYYYYMM(ts) ORDER BY id`,
    });
    const ins = (rec: Parameters<typeof auditRow>[0]) => client.insert({ table: `${db}.audit_events`, values: [auditRow(rec)], format: 'JSONEachRow' });
    await ins(audit());
    await ins(audit({ id: 'audit-2', ts_ns: T0 + 1000n, type: 'file', action: 'open', summary: 'open /etc/hosts' }));
    await ins(audit({ id: 'audit-tool', type: 'tool', action: 'execute_tool', summary: 'v3', details: { version: 3 } }));
    await ins(audit({ id: 'audit-tool', type: 'tool', action: 'execute_tool', summary: 'v1', details: { version: 1 } }));
    const before = await listAudit(client, { database: db });
    expect(before.map((e) => e.summary)).toEqual(['open /etc/hosts', 'exec /usr/bin/node agent.js', 'v3']);
    expect(await sortingKey(db)).toBe('id');

    await ensureSchema(client, db, KEEP);
    expect(await sortingKey(db)).toBe(SORTING_KEYS.audit_events);
    expect(await listAudit(client, { database: db })).toEqual(before);
    expect(await scalar(`SELECT count() FROM system.tables WHERE database = '${db}' AND name LIKE '%relayout%'`)).toBe('0');
    expect(await relayoutTable(client, db, 'audit_events')).toBe(false);
  });

  it('pageAudit pages newest first through records spread over months, each once, in order', async () => {
    const db = 'agentsight_audit_pages';
    await ensureSchema(client, db, KEEP);
    const now = BigInt(Date.now()) * 1_000_000n;
    const ago = [600n, 7200n, 3n * 86_400n, 20n * 86_400n, 60n * 86_400n, 61n * 86_400n].map((s) => now - s * 1_000_000_000n);
    await client.insert({
      table: `${db}.audit_events`,
      values: ago.map((ts, i) => auditRow(audit({ id: `a${i}`, ts_ns: ts, summary: `exec ${i}` }))),
      format: 'JSONEachRow',
    });
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let n = 0; n < 10; n++) {
      const page = await pageAudit(client, {}, { cursor, limit: 2 }, db);
      seen.push(...page.items.map((e) => e.summary));
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    expect(seen).toEqual(['exec 0', 'exec 1', 'exec 2', 'exec 3', 'exec 4', 'exec 5']);
    const ranged = await pageAudit(client, { range: { fromNs: now - 30n * 86_400n * 1_000_000_000n, toNs: now } }, { limit: 10 }, db);
    expect(ranged.items.map((e) => e.summary)).toEqual(['exec 0', 'exec 1', 'exec 2', 'exec 3']);
    expect(ranged.next_cursor).toBeNull();
  });

  it('the processes search matches a case-insensitive substring, LIKE metacharacters and backslashes literally', async () => {
    const db = 'agentsight_audit_search';
    await ensureSchema(client, db, KEEP);
    const summaries = ['open /tmp/50%_Done\\x.txt', 'open /tmp/50XyDone\\x.txt', 'exec /usr/bin/ÄRGER --Flag', 'exec /usr/bin/ls'];
    const now = BigInt(Date.now()) * 1_000_000n;
    await client.insert({
      table: `${db}.audit_events`,
      values: summaries.map((summary, i) => auditRow(audit({ id: `s${i}`, ts_ns: now - BigInt(i + 1) * 1_000_000_000n, summary }))),
      format: 'JSONEachRow',
    });
    const search = async (q: string) => (await pageAudit(client, { q }, { limit: 10 }, db)).items.map((e) => e.summary);
    expect(await search('50%_done\\X')).toEqual([summaries[0]]);
    expect(await search('%')).toEqual([summaries[0]]);
    expect(await search('_')).toEqual([summaries[0]]);
    expect(await search('\\x.TXT')).toEqual([summaries[0], summaries[1]]);
    expect(await search('ärger --f')).toEqual([summaries[2]]);
    expect(await search('/USR/BIN/')).toEqual([summaries[2], summaries[3]]);
    expect(await search('absent')).toEqual([]);
    // The same rows as ClickHouse's own case-insensitive search, for each of those terms.
    for (const q of ['50%_done\\X', '%', '_', '\\x.TXT', 'ärger --f', '/USR/BIN/', 'absent']) {
      expect(await scalar(`SELECT count() FROM ${db}.audit_events FINAL WHERE ${summaryContains('q')}`, { q }))
        .toBe(await scalar(`SELECT count() FROM ${db}.audit_events FINAL WHERE positionCaseInsensitiveUTF8(summary, {q:String}) > 0`, { q }));
    }
  });

  it('the summary n-gram index skips the granules that cannot hold the searched text, and an older table gains it', async () => {
    const db = 'agentsight_audit_ngrams';
    await client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
    await ensureSchema(client, db, KEEP);
    // An older version's table: the index dropped, 40,000 rows (5 granules) of which one holds the needle.
    await client.command({ query: `ALTER TABLE ${db}.audit_events DROP INDEX summary_ngrams` });
    await client.command({
      query: `INSERT INTO ${db}.audit_events (id, type, action, host, ts, pid, ppid, comm, summary, details)
        SELECT toString(number), 'file', 'open', 'h', now64(9) - toIntervalSecond(number), 1, 0, 'node',
          if(number = 31000, 'open /src/Needle-Quokka.ts O_RDONLY', concat('open /src/file', toString(number), '.ts O_RDONLY')), '{}'
        FROM numbers(40000)`,
    });
    const granules = async (q: string) => {
      const rs = await client.query({ query: `EXPLAIN indexes = 1 SELECT count() FROM ${db}.audit_events FINAL WHERE ${summaryContains('q')}`, query_params: { q }, format: 'JSONEachRow' });
      const lines = (await rs.json<{ explain: string }>()).map((r) => r.explain.trim());
      const at = lines.indexOf(`Name: ${SKIP_INDEXES[0]!.name}`);
      return at < 0 ? null : lines.slice(at).find((l) => l.startsWith('Granules:'));
    };
    expect(await granules('needle-quokka')).toBeNull();
    await ensureSchema(client, db, KEEP);
    const built = async () => scalar(`SELECT count() FROM system.mutations WHERE database = '${db}' AND table = 'audit_events' AND NOT is_done`);
    for (let i = 0; i < 600 && (await built()) !== '0'; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await built()).toBe('0');
    const hit = await granules('needle-quokka');
    expect(hit).toMatch(/^Granules: (\d+)\/(\d+)$/);
    const [, selected, total] = /^Granules: (\d+)\/(\d+)$/.exec(hit!)!.map(Number);
    expect(total).toBeGreaterThanOrEqual(4);
    expect(selected).toBeLessThan(total);
    expect(await scalar(`SELECT count() FROM ${db}.audit_events FINAL WHERE ${summaryContains('q')}`, { q: 'NEEDLE-quokka' })).toBe('1');
    expect((await pageAudit(client, { q: 'needle-QUOKKA' }, { limit: 5 }, db)).items.map((e) => e.summary)).toEqual(['open /src/Needle-Quokka.ts O_RDONLY']);
  });
});
