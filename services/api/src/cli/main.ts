import { spawn } from 'node:child_process';
import { constants, hostname } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { AUDIT_TYPES, exportConfigured, isAuditType, loadRedactionConfig, type RawAttachFailure, type RawProbeCounters, type RawProcRecord } from '@agentsight/contracts';
import { TOKEN_GROUP_BYS, TOKEN_PERIODS } from '@agentsight/clickhouse';
import type { AuditEntry, CallSummary, GenAiSpanEntry, ResourceColumns, TokenGroupBy, TokenPeriod, TokenSummary, TokenSummaryRow, TokenTotals, ToolUseEntry } from '@agentsight/clickhouse';
import { CONFIG_FILE_ENV, privateDir } from '@agentsight/jetstream';
import { table } from './format';
import { dataDir } from './paths';
import { DEFAULT_EXPORT_WAIT_S, ensureInfra, Pipeline, procState, startProbe, waitDrained, waitExported } from './pipeline';
import { restartsText } from './supervise';
import { dockerRef, processBinaries, resolveContainer } from './container';
import { loadRules } from './discover/command';
import { discover, evaluate, isOwnProcess, ProcessInfo } from './discover/rules';
import { readProcess, scanProcesses } from './discover/scan';
import { repoRoot } from './paths';
import { resolveTarget, sudoUserHome, userBinDirs } from './resolve';
import { Reader } from './read';
import { RESOURCE_COLUMNS } from './resources/format';
import { startSampling, type SamplingRun } from './resources/run';
import { cliToken, dashboardUrl, serveCommand } from './serve';
import { agentEnv, applyCliSettings, configFileRead, settingRows } from './settings';
import { apiPort } from './paths';
import { captureGapsText, liveNoticeText, zeroCallsReason } from './notices';


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
function withExportFlags(c: Command): Command {
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
function runEnv(dir: string): NodeJS.ProcessEnv {
  privateDir(dir);
  return { ...process.env, AGENTSIGHT_DATA_DIR: dir, AGENTSIGHT_INSTANCE: process.env.AGENTSIGHT_INSTANCE || `cli-${process.pid}` };
}

/** The export wait bound (`--export-wait` / `AGENTSIGHT_EXPORT_WAIT_S`), ms; throws on a value that is not a non-negative number. */
function exportWaitMs(env: NodeJS.ProcessEnv = process.env): number {
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
async function finishExports(env: NodeJS.ProcessEnv, own: boolean, say: (s: string) => void): Promise<void> {
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

/** Probe flags every capture command passes: host, partitions, and the locator cache in the data dir (NATS: see startProbe). */
function probeCommon(env: NodeJS.ProcessEnv): string[] {
  return [
    '--host', env.AGENTSIGHT_HOST || hostname(), '--partitions', env.AGENTSIGHT_PARTITIONS || '8',
    '--cache-dir', join(env.AGENTSIGHT_DATA_DIR!, 'probe-cache'),
  ];
}

/**
 * `agentsight exec -- cmd args`: runs the command (terminal attached) under capture of its whole process tree,
 * waits until everything captured is stored, prints a summary, and exits with the command's exit code.
 */
async function execCommand(cmd: string[], opts: { dataDir?: string; quiet?: boolean } & ExportFlags): Promise<number> {
  const dir = dataDir(process.env, opts.dataDir);
  const env = runEnv(dir);
  exportWaitMs(env);
  const logDir = join(dir, 'logs');
  const say = (s: string) => !opts.quiet && process.stderr.write(`[agentsight] ${s}\n`);
  await ensureInfra(env);
  const startedAt = new Date();
  const pipeline = await Pipeline.start(env, logDir, cliToken(env, dir));
  try {
    say(pipeline.reused ? 'using the running pipeline' : `pipeline started (logs in ${logDir})`);
    say(`dashboard (while this runs): ${dashboardUrl('127.0.0.1', apiPort(env), cliToken(env, dir))}`);
    // The command starts stopped, so the probe is attached before its first instruction.
    // Under sudo the command may live in the invoking user's installs (~/.local/bin, nvm, bun …): find it there too.
    const home = sudoUserHome(process.env);
    const childEnv = home ? { ...agentEnv(), PATH: [process.env.PATH, ...userBinDirs(home)].filter(Boolean).join(':') } : agentEnv();
    const target = resolveTarget(cmd[0], { env: process.env, sudoUserHome: home });
    if (!target.binary) say(`note: ${target.reason ?? 'no binary resolved'}; only the system TLS libraries and node are probed`);
    const child = spawn('/bin/sh', ['-c', 'kill -STOP $$; exec "$@"', 'sh', ...cmd], { stdio: 'inherit', env: childEnv });
    const exit = new Promise<number>((res) => child.on('exit', (code, sig) => res(code ?? 128 + (sig ? constants.signals[sig] ?? 0 : 0))));
    while (procState(child.pid!) !== 'T' && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
    const bin = target.binary;
    let probe;
    try {
      probe = await startProbe(['--pid', String(child.pid), ...(bin ? ['--binary-path', bin] : []), ...probeCommon(env)], env, logDir, {
        onLine: (msg) => {
          const notice = liveNoticeText(msg);
          if (notice) say(notice);
          else if (msg.event === 'stats') statsWarning(msg);
        },
      });
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    const sampling = await samplingOf(env, say, [child.pid!]);
    const forward = (s: NodeJS.Signals) => child.kill(s);
    process.on('SIGINT', forward).on('SIGTERM', forward);
    process.kill(child.pid!, 'SIGCONT');
    const code = await exit;
    process.off('SIGINT', forward).off('SIGTERM', forward);
    await stopSampling(sampling, say);
    probe.proc.kill('SIGINT');
    const stopped = (await probe.exited).lines.find((l) => l.event === 'stopped');
    say(`capture stopped: ${stopped ? `${stopped.records} records, ${stopped.ringbuf_drops} lost in the kernel` : 'no stop report'}`);
    if (stopped && Number(stopped.ringbuf_drops) > 0) say(`warning: ${stopped.ringbuf_drops} records were lost in the kernel ring buffer`);
    for (const l of captureGapsText(stopped)) say(l);
    const problem = await drainSupervised(env, pipeline);
    if (problem) say(`error: ${problem}; not everything captured was stored`);
    for (const l of restartsText(pipeline.restarts)) say(l);
    await finishExports(env, !pipeline.reused, (s) => (s.startsWith('exports delivered') ? say(s) : process.stderr.write(`[agentsight] ${s}\n`)));
    if (!opts.quiet) {
      const reader = await Reader.open(env, dir);
      try {
        printSummary(await reader.calls({ limit: 10_000, since: startedAt.toISOString() }), stopped, { incomplete: Boolean(problem), restarts: pipeline.restarts.length });
      } finally {
        await reader.close();
      }
    }
    return problem && code === 0 ? 1 : code;
  } finally {
    if (!pipeline.reused) await pipeline.stop();
  }
}

/** What one foreground capture traces: probe filter flags, extra binaries, and when it ends by itself. */
interface CaptureSpec {
  /** Probe flags selecting processes (`--pid N`, `--comm C`); none = system-wide. */
  filters: string[];
  /** Binaries/libraries to attach to besides the probe's defaults (system TLS libraries, node). */
  binaries: string[];
  /** What is traced, for the user. */
  label: string;
  /** Stop by itself once all these pids have exited (`record -p`); empty = until Ctrl-C. */
  untilExit: number[];
  /** With `--follow-exec` in `filters`: whether to trace a process offered at its exec (answered on the probe's stdin). */
  offer?: (o: ExecOffer) => boolean;
}

/**
 * Runs the pipeline (or reuses the running one) and the probe in the foreground until Ctrl-C, SIGTERM, the probe's
 * end, or the exit of every pid in `untilExit`; then waits until what was captured is stored.
 */
async function captureInForeground(spec: CaptureSpec, opts: { dataDir?: string } & ExportFlags): Promise<number> {
  const dir = dataDir(process.env, opts.dataDir);
  const env = runEnv(dir);
  exportWaitMs(env);
  const logDir = join(dir, 'logs');
  await ensureInfra(env);
  const pipeline = await Pipeline.start(env, logDir, cliToken(env, dir));
  try {
    const own = [process.pid, ...pipeline.pids()].flatMap((p) => ['--exclude-pid', String(p)]);
    let answer: ((line: string) => void) | undefined;
    const probe = await startProbe([...spec.filters, ...spec.binaries.flatMap((b) => ['--binary-path', b]), ...own, ...probeCommon(env)], env, logDir, {
      stdin: Boolean(spec.offer),
      onLine: (msg) => {
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
    const sampling = await samplingOf(env, (l) => process.stderr.write(`[agentsight] ${l}\n`), pidsOf(spec.filters));
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
    await stopSampling(sampling, (l) => process.stderr.write(`[agentsight] ${l}\n`));
    probe.proc.kill('SIGINT');
    const stopped = (await probe.exited).lines.find((l) => l.event === 'stopped');
    process.stderr.write(`[agentsight] capture stopped: ${stopped ? `${stopped.records} records, ${stopped.ringbuf_drops} lost in the kernel` : 'no stop report'}\n`);
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
 * Starts the resource sampler of a run for `pids` (more are added as they are traced). A sampler that cannot start is a
 * warning, never a failed capture: resource figures then read as not sampled.
 */
async function samplingOf(env: NodeJS.ProcessEnv, say: (s: string) => void, pids: number[]): Promise<SamplingRun | undefined> {
  try {
    const run = await startSampling(env, say);
    for (const p of pids) run.add(p);
    return run;
  } catch (err) {
    say(`warning: resource sampling not started (${(err as Error).message}): no CPU/RSS figures for this run`);
    return undefined;
  }
}

/** Stops the run's sampler, awaiting its publications (before the drain, so they are stored). */
async function stopSampling(run: SamplingRun | undefined, say: (s: string) => void): Promise<void> {
  if (!run) return;
  const r = await run.stop();
  if (r.failures) say(`warning: ${r.failures} of ${r.samples} resource sample(s) could not be published`);
}

/** ` ← tool Bash (toolu_…) of LLM call 1a2b3c4d` for an action a tool use caused; '' otherwise. */
export function causeText(a: AuditEntry): string {
  const c = a.caused_by;
  if (!c) return '';
  return ` ← tool ${c.tool_name}${c.call_id ? ` (${c.call_id})` : ''}${c.llm_call_id ? ` of LLM call ${c.llm_call_id.slice(0, 8)}` : ''}${c.ambiguous ? ' [ambiguous]' : ''}`;
}

let lastDrops = 0;

/** On a periodic `stats` line: a warning the user sees as soon as the kernel dropped records (never silent). */
function statsWarning(msg: Record<string, unknown>): void {
  const drops = Number(msg.ringbuf_drops ?? 0);
  if (drops > lastDrops) process.stderr.write(`[agentsight] warning: ${drops - lastDrops} record(s) lost in the kernel ring buffer (${drops} so far)\n`);
  lastDrops = Math.max(lastDrops, drops);
}

/**
 * The probe's final counters for the user (its `stopped` line carries the `probes` and `attach_failures` of
 * RawLossRecord): one line per probe that saw traffic or lost records (binary, function,
 * records, fragments, bytes, reservation failures), attach failures, and a warning when anything was lost.
 */
export function probeCountersText(stopped: Record<string, unknown>): string {
  const probes = (Array.isArray(stopped.probes) ? stopped.probes : []) as RawProbeCounters[];
  const failures = (Array.isArray(stopped.attach_failures) ? stopped.attach_failures : []) as RawAttachFailure[];
  const active = probes.filter((p) => p.records || p.ringbuf_drops);
  const out: string[] = [];
  if (active.length) {
    out.push(table(active, [['binary', (p) => p.binary], ['fn', (p) => p.fn], ['records', (p) => p.records], ['fragments', (p) => p.fragments], ['bytes', (p) => p.bytes], ['lost', (p) => p.ringbuf_drops]]));
  }
  for (const f of failures) out.push(`attach failed: ${f.binary} ${f.fn}: ${f.error}`);
  out.push(...captureGapsText(stopped));
  const drops = Number(stopped.ringbuf_drops ?? 0);
  const pubFail = Number(stopped.publish_failures ?? 0);
  if (drops > 0) out.push(`warning: ${drops} record(s) were lost in the kernel ring buffer`);
  if (pubFail > 0) out.push(`warning: ${pubFail} record(s) could not be published to NATS`);
  return out.join('\n');
}

/** `agentsight trace`: the pipeline in the foreground, system-wide or filtered, until Ctrl-C. */
async function traceCommand(opts: { dataDir?: string; pid?: string[]; comm?: string[]; discover?: boolean; rules?: string } & ExportFlags): Promise<number> {
  const filters = [...(opts.pid ?? []).flatMap((p) => ['--pid', p]), ...(opts.comm ?? []).flatMap((c) => ['--comm', c])];
  if (!opts.discover) return captureInForeground({ filters, binaries: [], label: filters.length ? filters.join(' ') : 'system-wide', untilExit: [] }, opts);
  const { rules, userFile } = loadRules(opts.rules, dataDir(process.env, opts.dataDir));
  const self = { pid: process.pid, root: repoRoot() };
  const { found } = discover(rules, scanProcesses({ files: true }), (p) => isOwnProcess(p, self));
  for (const d of found) process.stderr.write(`[agentsight] tracing ${d.verdict.agent} (pid ${d.process.pid}, rule ${d.verdict.rule.id})\n`);
  const label = `discovered agents (${found.length} running${userFile ? `, rules ${userFile}` : ''}) and the ones that start`;
  return captureInForeground({
    filters: [...filters, ...found.flatMap((d) => ['--pid', String(d.process.pid)]), '--follow-exec'],
    binaries: [...new Set(found.flatMap((d) => processBinaries(d.process.pid)))],
    label,
    untilExit: [],
    offer: (o) => {
      const v = evaluate(rules, offeredProcess(o));
      if (v.agent) process.stderr.write(`[agentsight] tracing ${v.agent} (pid ${o.pid}, rule ${v.rule!.id}): ${o.argv.join(' ')}\n`);
      return Boolean(v.agent);
    },
  }, opts);
}

/** An `exec_offer` line of the probe (`--follow-exec`): a process that just exec'd and is not traced yet. */
type ExecOffer = Pick<RawProcRecord, 'pid' | 'ppid' | 'uid' | 'comm' | 'filename' | 'argv'>;

/** What the discovery rules see of an offered process: the offer, with the resolved exe and cwd from /proc when readable. */
function offeredProcess(o: ExecOffer): ProcessInfo {
  const live = readProcess(o.pid, { files: false });
  return { pid: o.pid, ppid: o.ppid, uid: o.uid, comm: o.comm, exe: live?.exe ?? o.filename, argv: o.argv.length ? o.argv : live?.argv ?? [], cwd: live?.cwd ?? null };
}

/**
 * `agentsight record -p <pid> | -c <comm> [--binary-path P]`: captures running processes (and what they start).
 * The binaries to hook are resolved without configuration: each target process' executable and the TLS libraries it
 * maps (through `/proc/<pid>/root`, so processes in containers work too), `--binary-path` names resolved like `exec`
 * does (PATH, symlinks, shebang wrappers, npm launchers, the sudo user's installs), and `docker://<name|id>` as in
 * `container.ts` (the container's processes are then traced when no -p/-c is given). `-p` stops by itself when
 * every given pid has exited.
 */
async function recordCommand(opts: { dataDir?: string; pid?: string[]; comm?: string[]; binaryPath?: string[] } & ExportFlags): Promise<number> {
  const pids = (opts.pid ?? []).map((p) => {
    if (!/^\d+$/.test(p)) throw new Error(`--pid must be a process id: ${p}`);
    if (procState(Number(p)) === null) throw new Error(`no process ${p}`);
    return Number(p);
  });
  const comms = opts.comm ?? [];
  const binaries: string[] = [];
  const containerPids: number[] = [];
  const notes: string[] = [];
  for (const b of opts.binaryPath ?? []) {
    const ref = dockerRef(b);
    if (ref !== null) {
      const c = resolveContainer(ref);
      binaries.push(...c.binaries);
      containerPids.push(...c.pids);
      notes.push(`container ${ref} (${c.id.slice(0, 12)}): ${c.pids.length} process(es), attaching to pid ${c.pid}: ${c.binaries.join(', ')}${c.families.length ? ` (${c.families.join(', ')})` : ' (no TLS symbols: byte patterns)'}`);
      continue;
    }
    const t = resolveTarget(b, { env: process.env });
    if (!t.binary) throw new Error(`--binary-path ${b}: ${t.reason ?? 'no binary resolved'}`);
    binaries.push(t.binary);
  }
  for (const pid of [...pids, ...scanProcesses({ files: false }).filter((p) => comms.includes(p.comm)).map((p) => p.pid)]) binaries.push(...processBinaries(pid));
  if (!pids.length && !comms.length && !containerPids.length) throw new Error('record needs -p <pid>, -c <comm> or --binary-path docker://<container>');
  const traced = pids.length || comms.length ? pids : containerPids;
  const filters = [...traced.flatMap((p) => ['--pid', String(p)]), ...comms.flatMap((c) => ['--comm', c])];
  for (const n of notes) process.stderr.write(`[agentsight] ${n}\n`);
  const unique = [...new Set(binaries)];
  const label = `${filters.join(' ')}${unique.length ? ` (binaries: ${unique.join(', ')})` : ''}`;
  return captureInForeground({ filters, binaries: unique, label, untilExit: pids.length ? pids : [] }, opts);
}

/**
 * Waits until everything published is stored ({@link waitDrained}) while the supervised stages may restart; the
 * reason when it did not get there (drain timeout, or a stage that crash-looped), else null.
 */
async function drainSupervised(env: NodeJS.ProcessEnv, pipeline: Pipeline): Promise<string | null> {
  try {
    await Promise.race([waitDrained(env), pipeline.whenFailed()]);
  } catch (err) {
    return (err as Error).message;
  }
  return pipeline.failure?.message ?? null;
}

/**
 * The end-of-run summary: the calls stored since the run started (the count is what is stored, never less), by
 * model; `incomplete` when the pipeline did not drain, and how many stage restarts there were.
 */
function printSummary(calls: CallSummary[], stopped: Record<string, unknown> | undefined, run: { incomplete: boolean; restarts: number } = { incomplete: false, restarts: 0 }): void {
  const byModel = new Map<string, { calls: number; input: number; output: number; cost: number | null; unpriced: number }>();
  for (const c of calls) {
    const model = String(c['gen_ai.response.model'] ?? c['gen_ai.request.model'] ?? '?');
    const m = byModel.get(model) ?? { calls: 0, input: 0, output: 0, cost: null, unpriced: 0 };
    m.calls++;
    m.input += Number(c['gen_ai.usage.input_tokens'] ?? 0);
    m.output += Number(c['gen_ai.usage.output_tokens'] ?? 0);
    if (c.cost_usd === null || c.cost_usd === undefined) m.unpriced++;
    else m.cost = (m.cost ?? 0) + c.cost_usd;
    byModel.set(model, m);
  }
  const why = run.incomplete ? '' : zeroCallsReason(calls.length, stopped);
  const extra = [run.incomplete ? 'stored so far (incomplete: see the error above)' : '', run.restarts ? `${run.restarts} stage restart(s) during the run` : ''].filter(Boolean).join('; ');
  process.stderr.write(`\n[agentsight] ${calls.length} LLM call(s) captured${extra ? ` (${extra})` : ''}${why ? `: ${why}` : ''}\n`);
  if (calls.length) {
    process.stderr.write(table([...byModel], [
      ['model', ([k]) => k], ['calls', ([, v]) => v.calls], ['input_tokens', ([, v]) => v.input], ['output_tokens', ([, v]) => v.output],
      ['cost', ([, v]) => usdText(v.cost, v.cost === null ? 0 : v.unpriced)],
    ]) + '\n');
  }
}

async function withReader<T>(opts: { dataDir?: string }, f: (r: Reader) => Promise<T>): Promise<T> {
  const r = await Reader.open(process.env, dataDir(process.env, opts.dataDir));
  try {
    return await f(r);
  } finally {
    await r.close();
  }
}

function print<T>(rows: T[], json: boolean | undefined, cols: Array<[string, (r: T) => unknown]>): void {
  process.stdout.write((json ? JSON.stringify(rows, null, 2) : rows.length ? table(rows, cols) : '(none)') + '\n');
}

/** USD for humans: `unpriced` when unknown (never $0), else `$…` plus how many calls could not be priced. */
export function usdText(cost: number | null, unpriced = 0): string {
  if (cost === null) return 'unpriced';
  const a = Math.abs(cost);
  const v = cost.toFixed(a === 0 || a >= 1 ? 2 : a >= 0.01 ? 4 : 6);
  return `${v.startsWith('-') ? '-$' + v.slice(1) : '$' + v}${unpriced ? ` + ${unpriced} unpriced` : ''}`;
}

/** `agentsight token` as text: one line per group, a total line, and with --compare the previous period and the change. */
export function tokenText(s: TokenSummary): string {
  const total: TokenSummaryRow = { ...s.totals, provider: 'total', model: null, process_name: 'total' };
  const keys: Array<[string, (t: TokenSummaryRow) => unknown]> =
    s.group_by === 'model' ? [['provider', (t) => t.provider], ['model', (t) => (t === total ? '' : t.model || '?')]]
      : s.group_by === 'provider' ? [['provider', (t) => t.provider]] : [['process', (t) => t.process_name]];
  const cols: Array<[string, (t: TokenSummaryRow) => unknown]> = [
    ...keys, ['calls', (t) => t.calls], ['input', (t) => t.input_tokens], ['output', (t) => t.output_tokens],
    ['cache_read', (t) => t.cache_read_input_tokens], ['cache_creation', (t) => t.cache_creation_input_tokens], ['cost', (t) => usdText(t.cost_usd, t.unpriced_calls)],
  ];
  const out = [`${s.period}: ${s.from} → ${s.to}`, s.rows.length ? table([...s.rows, total], cols) : '(none)'];
  if (s.totals.detail && s.rows.length) out.push('', detailText([...s.rows, total], keys));
  if (s.previous && s.change) {
    const p = s.previous.totals;
    const c = s.change;
    const signed = (n: number) => (n > 0 ? `+${n}` : String(n));
    const pctText = (n: number | null) => (n === null ? '' : ` (${n > 0 ? '+' : ''}${n}%)`);
    out.push(`previous: ${s.previous.from} → ${s.previous.to}: ${totalsText(p)}`);
    out.push(`change: ${signed(c.calls)} calls, ${signed(c.input_tokens + c.output_tokens)} tokens${pctText(c.tokens_pct)}, cost ${c.cost_usd === null ? 'unknown (unpriced)' : (c.cost_usd > 0 ? '+' : '') + usdText(c.cost_usd)}${pctText(c.cost_usd_pct)}`);
  }
  return out.join('\n');
}

/**
 * `token --detail`: per group, input tokens by role and output tokens by type (each with its share of the group's
 * breakdown in %), and how many calls have a breakdown.
 */
function detailText(rows: TokenSummaryRow[], keys: Array<[string, (t: TokenSummaryRow) => unknown]>): string {
  const pct = (part: number, all: number) => (all > 0 ? `${part} (${Math.round((part / all) * 100)}%)` : String(part));
  const inSum = (t: TokenSummaryRow) => (t.detail ? t.detail.input.system + t.detail.input.user + t.detail.input.assistant + t.detail.input.tool : 0);
  const outSum = (t: TokenSummaryRow) => (t.detail ? t.detail.output.text + t.detail.output.reasoning + t.detail.output.tool_calls : 0);
  const cols: Array<[string, (t: TokenSummaryRow) => unknown]> = [
    ...keys,
    ['in:system', (t) => pct(t.detail?.input.system ?? 0, inSum(t))], ['in:user', (t) => pct(t.detail?.input.user ?? 0, inSum(t))],
    ['in:assistant', (t) => pct(t.detail?.input.assistant ?? 0, inSum(t))], ['in:tool', (t) => pct(t.detail?.input.tool ?? 0, inSum(t))],
    ['out:text', (t) => pct(t.detail?.output.text ?? 0, outSum(t))], ['out:reasoning', (t) => pct(t.detail?.output.reasoning ?? 0, outSum(t))],
    ['out:tool_calls', (t) => pct(t.detail?.output.tool_calls ?? 0, outSum(t))],
    ['calls w/ detail', (t) => `${t.detail?.input_calls ?? 0}/${t.calls}`],
  ];
  return `tokens by role (input) and type (output):\n${table(rows, cols).replace(/\n$/, '')}\n(output includes reasoning, per OTel semconv; for Gemini and xAI, which report it apart, agentsight adds it)`;
}

function totalsText(t: TokenTotals): string {
  return `${t.calls} calls, ${t.input_tokens} input + ${t.output_tokens} output tokens, ${usdText(t.cost_usd, t.unpriced_calls)}`;
}

/** Builds the `agentsight` command line. */
export function program(): Command {
  const p = new Command('agentsight').description('Zero-instrumentation observability for AI agents (eBPF → JetStream → ClickHouse)');
  p.option('--config <file>', `config file (default /etc/agentsight/config.json, or $${CONFIG_FILE_ENV}); flags and variables take precedence over it`);
  // Flags and the config file set the environment; a bad config or AGENTSIGHT_REDACT_PATTERNS file stops every
  // command before it captures, stores or prints anything.
  p.hook('preAction', (root, action) => {
    applyCliSettings(root, action, process.env, (w) => process.stderr.write(`[agentsight] warning: ${w}\n`));
    loadRedactionConfig();
  });
  withExportFlags(p.command('exec')).description('run a command under capture, then print its LLM calls and tokens')
    .option('--data-dir <dir>', 'data directory (default $AGENTSIGHT_DATA_DIR or ~/.agentsight)')
    .option('-q, --quiet', 'no summary')
    .argument('<cmd...>', 'command and arguments (after --)')
    .action(async (cmd: string[], o) => process.exit(await execCommand(cmd, o)));
  withExportFlags(p.command('trace')).description('capture system-wide (or filtered) until Ctrl-C')
    .option('--data-dir <dir>', 'data directory')
    .option('--discover', 'trace the AI agents the discovery rules find, running now or started later')
    .option('--rules <file>', 'with --discover: user rules (JSON) merged over the built-in ones (default <data dir>/rules.json if present)')
    .option('--pid <pid...>', 'trace these pids and their descendants')
    .option('--comm <name...>', 'trace processes with this command name')
    .action(async (o) => process.exit(await traceCommand(o)));
  withExportFlags(p.command('record')).description('capture running processes by pid or command name (or a container), resolving the binaries to hook')
    .option('--data-dir <dir>', 'data directory')
    .option('-p, --pid <pid...>', 'these processes and their descendants; stops when they have all exited')
    .option('-c, --comm <name...>', 'processes with this command name, running or started later')
    .option('--binary-path <path...>', 'also hook this binary (a command name is resolved like exec does) or docker://<name|id>')
    .action(async (o) => process.exit(await recordCommand(o)));
  p.command('serve').description('serve the web dashboard and the read API (runs the pipeline, so exec/trace on the same data dir reuse it)')
    .option('--host <host>', 'address to bind (default $AGENTSIGHT_UI_HOST or 127.0.0.1); not loopback = reachable from other hosts, still behind the token')
    .option('--port <port>', 'port (default $AGENTSIGHT_API_PORT or 7396)')
    .option('--data-dir <dir>', 'data directory')
    .option('--open', 'open the dashboard in a browser (xdg-open)')
    .action(async (o) => process.exit(await serveCommand({ ...o, host: process.env.AGENTSIGHT_UI_HOST || '127.0.0.1', port: process.env.AGENTSIGHT_API_PORT || '7396' })));
  p.command('config').description('every setting (config file key, variable): the value in force and where it came from (flag, env, file, default); secrets shown as [set]')
    .option('--json', 'JSON')
    .action((o) => {
      const rows = settingRows();
      if (o.json) return void process.stdout.write(JSON.stringify({ file: configFileRead(), settings: rows }, null, 2) + '\n');
      process.stdout.write(`config file: ${configFileRead() ?? '(none)'}\n` + table(rows, [
        ['key', (r) => r.key], ['variable', (r) => r.env], ['value', (r) => r.value ?? ''], ['source', (r) => r.source], ['default', (r) => r.default.replace(/`/g, '')],
      ]).replace(/\n?$/, '\n'));
    });
  p.command('calls').description('list captured LLM calls')
    .option('--data-dir <dir>', 'data directory').option('--json', 'JSON array').option('--limit <n>', 'most recent N', '100')
    .action((o) => withReader(o, async (r) => print<CallSummary>(await r.calls({ limit: Number(o.limit) }), o.json, [
      ['start_time', (c) => c.start_time], ['pid', (c) => c.pid], ['process', (c) => c.process_name],
      ['provider', (c) => c['gen_ai.provider.name']], ['model', (c) => c['gen_ai.response.model'] ?? c['gen_ai.request.model']],
      ['in', (c) => c['gen_ai.usage.input_tokens']], ['out', (c) => c['gen_ai.usage.output_tokens']],
      ['finish', (c) => c['gen_ai.response.finish_reasons']], ['tools', (c) => c.tool_calls.map((t) => t.name)],
      ['ms', (c) => c.duration_ms],
    ])));
  p.command('tools').description('tool uses: what the model asked for, the arguments, the result, how long it took')
    .option('--data-dir <dir>', 'data directory').option('--json', 'JSON array').option('--limit <n>', 'most recent N', '200')
    .option('--pid <pid>', 'only this agent pid').option('--conversation <id>', 'only this gen_ai.conversation.id')
    .option('--since <t>', 'only tool uses at or after this time: ISO 8601 or back from now (30m, 2h, 7d, 1w)')
    .action((o) => {
      if (o.pid !== undefined && !/^\d+$/.test(o.pid)) throw new Error(`--pid must be a non-negative integer: ${o.pid}`);
      return withReader(o, async (r) => print<ToolUseEntry & ResourceColumns>(await r.tools({ pid: o.pid !== undefined ? Number(o.pid) : undefined, conversation: o.conversation, since: o.since, limit: Number(o.limit) }), o.json, [
        ['start_time', (t) => t.start_time ?? t.end_time], ['pid', (t) => t.pid], ['agent', (t) => t.agent_name], ['tool', (t) => t.name],
        ['arguments', (t) => (t.arguments.length > 60 ? `${t.arguments.slice(0, 60)}…` : t.arguments)],
        ['result', (t) => (t.result === null ? 'pending' : t.success === false ? 'error' : t.success === true ? 'ok' : 'returned')], ['ms', (t) => t.duration_ms],
        ...RESOURCE_COLUMNS,
      ]));
    });
  p.command('sessions').description('agent sessions (gen_ai.conversation.id): calls, tool uses, tokens and cost of each')
    .option('--data-dir <dir>', 'data directory').option('--json', 'JSON array').option('--limit <n>', 'most recent N', '100')
    .option('--since <t>', 'only sessions active at or after this time')
    .action((o) => withReader(o, async (r) => print<GenAiSpanEntry & ResourceColumns>(await r.sessions({ since: o.since, limit: Number(o.limit) }), o.json, [
      ['start_time', (s) => s.start_time], ['agent', (s) => s.agent_name], ['pid', (s) => s.pid], ['conversation', (s) => s.conversation_id],
      ['calls', (s) => s.llm_calls], ['tools', (s) => s.tool_uses], ['tool_errors', (s) => s.tool_errors], ['in', (s) => s.input_tokens], ['out', (s) => s.output_tokens],
      ['cost', (s) => usdText(s.cost_usd, s.cost_usd === null ? 0 : s.unpriced_calls)], ['ms', (s) => s.duration_ms],
      ...RESOURCE_COLUMNS,
    ])));
  p.command('token').description('tokens and cost (USD, list prices) by model, provider or process')
    .option('--data-dir <dir>', 'data directory').option('--json', 'JSON')
    .option('--period <p>', TOKEN_PERIODS.join(' | '), 'today')
    .option('--group-by <g>', TOKEN_GROUP_BYS.join(' | '), 'model')
    .option('--compare', 'also show the previous period and the change')
    .option('--detail', 'break input tokens down by role (system, user, assistant, tool) and output tokens by type (text, reasoning, tool calls); output includes reasoning for every provider (Gemini/xAI report it apart, agentsight adds it)')
    .action(async (o) => {
      if (!TOKEN_PERIODS.includes(o.period)) throw new Error(`--period must be one of ${TOKEN_PERIODS.join(', ')}`);
      if (!TOKEN_GROUP_BYS.includes(o.groupBy)) throw new Error(`--group-by must be one of ${TOKEN_GROUP_BYS.join(', ')}`);
      return withReader(o, async (r) => {
        const s = await r.token({ period: o.period as TokenPeriod, groupBy: o.groupBy as TokenGroupBy, compare: Boolean(o.compare), detail: Boolean(o.detail) });
        process.stdout.write((o.json ? JSON.stringify(s, null, 2) : tokenText(s)) + '\n');
      });
    });
  p.command('audit').description('audit records: LLM calls, tool uses, process exec/exit, file opens, connect() calls')
    .option('--data-dir <dir>', 'data directory').option('--json', 'JSON').option('--pid <pid>', 'only this pid')
    .option('--type <t>', AUDIT_TYPES.join(' | ')).option('--limit <n>', 'most recent N', '200')
    .option('--since <t>', 'only records at or after this time: ISO 8601 or back from now (30m, 2h, 7d, 1w)')
    .option('--summary', 'one summary instead of the records: counts per type/action, top commands and connect targets, LLM providers, tokens and cost')
    .action((o) => {
      if (o.type !== undefined && !isAuditType(o.type)) throw new Error(`--type must be one of ${AUDIT_TYPES.join(', ')}`);
      if (o.pid !== undefined && !/^\d+$/.test(o.pid)) throw new Error(`--pid must be a non-negative integer: ${o.pid}`);
      const filters = { pid: o.pid !== undefined ? Number(o.pid) : undefined, type: o.type, since: o.since as string | undefined };
      if (!o.summary) {
        return withReader(o, async (r) => print<AuditEntry>(await r.audit({ ...filters, limit: Number(o.limit) }), o.json, [
          ['ts', (a) => a.ts], ['type', (a) => a.type], ['pid', (a) => a.pid], ['ppid', (a) => a.ppid], ['comm', (a) => a.comm], ['summary', (a) => a.summary + causeText(a)],
        ]));
      }
      return withReader(o, async (r) => {
        const s = await r.auditSummary(filters);
        if (o.json) return void process.stdout.write(JSON.stringify(s, null, 2) + '\n');
        const f = s.filters;
        const scope = [f.since ? `since ${f.since}` : 'all time', f.pid !== null ? `pid ${f.pid}` : '', f.type ? `type ${f.type}` : ''].filter(Boolean).join(', ');
        const section = <T>(title: string, rows: T[], cols: Array<[string, (x: T) => unknown]>) => `\n${title}:\n${rows.length ? table(rows, cols) : '(none)'}`;
        const l = s.llm;
        const out = [
          `audit summary (${scope}): ${s.total} record(s)${s.by_type.length ? ': ' + s.by_type.map((t) => `${t.type} ${t.count}`).join(', ') : ''}`,
          section('by action', s.by_action, [['type', (a) => a.type], ['action', (a) => a.action], ['count', (a) => a.count]]),
          section('top commands (exec)', s.top_commands, [['command', (c) => c.command], ['count', (c) => c.count]]),
          section('top connect targets', s.top_connects, [['target', (c) => c.target], ['count', (c) => c.count], ['failed', (c) => c.failed]]),
          `\nLLM calls${f.type ? ' (all types)' : ''}: ${l.calls}${s.providers.length ? ' (' + s.providers.map((p) => `${p.provider} ${p.calls}`).join(', ') + ')' : ''}, ` +
            `${l.input_tokens} input + ${l.output_tokens} output tokens, cost ${usdText(l.cost_usd, l.cost_usd === null ? 0 : l.unpriced_calls)}` +
            (l.cost_usd === null ? ` (${l.unpriced_calls} call(s))` : ''),
        ];
        process.stdout.write(out.join('\n') + '\n');
      });
    });
  p.command('import').description('import eunomia agentsight sslsniff JSON lines as raw records: analysed and stored like a capture')
    .argument('<file>', 'sslsniff output, one JSON object per line')
    .option('--host <name>', 'host name to store the records under', 'imported')
    .option('--data-dir <dir>', 'data directory (default ~/.agentsight)')
    .option('--json', 'print the import report as JSON')
    .action(async (file: string, o) => process.exit(await (await import('./import/command')).importCommand(file, o)));
  p.command('schema').description('print the ClickHouse DDL: the server schema, or with --cluster per-node ReplicatedReplacingMergeTree tables and Distributed tables (ON CLUSTER)')
    .option('--cluster <name>', "cluster name of the servers' remote_servers")
    .option('--database <db>', 'database', 'agentsight')
    .option('--no-replicated', 'with --cluster: plain ReplacingMergeTree per shard (no Keeper)')
    .option('--no-on-cluster', 'with --cluster: statements to run on each node yourself (no ON CLUSTER)')
    .action(async (o) => { process.stdout.write((await import('./schema')).schemaText(o)); });
  p.command('replay').description('re-derive storage from the retained streams through the same services (live pipeline untouched; rows replaced, never duplicated)')
    .option('--since <t>', 'first message time: ISO 8601 or back from now (30m, 2h, 7d); default: the first retained message')
    .option('--from-seq <n>', "first stream sequence of the from-stage's stream")
    .option('--until <t>', 'last message time (default: now)')
    .option('--from-stage <stream>', 'raw, http, exchange, llm or genai: the stream read again; every stage after it runs', 'raw')
    .option('--resume <id>', 'continue an interrupted replay')
    .option('--data-dir <dir>', 'data directory (default ~/.agentsight)')
    .action(async (o) => process.exit(await (await import('./replay')).replayCommand(o)));
  p.command('service').description('run agentsight as a systemd service').command('install')
    .description('install the systemd units (infra/systemd) pointed at this checkout; with --enable also start agentsight.target')
    .option('--root <dir>', 'file system root to install under', '/').option('--prefix <dir>', 'the built checkout the units run (default: this one)')
    .option('--enable', 'systemctl enable --now agentsight.target')
    .action(async (o) => process.exit((await import('./service')).serviceInstall(o, (l) => process.stderr.write(`[agentsight] ${l}\n`))));
  p.command('status').description('pipeline state: streams (size, limits, discarded), consumer lag, which instance holds which partitions')
    .option('--json', 'JSON')
    .action(async (o) => process.exit(await (await import('./status')).statusCommand(o)));
  p.command('top').description('live view of the traced agents: CPU %, RSS, tokens, cost, tools, execs, failures, files, connections (keys: P/M/T sort, / filter, q quit)')
    .option('--data-dir <dir>', 'data directory').option('--once', 'print one snapshot and exit').option('--json', 'with --once: JSON')
    .option('--sort <key>', 'cpu | mem | tokens', 'cpu').option('--filter <text>', 'only agents whose name, model, state, host or pid contains this')
    .option('--all', 'also exited agents').option('--since <t>', 'activity window: ISO 8601 or back from now', '1h')
    .option('-d, --delay <s>', 'refresh interval, s (with --once: CPU % is measured over it)', '2')
    .action(async (o) => process.exit(await (await import('./top/command')).topCommand(o)));
  p.command('discover').description('find running AI agents: match /proc (cmdline, comm, exe, mapped/open files) against allow/deny rules')
    .option('--list-known', 'print the known agents and their rules').option('--verbose', 'explain each match')
    .option('--json', 'JSON array').option('--rules <file>', 'user rules (JSON) merged over the built-in ones (default <data dir>/rules.json if present)')
    .option('--data-dir <dir>', 'data directory')
    .action(async (o) => process.exit((await import('./discover/command')).discoverCommand(o)));
  return p;
}

if (require.main === module) {
  program().parseAsync(process.argv).catch((err) => {
    process.stderr.write(`agentsight: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
