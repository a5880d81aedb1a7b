/**
 * Several hosts into one NATS cluster (issue 11, "Distributed engines"): two hosts simulated as network namespaces
 * (`ip netns` and veth pairs on a bridge, made by the test itself), each running its own producer inside its
 * namespace (test/e2e/netns-publisher.js: raw records of streamed calls under its own host name, as the probe
 * publishes them) against a private 3-node JetStream cluster that listens on the bridge's address, with R3 streams
 * (`AGENTSIGHT_STREAM_REPLICAS=3`); one set of stage instances on the host (every stage a separate process, storing
 * into a ClickHouse server so the test can read the tables) serves both. A third of the way in, the node leading
 * AGENTSIGHT_RAW is killed with SIGKILL; at two thirds it is started again. Every call of each host is stored exactly
 * once and under its own host (as many exchanges and LLM calls per host as it published, none twice), no raw record
 * is in the stream twice, and each host's connections stay apart in storage. Root only (network namespaces); no eBPF.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connectNats, type Nats } from '@agentsight/jetstream';
import { askAgain, loadFixture, overrideEnv, startClickHouseServer, startNatsCluster, streamedCallRecords, type ClickHouseServer, type NatsCluster } from '@agentsight/testkit';
import { openClickHouse, type ClickHouseClient } from '@agentsight/clickhouse';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { Infra, ROOT, Stages, startInfra, until } from './harness';

const CALLS = 45;
const HOSTS = ['host-a', 'host-b'] as const;

/** A bridge on this host and one network namespace per simulated host, each with a veth pair onto the bridge. */
class Fleet {
  readonly tag = (process.pid % 1_000_000).toString(36);
  readonly bridge = `asbr${this.tag}`;
  readonly subnet = `10.${200 + (process.pid % 50)}.${process.pid % 250}`;
  /** The bridge's address: where the NATS cluster listens, as the hub the hosts reach over their links. */
  readonly hub = `${this.subnet}.1`;
  readonly namespaces: Array<{ name: string; address: string }> = [];

  /** Makes the bridge and `n` namespaces (addresses .2, .3, … of the subnet); throws what `ip` says. */
  up(n: number): void {
    ip('link', 'add', 'name', this.bridge, 'type', 'bridge');
    ip('addr', 'add', `${this.hub}/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
    for (let k = 1; k <= n; k++) {
      const name = `as-h${k}-${this.tag}`;
      const [outside, inside] = [`asv${k}${this.tag}`, `asp${k}${this.tag}`];
      const address = `${this.subnet}.${k + 1}`;
      ip('netns', 'add', name);
      this.namespaces.push({ name, address });
      ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
      ip('link', 'set', outside, 'master', this.bridge, 'up');
      ip('link', 'set', inside, 'netns', name);
      ip('-n', name, 'addr', 'add', `${address}/24`, 'dev', inside);
      ip('-n', name, 'link', 'set', inside, 'up');
      ip('-n', name, 'link', 'set', 'lo', 'up');
    }
  }

  /** Removes the namespaces (and with them their veth pairs) and the bridge; never throws. */
  down(): void {
    for (const ns of this.namespaces) tryIp('netns', 'del', ns.name);
    tryIp('link', 'del', this.bridge);
  }
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

function tryIp(...args: string[]): void {
  try {
    ip(...args);
  } catch {
    /* already gone */
  }
}

/** A producer running in a namespace: its JSON lines as they come, and its exit. */
interface Producer {
  proc: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stderr: string;
  exited: Promise<number | null>;
  published(): number;
}

function startProducer(ns: string, host: string, natsUrl: string): Producer {
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, join(__dirname, 'netns-publisher.js')], {
    env: { ...process.env, NATS_URL: natsUrl, AS_HOST_NAME: host, AS_CALLS: String(CALLS), AS_GAP_MS: '60' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p: Producer = {
    proc, lines: [], stderr: '',
    exited: new Promise((r) => proc.once('exit', (code) => r(code))),
    published: () => Math.max(0, ...p.lines.map((l) => Number(l.published ?? 0))),
  };
  let buf = '';
  proc.stdout!.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      p.lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
    }
  });
  proc.stderr!.on('data', (d) => (p.stderr += d));
  return p;
}

describe('two hosts (network namespaces) into one 3-node NATS cluster, a node lost mid-stream', () => {
  const fleet = new Fleet();
  let cluster: NatsCluster;
  let ch: ClickHouseServer;
  let db: ClickHouseClient;
  let infra: Infra;
  let stages: Stages;
  let nats: Nats;
  let restoreEnv: (() => void) | undefined;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'services/api/dist/main.js'))) throw new Error('services not built: run npm run setup');
    if (process.getuid?.() !== 0) throw new Error('network namespaces need root');
    fleet.up(HOSTS.length);
    restoreEnv = overrideEnv({ AGENTSIGHT_STREAM_REPLICAS: '3' });
    cluster = await startNatsCluster({ host: fleet.hub });
    ch = await startClickHouseServer();
    infra = await startInfra({ natsUrl: cluster.url });
    infra.env.CLICKHOUSE_URL = ch.url;
    nats = await askAgain(() => connectNats(cluster.url, 'netns-hosts-spec'), 60);
    stages = new Stages(infra.env);
    await stages.startAll();
    db = await openClickHouse({ url: ch.url });
  }, 300_000);

  afterAll(async () => {
    restoreEnv?.();
    await db?.close();
    await nats?.nc.close();
    await stages?.stopAll();
    await infra?.stop();
    await cluster?.stop();
    await ch?.stop();
    fleet.down();
  });

  async function q<T>(query: string): Promise<T[]> {
    const rs = await db.query({ query, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
    return rs.json<T>();
  }

  test('each host\'s calls stored once under its host across the loss and return of the raw stream\'s leader', async () => {
    const producers = HOSTS.map((h, k) => startProducer(fleet.namespaces[k]!.name, h, cluster.url));
    const leaderOf = async (s: string) => (await askAgain(() => nats.jsm.streams.info(s))).cluster?.leader;
    await until('a third of each host\'s calls published', () => producers.every((p) => p.published() >= CALLS / 3), 120_000);
    const killed = await leaderOf('AGENTSIGHT_RAW');
    expect(killed).toBeDefined();
    await cluster.node(killed!).kill('SIGKILL');
    const atKill = producers.map((p) => p.published());
    await until('two thirds of each host\'s calls published', () => producers.every((p) => p.published() >= (2 * CALLS) / 3), 120_000);
    const leaderWhileDown = await leaderOf('AGENTSIGHT_RAW');
    await cluster.node(killed!).start();
    const codes = await Promise.all(producers.map((p) => p.exited));
    expect([codes, producers.map((p) => p.stderr)]).toEqual([[0, 0], ['', '']]);
    expect(atKill.every((n) => n < CALLS)).toBe(true); // killed mid-stream for both hosts
    expect(leaderWhileDown).not.toBe(killed);
    // Each producer ran in its own namespace: its only addresses were its link's and loopback.
    for (const [k, p] of producers.entries()) {
      expect(p.lines.at(-1)).toEqual({ done: true, host: HOSTS[k], addresses: [fleet.namespaces[k]!.address, '127.0.0.1'].sort(), published: CALLS });
    }
    await askAgain(() => waitDrained(infra.env, 180_000), 1);

    // No raw record twice in the stream (each msg id once), every host's records there.
    const raw = await askAgain(() => nats.jsm.streams.info('AGENTSIGHT_RAW', { subjects_filter: 'agentsight.raw.ssl.>' }));
    const perHost = (h: string) => Object.entries(raw.state.subjects ?? {}).filter(([s]) => s.startsWith(`agentsight.raw.ssl.${h}.`)).reduce((n, [, c]) => n + Number(c), 0);
    const records = CALLS * streamedCallRecords(0, loadFixture('vercel__openai-text.chunks.txt').body, 0).length;
    expect(HOSTS.map((h) => [h, perHost(h)])).toEqual(HOSTS.map((h) => [h, records]));
    // Storage: every call once per host, under its host; the two hosts' connections apart.
    const exchanges = await q<{ host: string; n: number; ids: number; ok: number }>(
      "SELECT host, count() AS n, uniqExact(exchange_id) AS ids, countIf(status = 200) AS ok FROM agentsight.exchanges FINAL WHERE target = '/v1/chat/completions' GROUP BY host ORDER BY host",
    );
    expect(exchanges).toEqual(HOSTS.map((host) => ({ host, n: CALLS, ids: CALLS, ok: CALLS })));
    const calls = await q<{ host: string; n: number; ids: number; pids: number }>('SELECT host, count() AS n, uniqExact(call_id) AS ids, uniqExact(pid) AS pids FROM agentsight.llm_calls FINAL GROUP BY host ORDER BY host');
    expect(calls).toEqual(HOSTS.map((host) => ({ host, n: CALLS, ids: CALLS, pids: CALLS })));
    // Both hosts used the same pids and SSL pointers: only the host keeps their exchanges apart.
    const [shared] = await q<{ n: number }>('SELECT count() AS n FROM (SELECT pid FROM agentsight.exchanges FINAL GROUP BY pid HAVING uniqExact(host) = 2)');
    expect(shared!.n).toBe(CALLS);
  }, 600_000);
});
