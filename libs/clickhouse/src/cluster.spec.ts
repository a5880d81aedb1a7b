/**
 * The cluster DDL generated from the schema (cluster.ts): its shape, every statement parsed by a real ClickHouse
 * (`EXPLAIN SYNTAX` on a chDB server: ON CLUSTER and replication themselves are not available from chDB), and the
 * same DDL without replication and ON CLUSTER run on two chDB servers as the two shards of a cluster (on 127.0.0.1
 * and 127.0.0.2, one HTTP port, as nodes of one configuration): rows written twice through the Distributed table are
 * one row each under FINAL, spread over both shards, the api's ensureSchema leaves the Distributed tables alone, the
 * store's size is both nodes' parts; the size cap filled past drops the oldest days on both nodes, and with a node
 * down the size is unknown, not 0.
 */
import { startClickHouseServer, freePort, type ClickHouseServer } from '@agentsight/testkit';
import { audit, genaiEvent, T0, toolUse } from '../test/fixtures';
import { openClickHouse, type ClickHouseClient } from './client';
import { clusterSchemaStatements, LOCAL_SUFFIX } from './cluster';
import { nodeUrl, openNode, parseDistributed, serverParts } from './parts';
import { listCalls } from './repositories/calls';
import { countRows, tableSizes } from './repositories/table-sizes';
import { droppedTotals, enforceStoreCap, storeSize } from './retention';
import { auditRow, llmCallRow, nsToDateTime64, toolUseRow } from './rows';
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

  test('the parts of a Distributed table are found from its engine; a node is reached at its host with the api URL\'s port and credentials', () => {
    expect(parseDistributed("Distributed('fleet', 'agentsight', 'llm_calls_local', cityHash64(call_id))")).toEqual({ cluster: 'fleet', database: 'agentsight', table: 'llm_calls_local' });
    expect(parseDistributed('Distributed(fleet, agentsight, llm_calls_local)')).toEqual({ cluster: 'fleet', database: 'agentsight', table: 'llm_calls_local' });
    expect(parseDistributed("Distributed(`a\\`b`, 'it\\'s', t_local, rand())")).toEqual({ cluster: 'a`b', database: "it's", table: 't_local' });
    expect(parseDistributed('Distributed(fleet, currentDatabase(), t_local)')).toBeNull();
    expect(parseDistributed('ReplacingMergeTree(ingested_at)')).toBeNull();
    expect(nodeUrl('https://agentsight:s3cret@ch-1.example:8443/agentsight', 'ch-2.example')).toBe('https://agentsight:s3cret@ch-2.example:8443/agentsight');
    expect(nodeUrl('http://127.0.0.1:8123', 'fd00::2')).toBe('http://[fd00::2]:8123/');
  });
});

describe('on real servers', () => {
  let a: ClickHouseServer;
  let b: ClickHouseServer;
  let ca: ClickHouseClient;
  let cb: ClickHouseClient;

  beforeAll(async () => {
    // Two nodes on their own loopback addresses with one HTTP port (the cap reaches a node at its host with the api
    // URL's port); native ports differ, since a server takes a loopback entry with its own port for itself.
    const [http, ta, tb] = [await freePort(), await freePort(), await freePort('127.0.0.2')];
    const shard = (host: string, port: number) => `<shard><replica><host>${host}</host><port>${port}</port></replica></shard>`;
    const configXml = `<remote_servers><fleet>${shard('127.0.0.1', ta)}${shard('127.0.0.2', tb)}</fleet></remote_servers>`;
    a = await startClickHouseServer({ httpPort: http, tcpPort: ta, configXml });
    b = await startClickHouseServer({ listenHost: '127.0.0.2', httpPort: http, tcpPort: tb, configXml });
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
    // The store's size is both nodes' parts of the local tables, read through the api's server.
    const onNode = async (c: ClickHouseClient) => (await serverParts(c, 'agentsight', TABLES.map((t) => `${t}_local`))).reduce((n, p) => n + p.bytes, 0);
    const [ba, bb] = [await onNode(ca), await onNode(cb)];
    expect(ba).toBeGreaterThan(0);
    expect(bb).toBeGreaterThan(0);
    expect(await storeSize(ca)).toEqual({ bytes: ba + bb, note: null });
    const llm = async (c: ClickHouseClient) => (await serverParts(c, 'agentsight', ['llm_calls_local'])).reduce((n, p) => n + p.bytes, 0);
    const sizes = await tableSizes(ca);
    expect(sizes.find((t) => t.table === 'llm_calls')).toEqual({ table: 'llm_calls', rows: N, bytes: (await llm(ca)) + (await llm(cb)) });
  });

  test('filled past the size cap: the oldest days dropped on every node, the newest kept, the drops counted per node and in the log', async () => {
    const db = 'cap_cluster';
    for (const c of [ca, cb]) for (const query of clusterSchemaStatements({ cluster: 'fleet', database: db, replicated: false, onCluster: false, ...KEEP })) await c.command({ query });
    await ensureSchema(ca, db, KEEP);
    const DAY = 86_400_000_000_000n;
    const today = (BigInt(Date.now()) * 1_000_000n / DAY) * DAY + 3_600_000_000_000n;
    const yyyymmdd = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString().slice(0, 10).replace(/-/g, '');
    const days = [5, 4, 3, 2, 1, 0].map((d) => yyyymmdd(today - BigInt(d) * DAY));
    for (let d = 5; d >= 0; d--) {
      const t = today - BigInt(d) * DAY;
      // Incompressible text, so the days are not tiny; 8 calls a day spread over both shards by call id.
      const calls = Array.from({ length: 8 }, (_, k) => {
        const text = Buffer.from(Array.from({ length: 30_000 }, (_, i) => (i * 7919 + d * 104729 + k * 31) % 251)).toString('base64');
        return { ...llmCallRow(genaiEvent({ id: `g${d}-${k}`, llm_call_id: `c${d}-${k}`, start_ns: t + BigInt(k), end_ns: t + BigInt(k) + 1000n })), output_text: text };
      });
      await ca.insert({ table: `${db}.llm_calls`, values: calls, format: 'JSONEachRow' });
      await ca.insert({ table: `${db}.audit_events`, values: Array.from({ length: 8 }, (_, k) => auditRow(audit({ id: `a${d}-${k}`, ts_ns: t + BigInt(k) } as never))), format: 'JSONEachRow' });
    }
    // Versioned tool uses stored on the oldest day and today: the cap deletes the old one's rows on its node.
    await ca.insert({ table: `${db}.tool_uses`, values: [{ ...toolUseRow(toolUse({ id: 'tu-old', call_id: 'toolu_old' })), ingested_at: nsToDateTime64(today - 5n * DAY) }, toolUseRow(toolUse({ id: 'tu-new', call_id: 'toolu_new' }))], format: 'JSONEachRow' });
    const nodes = [ca, cb];
    const partitionsOn = async (c: ClickHouseClient, table: string) => [...new Set((await serverParts(c, db, [table])).map((p) => p.partition))].sort();
    for (const c of nodes) expect(await partitionsOn(c, 'llm_calls_local')).toEqual(days); // every day on both nodes
    const bytesOn = async (c: ClickHouseClient) => (await serverParts(c, db, TABLES.map((t) => `${t}_local`))).reduce((n, p) => n + p.bytes, 0);
    const full = (await bytesOn(ca)) + (await bytesOn(cb));
    expect(await storeSize(ca, db)).toEqual({ bytes: full, note: null });

    // A host name that leads to another server than system.clusters names is refused, before anything is dropped.
    await expect(openNode({ cluster: 'fleet', shard: 2, replica: 1, host: '127.0.0.1', port: b.tcpPort }, a.url)).rejects.toThrow(/node 127\.0\.0\.1:\d+ at http:\/\/127\.0\.0\.1:\d+\/: it answers with native port \d+: another server/);
    const cap = Math.floor(full / 2);
    await expect(enforceStoreCap(ca, cap, db)).rejects.toThrow(/Distributed tables of cluster fleet: the size cap drops on each of its nodes and needs CLICKHOUSE_URL/);
    const r = await enforceStoreCap(ca, cap, db, { url: a.url });
    expect(r.before).toBe(full);
    expect(r.after).toBeLessThanOrEqual(cap);
    expect(r.after).toBe((await bytesOn(ca)) + (await bytesOn(cb)));
    expect(r.over).toBe(false);
    expect(r.note).toBeNull();
    expect(r.days.length).toBeGreaterThanOrEqual(2);
    expect(r.days).toEqual(days.slice(0, r.days.length)); // oldest first, contiguous
    const kept = days.slice(r.days.length);
    // On each node: no partition of a dropped day in any table, every kept day still there.
    for (const c of nodes) expect(await partitionsOn(c, 'llm_calls_local')).toEqual(kept);
    const audits = [...(await partitionsOn(ca, 'audit_events_local')), ...(await partitionsOn(cb, 'audit_events_local'))];
    expect([...new Set(audits)].sort()).toEqual(kept);
    expect(r.nodes.map((n) => n.node)).toEqual([`127.0.0.1:${a.tcpPort}`, `127.0.0.2:${b.tcpPort}`]);
    for (const n of r.nodes) {
      expect(n.rows).toBeGreaterThan(0);
      expect(n.bytes).toBeGreaterThan(0);
    }
    expect(r.rows).toBe(r.nodes.reduce((k, n) => k + n.rows, 0));
    // 8 calls and 8 audit rows a day, the old tool use: every dropped row counted once.
    expect(r.rows).toBe(16 * r.days.length + 1);
    const ids = (await listCalls(ca, { limit: 1000, database: db })).map((c) => c.call_id);
    expect(ids.length).toBe(8 * kept.length);
    expect(ids.every((id) => Number(id.slice(1).split('-')[0]) < kept.length)).toBe(true);
    const tools = await ca.query({ query: `SELECT id FROM ${db}.tool_uses FINAL ORDER BY id`, format: 'JSONEachRow' });
    expect((await tools.json<{ id: string }>()).map((t) => t.id)).toEqual(['tu-new']);
    // The drop log (a Distributed table too) counts every node's drops.
    const totals = await droppedTotals(ca, db);
    expect(totals).toMatchObject({ days: r.days.length, rows: r.rows, bytes: r.bytes, newest_day: r.days[r.days.length - 1] });
    // Below one day: everything but the newest day goes on both nodes, the store says it is still over.
    const tiny = await enforceStoreCap(ca, 1, db, { url: a.url });
    expect(tiny.over).toBe(true);
    for (const c of nodes) expect(await partitionsOn(c, 'llm_calls_local')).toEqual([days[5]]);
  });

  test('a node down: the store size is unknown with why, and the cap check fails instead of measuring half the store', async () => {
    await b.kill();
    try {
      const size = await storeSize(ca);
      expect(size.bytes).toBeNull();
      expect(size.note).toMatch(/^not known: the tables' parts could not be read \(.+\)/);
      await expect(enforceStoreCap(ca, 1, 'agentsight', { url: a.url })).rejects.toThrow();
    } finally {
      await b.restart();
    }
    expect((await storeSize(ca)).bytes).toBeGreaterThan(0);
  });
});
