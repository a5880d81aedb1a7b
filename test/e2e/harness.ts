/**
 * End-to-end test harness: real nats-server (JetStream) and redis-server private to one test file (random ports,
 * temp dirs), the built stage services as child processes, the real eBPF probe, and the `agentsight` CLI.
 * Nothing is mocked. Requires `npm run setup` (build) first; `npm test` does it.
 */
import { spawn, ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Redis from 'ioredis';
import { apiToken, connectNats, ensureSecrets, type Nats } from '@agentsight/jetstream';
import { BPF_REQUIRED, bpfUnavailableReason, freePort, probeBinary, startReplayServer, type ReplayServer } from '@agentsight/testkit';
import { Child, spawnReady, stopChild } from '../../services/api/src/cli/children';

export const ROOT = resolve(__dirname, '../..');
export const CLI = join(ROOT, 'services/api/bin/agentsight.js');
export const PROBE = probeBinary();

/**
 * Whether real capture can run here (root, BTF, built probe). When it cannot: tests skip, unless
 * AGENTSIGHT_REQUIRE_BPF=1, in which case they fail with the reason.
 */
export function captureUnavailable(): string | null {
  return bpfUnavailableReason() ?? (existsSync(join(ROOT, 'services/parser/dist/main.js')) ? null : 'services not built; run npm run setup');
}

/** `describe` that runs only when capture is available (or fails when AGENTSIGHT_REQUIRE_BPF=1). */
export function describeCapture(name: string, fn: () => void): void {
  const why = captureUnavailable();
  if (why && !BPF_REQUIRED) {
    // eslint-disable-next-line no-console
    console.warn(`skipping "${name}": ${why} (set AGENTSIGHT_REQUIRE_BPF=1 to fail instead)`);
    describe.skip(name, fn);
    return;
  }
  if (why) {
    describe(name, () => test('capture is available', () => { throw new Error(`capture required but unavailable: ${why}`); }));
    return;
  }
  describe(name, fn);
}

export { freePort };

async function waitPort(port: number, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const c = tcpConnect(port, '127.0.0.1', () => { c.destroy(); r(true); });
      c.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`port ${port} did not open`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Private NATS + Redis + data dir of one test file, and the environment that points every component at them. */
export interface Infra {
  env: NodeJS.ProcessEnv;
  dataDir: string;
  natsUrl: string;
  /**
   * Kills one of the test's brokers with SIGKILL, keeps it down `downMs`, and starts it again on the same port with
   * the same arguments: NATS with its store dir as it was (streams and durables survive), Redis empty (it never
   * persists). Resolves once the port answers again.
   */
  restartBroker(which: 'nats' | 'redis', downMs: number): Promise<void>;
  /** The NATS store directory (on its own tmpfs with `natsStoreTmpfsMiB`). */
  natsStoreDir: string;
  stop(): Promise<void>;
}

/**
 * JetStream's file-store limit when the store is on a small tmpfs (`natsStoreTmpfsMiB`): above the streams'
 * `max_bytes` reservations (libs/contracts topology.ts, ~10 GiB), so the streams are made as in production and the
 * disk, not the limit, runs out. Without it nats-server takes most of the tmpfs' size as its limit and refuses them.
 */
const TMPFS_MAX_FILE_STORE = '64G';

/**
 * Starts a test's private brokers and data dir. With `natsUrl` (say a {@link startNatsCluster}'s URL list) no NATS
 * server is started: the components use that one (`restartBroker('nats')` then throws).
 */
export async function startInfra(opts: { natsUrl?: string; natsStoreTmpfsMiB?: number } = {}): Promise<Infra> {
  const dataDir = mkdtempSync(join(tmpdir(), 'agentsight-e2e-'));
  const [natsPort, redisPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const natsStoreDir = join(dataDir, 'nats');
  const natsArgs = ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', natsStoreDir];
  if (opts.natsStoreTmpfsMiB) {
    // A disk of its own for the store (root: the capture tests run as root), to fill it (test/chaos disk-full).
    mkdirSync(natsStoreDir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${opts.natsStoreTmpfsMiB}m,mode=0700`, 'tmpfs', natsStoreDir]);
    const conf = join(dataDir, 'nats-tmpfs.conf');
    writeFileSync(conf, `jetstream { store_dir: ${JSON.stringify(natsStoreDir)}, max_file_store: ${TMPFS_MAX_FILE_STORE} }\n`);
    natsArgs.splice(natsArgs.indexOf('-js'), 3, '-c', conf);
  }
  const brokers = {
    nats: { port: natsPort, cmd: 'nats-server', args: natsArgs },
    redis: { port: redisPort, cmd: 'redis-server', args: ['--bind', '127.0.0.1', '--port', String(redisPort), '--save', '', '--appendonly', 'no'] },
  };
  const procs: Partial<Record<keyof typeof brokers, ChildProcess>> = {
    ...(opts.natsUrl ? {} : { nats: spawn(brokers.nats.cmd, brokers.nats.args, { stdio: 'ignore' }) }),
    redis: spawn(brokers.redis.cmd, brokers.redis.args, { stdio: 'ignore' }),
  };
  const exited = (p: ChildProcess) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.on('exit', r)));
  if (!opts.natsUrl) await waitPort(natsPort);
  await waitPort(redisPort);
  const natsUrl = opts.natsUrl ?? `nats://127.0.0.1:${natsPort}`;
  // These brokers are private to the test (temp dirs, ephemeral ports) and open; the read API's token lives in a
  // private config dir, as /etc/agentsight's does for a user (test/e2e/security.spec.ts covers agentsight's own brokers).
  const configDir = join(dataDir, 'etc');
  ensureSecrets({ AGENTSIGHT_CONFIG_DIR: configDir });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AGENTSIGHT_CONFIG_DIR: configDir,
    AGENTSIGHT_UI_TOKEN: '',
    NATS_URL: natsUrl,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    AGENTSIGHT_DATA_DIR: dataDir,
    AGENTSIGHT_API_PORT: String(apiPort),
    AGENTSIGHT_HOST: 'e2e-host',
    // Fixtures carry corpus times (some from 1970): no TTL, so none of them expires on insert.
    AGENTSIGHT_RETENTION_DAYS: '0',
  };
  return {
    env,
    dataDir,
    natsUrl,
    natsStoreDir,
    async restartBroker(which, downMs) {
      const proc = procs[which];
      if (!proc) throw new Error(`${which} is not this test's own broker`);
      proc.kill('SIGKILL');
      await exited(proc);
      await new Promise((r) => setTimeout(r, downMs));
      procs[which] = spawn(brokers[which].cmd, brokers[which].args, { stdio: 'ignore' });
      await waitPort(brokers[which].port);
    },
    async stop() {
      const all = Object.values(procs).filter((p): p is ChildProcess => !!p);
      for (const p of all) p.kill('SIGTERM');
      await Promise.all(all.map(exited));
      if (opts.natsStoreTmpfsMiB) execFileSync('umount', [natsStoreDir]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The five stage services of a test, startable, killable and restartable one by one. */
export class Stages {
  readonly children = new Map<string, Child>();

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  async start(name: string): Promise<Child> {
    const c = await spawnReady(name, process.execPath, [join(ROOT, `services/${name}/dist/main.js`)], {
      env: { ...this.env, AGENTSIGHT_INSTANCE: 'e2e' }, logDir: join(this.env.AGENTSIGHT_DATA_DIR!, 'logs'),
    });
    this.children.set(name, c);
    return c;
  }

  async startAll(): Promise<void> {
    for (const s of ['api', 'genai', 'analyzer', 'aggregator', 'parser']) await this.start(s);
  }

  /** kill -9, no goodbye: leases, unacked inputs and Redis state stay as they are. */
  async kill9(name: string): Promise<void> {
    const c = this.children.get(name)!;
    c.proc.kill('SIGKILL');
    await c.exited;
  }

  pids(): number[] {
    return [...this.children.values()].map((c) => c.proc.pid!);
  }

  async stopAll(): Promise<void> {
    for (const name of ['parser', 'aggregator', 'analyzer', 'genai', 'api']) {
      const c = this.children.get(name);
      if (c) await stopChild(c);
    }
  }
}

/** Runs the `agentsight` CLI to completion (in `cwd` when given); resolves with its exit code and output. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 240_000, cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [CLI, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => { p.kill('SIGKILL'); rej(new Error(`agentsight ${args.join(' ')} timed out\n${stderr}`)); }, timeoutMs);
    p.on('exit', (code) => { clearTimeout(t); res({ code, stdout, stderr }); });
  });
}

/** Starts the probe tracing `pids` (and descendants) against the test's NATS; resolves once attached. */
export function startProbe(infra: Infra, args: string[]): Promise<Child> {
  return spawnReady('probe', PROBE, [...args, '--nats-url', infra.natsUrl, '--host', 'e2e-host'], {
    env: infra.env, logDir: join(infra.dataDir, 'logs'),
  });
}

export { stopChild };
export const sh = (cmd: string) => execFileSync('sh', ['-c', cmd]).toString();

/**
 * Pids of the running processes whose parent is `parent` and whose command line (`/proc/<pid>/cmdline`, arguments
 * NUL-separated) contains `needle`, say a stage's `services/analyzer/dist/main.js`. Empty when there is none.
 */
export function childrenRunning(parent: number, needle: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(needle)) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** State letter of a process (`T` = stopped) or null when gone. */
function state(pid: number): string | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** Result of {@link captureRun}. */
export interface CaptureRun {
  code: number | null;
  stdout: string;
  stderr: string;
  pid: number;
  /** The probe's `stopped` line: records, published, lost_records (and its deprecated alias ringbuf_drops), publish_failures, last_seq. */
  probe: Record<string, any>;
}

/**
 * Runs `sh -c script` under the probe: the shell starts stopped, the probe attaches to it (and its descendants),
 * then it runs to completion; the probe is stopped (draining everything to JetStream) before this resolves.
 * `during` runs while the script runs (e.g. to kill a stage mid-stream); `probeArgs` are added to the probe's.
 */
export async function captureRun(infra: Infra, script: string, env: NodeJS.ProcessEnv = infra.env, during?: () => Promise<void>, probeArgs: string[] = []): Promise<CaptureRun> {
  const child = spawn('/bin/sh', ['-c', `kill -STOP $$; exec sh -c "$0"`, script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exit = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  while (state(child.pid!) !== 'T') await new Promise((r) => setTimeout(r, 5));
  const probe = await startProbe(infra, ['--pid', String(child.pid), ...probeArgs]);
  process.kill(child.pid!, 'SIGCONT');
  try {
    await during?.();
  } catch (err) {
    // A failed `during` must not leave the probe (and the script) running after the test: a root process attached.
    child.kill('SIGKILL');
    probe.proc.kill('SIGINT');
    await probe.exited;
    throw err;
  }
  const code = await exit;
  probe.proc.kill('SIGINT');
  const { lines } = await probe.exited;
  return { code, stdout, stderr, pid: child.pid!, probe: lines.find((l) => l.event === 'stopped') ?? {} };
}

/** Polls `ok` every 200 ms until it holds; throws `timed out waiting for <what>` after `ms` (default 60 s). */
export async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** GET a JSON path of the test's api service. */
export async function api<T = any>(infra: Infra, path: string): Promise<T> {
  const r = await fetch(`http://127.0.0.1:${infra.env.AGENTSIGHT_API_PORT}${path}`, { headers: { authorization: `Bearer ${apiToken(infra.env)}` } });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

/** The running pipeline of one test file: {@link startInfra}, every stage service, and a replay server. */
export interface PipelineFixture {
  infra: Infra;
  stages: Stages;
  server: ReplayServer;
}

/**
 * Registers `beforeAll`/`afterAll` hooks of a describe block that start (and stop) private brokers, all five stage
 * services and a replay LLM server; the returned object is filled in once `beforeAll` ran.
 */
export function usePipeline(): PipelineFixture {
  const f = {} as PipelineFixture;
  beforeAll(async () => {
    f.infra = await startInfra();
    f.stages = new Stages(f.infra.env);
    await f.stages.startAll();
    f.server = await startReplayServer({});
  }, 120_000);
  afterAll(async () => {
    await f.server?.close();
    await f.stages?.stopAll();
    await f.infra?.stop();
  });
  return f;
}

/** `agentsight serve` as a child; resolves with the URL it prints once the pipeline is up. */
export function startServe(env: NodeJS.ProcessEnv, args: string[]): Promise<{ proc: ChildProcess; url: string; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [CLI, 'serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const t = setTimeout(() => reject(new Error(`serve did not print its URL:\n${out}\n${err}`)), 90_000);
    proc.stderr!.on('data', (d) => (err += d));
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /agentsight dashboard: (\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ proc, url: m[1], stderr: () => err });
      }
    });
    proc.on('exit', (code) => reject(new Error(`serve exited (${code}):\n${out}\n${err}`)));
  });
}

export async function stopServe(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null) return;
  proc.kill('SIGTERM');
  await new Promise((r) => proc.on('exit', r));
}


/** Debian's Chromium, driven by playwright-core (headless). */
export const CHROMIUM = '/usr/bin/chromium';

/** Launches {@link CHROMIUM} headless, with nothing of its own going to the network. */
export async function launchChromium(): Promise<import('playwright-core').Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** The private brokers of one test file, its stages (none started yet) and a NATS (streams made) and a Redis client on them. */
export interface BrokersFixture {
  infra: Infra;
  stages: Stages;
  nats: Nats;
  redis: Redis;
}

/**
 * Registers `beforeAll`/`afterAll` hooks that start (and stop) a test file's private brokers with a NATS connection
 * named `name` and a Redis client; the test starts the stages it needs. The returned object is filled in once
 * `beforeAll` ran.
 */
export function useBrokers(name: string): BrokersFixture {
  const f = {} as BrokersFixture;
  beforeAll(async () => {
    f.infra = await startInfra();
    f.stages = new Stages(f.infra.env);
    f.nats = await connectNats(f.infra.natsUrl, name);
    f.redis = new Redis(f.infra.env.REDIS_URL!);
  }, 120_000);
  afterAll(async () => {
    f.redis?.disconnect();
    await f.nats?.nc.close();
    await f.stages?.stopAll();
    await f.infra?.stop();
  });
  return f;
}
