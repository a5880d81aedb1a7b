/**
 * A real 3-node JetStream cluster (infra/nats-cluster/node.conf, libs/testkit nats-cluster.ts): the services' NATS
 * connection seeded with every node as a comma-separated `NATS_URL`, streams made R1 first and then moved to R3 by
 * `AGENTSIGHT_STREAM_REPLICAS=3` in place (their messages kept), and the raw stream's leader killed with SIGKILL
 * in the middle of publishing and brought back: every message stored once, none lost. With thousands of publishes in
 * flight on several subjects (a parser's partitions), the leader of their R3 stream killed: each subject's messages
 * are stored once each and in publish order ({@link Publisher}'s ordered retries).
 */
import { decode, STREAMS } from '@agentsight/contracts';
import { askAgain, overrideEnv, startNatsCluster, type NatsCluster } from '@agentsight/testkit';
import { connectNats, ensureStreams, natsServers, streamReplicas, type Nats } from './nats';
import { Publisher } from './publisher';

describe('server lists and replica counts (no server)', () => {
  test('NATS_URL lists seed servers separated by commas', () => {
    expect(natsServers('nats://a:4222')).toEqual(['nats://a:4222']);
    expect(natsServers(' nats://a:4222, nats://b:4222 ,,nats://c:4222')).toEqual(['nats://a:4222', 'nats://b:4222', 'nats://c:4222']);
    expect(() => natsServers(' , ')).toThrow(/no NATS server/);
  });

  test('AGENTSIGHT_STREAM_REPLICAS is 1 to 5, default 1', () => {
    expect(streamReplicas({})).toBe(1);
    expect(streamReplicas({ AGENTSIGHT_STREAM_REPLICAS: '3' })).toBe(3);
    for (const bad of ['0', '6', '2.5', 'three']) expect(() => streamReplicas({ AGENTSIGHT_STREAM_REPLICAS: bad })).toThrow(/AGENTSIGHT_STREAM_REPLICAS/);
  });
});

describe('a 3-node JetStream cluster', () => {
  let cluster: NatsCluster;
  let nats: Nats;
  let restoreEnv: (() => void) | undefined;

  beforeAll(async () => {
    cluster = await startNatsCluster();
    restoreEnv = overrideEnv({ AGENTSIGHT_STREAM_REPLICAS: '1' });
    // The meta leader may still be being elected: the first stream requests fail until it is.
    nats = await askAgain(() => connectNats(` ${cluster.nodes.map((n) => n.url).join(', ')} `, 'cluster-spec'), 60);
  }, 120_000);

  afterAll(async () => {
    restoreEnv?.();
    await nats?.nc.close();
    await cluster?.stop();
  });

  /**
   * The stream's cluster info once its move has settled: a leader elected and two current replicas (right after a
   * replica change, nats-server 2.9 may list no leader yet, or a third peer on its way in or out). Throws after 60 s.
   */
  const settled = async (stream: string) => {
    for (let i = 0; ; i++) {
      const info = await nats.jsm.streams.info(stream);
      const replicas = info.cluster?.replicas ?? [];
      if (info.cluster?.leader && replicas.length === 2 && replicas.every((r) => r.current)) return info;
      if (i >= 240) throw new Error(`${stream} did not settle: ${JSON.stringify(info.cluster)}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  };

  test('R1 streams move to R3 in place, their messages kept', async () => {
    const raw = 'AGENTSIGHT_RAW';
    expect((await nats.jsm.streams.info(raw)).config.num_replicas).toBe(1);
    for (let i = 0; i < 10; i++) await nats.js.publish('agentsight.raw.proc.h1', new Uint8Array([i]), { msgID: `r1-${i}` });
    await ensureStreams(nats.jsm, STREAMS, { ...process.env, AGENTSIGHT_STREAM_REPLICAS: '3' });
    for (const s of STREAMS) {
      const info = await nats.jsm.streams.info(s.name);
      expect([s.name, info.config.num_replicas]).toEqual([s.name, 3]);
    }
    const info = await settled(raw);
    expect(info.state.messages).toBe(10);
    expect(info.cluster?.replicas?.length).toBe(2);
  }, 120_000);

  test('SIGKILL of the stream leader mid-publish and its return: every message stored once', async () => {
    const raw = 'AGENTSIGHT_RAW';
    const settledInfo = await settled(raw);
    const before = settledInfo.state.messages;
    const leader = settledInfo.cluster!.leader!;
    const pub = new Publisher(nats.js, nats.large);
    const N = 300;
    let killed = false;
    for (let i = 0; i < N; i++) {
      if (i === N / 3) {
        await cluster.node(leader).kill('SIGKILL');
        killed = true;
      }
      // a publish that fails while the stream elects a new leader is retried with the same message id
      for (let attempt = 0; ; attempt++) {
        try {
          await pub.publish('agentsight.raw.proc.h2', `kill-${i}`, { v: 1, i });
          break;
        } catch (err) {
          if (attempt >= 120) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    }
    expect(killed).toBe(true);
    // Asked while the old leader is down: right after its restart, it may answer with its own stale view (leader itself).
    const info = await nats.jsm.streams.info(raw);
    expect(info.cluster?.leader).not.toBe(leader);
    expect(info.state.messages).toBe(before + N);
    await cluster.node(leader).start();
    // the restarted node catches up: it is a current replica again
    for (let i = 0; ; i++) {
      const r = (await nats.jsm.streams.info(raw)).cluster?.replicas?.find((x) => x.name === leader);
      if (r?.current) break;
      if (i >= 240) throw new Error(`node ${leader} did not catch up: ${JSON.stringify(r)}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  }, 240_000);

  test('thousands of publishes in flight across a leader kill: each subject stored once each, in publish order', async () => {
    const stream = 'ORDER_SPEC';
    await nats.jsm.streams.add({ name: stream, subjects: ['order.>'], num_replicas: 3, duplicate_window: 120e9 });
    const leader = (await settled(stream)).cluster!.leader!;
    const pub = new Publisher(nats.js, nats.large, 120_000);
    const SUBJECTS = 8;
    const N = 12_000;
    const WINDOW = 800;
    const next = new Array<number>(SUBJECTS).fill(0);
    const inFlight = new Set<Promise<unknown>>();
    let killedAt = -1;
    for (let i = 0; i < N; i++) {
      if (i === N / 3) {
        killedAt = i;
        void cluster.node(leader).kill('SIGKILL');
      }
      const s = i % SUBJECTS;
      const p = pub.publish(`order.${s}`, `order-${i}`, { s, k: next[s]++ });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p)).catch(() => undefined);
      if (inFlight.size >= WINDOW) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    expect(killedAt).toBe(N / 3);
    // JetStream API requests can time out while the cluster settles after the loss: asked again.
    const info = await askAgain(() => nats.jsm.streams.info(stream));
    expect(info.cluster?.leader).not.toBe(leader);
    expect(info.state.messages).toBe(N);
    // Read the stream back in stream order: per subject, k must be 0, 1, 2, ... with nothing missing or twice.
    const seen = new Array<number>(SUBJECTS).fill(0);
    let inversions = 0;
    const consumer = await askAgain(() => nats.js.consumers.get(stream));
    const msgs = await consumer.consume();
    let read = 0;
    for await (const m of msgs) {
      const { s, k } = decode<{ s: number; k: number }>(m.data);
      if (k !== seen[s]) inversions++;
      seen[s] = Math.max(seen[s], k + 1);
      if (++read === N) break;
    }
    await msgs.close();
    expect({ inversions, perSubject: seen }).toEqual({ inversions: 0, perSubject: next });
    await cluster.node(leader).start();
    await nats.jsm.streams.delete(stream);
  }, 240_000);
});
