/**
 * Horizontal scale with takeover, under real capture: two parser and two aggregator instances (separate processes,
 * `AGENTSIGHT_INSTANCE` a and b) share the 8 partitions of their subjects half and half; in the middle of a stream of
 * streamed LLM calls (one process, one TLS connection each, so they spread over the partitions) instance a of both is
 * killed with SIGKILL; instance b takes its partitions over (from the durables' ack floors) and every call is stored
 * exactly once: as many exchanges and LLM calls as requests the server answered, none lost, none twice.
 */
import { join } from 'node:path';
import Redis from 'ioredis';
import { startReplayServer, type ReplayServer } from '@agentsight/testkit';
import { spawnReady, type Child } from '../../services/api/src/cli/children';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { api, captureRun, describeCapture, Infra, ROOT, Stages, startInfra, stopChild, until } from './harness';

type Row = Record<string, any>;
const CALLS = 16;
const PARTITIONS = 8;

describeCapture('two parsers and two aggregators share partitions and take over after SIGKILL', () => {
  let infra: Infra;
  let stages: Stages;
  let server: ReplayServer;
  let redis: Redis;
  const scaled: Child[] = [];

  const start = (stage: 'parser' | 'aggregator', instance: string) => spawnReady(`${stage}-${instance}`, process.execPath, [join(ROOT, `services/${stage}/dist/main.js`)], {
    env: { ...infra.env, AGENTSIGHT_INSTANCE: instance }, logDir: join(infra.dataDir, 'logs'),
  });
  /** Owner instance of each partition of `stage` (null: free). */
  const owners = async (stage: string) => (await redis.mget(Array.from({ length: PARTITIONS }, (_, p) => `agentsight:lease:${stage}:${p}`))).map((v) => v?.split(':').pop() ?? null);
  const count = (list: (string | null)[], who: string) => list.filter((o) => o === who).length;

  beforeAll(async () => {
    infra = await startInfra();
    stages = new Stages(infra.env);
    for (const s of ['api', 'genai', 'analyzer']) await stages.start(s);
    for (const stage of ['aggregator', 'parser'] as const) for (const i of ['a', 'b']) scaled.push(await start(stage, i));
    server = await startReplayServer({});
    redis = new Redis(infra.env.REDIS_URL!);
  }, 180_000);

  afterAll(async () => {
    redis?.disconnect();
    await server?.close();
    for (const c of scaled.reverse()) await stopChild(c);
    await stages?.stopAll();
    await infra?.stop();
  });

  test('each instance holds half the partitions', async () => {
    for (const stage of ['parser', 'aggregator']) {
      await until(`${stage} partitions split 4/4`, async () => {
        const o = await owners(stage);
        return count(o, 'a') === PARTITIONS / 2 && count(o, 'b') === PARTITIONS / 2;
      });
    }
  }, 90_000);

  test('SIGKILL of instance a mid-stream: b takes its partitions over, every call stored exactly once', async () => {
    const client = `node ${join(__dirname, 'client.js')} ${server.url} ${server.caPath} stream /v1/messages vercel__anthropic-text.json 40`;
    const script = Array.from({ length: CALLS }, () => client).join(' && ');
    const killed: string[] = [];
    const heldByA: number[] = [];
    let answeredAtKill = 0;
    const run = await captureRun(infra, script, infra.env, async () => {
      await until('a third of the calls answered', async () => server.requests.length >= CALLS / 3, 120_000);
      for (const stage of ['parser', 'aggregator']) heldByA.push(count(await owners(stage), 'a'));
      for (const c of scaled.filter((x) => x.name.endsWith('-a'))) {
        c.proc.kill('SIGKILL');
        await c.exited;
        killed.push(c.name);
      }
      answeredAtKill = server.requests.length;
    });
    expect(run.code).toBe(0);
    expect(run.probe.lost_records).toBe(0);
    expect(run.probe.ringbuf_drops).toBe(0);
    expect(killed).toEqual(['aggregator-a', 'parser-a']);
    expect(heldByA).toEqual([PARTITIONS / 2, PARTITIONS / 2]);
    expect(answeredAtKill).toBeLessThan(CALLS); // killed mid-stream, not after it
    for (const stage of ['parser', 'aggregator']) await until(`${stage} b owns every partition`, async () => count(await owners(stage), 'b') === PARTITIONS);
    await waitDrained(infra.env, 180_000);
    expect(server.requests).toHaveLength(CALLS);
    const exchanges: Row[] = await api(infra, `/api/exchanges?target=/v1/messages&limit=1000`);
    expect(exchanges).toHaveLength(CALLS);
    expect(new Set(exchanges.map((e) => e.exchange_id)).size).toBe(CALLS);
    expect(exchanges.every((e) => e.status === 200)).toBe(true);
    const calls: Row[] = await api(infra, '/api/calls?limit=1000');
    expect(calls).toHaveLength(CALLS);
    // one connection per call: the calls came from CALLS different processes
    expect(new Set(calls.map((c) => c.pid)).size).toBe(CALLS);
  }, 300_000);
});
