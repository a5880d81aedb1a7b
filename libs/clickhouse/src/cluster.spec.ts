/**
 * The cluster DDL generated from the schema (cluster.ts): its shape, every statement parsed by a real ClickHouse
 * (`EXPLAIN SYNTAX` on a chDB server: ON CLUSTER and replication themselves are not available from chDB), and the
 * same DDL without replication and ON CLUSTER run on two chDB servers as the two shards of a cluster: rows written
 * twice through the Distributed table are one row each under FINAL, spread over both shards, the api's
 * ensureSchema leaves the Distributed tables alone, and the store's size read through them is unknown, not 0.
 */
import { startClickHouseServer, freePort, type ClickHouseServer } from '@agentsight/testkit';
import { genaiEvent, T0 } from '../test/fixtures';
import { openClickHouse, type ClickHouseClient } from './client';
import { clusterSchemaStatements, LOCAL_SUFFIX } from './cluster';
import { tableSizes } from './dashboard';
import { countRows, listCalls } from './queries';
import { storeSize } from './retention';
import { llmCallRow } from './rows';
import { ensureSchema, RETENTION_LOG, TABLES } from './schema';
import { BatchWriter } from './writer';

const KEEP = { retentionDays: 3650 };

describe('clusterSchemaStatements', () => {
  const ddl = clusterSchemaStatements({ cluster: 'fleet', ...KEEP });

  test('a replicated local table and a Distributed table sharded by the sorting key, per table, all ON CLUSTER', () => {
    expect(ddl[0]).toBe('CREATE DATABASE IF NOT EXISTS `agentsight` ON CLUSTER `fleet`');
    for (const s of ddl) expect(s).toContain(' ON CLUSTER `fleet`');
    const local = (t: string) => ddl.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS \`agentsight\`.${t}${LOCAL_SUFFIX} ON CLUSTER`))!;
    const dist = (t: string) => ddl.find((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS \`agentsight\`.${t} ON CLUSTER`))!;
    for (const t of [...TABLES, RETENTION_LOG]) {
      expect([t, local(t)]).toEqual([t, expect.stringMatching(/ENGINE = Replicated(Replacing)?MergeTree\('\/clickhouse\/tables\/\{shard\}\/agentsight\/\w+_local', '\{replica\}'/)]);
      expect([t, dist(t)]).toEqual([t, expect.stringMatching(new RegExp(`AS \`agentsight\`\\.${t}_local ENGINE = Distributed\\(\`fleet\`, \`agentsight\`, ${t}_local, cityHash64\\(`))]);
    }
    expect(local('llm_calls')).toContain("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agentsight/llm_calls_local', '{replica}', ingested_at)");
    expect(local('llm_calls')).toMatch(/PARTITION BY toYYYYMMDD\(start_time\)\s+ORDER BY call_id\s+TTL toDateTime\(start_time\) \+ toIntervalDay\(3650\)/);
    expect(local('tool_uses')).toContain("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agentsight/tool_uses_local', '{replica}', version)");
    expect(dist('llm_calls')).toMatch(/cityHash64\(call_id\)\)$/);
    expect(dist('audit_events')).toMatch(/cityHash64\(host, ts, id\)\)$/);
    // column migrations on both tables of a pair
    expect(ddl.filter((s) => s.includes('ADD COLUMN IF NOT EXISTS `cost_usd`'))).toEqual([
      expect.stringMatching(/^ALTER TABLE `agentsight`\.`llm_calls_local` ON CLUSTER `fleet` ADD COLUMN IF NOT EXISTS `cost_usd`/),
      expect.stringMatching(/^ALTER TABLE `agentsight`\.`llm_calls` ON CLUSTER `fleet` ADD COLUMN IF NOT EXISTS `cost_usd`/),
    ]);
  });
});

describe('on real servers', () => {
  let a: ClickHouseServer;
  let b: ClickHouseServer;
  let ca: ClickHouseClient;
  let cb: ClickHouseClient;

  beforeAll(async () => {
    const [ta, tb] = [await freePort(), await freePort()];
    const shard = (port: number) => `<shard><replica><host>127.0.0.1</host><port>${port}</port></replica></shard>`;
    const configXml = `<remote_servers><fleet>${shard(ta)}${shard(tb)}</fleet></remote_servers>`;
    a = await startClickHouseServer({ tcpPort: ta, configXml });
    b = await startClickHouseServer({ tcpPort: tb, configXml });
    // Inserts into a Distributed table reach the shards before they return (so reads right after see them).
    ca = await openClickHouse({ url: a.url, settings: { distributed_foreground_insert: 1 } });
    cb = await openClickHouse({ url: b.url });
  }, 240_000);

  afterAll(async () => {
    await ca?.close();
    await cb?.close();
    await a?.stop();
    await b?.stop();
  });

  test('every statement of the cluster DDL parses (EXPLAIN SYNTAX of the tables keeps ON CLUSTER and the engine)', async () => {
    const ddl = clusterSchemaStatements({ cluster: 'fleet', ...KEEP });
    for (const s of ddl.filter((x) => !x.startsWith('CREATE TABLE '))) {
      // EXPLAIN SYNTAX formats only some statements; EXPLAIN AST parses any
      const rs = await ca.query({ query: `EXPLAIN AST ${s}`, format: 'TabSeparatedRaw' });
      expect([s.slice(0, 60), await rs.text()]).toEqual([s.slice(0, 60), expect.stringMatching(/^(CreateQuery|AlterQuery)/)]);
    }
    for (const s of ddl.filter((x) => x.startsWith('CREATE TABLE '))) {
      const rs = await ca.query({ query: `EXPLAIN SYNTAX ${s}`, format: 'TabSeparatedRaw' });
      const text = await rs.text();
      expect([s.slice(0, 60), text]).toEqual([s.slice(0, 60), expect.stringContaining('ON CLUSTER fleet')]);
      const engine = /ENGINE = (\w+)/.exec(s)?.[1];
      if (engine) expect(text).toContain(`ENGINE = ${engine}`);
    }
  });

  test('two shards: rows written twice through Distributed are one row each, on both shards; ensureSchema keeps the Distributed tables', async () => {
    const local = clusterSchemaStatements({ cluster: 'fleet', replicated: false, onCluster: false, ...KEEP });
    for (const c of [ca, cb]) for (const query of local) await c.command({ query });
    await ensureSchema(ca, undefined, KEEP); // the api's start against the cluster
    const rs = await ca.query({ query: "SELECT name, engine FROM system.tables WHERE database = 'agentsight' AND name IN ('llm_calls', 'llm_calls_local') ORDER BY name", format: 'JSONEachRow' });
    expect(await rs.json()).toEqual([{ name: 'llm_calls', engine: 'Distributed' }, { name: 'llm_calls_local', engine: 'ReplacingMergeTree' }]);

    const N = 40;
    const writer = new BatchWriter(ca, { minIntervalMs: 5 });
    let stored = 0;
    for (let copy = 0; copy < 2; copy++) {
      for (let i = 0; i < N; i++) {
        writer.add('llm_calls', llmCallRow(genaiEvent({ id: `ev-${i}`, llm_call_id: `call-${i}`, start_ns: T0 + BigInt(i), end_ns: T0 + BigInt(i) + 1000n })), () => stored++);
      }
      await writer.flush();
    }
    await writer.close();
    expect(stored).toBe(2 * N);
    expect((await countRows(ca, {})).llm_calls).toBe(N);
    expect((await listCalls(ca, { limit: 1000 })).map((c) => c.call_id).sort()).toEqual(Array.from({ length: N }, (_, i) => `call-${i}`).sort());
    const onShard = async (c: ClickHouseClient) => {
      const r = await c.query({ query: 'SELECT uniqExact(call_id) AS ids FROM agentsight.llm_calls_local', format: 'JSONEachRow' });
      return (await r.json<{ ids: string }>())[0]!;
    };
    const [sa, sb] = [await onShard(ca), await onShard(cb)];
    expect(Number(sa.ids)).toBeGreaterThan(0);
    expect(Number(sb.ids)).toBeGreaterThan(0);
    expect(Number(sa.ids) + Number(sb.ids)).toBe(N); // each id on one shard only: both copies went to the same shard
    // The api's server holds only its shard's parts, and none of the Distributed tables': size unknown, never 0.
    const size = await storeSize(ca);
    expect(size.bytes).toBeNull();
    expect(size.note).toMatch(/not known from this server: \d+ table\(s\) are Distributed tables \(a ClickHouse cluster\)/);
    const sizes = await tableSizes(ca);
    expect(sizes.find((t) => t.table === 'llm_calls')).toEqual({ table: 'llm_calls', rows: N, bytes: null });
  });
});
