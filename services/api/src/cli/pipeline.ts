import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXPORT_STATUS_SUBJECT, exportConfigured, isExportDurable, optionDefaultNumber, STREAMS, TOPOLOGY, type ExportStatus } from '@agentsight/contracts';
import { connectNats, ensureBrokers, ensureSecrets, natsTarget, privateDir, probeNatsEnv } from '@agentsight/jetstream';
import { Child, spawnReady, SpawnReadyOptions, stopChild } from './children';
import { RestartPolicy, type StageRestart } from './supervise';
import { apiPort, dataDir, repoRoot } from './paths';

/** The parser's durables (`<group>-p<N>` of its partitioned groups, topology.ts), live or of a replay. */
const PARSER_DURABLE = new RegExp(`^(replay-[A-Za-z0-9_]+-)?(${Object.values(TOPOLOGY.parser.consumes).map((w) => w.name).join('|')})-p\\d+$`);

/** The pipeline's stage services, in start order (api = storage sink + read API). */
export const STAGES = ['api', 'genai', 'analyzer', 'aggregator', 'parser'] as const;

/**
 * The stage services to start, in order: {@link STAGES}, with the exporter after api when an export is configured
 * (`exportConfigured` of `@agentsight/contracts`: OTLP endpoint, SLS trace preset, SLS logstore or Logtail file); the
 * exporter fails to start on a configuration that cannot work (e.g. a partial SLS preset).
 */
export function stagesFor(env: NodeJS.ProcessEnv): string[] {
  return exportConfigured(env) ? ['api', 'exporter', ...STAGES.slice(1)] : [...STAGES];
}

/** Path of the native producer binary. */
export function probeBinary(): string {
  return join(repoRoot(), 'services/probe-producer/build/agentsight-probe');
}

/**
 * Makes the run's data dir private (0700) and starts agentsight's own NATS and Redis, with credentials, when they
 * are not running (libs/jetstream/src/brokers.ts; needs nats-server and redis-server installed: `npm run setup`).
 * Throws when an open or foreign server holds their ports.
 */
export async function ensureInfra(env: NodeJS.ProcessEnv): Promise<void> {
  const dir = privateDir(env.AGENTSIGHT_DATA_DIR ?? dataDir(env));
  ensureSecrets(env); // the read API's token, also when both brokers are external
  await ensureBrokers(env, { dataDir: dir, say: (l) => process.stderr.write(`[agentsight] ${l}\n`) });
}

/**
 * How long the CLI waits for a running api's `/api/health` (ms). A port nobody listens on is refused at once; an api
 * that is there but slow (a loaded machine, a store just restarting) must not be taken for none, or the CLI starts
 * a second pipeline whose api then fails on the taken port.
 */
const HEALTH_TIMEOUT_MS = 10_000;

/** True when an api service answers on its port (also when it asks for the dashboard token). */
export async function apiRunning(env: NodeJS.ProcessEnv): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${apiPort(env)}/api/health`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    return r.ok || r.status === 401; // 401: a `serve` with a token (the Reader sends it, see serve.ts cliToken)
  } catch {
    return false;
  }
}

/**
 * Throws when an api service already answers on this run's port but stores into another data dir than `dir`:
 * reusing it would put this run's captures into that installation's store (and its reads would show that store).
 * `token` is the dashboard token to ask a `serve` with (see serve.ts cliToken); without the right one the owner
 * cannot be told and the run is refused too. Resolves when no api runs or it is this data dir's.
 */
export async function assertOwnInstallation(env: NodeJS.ProcessEnv, dir: string, token: string | null): Promise<void> {
  if (env.CLICKHOUSE_URL) return; // the store is that server, whichever api writes to it
  const api = await runningApi(env, token);
  if (!api) return;
  const mine = realOrResolved(dir);
  if (api.dataDir && sameDir(api.dataDir, mine)) return;
  const owner = api.dataDir ? `stores into ${api.dataDir} (pid ${api.pid})` : api.status === 401 ? 'asks for a dashboard token this data dir does not have' : `answered ${api.status}`;
  throw new Error(`the agentsight api on 127.0.0.1:${apiPort(env)} ${owner}, not ${mine}: stop it, use its data dir, or give this run its own port (AGENTSIGHT_API_PORT)`);
}

/** What the api service on this run's port says of itself (`/api/health`), see {@link runningApi}. */
export interface RunningApi {
  /** HTTP status of its health answer. */
  status: number;
  /** The data dir it stores into; null when it did not say (not asked with its token). */
  dataDir: string | null;
  pid: number | null;
}

/** The api service answering on this run's port (asked with `token` when given), or null when none answers. */
export async function runningApi(env: NodeJS.ProcessEnv, token: string | null): Promise<RunningApi | null> {
  let r: Response;
  try {
    r = await fetch(`http://127.0.0.1:${apiPort(env)}/api/health`, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS), headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch {
    return null;
  }
  const health = r.ok ? ((await r.json().catch(() => ({}))) as { pid?: number; data_dir?: string }) : {};
  return { status: r.status, dataDir: health.data_dir ?? null, pid: health.pid ?? null };
}

/** True when `a` and `b` are the same directory (through symlinks too). */
export function sameDir(a: string, b: string): boolean {
  return realOrResolved(a) === realOrResolved(b);
}

function realOrResolved(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/**
 * The stage services of one `exec`/`trace`/`record`/`serve` run, each a child process, supervised: a stage that exits
 * or is killed while the run goes on is restarted ({@link RestartPolicy}: backoff, crash-loop limit) with the same
 * instance name, so it takes its partition leases back and resumes from the durables' ack floor (nothing it had not
 * acked is lost, nothing it had acked is redone). After a crash loop the stage stays down and {@link Pipeline.failure}
 * says why; the run must then fail. When an api service of the same data dir is already running (e.g. a `serve`) the
 * running pipeline is used and nothing is started (its own run supervises it); one of another data dir is refused
 * ({@link assertOwnInstallation}).
 */
export class Pipeline {
  /** Restarts so far, in order. */
  readonly restarts: StageRestart[] = [];
  /** Set when a stage crash-looped and was given up. */
  failure: Error | null = null;
  private stopping = false;
  private readonly failed: Promise<Error>;
  private fail!: (err: Error) => void;

  private constructor(
    readonly children: Child[],
    readonly reused: boolean,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logDir: string,
    private readonly policy: RestartPolicy,
    private readonly say: (line: string) => void,
  ) {
    this.failed = new Promise((res) => (this.fail = res));
    children.forEach((_, i) => this.supervise(i));
  }

  /**
   * Starts every stage (api first, then the exporter when an export is configured, parser last), waiting for each to
   * be ready; or reuses a running pipeline. `say` prints restart notices (default: stderr).
   */
  static async start(env: NodeJS.ProcessEnv, logDir: string, token: string | null = null, opts: { policy?: RestartPolicy; say?: (line: string) => void } = {}): Promise<Pipeline> {
    const policy = opts.policy ?? new RestartPolicy();
    const say = opts.say ?? ((l: string) => process.stderr.write(`[agentsight] ${l}\n`));
    if (await apiRunning(env)) {
      await assertOwnInstallation(env, env.AGENTSIGHT_DATA_DIR ?? dataDir(env), token);
      return new Pipeline([], true, env, logDir, policy, say);
    }
    const children: Child[] = [];
    try {
      for (const s of stagesFor(env)) children.push(await startStage(s, env, logDir));
    } catch (err) {
      for (const c of children.reverse()) await stopChild(c);
      throw err;
    }
    return new Pipeline(children, false, env, logDir, policy, say);
  }

  private supervise(i: number): void {
    const c = this.children[i];
    void c.exited.then(async ({ code, signal }) => {
      if (this.stopping) return;
      const reason = signal ? `signal ${signal}` : `exit code ${code}`;
      const delay = this.policy.next(c.name, Date.now());
      if (delay === null) {
        const err = new Error(`${c.name} keeps crashing (${reason}); agentsight gave up restarting it: see ${join(this.logDir, `${c.name}.log`)}`);
        this.failure = err;
        this.say(`error: ${err.message}`);
        this.fail(err);
        return;
      }
      this.restarts.push({ stage: c.name, reason, at: new Date().toISOString() });
      this.say(`warning: ${c.name} stopped (${reason}); restarting it in ${delay} ms`);
      await new Promise((r) => setTimeout(r, delay));
      while (!this.stopping) {
        try {
          this.children[i] = await startStage(c.name, this.env, this.logDir);
          if (this.stopping) {
            await stopChild(this.children[i]);
            return;
          }
          this.say(`${c.name} restarted (pid ${this.children[i].proc.pid})`);
          this.supervise(i);
          return;
        } catch (err) {
          const again = this.policy.next(c.name, Date.now());
          if (again === null) {
            const e = new Error(`${c.name} could not be restarted: ${(err as Error).message}`);
            this.failure = e;
            this.say(`error: ${e.message}`);
            this.fail(e);
            return;
          }
          await new Promise((r) => setTimeout(r, again));
        }
      }
    });
  }

  /** Rejects with {@link Pipeline.failure} once a stage crash-looped; never settles otherwise. */
  async whenFailed(): Promise<never> {
    throw await this.failed;
  }

  pids(): number[] {
    return this.children.map((c) => c.proc.pid!).filter(Boolean);
  }

  /** Stops the stages it started, parser first, each finishing its batch in hand; no more restarts. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const c of [...this.children].reverse()) await stopChild(c);
  }
}

/** Starts one stage service and waits for its ready line. */
export function startStage(name: string, env: NodeJS.ProcessEnv, logDir: string): Promise<Child> {
  return spawnReady(name, process.execPath, [join(repoRoot(), `services/${name}/dist/main.js`)], { env, logDir });
}

/**
 * Waits until the pipeline has processed everything published so far: every consumer of every pipeline stream
 * has nothing pending and nothing awaiting ack (the parser may keep unfinished messages unacked: its ack-pending
 * count only has to be stable), three polls in a row. Throws after `timeoutMs`. `durables` picks the consumers
 * that count (default: the live pipeline's, i.e. not those of a replay, `replay-<id>-…`; a replay passes its own).
 * `upTo` (stream name → stream sequence) bounds the work on streams that go on growing meanwhile (a replay reading
 * live streams while capture continues): a consumer of such a stream is done once it has handled every message up to
 * that sequence (delivered for the parser, acked for the others), or has nothing left; what arrives later is not
 * waited for, and its position is left out of the three-polls comparison.
 */
export async function waitDrained(env: NodeJS.ProcessEnv, timeoutMs = 120_000, durables: (name: string) => boolean = (n) => !n.startsWith('replay-'), upTo: Record<string, number> = {}): Promise<void> {
  const nats = await connectNats(natsTarget(env), 'agentsight-cli');
  try {
    const deadline = Date.now() + timeoutMs;
    let calm = 0;
    let last = '';
    while (Date.now() < deadline) {
      let busy = false;
      const parts: string[] = [];
      for (const s of STREAMS) {
        for await (const ci of nats.jsm.consumers.list(s.name)) {
          if (!ci.config.durable_name) continue; // someone's ephemeral reader, not a pipeline stage
          if (isExportDurable(ci.name)) continue; // export is not storage (see waitExported): a slow or unreachable collector must not hold the CLI
          if (!durables(ci.name)) continue;
          const parser = PARSER_DURABLE.test(ci.name);
          const idle = ci.num_pending === 0 && (parser || ci.num_ack_pending === 0);
          const last = upTo[s.name];
          if (last !== undefined) {
            const done = idle || (parser ? ci.delivered.stream_seq : ci.ack_floor.stream_seq) >= last;
            if (!done) busy = true;
            parts.push(`${ci.name}:${done}`);
            continue;
          }
          if (!idle) busy = true;
          parts.push(`${ci.name}:${ci.num_pending}:${ci.num_ack_pending}:${ci.delivered.stream_seq}`);
        }
      }
      const snapshot = parts.join(',');
      calm = !busy && snapshot === last ? calm + 1 : 0;
      last = snapshot;
      if (calm >= 3) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`pipeline not drained after ${timeoutMs} ms: ${last}`);
  } finally {
    await nats.nc.close();
  }
}

/** Default bound of {@link waitExported} for `exec` and `trace`, s (`--export-wait`; OPTIONS' `export_wait_s`). */
export const DEFAULT_EXPORT_WAIT_S = optionDefaultNumber('AGENTSIGHT_EXPORT_WAIT_S');

/** What {@link waitExported} found: whether every export delivered everything, and one line per target that did not. */
export interface ExportWait {
  delivered: boolean;
  /** Per target still holding something: `<target> (<where>): N not delivered, M waiting to settle`. */
  pending: string[];
  /** Targets that answered (empty: no exporter runs). */
  targets: string[];
}

/**
 * Waits, at most `boundMs`, until every export target of the running exporter has delivered everything in its input
 * stream: its durable has nothing pending and nothing awaiting ack, and no versioned event waits to settle, two polls
 * in a row. The exporter is asked on {@link EXPORT_STATUS_SUBJECT}; with `expedite` (a run that started its own
 * pipeline: its sessions are over) events waiting to settle are made due at once. No exporter answering = nothing to
 * wait for. Never throws on a slow receiver: the result says what is pending.
 */
export async function waitExported(env: NodeJS.ProcessEnv, boundMs: number, expedite: boolean): Promise<ExportWait> {
  const nats = await connectNats(natsTarget(env), 'agentsight-cli-export');
  try {
    const deadline = Date.now() + boundMs;
    let calm = 0;
    let pending: string[] = [];
    let names: string[] = [];
    for (;;) {
      let status: ExportStatus;
      try {
        const m = await nats.nc.request(EXPORT_STATUS_SUBJECT, JSON.stringify({ expedite }), { timeout: 3000 });
        status = JSON.parse(new TextDecoder().decode(m.data)) as ExportStatus;
      } catch {
        if (!names.length) return { delivered: true, pending: [], targets: [] };
        status = { targets: [] };
        pending = ['the exporter did not answer'];
      }
      if (status.targets.length) {
        names = status.targets.map((t) => t.name);
        pending = [];
        for (const t of status.targets) {
          const ci = await nats.jsm.consumers.info(t.stream, t.durable).catch(() => null);
          const open = ci ? ci.num_pending + ci.num_ack_pending : 0;
          if (open || t.settling) pending.push(`${t.name} (${t.describe}): ${open} not delivered, ${t.settling} waiting to settle`);
        }
      }
      calm = pending.length ? 0 : calm + 1;
      if (calm >= 2) return { delivered: true, pending: [], targets: names };
      if (Date.now() > deadline) return { delivered: false, pending, targets: names };
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    await nats.nc.close();
  }
}

/** State letter of a process from /proc/<pid>/stat (`T` = stopped), or null when it is gone. */
export function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/**
 * Starts the probe with `args`; resolves once all its probes are attached. Its NATS server and credentials (the
 * probe's own user on agentsight's NATS) go in its environment ({@link probeNatsEnv}), never in its argv.
 */
export function startProbe(args: string[], env: NodeJS.ProcessEnv, logDir: string, extra: Pick<SpawnReadyOptions, 'stdin' | 'onLine'> = {}): Promise<Child> {
  const bin = probeBinary();
  if (!existsSync(bin)) throw new Error(`probe not built: ${bin} (run: npm run setup)`);
  return spawnReady('probe', bin, args, { env: { ...env, ...probeNatsEnv(env) }, logDir, timeoutMs: 60_000, ...extra });
}
