/**
 * The `CLICKHOUSE_URL` path against a REAL ClickHouse server: chDB's own server mode (libs/testkit
 * clickhouse-server.ts), over HTTP with `@clickhouse/client`. Schema and migrations from several clients at once (as
 * several storage writers start together), a table of an older layout migrated, and a server killed with SIGKILL in
 * the middle of batched writes and started again: every row acknowledged once, none lost, none twice.
 */
import { startClickHouseServer, CLICKHOUSE_SERVER_VERSION, type ClickHouseServer } from '@agentsight/testkit';
import { genaiEvent, oldLlmCallsDdl, T0 } from '../test/fixtures';
import { openClickHouse, type ClickHouseClient } from './client';
import { countRows } from './repositories/table-sizes';
import { llmCallRow } from './rows';
import { ensureSchema, EXEC_COMMANDS, PARTITION_KEYS, RETENTION_LOG, TABLES } from './schema';
import { BatchWriter } from './writer';

const KEEP = { retentionDays: 3650 };
let server: ClickHouseServer;
let client: ClickHouseClient;

beforeAll(async () => {
  server = await startClickHouseServer();
  client = await openClickHouse({ url: server.url });
}, 180_000);

afterAll(async () => {
  await client?.close();
  await server?.stop();
});

async function scalar(c: ClickHouseClient, query: string): Promise<string> {
  const rs = await c.query({ query, format: 'JSONEachRow' });
  return Object.values((await rs.json<Record<string, string>>())[0]!)[0]!;
}

test('the server is the pinned ClickHouse, reached through CLICKHOUSE_URL', async () => {
  expect(server.version).toBe(CLICKHOUSE_SERVER_VERSION);
  const prev = process.env.CLICKHOUSE_URL;
  process.env.CLICKHOUSE_URL = server.url;
  try {
    const viaEnv = await openClickHouse();
    expect(await scalar(viaEnv, 'SELECT version()')).toBe(CLICKHOUSE_SERVER_VERSION);
    // 64-bit integers come back exact (quoted), as on embedded chDB.
    expect(await scalar(viaEnv, 'SELECT toUInt64(18446744073709551615)')).toBe('18446744073709551615');
    await viaEnv.close();
  } finally {
    if (prev === undefined) delete process.env.CLICKHOUSE_URL;
    else process.env.CLICKHOUSE_URL = prev;
  }
});

test('ensureSchema from three clients at once (storage writers starting together) creates every table once', async () => {
  const clients = await Promise.all([0, 1, 2].map(() => openClickHouse({ url: server.url })));
  await Promise.all(clients.map((c) => ensureSchema(c, undefined, KEEP)));
  for (const c of clients) await c.close();
  const rs = await client.query({ query: "SELECT name, engine, partition_key FROM system.tables WHERE database = 'agentsight' ORDER BY name", format: 'JSONEachRow' });
  const tables = await rs.json<{ name: string; engine: string; partition_key: string }>();
  expect(tables.map((t) => t.name)).toEqual([...TABLES, RETENTION_LOG, EXEC_COMMANDS, 'exec_commands_mv'].sort());
  const engines: Record<string, string> = { [RETENTION_LOG]: 'MergeTree', [EXEC_COMMANDS]: 'AggregatingMergeTree', exec_commands_mv: 'MaterializedView' };
  const partitions: Record<string, string> = { ...PARTITION_KEYS, [EXEC_COMMANDS]: 'toYYYYMMDD(hour)' };
  for (const t of tables) {
    expect([t.name, t.engine]).toEqual([t.name, engines[t.name] ?? 'ReplacingMergeTree']);
    expect([t.name, t.partition_key]).toEqual([t.name, partitions[t.name] ?? '']);
  }
});

test('a table of an older layout (month partitions, no cost columns) is migrated on the server, its rows kept', async () => {
  const db = 'agentsight_old';
  await client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
  await client.command({ query: `CREATE DATABASE ${db}` });
  await client.command({ query: oldLlmCallsDdl(db) });
  const cs = await client.query({ query: `SELECT name FROM system.columns WHERE database = '${db}' AND table = 'llm_calls'`, format: 'JSONEachRow' });
  const old = new Set((await cs.json<{ name: string }>()).map((c) => c.name));
  const oldRow = Object.fromEntries(Object.entries(llmCallRow(genaiEvent())).filter(([k]) => old.has(k)));
  await client.insert({ table: `${db}.llm_calls`, values: [oldRow], format: 'JSONEachRow' });
  await ensureSchema(client, db, KEEP);
  expect(await scalar(client, `SELECT partition_key FROM system.tables WHERE database = '${db}' AND name = 'llm_calls'`)).toBe(PARTITION_KEYS.llm_calls);
  expect(await scalar(client, `SELECT count() FROM system.columns WHERE database = '${db}' AND table = 'llm_calls' AND name IN ('cost_usd', 'usage_source', 'time_to_first_chunk_ms')`)).toBe('3');
  expect(await scalar(client, `SELECT concat(call_id, ':', usage_source, ':', ifNull(toString(cost_usd), 'null')) FROM ${db}.llm_calls FINAL`)).toBe('call-1:reported:null');
});

test('SIGKILL of the server in the middle of batched writes, then a restart: every row stored once, none lost', async () => {
  const db = 'agentsight_kill';
  await ensureSchema(client, db, KEEP);
  const N = 400;
  const stored = new Map<string, number>();
  const errors: string[] = [];
  // As the storage sink's writer, but retrying until the server is back (the sink's unacked inputs would be
  // redelivered by JetStream instead; e2e/clickhouse-server.spec.ts runs that path).
  const writer = new BatchWriter(client, { database: db, maxRows: 20, minIntervalMs: 5, retryInitialMs: 50, retryMaxMs: 500, maxAttempts: Infinity, onError: (e) => errors.push(String(e)) });
  const add = (i: number) => {
    const id = `call-${i}`;
    writer.add('llm_calls', llmCallRow(genaiEvent({ id: `ev-${i}`, llm_call_id: id, start_ns: T0 + BigInt(i) * 1_000_000n, end_ns: T0 + BigInt(i) * 1_000_000n + 1000n })), () => stored.set(id, (stored.get(id) ?? 0) + 1));
  };
  for (let i = 0; i < N / 2; i++) add(i);
  while (stored.size < N / 4) await new Promise((r) => setTimeout(r, 5));
  const before = stored.size;
  await server.kill('SIGKILL');
  for (let i = N / 2; i < N; i++) add(i);
  while (errors.length === 0) await new Promise((r) => setTimeout(r, 20)); // the writer saw the server gone
  await server.restart();
  await writer.flush();
  await writer.close();
  expect(before).toBeLessThan(N); // killed mid-stream
  expect(stored.size).toBe(N);
  expect([...stored.values()].every((n) => n === 1)).toBe(true);
  expect((await countRows(client, { database: db })).llm_calls).toBe(N);
  expect(await scalar(client, `SELECT uniqExact(call_id) FROM ${db}.llm_calls FINAL`)).toBe(String(N));
});
