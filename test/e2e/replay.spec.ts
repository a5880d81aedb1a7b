/**
 * `agentsight replay` with the real pipeline: the example agent (official openai SDK: a streamed tool call, a real
 * `ls`, a second call) and a TLS connection of garbage (dead letters) are captured by eBPF and stored by the stage
 * services; then the store's tables are wiped, the stages stopped, and `agentsight replay` re-derives everything
 * from the retained raw stream through the same services in a replay's namespace. Every table holds the exact same
 * rows again (final versions of versioned records, see readersView); a second replay stores nothing twice; the live durables and the live Redis state are untouched, and
 * the replay leaves no consumer, subject or Redis key behind.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { openClickHouse } from '@agentsight/clickhouse';
import { connectNats } from '@agentsight/jetstream';
import { EXAMPLE_AGENT_ROUTES, ReplayServer, startReplayServer } from '@agentsight/testkit';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { captureRun, describeCapture, Infra, ROOT, runCli, Stages, startInfra } from './harness';

type Row = Record<string, unknown>;
const TABLES = ['llm_calls', 'exchanges', 'audit_events', 'dead_letters', 'tool_uses', 'genai_spans'] as const;
/**
 * Columns that are not derived from the inputs: when the row was stored (every table), and a dead letter's time of
 * writing and the sequence of its input in the stream the stage read (a replay's stages read the replay's stream).
 */
const NOT_DERIVED: Record<string, string[]> = { dead_letters: ['ingested_at', 'ts_ns', 'input_seq'] };

/**
 * What depends on the interleaving of partitions, which a replay does not reproduce (live, the agent's second call
 * was analysed after the first by causality; replayed, both connections' exchanges are ready at once): the
 * intermediate versions of a tool use (a result-only version 2 when the result's exchange comes first; its audit row
 * has another `ts`, the sort key, so it stays beside the final one, and readers keep the newest version per tool
 * use) and the version counter of a session's `invoke_agent` (one per event folded in). Final contents are equal.
 */
function readersView(t: string, rows: Row[]): Row[] {
  if (t === 'audit_events') {
    const newest = new Map<string, number>();
    const tool = (r: Row) => (r.type === 'tool' ? (JSON.parse(r.details as string) as { tool_use_id: string; version: number }) : null);
    for (const r of rows) {
      const d = tool(r);
      if (d) newest.set(d.tool_use_id, Math.max(newest.get(d.tool_use_id) ?? 0, d.version));
    }
    return rows.filter((r) => !tool(r) || tool(r)!.version === newest.get(tool(r)!.tool_use_id));
  }
  if (t === 'genai_spans') return rows.map((r) => (r.kind === 'invoke_agent' ? { ...r, version: 'the count of events folded in' } : r));
  return rows;
}

async function snapshot(dataDir: string): Promise<Record<string, Row[]>> {
  const ch = await openClickHouse({ dataDir: join(dataDir, 'chdb') });
  try {
    const out: Record<string, Row[]> = {};
    for (const t of TABLES) {
      const except = (NOT_DERIVED[t] ?? ['ingested_at']).join(', ');
      const rs = await ch.query({ query: `SELECT * EXCEPT (${except}) FROM agentsight.${t} FINAL`, format: 'JSONEachRow' });
      out[t] = readersView(t, (await rs.json()) as Row[]).map((r) => JSON.stringify(r)).sort().map((s) => JSON.parse(s) as Row);
    }
    return out;
  } finally {
    await ch.close();
  }
}

async function wipe(dataDir: string): Promise<void> {
  const ch = await openClickHouse({ dataDir: join(dataDir, 'chdb') });
  for (const t of TABLES) await ch.command({ query: `TRUNCATE TABLE agentsight.${t}` });
  await ch.close();
}

/** The live durables' positions and the live Redis keys (leases and membership expire by themselves: left out). */
async function liveState(infra: Infra): Promise<{ durables: string[]; keys: string[]; replayConsumers: string[]; replayMessages: number }> {
  const nats = await connectNats(infra.natsUrl, 'e2e-replay');
  const redis = new Redis(infra.env.REDIS_URL!);
  try {
    const durables: string[] = [];
    const replayConsumers: string[] = [];
    for (const s of await nats.jsm.streams.names().next()) {
      for await (const ci of nats.jsm.consumers.list(s)) {
        if (ci.name.startsWith('replay-')) replayConsumers.push(ci.name);
        else durables.push(`${s}/${ci.name}:${ci.delivered.stream_seq}:${ci.ack_floor.stream_seq}:${ci.num_pending}`);
      }
    }
    const keys = (await redis.keys('*')).filter((k) => !/^agentsight:(lease|members):/.test(k)).sort();
    const replayMessages = (await nats.jsm.streams.info('AGENTSIGHT_REPLAY')).state.messages;
    return { durables: durables.sort(), keys, replayConsumers, replayMessages };
  } finally {
    redis.disconnect();
    await nats.nc.close();
  }
}

describeCapture('agentsight replay re-derives storage from the retained streams', () => {
  let infra: Infra;
  let stages: Stages;
  let server: ReplayServer;
  let stored: Record<string, Row[]>;
  let live: Awaited<ReturnType<typeof liveState>>;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'examples/dist/agent.js'))) throw new Error('examples not built: run npm run setup');
    infra = await startInfra();
    stages = new Stages(infra.env);
    await stages.startAll();
    server = await startReplayServer({ routes: EXAMPLE_AGENT_ROUTES });
    const env = { ...infra.env, OPENAI_BASE_URL: `${server.url}/v1`, NODE_EXTRA_CA_CERTS: server.caPath, OPENAI_API_KEY: '', AGENT_LS_DIR: '' };
    const run = await captureRun(infra, `${process.execPath} ${join(ROOT, 'examples/dist/agent.js')} ${infra.dataDir} && node ${join(__dirname, 'client.js')} ${server.url} ${server.caPath} garbage`, env);
    expect(run.code).toBe(0);
    expect(run.probe.lost_records).toBe(0);
    expect(run.probe.ringbuf_drops).toBe(0);
    await waitDrained(infra.env);
    await stages.stopAll(); // the embedded store has one writer: the replay's api
    stored = await snapshot(infra.dataDir);
    live = await liveState(infra);
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    await stages?.stopAll();
    await infra?.stop();
  });

  test('the capture stored a row in every table', () => {
    for (const t of TABLES) expect([t, stored[t].length > 0]).toEqual([t, true]);
    expect(stored.llm_calls).toHaveLength(2);
  });

  test('wiped tables, replayed from the raw stream: the exact same rows', async () => {
    await wipe(infra.dataDir);
    expect((await snapshot(infra.dataDir)).llm_calls).toHaveLength(0);
    const r = await runCli(['replay'], infra.env);
    expect(r.stderr).toMatch(/replay r\w+ done: \d+ input message\(s\)/);
    expect(r.code).toBe(0);
    expect(await snapshot(infra.dataDir)).toEqual(stored);
  }, 240_000);

  test('a second replay stores nothing twice', async () => {
    const r = await runCli(['replay'], infra.env);
    expect(r.code).toBe(0);
    expect(await snapshot(infra.dataDir)).toEqual(stored);
  }, 240_000);

  test('the live durables and Redis state are untouched; the replays leave nothing behind', async () => {
    expect(await liveState(infra)).toEqual({ ...live, replayConsumers: [], replayMessages: 0 });
  });
});
