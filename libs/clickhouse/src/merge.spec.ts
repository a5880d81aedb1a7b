/**
 * mergeReplaced on embedded chDB: a row written again with new content (as a replay does) leaves both versions on
 * disk until a merge; after mergeReplaced only the new one is there, other partitions and tables untouched.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { genaiEvent } from '../test/fixtures';
import { openClickHouse, type ClickHouseClient } from './client';
import { mergeReplaced } from './merge';
import { llmCallRow } from './rows';
import { ensureSchema } from './schema';

let tmp: string;
let client: ClickHouseClient;
const DAY = 86_400_000_000_000n;
const today = (BigInt(Date.now()) * 1_000_000n / DAY) * DAY + 3_600_000_000_000n;
const db = 'merge_spec';

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-merge-'));
  client = await openClickHouse({ dataDir: path.join(tmp, 'chdb'), ownerName: 'merge.spec' });
  await ensureSchema(client, db, { retentionDays: 0 });
  await client.command({ query: `SYSTEM STOP MERGES ${db}.llm_calls` }); // as a store whose background merges have not come yet
});
afterAll(async () => {
  await client?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function texts(final: boolean): Promise<string[]> {
  const rs = await client.query({ query: `SELECT output_text FROM ${db}.llm_calls ${final ? 'FINAL' : ''} ORDER BY output_text`, format: 'JSONEachRow' });
  return ((await rs.json()) as Array<{ output_text: string }>).map((r) => r.output_text);
}

test('replaced versions are on disk until mergeReplaced, then only the newest', async () => {
  const call = (id: string, day: bigint, text: string) => llmCallRow({ ...genaiEvent({ id, llm_call_id: id, start_ns: today - day * DAY, end_ns: today - day * DAY + 1000n }), output_text: text } as never);
  await client.insert({ table: `${db}.llm_calls`, values: [call('c-old', 1n, 'yesterday')], format: 'JSONEachRow' });
  await client.insert({ table: `${db}.llm_calls`, values: [call('c1', 0n, 'live: acme 123')], format: 'JSONEachRow' });
  await client.insert({ table: `${db}.llm_calls`, values: [call('c1', 0n, 'replayed: acme [REDACTED]')], format: 'JSONEachRow' });
  expect(await texts(true)).toEqual(['replayed: acme [REDACTED]', 'yesterday']);
  expect(await texts(false)).toEqual(['live: acme 123', 'replayed: acme [REDACTED]', 'yesterday']);
  await client.command({ query: `SYSTEM START MERGES ${db}.llm_calls` });
  const r = await mergeReplaced(client, db);
  expect(r.note).toBeNull();
  const day = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 10).replace(/-/g, '');
  // (a background merge, allowed again a moment before, may have been first: then there is nothing left to merge)
  expect([[], [`llm_calls/${day(today)}`]]).toContainEqual(r.merged);
  expect(r.merged).not.toContain(`llm_calls/${day(today - DAY)}`); // one part: left as it is
  if (r.merged.length) expect(r.rowsBefore - r.rowsAfter).toBe(1);
  expect(await texts(false)).toEqual(['replayed: acme [REDACTED]', 'yesterday']);
  expect((await mergeReplaced(client, db)).merged).toEqual([]);
});
