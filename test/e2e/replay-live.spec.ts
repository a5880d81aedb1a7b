/**
 * `agentsight replay` while live capture goes on, storing into a ClickHouse server (`CLICKHOUSE_URL`, chDB's server
 * mode, libs/testkit clickhouse-server.ts), every stage a separate process over private NATS and Redis. Streamed LLM
 * calls are published as raw records (as the probe would), one every 250 ms, before, during and after a replay of
 * the whole raw stream: the live rows keep being stored while the replay runs, and at the end every call published
 * is stored, each once (the replay's versions replaced the live ones of the calls before its start). No eBPF needed.
 */
import { openClickHouse, type ClickHouseClient } from '@agentsight/clickhouse';
import { connectNats, type Nats } from '@agentsight/jetstream';
import { startClickHouseServer, type ClickHouseServer } from '@agentsight/testkit';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { Infra, runCli, Stages, startInfra, until } from './harness';
import { publishCalls } from './replay-rows';

describe('agentsight replay while the live pipeline goes on storing', () => {
  let server: ClickHouseServer;
  let infra: Infra;
  let stages: Stages;
  let nats: Nats;
  let ch: ClickHouseClient;

  const count = async (q: string): Promise<number> => {
    const rs = await ch.query({ query: q, format: 'JSONEachRow' });
    return Number(Object.values((await rs.json<Record<string, string>>())[0]!)[0]);
  };
  const storedCalls = () => count('SELECT count() FROM agentsight.llm_calls FINAL');

  beforeAll(async () => {
    server = await startClickHouseServer();
    infra = await startInfra();
    infra.env.CLICKHOUSE_URL = server.url;
    stages = new Stages(infra.env);
    await stages.startAll();
    nats = await connectNats(infra.natsUrl, 'replay-live-spec');
    ch = await openClickHouse({ url: server.url });
  }, 240_000);

  afterAll(async () => {
    await ch?.close();
    await nats?.nc.close();
    await stages?.stopAll();
    await infra?.stop();
    await server?.stop();
  });

  test('live rows keep flowing during the replay; at the end every call once, none lost', async () => {
    let published = 0;
    const publishOne = () => publishCalls(nats, { first: published++, count: 1, tag: 'replay-live' });
    let replayDone = false;
    let stop = false;
    const live = (async () => {
      while (!stop) {
        await publishOne();
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    try {
      await until('10 live calls stored', async () => (await storedCalls()) >= 10, 120_000);
      const atStart = await storedCalls();
      const publishedAtStart = published;
      const replay = runCli(['replay'], infra.env, 400_000).finally(() => (replayDone = true));
      // stored while the replay runs (sampled each second): the live pipeline does not wait for it
      const during: number[] = [];
      while (!replayDone) {
        during.push(await storedCalls());
        await new Promise((r) => setTimeout(r, 1000));
      }
      const r = await replay;
      expect(r.stderr).toMatch(/replay r\w+ done: \d+ input message\(s\)/);
      expect(r.stderr).toMatch(/merged \d+ partition\(s\)/);
      expect(r.code).toBe(0);
      const atEnd = await storedCalls();
      expect(published).toBeGreaterThan(publishedAtStart + 10);
      expect(atEnd).toBeGreaterThan(atStart);
      expect(during.filter((n, k) => k > 0 && n > during[k - 1]).length).toBeGreaterThan(0);
      for (let k = 0; k < 5; k++) await publishOne(); // and after it
    } finally {
      stop = true;
      await live;
    }
    await waitDrained(infra.env, 240_000);
    expect(await storedCalls()).toBe(published);
    expect(await count('SELECT uniqExact(pid) FROM agentsight.llm_calls FINAL')).toBe(published);
    expect(await count('SELECT count() FROM agentsight.exchanges FINAL')).toBe(published);
    expect(await count('SELECT uniqExact(call_id) FROM agentsight.llm_calls')).toBe(published);
    expect(await count('SELECT count() FROM agentsight.dead_letters FINAL')).toBe(0);
  }, 600_000);
});
