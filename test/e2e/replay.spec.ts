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
import { EXAMPLE_AGENT_ROUTES, ReplayServer, startReplayServer } from '@agentsight/testkit';
import { captureRun, describeCapture, Infra, ROOT, runCli, startInfra } from './harness';
import { liveState, readRows, storeLive, wipeRows, type LiveState, type Row, type Rows } from './replay-rows';

/** The tables compared (resource samples are the probe's readings of the agent's processes, not derived from the calls). */
const COMPARED = ['llm_calls', 'exchanges', 'audit_events', 'dead_letters', 'tool_uses', 'genai_spans'] as const;

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

const snapshot = (dataDir: string) => readRows(dataDir, { tables: COMPARED, view: readersView });

describeCapture('agentsight replay re-derives storage from the retained streams', () => {
  let infra: Infra;
  let server: ReplayServer;
  let stored: Rows;
  let live: LiveState;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'examples/dist/agent.js'))) throw new Error('examples not built: run npm run setup');
    infra = await startInfra();
    server = await startReplayServer({ routes: EXAMPLE_AGENT_ROUTES });
    const env = { ...infra.env, OPENAI_BASE_URL: `${server.url}/v1`, NODE_EXTRA_CA_CERTS: server.caPath, OPENAI_API_KEY: '', AGENT_LS_DIR: '' };
    await storeLive(infra, async () => {
      const run = await captureRun(infra, `${process.execPath} ${join(ROOT, 'examples/dist/agent.js')} ${infra.dataDir} && node ${join(__dirname, 'client.js')} ${server.url} ${server.caPath} garbage`, env);
      expect(run.code).toBe(0);
      expect(run.probe.lost_records).toBe(0);
      expect(run.probe.ringbuf_drops).toBe(0);
    });
    stored = await snapshot(infra.dataDir);
    live = await liveState(infra);
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    await infra?.stop();
  });

  test('the capture stored a row in every table', () => {
    for (const t of COMPARED) expect([t, stored[t].length > 0]).toEqual([t, true]);
    expect(stored.llm_calls).toHaveLength(2);
  });

  test('wiped tables, replayed from the raw stream: the exact same rows', async () => {
    await wipeRows(infra.dataDir);
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
