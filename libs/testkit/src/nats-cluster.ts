/**
 * A 3-node NATS JetStream cluster on local ports for tests (loopback by default), from the deployment's node config
 * (`infra/nats-cluster/node.conf`, values from the environment): free client and route ports, one store dir per node
 * under a temp dir, each node routed to the other two. Nodes can be killed (SIGKILL) and started again on the same
 * ports and store, as a node lost and brought back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, tcpOpen } from './clickhouse-server';
import { repoRoot } from './corpus';

/** One node of a {@link NatsCluster}. */
export interface NatsNode {
  /** `server_name` (n1, n2, n3). */
  readonly name: string;
  /** `nats://<host>:<client port>`. */
  readonly url: string;
  /** Whether its process runs. */
  readonly running: boolean;
  /** SIGKILL (default) or another signal; resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports and store; resolves once its client port accepts connections. */
  start(): Promise<void>;
}

/** A running cluster (see {@link startNatsCluster}). */
export interface NatsCluster {
  readonly nodes: readonly NatsNode[];
  /** Every node's URL, comma-separated: the `NATS_URL` of a client seeded with the whole cluster. */
  readonly url: string;
  /** Node by server name. */
  node(name: string): NatsNode;
  /** Stops every node and removes the stores. */
  stop(): Promise<void>;
}

/** Path of the node config in the repository. */
export function natsClusterConfig(): string {
  return path.join(repoRoot(), 'infra/nats-cluster/node.conf');
}

/**
 * Starts 3 nats-server nodes (`-c infra/nats-cluster/node.conf`, cluster `agentsight`) on `opts.host` (default
 * 127.0.0.1; e.g. a bridge's address that network namespaces reach) and resolves once every client port accepts
 * connections (JetStream's meta leader may still be being elected: clients retry). Throws when a node exits early or
 * does not listen within `readyTimeoutMs` (default 60 000).
 */
export async function startNatsCluster(opts: { readyTimeoutMs?: number; host?: string } = {}): Promise<NatsCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-nats-cluster-'));
  const host = opts.host ?? '127.0.0.1';
  const client = [await freePort(host), await freePort(host), await freePort(host)];
  const route = [await freePort(host), await freePort(host), await freePort(host)];
  const timeout = opts.readyTimeoutMs ?? 60_000;
  const nodes = client.map((port, i) => {
    const name = `n${i + 1}`;
    const others = route.filter((_, j) => j !== i).map((p) => `nats://${host}:${p}`);
    const env = {
      ...process.env, AS_NODE: name, AS_HOST: host, AS_CLIENT_PORT: String(port), AS_CLUSTER_PORT: String(route[i]),
      AS_ROUTE_A: others[0], AS_ROUTE_B: others[1], AS_STORE: path.join(dir, name),
    };
    let proc: ChildProcess | null = null;
    let exited: Promise<void> = Promise.resolve();
    const log = path.join(dir, `${name}.log`);
    const node: NatsNode = {
      name,
      url: `nats://${host}:${port}`,
      get running() { return proc !== null && proc.exitCode === null && proc.signalCode === null; },
      async kill(signal: NodeJS.Signals = 'SIGKILL') {
        if (node.running) proc!.kill(signal);
        await exited;
      },
      async start() {
        const out = fs.openSync(log, 'a');
        const p = spawn('nats-server', ['-c', natsClusterConfig()], { env, stdio: ['ignore', out, out] });
        fs.closeSync(out);
        proc = p;
        let gone = false;
        exited = new Promise((r) => p.once('exit', () => { gone = true; r(); }));
        const end = Date.now() + timeout;
        while (!(await tcpOpen(port, host))) {
          if (gone) throw new Error(`nats node ${name} exited: ${fs.readFileSync(log, 'utf8').slice(-2000)}`);
          if (Date.now() > end) throw new Error(`nats node ${name} did not listen on ${port} within ${timeout} ms`);
          await new Promise((r) => setTimeout(r, 50));
        }
      },
    };
    return node;
  });
  await Promise.all(nodes.map((n) => n.start()));
  return {
    nodes,
    url: nodes.map((n) => n.url).join(','),
    node: (name) => nodes.find((n) => n.name === name) ?? (() => { throw new Error(`no node ${name}`); })(),
    async stop() {
      for (const n of nodes) await n.kill('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `f()`, asked again every 500 ms when it throws (at most `times` more times, default 40): JetStream API requests
 * time out for a while after a cluster lost a node (a leader being elected). Throws `f`'s last error.
 */
export async function askAgain<T>(f: () => Promise<T>, times = 40): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await f();
    } catch (err) {
      if (i >= times) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
