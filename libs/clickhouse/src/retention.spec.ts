/**
 * Retention on embedded chDB: tables partitioned by day with a TTL of AGENTSIGHT_RETENTION_DAYS, a store created with
 * month partitions migrated in place (rows kept), and the size cap filled past: oldest days dropped first, the newest
 * never, no table dropped, what was dropped counted.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { audit, genaiEvent, toolUse } from '../test/fixtures';
import { openClickHouse, type ClickHouseClient } from './client';
import { auditRow, llmCallRow, toolUseRow } from './rows';
import { droppedTotals, enforceStoreCap, storeBytes, storeMaxBytes, storeSize } from './retention';
import { ensureSchema, retentionDays, schemaStatements, TABLES } from './schema';

let tmp: string;
let client: ClickHouseClient;
const DAY = 86_400_000_000_000n;
// Recent days, so the default TTL keeps them.
const today = (BigInt(Date.now()) * 1_000_000n / DAY) * DAY + 3_600_000_000_000n;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-ret-'));
  client = await openClickHouse({ dataDir: path.join(tmp, 'chdb'), ownerName: 'retention.spec' });
});
afterAll(async () => {
  await client?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function q<T>(query: string): Promise<T[]> {
  const rs = await client.query({ query, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
  return (await rs.json()) as T[];
}

const yyyymmdd = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 10).replace(/-/g, '');

test('configuration: days and bytes from the environment, bad values refused', () => {
  expect(retentionDays({})).toBe(90);
  expect(retentionDays({ AGENTSIGHT_RETENTION_DAYS: '7' })).toBe(7);
  expect(retentionDays({ AGENTSIGHT_RETENTION_DAYS: '0' })).toBe(0);
  expect(() => retentionDays({ AGENTSIGHT_RETENTION_DAYS: '-1' })).toThrow(/AGENTSIGHT_RETENTION_DAYS/);
  expect(() => retentionDays({ AGENTSIGHT_RETENTION_DAYS: '20000' })).toThrow(/AGENTSIGHT_RETENTION_DAYS/);
  expect(storeMaxBytes({})).toBe(10 * 1024 ** 3);
  expect(storeMaxBytes({ AGENTSIGHT_STORE_MAX_BYTES: '512M' })).toBe(512 * 1024 ** 2);
  expect(storeMaxBytes({ AGENTSIGHT_STORE_MAX_BYTES: '0' })).toBe(0);
  expect(() => storeMaxBytes({ AGENTSIGHT_STORE_MAX_BYTES: 'lots' })).toThrow(/AGENTSIGHT_STORE_MAX_BYTES/);
});

test('a store with month partitions and no TTL is migrated to day partitions and the TTL, rows kept', async () => {
  const db = 'ret_old';
  // The layout of the previous release: month partitions, no TTL.
  for (const s of schemaStatements(db)) {
    await client.command({ query: s.replace(/toYYYYMMDD\(/g, 'toYYYYMM(').replace(/\n\s*TTL [^\n`]*/g, '') });
  }
  const before = await q<{ name: string; partition_key: string }>(`SELECT name, partition_key FROM system.tables WHERE database = '${db}' AND name = 'llm_calls'`);
  expect(before[0].partition_key).toBe('toYYYYMM(start_time)');
  await client.insert({ table: `${db}.llm_calls`, values: [0, 1, 2].map((d) => llmCallRow(genaiEvent({ id: `g${d}`, llm_call_id: `c${d}`, start_ns: today - BigInt(d) * DAY, end_ns: today - BigInt(d) * DAY + 1000n }))), format: 'JSONEachRow' });
  await ensureSchema(client, db, { retentionDays: 9 });
  await ensureSchema(client, db, { retentionDays: 9 }); // idempotent
  const tables = await q<{ name: string; partition_key: string; create_table_query: string }>(`SELECT name, partition_key, create_table_query FROM system.tables WHERE database = '${db}' ORDER BY name`);
  const by = new Map(tables.map((t) => [t.name, t]));
  for (const t of ['llm_calls', 'exchanges']) expect(by.get(t)!.partition_key).toBe('toYYYYMMDD(start_time)');
  for (const t of ['audit_events', 'dead_letters']) expect(by.get(t)!.partition_key).toBe('toYYYYMMDD(ts)');
  for (const t of TABLES) expect(by.get(t)!.create_table_query).toMatch(/TTL toDateTime\((start_time|ts|ingested_at)\) \+ toIntervalDay\(9\)/);
  expect(by.get('exec_commands')!.create_table_query).toMatch(/TTL \(hour \+ toIntervalHour\(1\)\) \+ toIntervalDay\(9\)/);
  const parts = await q<{ p: string }>(`SELECT DISTINCT partition_id AS p FROM system.parts WHERE database = '${db}' AND table = 'llm_calls' AND active ORDER BY p`);
  expect(parts.map((p) => p.p)).toEqual([0, 1, 2].map((d) => yyyymmdd(today - BigInt(d) * DAY)).sort());
  expect((await q<{ n: number }>(`SELECT count() AS n FROM ${db}.llm_calls FINAL`))[0].n).toBe(3);
  // Another retention: the TTL follows.
  await ensureSchema(client, db, { retentionDays: 3 });
  expect((await q<{ c: string }>(`SELECT create_table_query AS c FROM system.tables WHERE database = '${db}' AND name = 'exchanges'`))[0].c).toMatch(/toIntervalDay\(3\)/);
  // 0: no TTL at all.
  await ensureSchema(client, db, { retentionDays: 0 });
  expect((await q<{ c: string }>(`SELECT create_table_query AS c FROM system.tables WHERE database = '${db}' AND name = 'exchanges'`))[0].c).not.toMatch(/TTL/);
});

test('the TTL deletes rows older than the retention', async () => {
  const db = 'ret_ttl';
  await ensureSchema(client, db, { retentionDays: 2 });
  await client.insert({ table: `${db}.audit_events`, values: [0, 5].map((d) => auditRow(audit({ id: `a${d}`, ts_ns: today - BigInt(d) * DAY } as never))), format: 'JSONEachRow' });
  await client.command({ query: `OPTIMIZE TABLE ${db}.audit_events FINAL` });
  const left = await q<{ id: string }>(`SELECT id FROM ${db}.audit_events FINAL ORDER BY id`);
  expect(left.map((r) => r.id)).toEqual(['a0']);
});

test('filled past the cap: oldest days dropped first, never the newest, never a table; the drops are counted', async () => {
  const db = 'ret_cap';
  await ensureSchema(client, db);
  const big = 'x'.repeat(200_000);
  for (let d = 5; d >= 0; d--) {
    const t = today - BigInt(d) * DAY;
    // Random-ish text so compression cannot make the days tiny.
    const text = Buffer.from(Array.from({ length: 150_000 }, (_, i) => (i * 7919 + d * 104729) % 251)).toString('base64') + big.slice(0, 10);
    await client.insert({ table: `${db}.llm_calls`, values: [llmCallRow({ ...genaiEvent({ id: `g${d}`, llm_call_id: `c${d}`, start_ns: t, end_ns: t + 1000n }), output_text: text } as never)], format: 'JSONEachRow' });
    await client.insert({ table: `${db}.audit_events`, values: [auditRow(audit({ id: `a${d}`, ts_ns: t } as never))], format: 'JSONEachRow' });
  }
  await client.insert({ table: `${db}.tool_uses`, values: [toolUseRow(toolUse({ id: 'tu-1' }))], format: 'JSONEachRow' });
  const full = await storeBytes(client, db);
  expect(await storeSize(client, db)).toEqual({ bytes: full, note: null });
  const cap = Math.floor(full / 2);
  const r = await enforceStoreCap(client, cap, db);
  expect(r.before).toBe(full);
  expect(r.after).toBeLessThanOrEqual(cap);
  expect(r.over).toBe(false);
  expect(r.days.length).toBeGreaterThan(0);
  expect(r.days).toEqual([...r.days].sort()); // oldest first
  expect(r.days[0]).toBe(yyyymmdd(today - 5n * DAY));
  const calls = await q<{ call_id: string }>(`SELECT call_id FROM ${db}.llm_calls FINAL ORDER BY start_time`);
  // What is left is the newest days, contiguous up to today.
  expect(calls.map((c) => c.call_id)).toEqual(Array.from({ length: 6 - r.days.length }, (_, k) => `c${5 - r.days.length - k}`));
  const totals = await droppedTotals(client, db);
  expect(totals.days).toBe(r.days.length);
  expect(totals.rows).toBe(r.rows);
  expect(totals.rows).toBeGreaterThanOrEqual(2 * r.days.length);
  expect(totals.bytes).toBeGreaterThan(0);
  expect(totals.newest_day).toBe(r.days[r.days.length - 1]);
  // A cap below one day: everything but the newest day goes, the store says it is still over, every table exists.
  const tiny = await enforceStoreCap(client, 1, db);
  expect(tiny.over).toBe(true);
  expect((await q<{ call_id: string }>(`SELECT call_id FROM ${db}.llm_calls FINAL`)).map((c) => c.call_id)).toEqual(['c0']);
  // The tables, the drop log, exec_commands and its view.
  expect((await q<{ n: number }>(`SELECT count() AS n FROM system.tables WHERE database = '${db}'`))[0].n).toBe(TABLES.length + 3);
  expect(await enforceStoreCap(client, 0, db)).toMatchObject({ days: [], over: false });
});
