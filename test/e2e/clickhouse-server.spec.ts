/**
 * Storage into a ClickHouse server (`CLICKHOUSE_URL`), the whole pipeline as separate processes: a real ClickHouse
 * server (chDB's server mode, libs/testkit clickhouse-server.ts), two api services (two storage writers sharing the
 * storage durables, each with its own read API), and `agentsight import` of the corpus' sslsniff capture under
 * several host names. The server is killed with SIGKILL while the second wave of hosts is being stored and started
 * again on the same data dir: every host's exchanges and its one LLM call are stored exactly once, and both read
 * APIs answer the same rows. No eBPF needed.
 */
import { join } from 'node:path';
import { openClickHouse, type ClickHouseClient } from '@agentsight/clickhouse';
import { corpusDir, startClickHouseServer, type ClickHouseServer } from '@agentsight/testkit';
import { spawnReady, type Child } from '../../services/api/src/cli/children';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { api, freePort, Infra, ROOT, runCli, Stages, startInfra, stopChild } from './harness';

type Row = Record<string, any>;
const FILE = join(corpusDir(), 'agentsight__claude-code-raw.jsonl');
/** What one import of FILE stores (test/e2e/import.spec.ts checks their contents). */
const EXCHANGES_PER_HOST = 9;
const FIRST = ['host-1'];
const SECOND = ['host-2', 'host-3', 'host-4', 'host-5', 'host-6', 'host-7'];

describe('the pipeline stores into a ClickHouse server with two writers, across a SIGKILL of the server', () => {
  let server: ClickHouseServer;
  let infra: Infra;
  let stages: Stages;
  let ch: ClickHouseClient;
  const writers: Child[] = [];
  const ports: number[] = [];

  const count = async (q: string): Promise<number> => {
    const rs = await ch.query({ query: q, format: 'JSONEachRow' });
    return Number(Object.values((await rs.json<Record<string, string>>())[0]!)[0]);
  };
  const imported = (host: string) => runCli(['import', FILE, '--host', host], infra.env);

  beforeAll(async () => {
    server = await startClickHouseServer();
    infra = await startInfra();
    infra.env.CLICKHOUSE_URL = server.url;
    stages = new Stages(infra.env);
    for (const w of ['a', 'b']) {
      const port = w === 'a' ? Number(infra.env.AGENTSIGHT_API_PORT) : await freePort();
      ports.push(port);
      writers.push(await spawnReady(`api-${w}`, process.execPath, [join(ROOT, 'services/api/dist/main.js')], {
        env: { ...infra.env, AGENTSIGHT_INSTANCE: w, AGENTSIGHT_API_PORT: String(port) }, logDir: join(infra.dataDir, 'logs'),
      }));
    }
    for (const s of ['genai', 'analyzer', 'aggregator', 'parser']) await stages.start(s);
    ch = await openClickHouse({ url: server.url });
  }, 240_000);

  afterAll(async () => {
    await ch?.close();
    await stages?.stopAll();
    for (const w of writers) await stopChild(w);
    await infra?.stop();
    await server?.stop();
  });

  test('the schema is on the server, the embedded store was never opened', async () => {
    expect(await count("SELECT count() FROM system.tables WHERE database = 'agentsight' AND name IN ('llm_calls', 'exchanges', 'audit_events')")).toBe(3);
    expect(require('node:fs').existsSync(join(infra.dataDir, 'chdb'))).toBe(false);
  });

  test('SIGKILL of the server mid-stream and a restart: every host stored exactly once, read alike by both apis', async () => {
    for (const h of FIRST) {
      const r = await imported(h);
      expect([r.code, r.stderr]).toEqual([0, expect.anything()]);
    }
    const first = await count('SELECT count() FROM agentsight.exchanges FINAL');
    expect(first).toBe(FIRST.length * EXCHANGES_PER_HOST);
    const total = (FIRST.length + SECOND.length) * EXCHANGES_PER_HOST;
    // one after the other (each waits until its records are stored): the kill falls within the second wave
    const runs = (async () => {
      const out: Awaited<ReturnType<typeof imported>>[] = [];
      for (const h of SECOND) out.push(await imported(h));
      return out;
    })();
    let atKill = first;
    const end = Date.now() + 240_000;
    while (atKill === first) {
      if (Date.now() > end) throw new Error(`the second wave was never stored: ${JSON.stringify(await runs)}`);
      await new Promise((r) => setTimeout(r, 20));
      atKill = await count('SELECT count() FROM agentsight.exchanges FINAL');
    }
    await server.kill('SIGKILL');
    await server.restart();
    for (const r of await runs) expect([r.code, r.stderr]).toEqual([0, expect.anything()]);
    await waitDrained(infra.env, 240_000);
    expect(atKill).toBeGreaterThan(first);
    expect(atKill).toBeLessThan(total); // killed while the second wave was being stored
    expect(await count('SELECT count() FROM agentsight.exchanges FINAL')).toBe(total);
    expect(await count('SELECT uniqExact(exchange_id) FROM agentsight.exchanges')).toBe(total);
    const perHost = await ch.query({ query: 'SELECT host, count() AS exchanges FROM agentsight.exchanges FINAL GROUP BY host ORDER BY host', format: 'JSONEachRow' });
    expect(await perHost.json()).toEqual([...FIRST, ...SECOND].sort().map((host) => ({ host, exchanges: String(EXCHANGES_PER_HOST) })));
    const calls = await ch.query({ query: 'SELECT host, count() AS calls FROM agentsight.llm_calls FINAL GROUP BY host ORDER BY host', format: 'JSONEachRow' });
    expect(await calls.json()).toEqual([...FIRST, ...SECOND].sort().map((host) => ({ host, calls: '1' })));
    const viaA: Row[] = await api(infra, '/api/calls?limit=100');
    const viaB: Row[] = await api({ ...infra, env: { ...infra.env, AGENTSIGHT_API_PORT: String(ports[1]) } }, '/api/calls?limit=100');
    expect(viaA).toHaveLength(FIRST.length + SECOND.length);
    expect(viaB.map((c) => c.call_id).sort()).toEqual(viaA.map((c) => c.call_id).sort());
  }, 600_000);
});
