/**
 * Which processes a system-wide capture samples: `trace` without `--pid` and `trace --daemon` follow no pid of their
 * own, so every `AGENTSIGHT_AGENT_SCAN_MS` the running processes are matched against the discovery rules (the same
 * ones as `discover` and `trace --discover`, `discover/rules.ts`), and each agent found becomes a sampled root unless
 * an ancestor already is one (its tree is sampled with it). A root is dropped by the sampler once it is gone; an agent
 * started later is found by the next scan, so its first up to one scan interval is not sampled.
 */
import { optionDefaultNumber } from '@agentsight/contracts';
import { discover, isOwnProcess, type ProcessInfo, type Rule } from '../discover/rules';
import { scanProcesses } from '../discover/scan';

/** What the watch adds roots to (a {@link ResourceSampler}, or a run's sampler). */
export interface RootSink {
  /** Starts sampling `pid`; false when it is not running or already sampled. */
  add(pid: number): boolean | void;
  /** Pids sampled now. */
  pids(): number[];
}

/**
 * The agents of `found` to sample as new roots: those that are not sampled yet and have no ancestor (through
 * `parentOf`, by ppid) that is sampled or is itself found. Pure; the result keeps `found`'s order.
 */
export function newAgentRoots(found: Array<Pick<ProcessInfo, 'pid' | 'ppid'>>, parentOf: (pid: number) => number | undefined, sampled: ReadonlySet<number>): number[] {
  const agents = new Set(found.map((p) => p.pid));
  return found.filter((p) => {
    if (sampled.has(p.pid)) return false;
    const seen = new Set([p.pid]);
    for (let a = p.ppid; a > 1 && !seen.has(a); a = parentOf(a) ?? 0) {
      if (sampled.has(a) || agents.has(a)) return false;
      seen.add(a);
    }
    return true;
  }).map((p) => p.pid);
}

/** `AGENTSIGHT_AGENT_SCAN_MS` (default in OPTIONS: 5000 ms; 0 = no scan); throws on a value that is not whole ms ≥ 100 or 0. */
export function agentScanMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.AGENTSIGHT_AGENT_SCAN_MS;
  if (v === undefined || v === '') return optionDefaultNumber('AGENTSIGHT_AGENT_SCAN_MS');
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || (n !== 0 && n < 100)) throw new Error(`AGENTSIGHT_AGENT_SCAN_MS must be 0 or a whole number of ms, at least 100, not ${JSON.stringify(v)}`);
  return n;
}

/** Options of {@link AgentWatch}. */
export interface AgentWatchOptions {
  rules: Rule[];
  /** agentsight itself (never sampled as an agent): the CLI's pid and the repository root. */
  self: { pid: number; root: string };
  /** Scan interval, ms (0: scan once, at start). */
  intervalMs: number;
  /** Told once per new root: `sampling <agent> (pid N)`. */
  say?: (s: string) => void;
  /** The proc mount (tests). */
  proc?: string;
}

/** Scans for running agents now and every `intervalMs`, adding new roots to `sink` (see the module comment). */
export class AgentWatch {
  private timer?: NodeJS.Timeout;
  /** Scans done, and the ms of CPU they took in all (the watch's cost). */
  readonly stats = { scans: 0, cpu_ms: 0 };

  constructor(private readonly sink: RootSink, private readonly o: AgentWatchOptions) {}

  /** Scans once now; then on the interval (unref'd: it never keeps the process alive). */
  start(): this {
    this.scan();
    if (this.o.intervalMs > 0) {
      this.timer = setInterval(() => this.scan(), this.o.intervalMs);
      this.timer.unref();
    }
    return this;
  }

  /** One scan: the pids added. */
  scan(): number[] {
    const cpu0 = process.cpuUsage();
    const procs = scanProcesses({ files: false, proc: this.o.proc });
    const ppid = new Map(procs.map((p) => [p.pid, p.ppid]));
    const { found } = discover(this.o.rules, procs, (p) => isOwnProcess(p, this.o.self));
    const added: number[] = [];
    for (const pid of newAgentRoots(found.map((d) => d.process), (p) => ppid.get(p), new Set(this.sink.pids()))) {
      if (this.sink.add(pid) === false) continue;
      added.push(pid);
      this.o.say?.(`sampling ${found.find((d) => d.process.pid === pid)!.verdict.agent} (pid ${pid})`);
    }
    const used = process.cpuUsage(cpu0);
    this.stats.scans++;
    this.stats.cpu_ms += (used.user + used.system) / 1000;
    return added;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
