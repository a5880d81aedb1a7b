/**
 * The whole pipeline across the loss of a NATS node: every stage a separate process (parser, aggregator, analyzer,
 * genai, api with chDB) connected to a private 3-node JetStream cluster (libs/testkit startNatsCluster) with R3
 * streams (`AGENTSIGHT_STREAM_REPLICAS=3`). Streamed LLM calls are published as raw records (as the probe would);
 * a third of the way in, the node leading the parser's output stream (AGENTSIGHT_HTTP) is killed with SIGKILL, and
 * brought back later. Conservation: every call stored exactly once (as many exchanges and LLM calls as calls
 * published, none twice), no message published twice on any stream (every `Nats-Msg-Id` once), and each
 * connection's HTTP events in byte order (the parser's publishes kept their order through the leader change).
 * Deliveries the lost node's durables had sent but that never arrived are found (a gap in the consumer sequence, or
 * pending at the server with nothing held) and the partition started again from its ack floor ({@link ConsumerLoop}).
 * No eBPF needed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decode, httpEventsOf, Subjects, type RawSslRecord } from '@agentsight/contracts';
import { connectNats, Publisher, type Nats } from '@agentsight/jetstream';
import { askAgain, loadFixture, overrideEnv, startNatsCluster, streamedCallRecords, type NatsCluster } from '@agentsight/testkit';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { api, Infra, ROOT, Stages, startInfra } from './harness';

type Row = Record<string, any>;
const CALLS = 90;

describe('the pipeline across the loss of the stream leader of a 3-node NATS cluster', () => {
  let cluster: NatsCluster;
  let infra: Infra;
  let stages: Stages;
  let nats: Nats;
  let restoreEnv: (() => void) | undefined;

  beforeAll(async () => {
    // This process's connections (the spec's, waitDrained's) ensure the streams too: with the stages' setting.
    restoreEnv = overrideEnv({ AGENTSIGHT_STREAM_REPLICAS: '3' });
    if (!existsSync(join(ROOT, 'services/api/dist/main.js'))) throw new Error('services not built: run npm run setup');
    cluster = await startNatsCluster();
    infra = await startInfra({ natsUrl: cluster.url });
    // The meta leader may still be being elected: the first stream requests fail until it is.
    nats = await askAgain(() => connectNats(cluster.url, 'node-loss-spec'), 60);
    stages = new Stages(infra.env);
    await stages.startAll();
  }, 240_000);

  afterAll(async () => {
    restoreEnv?.();
    await nats?.nc.close();
    await stages?.stopAll();
    await infra?.stop();
    await cluster?.stop();
  });

  /** Every message of `stream` in stream order: its subject, msg id and payload. */
  async function readStream(stream: string): Promise<Array<{ subject: string; id: string; data: Uint8Array }>> {
    const n = (await askAgain(() => nats.jsm.streams.info(stream))).state.messages;
    const out: Array<{ subject: string; id: string; data: Uint8Array }> = [];
    if (!n) return out;
    const msgs = await (await askAgain(() => nats.js.consumers.get(stream))).consume();
    for await (const m of msgs) {
      out.push({ subject: m.subject, id: m.headers?.get('Nats-Msg-Id') ?? '', data: m.data });
      if (out.length === n) break;
    }
    await msgs.close();
    return out;
  }

  test('SIGKILL of the AGENTSIGHT_HTTP leader mid-flow: every call stored once, nothing published twice, order kept', async () => {
    const fixture = loadFixture('vercel__openai-text.chunks.txt');
    const pub = new Publisher(nats.js, nats.large, 120_000);
    const leaderOf = async (s: string) => (await askAgain(() => nats.jsm.streams.info(s))).cluster?.leader;
    let killed: string | undefined;
    let leaderWhileDown: string | undefined;
    for (let i = 0; i < CALLS; i++) {
      if (i === CALLS / 3) {
        killed = await leaderOf('AGENTSIGHT_HTTP');
        await cluster.node(killed!).kill('SIGKILL');
      }
      if (i === (2 * CALLS) / 3) {
        // read while the old leader is down: just restarted, it may answer with its stale view (itself)
        leaderWhileDown = await leaderOf('AGENTSIGHT_HTTP');
        await cluster.node(killed!).start();
      }
      const recs: RawSslRecord[] = streamedCallRecords(i, fixture.body, i * 10_000);
      await Promise.all(recs.map((r) => pub.publish(Subjects.rawSsl(r.host, r.partition), `node-loss:${i}:${r.seq}`, r)));
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(killed).toBeDefined();
    expect(leaderWhileDown).toBeDefined();
    expect(leaderWhileDown).not.toBe(killed);
    await askAgain(() => waitDrained(infra.env, 150_000), 1); // asked again when its first JetStream request timed out

    const exchanges: Row[] = await api(infra, '/api/exchanges?target=/v1/chat/completions&limit=1000');
    expect(exchanges).toHaveLength(CALLS);
    expect(new Set(exchanges.map((e) => e.exchange_id)).size).toBe(CALLS);
    expect(exchanges.every((e) => e.status === 200)).toBe(true);
    const calls: Row[] = await api(infra, '/api/calls?limit=1000');
    expect(calls).toHaveLength(CALLS);
    expect(new Set(calls.map((c) => c.pid)).size).toBe(CALLS);

    for (const s of ['AGENTSIGHT_RAW', 'AGENTSIGHT_HTTP', 'AGENTSIGHT_EXCHANGE', 'AGENTSIGHT_LLM']) {
      const msgs = await readStream(s);
      const ids = msgs.map((m) => m.id);
      expect([s, ids.length > 0, ids.length - new Set(ids).size]).toEqual([s, true, 0]);
      if (s !== 'AGENTSIGHT_HTTP') continue;
      // per connection and direction, events in byte order (where each ends: a reordered publish would go back)
      const last = new Map<string, number>();
      let inversions = 0;
      // Each message a batch of events (contract v2): every event once in the stream too.
      const events = msgs.flatMap((m) => httpEventsOf(decode(m.data)) ?? []);
      expect(events.length).toBeGreaterThanOrEqual(msgs.length);
      expect(events.length - new Set(events.map((e) => e.id)).size).toBe(0);
      for (const ev of events) {
        const k = `${ev.conn.key}|${ev.span.dir}`;
        if (ev.span.end_offset < (last.get(k) ?? 0)) inversions++;
        last.set(k, ev.span.end_offset);
      }
      expect(inversions).toBe(0);
    }
  }, 420_000);
});
