/** `agentsight exec -- cmd args`: a command run under capture of its whole process tree, then a summary of its LLM calls. */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { CallSummary } from '@agentsight/clickhouse';
import { lostRecords } from '@agentsight/contracts';
import { drainSupervised, exportWaitMs, type ExportFlags, finishExports, probeCommon, runEnv, samplingOf, statsWarning, stopSampling, withExportFlags } from '../capture';
import { table, usdText } from '../format';
import { captureGapsText, liveNoticeText, probeLossText, zeroCallsReason } from '../notices';
import { dataDir, apiPort } from '../paths';
import { ensureInfra, Pipeline, procState, startProbe } from '../pipeline';
import { Reader } from '../read';
import { resolveTarget, sudoUserHome, userBinDirs } from '../resolve';
import { cliToken, dashboardUrl } from '../serve';
import { agentEnv } from '../settings';
import { restartsText } from '../supervise';
import { dataDirOption } from '../options';
import { NetReadings } from '../resources/net-bytes';

/** Registers `exec`. */
export function registerExec(p: Command): void {
  dataDirOption(withExportFlags(p.command('exec'))).description('run a command under capture, then print its LLM calls and tokens')
    .option('-q, --quiet', 'no summary')
    .argument('<cmd...>', 'command and arguments (after --)')
    .action(async (cmd: string[], o) => process.exit(await execCommand(cmd, o)));
}

/**
 * `agentsight exec -- cmd args`: runs the command (terminal attached) under capture of its whole process tree,
 * waits until everything captured is stored, prints a summary, and exits with the command's exit code.
 */
export async function execCommand(cmd: string[], opts: { dataDir?: string; quiet?: boolean } & ExportFlags): Promise<number> {
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
    const net = new NetReadings();
    try {
      probe = await startProbe(['--pid', String(child.pid), ...(bin ? ['--binary-path', bin] : []), ...probeCommon(env)], env, logDir, {
        onLine: (msg) => {
          net.onLine(msg);
          const notice = liveNoticeText(msg);
          if (notice) say(notice);
          else if (msg.event === 'stats') statsWarning(msg);
        },
      });
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    const sampling = await samplingOf(env, say, [child.pid!], net);
    const forward = (s: NodeJS.Signals) => child.kill(s);
    process.on('SIGINT', forward).on('SIGTERM', forward);
    process.kill(child.pid!, 'SIGCONT');
    const code = await exit;
    process.off('SIGINT', forward).off('SIGTERM', forward);
    await stopSampling(sampling, say);
    probe.proc.kill('SIGINT');
    const stopped = (await probe.exited).lines.find((l) => l.event === 'stopped');
    say(`capture stopped: ${stopped ? `${stopped.records} records, ${lostRecords(stopped)} lost in the kernel` : 'no stop report'}`);
    for (const l of stopped ? probeLossText(stopped) : []) say(l);
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
