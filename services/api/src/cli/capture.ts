/**
 * What the capture commands (`exec`, `trace`, `record`) share: their export flags, the environment of the services a
 * run starts, the probe's common flags, a foreground capture until Ctrl-C or the traced processes' exit, resource
 * sampling, the live warnings of the probe's `stats` lines, and the end of a run (drain, then the bounded wait for the
 * exports).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { exportConfigured, lostRecords, optionDefault, optionDefaultNumber, type RawProcRecord } from '@agentsight/contracts';
import { privateDir } from '@agentsight/jetstream';
import { dataDir, apiPort, repoRoot } from './paths';
import { DEFAULT_EXPORT_WAIT_S, ensureInfra, Pipeline, procState, startProbe, waitDrained, waitExported } from './pipeline';
import { restartsText } from './supervise';
import { startSampling, type SamplingRun } from './resources/run';
import { NetReadings } from './resources/net-bytes';
import { samplingPolicy } from './resources/sampler';
import { AgentWatch, agentScanMs } from './resources/agent-watch';
import type { Rule } from './discover/rules';
import { cliToken, dashboardUrl } from './serve';
import { liveNoticeText, probeCountersText } from './notices';

/** Export flags of `exec`, `trace` and `record` (each sets its variable for the run's services: `settings.ts`). */
export interface ExportFlags {
  slsEndpoint?: string;
  slsProject?: string;
  slsLogstore?: string;
  slsCompress?: string;
  slsAudit?: boolean;
  slsLogtailFile?: string;
  /** Bound of the wait for the exports at the end, s (default {@link DEFAULT_EXPORT_WAIT_S}). */
  exportWait?: string;
}

/** Adds the export flags to a capture command. */
export function withExportFlags(c: Command): Command {
  return c
    .option('--sls-endpoint <endpoint>', 'SLS endpoint (cn-hangzhou.log.aliyuncs.com → https://<project>.<endpoint>; a http(s):// URL is the whole base URL); $AGENTSIGHT_SLS_ENDPOINT')
    .option('--sls-project <project>', 'SLS project; $AGENTSIGHT_SLS_PROJECT')
    .option('--sls-logstore <logstore>', 'send every GenAI event as an SLS log (PutLogs; credentials from ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET, STS _SECURITY_TOKEN); $AGENTSIGHT_SLS_LOGSTORE')
    .option('--sls-compress <how>', 'lz4 (default) or deflate; $AGENTSIGHT_SLS_COMPRESS')
    .option('--sls-audit', 'also send the audit records (logstore and Logtail file); $AGENTSIGHT_SLS_AUDIT=1')
    .option('--sls-logtail-file <path>', 'write the same logs as JSON lines to this size-rotated file for iLogtail; $AGENTSIGHT_SLS_LOGTAIL_FILE')
    .option('--export-wait <s>', `at the end, wait at most this long for the exports (SLS, OTLP) to deliver what was captured (default ${DEFAULT_EXPORT_WAIT_S}); $AGENTSIGHT_EXPORT_WAIT_S`);
}

/**
 * Environment of the services a run starts: data directory (made private, 0700) and a per-run instance name over the
 * CLI's environment (which holds the flags and the config file's settings, `settings.ts`).
 */
export function runEnv(dir: string): NodeJS.ProcessEnv {
  privateDir(dir);
  return { ...process.env, AGENTSIGHT_DATA_DIR: dir, AGENTSIGHT_INSTANCE: process.env.AGENTSIGHT_INSTANCE || `cli-${process.pid}` };
}

/** The export wait bound (`--export-wait` / `AGENTSIGHT_EXPORT_WAIT_S`), ms; throws on a value that is not a non-negative number. */
export function exportWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.AGENTSIGHT_EXPORT_WAIT_S;
  if (v === undefined || v === '') return DEFAULT_EXPORT_WAIT_S * 1000;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--export-wait (AGENTSIGHT_EXPORT_WAIT_S) must be a number of seconds: ${v}`);
  return n * 1000;
}

/**
 * At the end of a run: waits (bounded) until every configured export delivered what the run captured, and says what
 * is still pending when the bound is hit. `own`: the run started its own pipeline, so events still waiting to settle
 * are final and go out at once (a reused pipeline's other sessions may still be going on: they settle as usual).
 */
export async function finishExports(env: NodeJS.ProcessEnv, own: boolean, say: (s: string) => void): Promise<void> {
  if (own && !exportConfigured(env)) return;
  const bound = exportWaitMs(env);
  const w = await waitExported(env, bound, own).catch((err) => ({ delivered: false, pending: [(err as Error).message], targets: ['?'] }));
  if (!w.targets.length) return;
  if (w.delivered) say(`exports delivered (${w.targets.join(', ')})`);
  else {
    say(`warning: exports not delivered after ${bound / 1000} s (--export-wait); the exporter goes on ${own ? 'at the next run (nothing is lost: inputs stay unacked)' : 'in the running pipeline'}:`);
    for (const p of w.pending) say(`  ${p}`);
  }
}

/**
 * Probe flags every capture command passes: host, partitions, the locator cache in the data dir (NATS: see
 * startProbe), and `--net-bytes-ms` = a quarter of the sampler's active interval (`AGENTSIGHT_SAMPLE_MS`; its default
 * when that is invalid: the sampler then says so and does not start), at least 100 ms, so each resource sample has a
 * network reading at most a quarter interval old ({@link NetReadings}).
 */
export function probeCommon(env: NodeJS.ProcessEnv): string[] {
  let netMs: number;
  try {
    netMs = samplingPolicy(env).activeMs;
  } catch {
    netMs = optionDefaultNumber('AGENTSIGHT_SAMPLE_MS');
  }
  // A quarter of the interval: two samples one interval apart never share a reading (with equal periods, the phases
  // of the two timers drift, and consecutive samples showed the same count and then twice the traffic).
  netMs = Math.max(100, Math.floor(netMs / 4));
  return [
    '--host', env.AGENTSIGHT_HOST || hostname(), '--partitions', env.AGENTSIGHT_PARTITIONS || optionDefault('AGENTSIGHT_PARTITIONS'),
    '--cache-dir', join(env.AGENTSIGHT_DATA_DIR!, 'probe-cache'), '--net-bytes-ms', String(netMs),
  ];
}

/** What one foreground capture traces: probe filter flags, extra binaries, and when it ends by itself. */
export interface CaptureSpec {
  /** Probe flags selecting processes (`--pid N`, `--comm C`); none = system-wide. */
  filters: string[];
  /** Binaries/libraries to attach to besides the probe's defaults (system TLS libraries, node). */
  binaries: string[];
  /** What is traced, for the user. */
  label: string;
  /** Stop by itself once all these pids have exited (`record -p`); empty = until Ctrl-C. */
  untilExit: number[];
  /** System-wide: the discovery rules by which running agents are found to sample their resources ({@link agentWatchOf}). */
  sampleAgents?: Rule[];
  /** With `--follow-exec` in `filters`: whether to trace a process offered at its exec (answered on the probe's stdin). */
  offer?: (o: ExecOffer) => boolean;
}

/**
 * Runs the pipeline (or reuses the running one) and the probe in the foreground until Ctrl-C, SIGTERM, the probe's
 * end, or the exit of every pid in `untilExit`; then waits until what was captured is stored.
 */
export async function captureInForeground(spec: CaptureSpec, opts: { dataDir?: string } & ExportFlags): Promise<number> {
  const dir = dataDir(process.env, opts.dataDir);
  const env = runEnv(dir);
  exportWaitMs(env);
  const logDir = join(dir, 'logs');
  await ensureInfra(env);
  const pipeline = await Pipeline.start(env, logDir, cliToken(env, dir));
  try {
    const own = [process.pid, ...pipeline.pids()].flatMap((p) => ['--exclude-pid', String(p)]);
    let answer: ((line: string) => void) | undefined;
    const net = new NetReadings();
    const probe = await startProbe([...spec.filters, ...spec.binaries.flatMap((b) => ['--binary-path', b]), ...own, ...probeCommon(env)], env, logDir, {
      stdin: Boolean(spec.offer),
      onLine: (msg) => {
        net.onLine(msg);
        if (msg.event === 'exec_offer' && spec.offer && answer) {
          const o = msg as unknown as ExecOffer;
          let yes = false;
          try {
            yes = spec.offer(o);
          } catch (err) {
            process.stderr.write(`[agentsight] warning: cannot evaluate pid ${o.pid}: ${(err as Error).message}\n`);
          }
          answer(`${yes ? 'trace' : 'skip'} ${o.pid}\n`);
        } else if (msg.event === 'stats') {
          statsWarning(msg);
        } else {
          const notice = liveNoticeText(msg);
          if (notice) process.stderr.write(`[agentsight] ${notice}\n`);
        }
      },
    });
    const sampling = await samplingOf(env, (l) => process.stderr.write(`[agentsight] ${l}\n`), pidsOf(spec.filters), net);
    const watch = spec.sampleAgents && sampling ? agentWatchOf(env, sampling, spec.sampleAgents, (l) => process.stderr.write(`[agentsight] ${l}\n`)) : undefined;
    answer = (line) => {
      const traced = /^trace (\d+)/.exec(line);
      if (traced) sampling?.add(Number(traced[1]));
      probe.proc.stdin?.write(line);
    };
    process.stderr.write(`[agentsight] tracing ${spec.label}; Ctrl-C to stop\n`);
    process.stderr.write(`[agentsight] dashboard (while this runs): ${dashboardUrl('127.0.0.1', apiPort(env), cliToken(env, dir))}\n`);
    let poll: NodeJS.Timeout | undefined;
    await new Promise<void>((res) => {
      process.once('SIGINT', res).once('SIGTERM', res);
      void probe.exited.then(() => res());
      pipeline.whenFailed().catch(() => res()); // a stage crash-looped: stop capturing, say so, fail
      if (spec.untilExit.length) {
        poll = setInterval(() => {
          if (spec.untilExit.every((pid) => [null, 'Z'].includes(procState(pid)))) res();
        }, 250);
      }
    });
    clearInterval(poll);
    watch?.stop();
    await stopSampling(sampling, (l) => process.stderr.write(`[agentsight] ${l}\n`));
    probe.proc.kill('SIGINT');
    const stopped = (await probe.exited).lines.find((l) => l.event === 'stopped');
    process.stderr.write(`[agentsight] capture stopped: ${stopped ? `${stopped.records} records, ${lostRecords(stopped)} lost in the kernel` : 'no stop report'}\n`);
    const counters = stopped ? probeCountersText(stopped) : '';
    if (counters) process.stderr.write(counters.split('\n').map((l) => `[agentsight] ${l}`).join('\n') + '\n');
    const problem = await drainSupervised(env, pipeline);
    for (const l of restartsText(pipeline.restarts)) process.stderr.write(`[agentsight] ${l}\n`);
    if (problem) process.stderr.write(`[agentsight] error: ${problem}; not everything captured was stored\n`);
    await finishExports(env, !pipeline.reused, (s) => process.stderr.write(`[agentsight] ${s}\n`));
    return problem ? 1 : 0;
  } finally {
    if (!pipeline.reused) await pipeline.stop();
  }
}

/** The pids of `--pid N` probe flags. */
function pidsOf(filters: string[]): number[] {
  return filters.flatMap((f, i) => (f === '--pid' && /^\d+$/.test(filters[i + 1] ?? '') ? [Number(filters[i + 1])] : []));
}

/**
 * Starts the resource sampler of a run for `pids` (more are added as they are traced), its network figures from `net`
 * (the run's probe lines). A sampler that cannot start is a warning, never a failed capture: resource figures then
 * read as not sampled.
 */
export async function samplingOf(env: NodeJS.ProcessEnv, say: (s: string) => void, pids: number[], net?: NetReadings): Promise<SamplingRun | undefined> {
  try {
    const run = await startSampling(env, say, net);
    for (const p of pids) run.add(p);
    return run;
  } catch (err) {
    say(`warning: resource sampling not started (${(err as Error).message}): no CPU/RSS figures for this run`);
    return undefined;
  }
}

/**
 * Starts finding the running agents of a system-wide capture for `sampling` ({@link AgentWatch}, every
 * `AGENTSIGHT_AGENT_SCAN_MS`). A bad interval is a warning: the run goes on without it (no CPU/RSS figures).
 */
export function agentWatchOf(env: NodeJS.ProcessEnv, sampling: SamplingRun, rules: Rule[], say: (s: string) => void): AgentWatch | undefined {
  try {
    return new AgentWatch(sampling, { rules, self: { pid: process.pid, root: repoRoot() }, intervalMs: agentScanMs(env), say }).start();
  } catch (err) {
    say(`warning: running agents not looked for (${(err as Error).message}): no CPU/RSS figures for this run`);
    return undefined;
  }
}

/** Stops the run's sampler, awaiting its publications (before the drain, so they are stored). */
export async function stopSampling(run: SamplingRun | undefined, say: (s: string) => void): Promise<void> {
  if (!run) return;
  const r = await run.stop();
  if (r.failures) say(`warning: ${r.failures} of ${r.samples} resource sample(s) could not be published`);
}

/** An `exec_offer` line of the probe (`--follow-exec`): a process that just exec'd and is not traced yet. */
export type ExecOffer = Pick<RawProcRecord, 'pid' | 'ppid' | 'uid' | 'comm' | 'filename' | 'argv'>;

let lastDrops = 0;

/** On a periodic `stats` line: a warning the user sees as soon as the kernel dropped records (never silent). */
export function statsWarning(msg: Record<string, unknown>): void {
  const drops = lostRecords(msg);
  if (drops > lastDrops) process.stderr.write(`[agentsight] warning: ${drops - lastDrops} record(s) lost in the kernel ring buffer (${drops} so far)\n`);
  lastDrops = Math.max(lastDrops, drops);
}

/**
 * Waits until everything published is stored ({@link waitDrained}) while the supervised stages may restart; the
 * reason when it did not get there (drain timeout, or a stage that crash-looped), else null.
 */
export async function drainSupervised(env: NodeJS.ProcessEnv, pipeline: Pipeline): Promise<string | null> {
  try {
    await Promise.race([waitDrained(env), pipeline.whenFailed()]);
  } catch (err) {
    return (err as Error).message;
  }
  return pipeline.failure?.message ?? null;
}
