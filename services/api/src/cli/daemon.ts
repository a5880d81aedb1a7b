/**
 * `agentsight trace --daemon`: the capture half of a daemon deployment (unit `agentsight-probe.service`, issue 12).
 * Runs only the probe, into the pipeline that already runs (the stage units of `agentsight.target`, or a `serve`),
 * and never starts stages itself: those are the service manager's. It waits (bounded by
 * `AGENTSIGHT_DAEMON_API_WAIT_S`) for the api to answer, since units start in parallel; then the probe publishes with
 * its own NATS user ({@link startProbe}), its notices and kernel-loss warnings go to stderr (the journal), and it runs
 * until SIGTERM/SIGINT (exit 0, after the probe's final loss record) or until the probe ends by itself (exit 1, so
 * `Restart=on-failure` restarts it). No drain or export wait at the end: the stages keep running.
 *
 * Excluded from capture: this process, and, where systemd runs, the stage units' main processes at start (the probe
 * on node fires in every node process; a stage restarted later is not excluded: its TLS, which only the exporter
 * makes, would be captured as non-LLM exchanges).
 */
import { lostRecords, optionDefaultNumber } from '@agentsight/contracts';
import { apiRunning, startProbe } from './pipeline';
import { apiPort } from './paths';
import { liveNoticeText, probeCountersText } from './notices';
import { unitsStatus } from './service';
import { agentWatchOf, samplingOf, stopSampling } from './capture';
import { NetReadings } from './resources/net-bytes';
import type { Rule } from './discover/rules';

/** What {@link traceDaemon} runs. */
export interface DaemonSpec {
  /** Probe flags: filters (none = system-wide), host, partitions, cache dir. */
  probeArgs: string[];
  /** What is traced, for the log. */
  label: string;
  env: NodeJS.ProcessEnv;
  logDir: string;
  say: (s: string) => void;
  /** Kernel-loss warnings of the probe's periodic `stats` lines. */
  onStats?: (msg: Record<string, unknown>) => void;
  /** System-wide: the discovery rules by which running agents are found and their resources sampled. */
  sampleAgents?: Rule[];
}

/** How long to wait for the api, ms: `AGENTSIGHT_DAEMON_API_WAIT_S` (default in OPTIONS); throws on a bad value. */
export function daemonApiWaitMs(env: NodeJS.ProcessEnv): number {
  const v = env.AGENTSIGHT_DAEMON_API_WAIT_S;
  const s = v === undefined || v === '' ? optionDefaultNumber('AGENTSIGHT_DAEMON_API_WAIT_S') : Number(v);
  if (!Number.isFinite(s) || s < 0) throw new Error(`AGENTSIGHT_DAEMON_API_WAIT_S must be a number of seconds: ${v}`);
  return s * 1000;
}

/** Main pids of the running stage units (systemd only; [] elsewhere). */
function stagePids(): number[] {
  return unitsStatus().units.filter((u) => u.unit.startsWith('agentsight@') && u.pid).map((u) => u.pid!);
}

/** Runs the daemon (see the module comment); resolves with the exit code. Throws when the probe cannot start. */
export async function traceDaemon(spec: DaemonSpec): Promise<number> {
  const { env, say } = spec;
  const deadline = Date.now() + daemonApiWaitMs(env);
  while (!(await apiRunning(env))) {
    if (Date.now() >= deadline) {
      say(`error: no agentsight api answers on port ${apiPort(env)}: the pipeline (agentsight.target, or \`agentsight serve\`) must run; --daemon never starts it; nothing captured`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const own = [process.pid, ...stagePids()].flatMap((p) => ['--exclude-pid', String(p)]);
  const net = new NetReadings();
  const probe = await startProbe([...spec.probeArgs, ...own], env, spec.logDir, {
    onLine: (msg) => {
      net.onLine(msg);
      if (msg.event === 'stats') spec.onStats?.(msg);
      else {
        const notice = liveNoticeText(msg);
        if (notice) say(notice);
      }
    },
  });
  say(`tracing ${spec.label} into the running pipeline (daemon; SIGTERM stops it); probe log ${spec.logDir}/probe.log`);
  const sampling = spec.sampleAgents ? await samplingOf(env, say, [], net) : undefined;
  const watch = sampling && spec.sampleAgents ? agentWatchOf(env, sampling, spec.sampleAgents, say) : undefined;
  const why = await new Promise<'signal' | 'probe'>((res) => {
    process.once('SIGINT', () => res('signal')).once('SIGTERM', () => res('signal'));
    void probe.exited.then(() => res('probe'));
  });
  watch?.stop();
  await stopSampling(sampling, say);
  if (why === 'probe') {
    const { code, signal } = await probe.exited;
    say(`error: the probe ended by itself (${code ?? signal}); see ${spec.logDir}/probe.log`);
    return 1;
  }
  probe.proc.kill('SIGINT');
  const stopped = (await probe.exited).lines.find((l) => l.event === 'stopped');
  say(`capture stopped: ${stopped ? `${stopped.records} records, ${lostRecords(stopped)} lost in the kernel` : 'no stop report'}`);
  const counters = stopped ? probeCountersText(stopped) : '';
  if (counters) for (const l of counters.split('\n')) say(l);
  return stopped ? 0 : 1;
}
