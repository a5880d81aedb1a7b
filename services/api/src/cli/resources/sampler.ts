/**
 * The resource sampler's domain: reads a traced process tree from `/proc` into a {@link RawResourceSample}, and
 * decides when to read it next. No NATS here: {@link ResourceSampler} is given a `publish` function.
 *
 * Sources, per process: `stat` (ppid, comm, start time, utime/stime/cutime/cstime), `status` (VmRSS, VmHWM,
 * Threads), `io` (read_bytes, write_bytes, rchar, wchar), the entries of `fd`; the tree is walked through
 * `task/<tid>/children` (every thread's children, so children of non-main threads are found too). For the root, its
 * cgroup v2 (`memory.current`, `memory.peak`, `cpu.stat`) when it has one of its own.
 *
 * Tolerant of processes that exit while being read: a process whose `stat` is gone is left out; one whose start
 * time changed (the pid was reused) is left out too.
 *
 * Network bytes per process are the probe's (eBPF) counters, merged in by `net-bytes.ts` ({@link TreeNet}) from the
 * probe's latest reading when the context has one ({@link SampleContext.net}).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { agentName, optionDefaultNumber, RESOURCE_SAMPLE_VERSION, resourceSampleId, type CgroupResourceSample, type ProcResourceSample, type RawResourceSample, type TreeResourceTotals } from '@agentsight/contracts';
import { TreeNet, type NetReading } from './net-bytes';

/** USER_HZ: the unit of `stat` CPU times. 100 on every Linux architecture's user ABI (`sysconf(_SC_CLK_TCK)`). */
export const CLOCK_TICKS_PER_S = 100;
const NS_PER_TICK = 1e9 / CLOCK_TICKS_PER_S;

function tryRead(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Fields of `/proc/<pid>/stat` after the comm (which may hold spaces and parentheses). */
interface StatFields {
  comm: string;
  state: string;
  ppid: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  start: number;
}

/** Parses a `/proc/<pid>/stat` line; null when malformed. Times are clock ticks. */
export function parseStat(stat: string): StatFields | null {
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const rest = stat.slice(close + 2).split(' ');
  // rest[0] = field 3 (state); field n is rest[n - 3].
  const n = (field: number) => Number(rest[field - 3]);
  const f: StatFields = { comm: stat.slice(open + 1, close), state: rest[0], ppid: n(4), utime: n(14), stime: n(15), cutime: n(16), cstime: n(17), start: n(22) };
  return [f.ppid, f.utime, f.stime, f.cutime, f.cstime, f.start].every(Number.isFinite) ? f : null;
}

/** `Name:   123 kB` of `status` as bytes (kB × 1024), or null when absent. */
function statusKb(status: string, name: string): number | null {
  const m = new RegExp(`^${name}:\\s*(\\d+)\\s*kB`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : null;
}

/**
 * Reads one process. Null when it is gone, or when `expectStart` is given and its start time differs (pid reused).
 * Unreadable `io`/`fd` (another user's process when not root) give nulls, never zeros.
 */
export function readProcSample(pid: number, proc = '/proc', expectStart?: number): ProcResourceSample | null {
  const dir = `${proc}/${pid}`;
  const statText = tryRead(`${dir}/stat`);
  const st = statText === null ? null : parseStat(statText);
  if (!st || (expectStart !== undefined && st.start !== expectStart)) return null;
  const status = tryRead(`${dir}/status`) ?? '';
  const io = tryRead(`${dir}/io`);
  const ioField = (name: string) => {
    const m = io === null ? null : new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(io);
    return m ? Number(m[1]) : null;
  };
  let fds: number | null = null;
  try {
    fds = readdirSync(`${dir}/fd`).length;
  } catch {
    fds = null;
  }
  const threads = /^Threads:\s*(\d+)/m.exec(status);
  return {
    pid, ppid: st.ppid, comm: st.comm, start_ticks: st.start,
    utime_ns: st.utime * NS_PER_TICK, stime_ns: st.stime * NS_PER_TICK, children_cpu_ns: (st.cutime + st.cstime) * NS_PER_TICK,
    rss_bytes: statusKb(status, 'VmRSS'), rss_peak_bytes: statusKb(status, 'VmHWM'),
    threads: threads ? Number(threads[1]) : 1,
    read_bytes: ioField('read_bytes'), write_bytes: ioField('write_bytes'), rchar: ioField('rchar'), wchar: ioField('wchar'),
    fds,
  };
}

/** Children of `pid` over all its threads (`/proc/<pid>/task/<tid>/children`), sorted; [] when it is gone. */
export function childPids(pid: number, proc = '/proc'): number[] {
  let tids: string[];
  try {
    tids = readdirSync(`${proc}/${pid}/task`);
  } catch {
    return [];
  }
  const out = new Set<number>();
  for (const tid of tids) {
    const text = tryRead(`${proc}/${pid}/task/${tid}/children`);
    for (const c of (text ?? '').split(' ')) if (/^\d+$/.test(c)) out.add(Number(c));
  }
  return [...out].sort((a, b) => a - b);
}

/** The live processes of `root`'s tree, root first, parents before children; [] when the root is gone. */
export function readTree(root: number, proc = '/proc', rootStart?: number): ProcResourceSample[] {
  const first = readProcSample(root, proc, rootStart);
  if (!first) return [];
  const out = [first];
  const seen = new Set([root]);
  for (let i = 0; i < out.length; i++) {
    for (const c of childPids(out[i].pid, proc)) {
      if (seen.has(c)) continue;
      seen.add(c);
      const s = readProcSample(c, proc);
      // A child read after it was reaped and its pid reused elsewhere has another parent: not ours.
      if (s && s.ppid === out[i].pid) out.push(s);
    }
  }
  return out;
}

/** Totals of a tree (see {@link TreeResourceTotals} for the CPU rule). */
export function treeTotals(procs: ProcResourceSample[]): TreeResourceTotals {
  const sum = (f: (p: ProcResourceSample) => number | null) => procs.reduce((a, p) => a + (f(p) ?? 0), 0);
  return {
    procs: procs.length,
    cpu_ns: sum((p) => p.utime_ns + p.stime_ns + p.children_cpu_ns),
    rss_bytes: sum((p) => p.rss_bytes), threads: sum((p) => p.threads),
    read_bytes: sum((p) => p.read_bytes), write_bytes: sum((p) => p.write_bytes), fds: sum((p) => p.fds),
  };
}

/**
 * OTel `gen_ai.agent.name` of a running process ({@link agentName} over `comm`, the `exe` link and `cmdline`); null
 * when neither the link nor the command line can be read (the process is gone, or not ours).
 */
export function readAgentName(pid: number, comm: string, proc = '/proc'): string | null {
  let exe = '';
  try {
    exe = readlinkSync(`${proc}/${pid}/exe`);
  } catch {
    exe = '';
  }
  const argv = (tryRead(`${proc}/${pid}/cmdline`) ?? '').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
  if (exe === '' && argv.length === 0) return null;
  return agentName({ comm, exe, argv }, comm);
}

/** The root's own cgroup v2, or a reason why there is none to report. */
export function readCgroup(pid: number, proc = '/proc', cgroupRoot = '/sys/fs/cgroup', selfPid = process.pid): CgroupResourceSample | string {
  const v2 = (p: number) => /^0::(.*)$/m.exec(tryRead(`${proc}/${p}/cgroup`) ?? '')?.[1] ?? null;
  const path = v2(pid);
  if (path === null) return 'cgroup: the agent has no cgroup v2 (cgroup v1 only)';
  if (path === '/' || path === v2(selfPid)) return `cgroup: the agent shares its cgroup v2 (${path}) with other processes, so its figures would not be the agent's`;
  // Hybrid hierarchies mount v2 at /sys/fs/cgroup/unified.
  const base = tryRead(`${cgroupRoot}/cgroup.controllers`) !== null ? cgroupRoot : `${cgroupRoot}/unified`;
  const num = (file: string) => {
    const t = tryRead(`${base}${path}/${file}`);
    return t !== null && /^\d+\s*$/.test(t) ? Number(t) : null;
  };
  const usage = /^usage_usec\s+(\d+)/m.exec(tryRead(`${base}${path}/cpu.stat`) ?? '');
  return { path, memory_current_bytes: num('memory.current'), memory_peak_bytes: num('memory.peak'), cpu_usage_ns: usage ? Number(usage[1]) * 1000 : null };
}

/** Context of {@link sampleTree}: who samples and the clocks (injectable for tests). */
export interface SampleContext {
  host: string;
  boot_id: string;
  proc?: string;
  cgroupRoot?: string;
  /** Monotonic ns; default `process.hrtime.bigint()`. */
  nowBootNs?: () => bigint;
  /** Wall-clock ns; default `Date.now() × 1e6` refined by hrtime. */
  nowWallNs?: () => bigint;
  /**
   * The probe's latest network reading (`NetReadings.latest`; null before the first), the source of the `net_*`
   * figures; absent when no probe runs with this sampler (the figures are then null, said in `not_captured`).
   */
  net?: () => NetReading | null;
}

/** The running traced root: its pid and start time, and the time of its previous sample. */
export interface SampledRoot {
  pid: number;
  start_ticks: number;
  comm: string;
  lastBootNs?: bigint;
  /** The root's agent name as last read, and the comm it was read for (read again when the root execs). */
  agent?: { comm: string; name: string | null };
  /** The tree's network figures across its samples (exited descendants' bytes). */
  net?: TreeNet;
}

const wallBase = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Reads `root`'s tree now; null when the root is gone (or its pid was reused). */
export function sampleTree(root: SampledRoot, ctx: SampleContext): RawResourceSample | null {
  const cpu0 = process.cpuUsage();
  const proc = ctx.proc ?? '/proc';
  const procs = readTree(root.pid, proc, root.start_ticks);
  if (!procs.length) return null;
  const ts_boot_ns = (ctx.nowBootNs ?? (() => process.hrtime.bigint()))();
  const ts_wall_ns = ctx.nowWallNs ? ctx.nowWallNs() : wallBase + ts_boot_ns;
  const cg = readCgroup(root.pid, proc, ctx.cgroupRoot);
  const net = (root.net ??= new TreeNet()).apply(procs, ctx.net ? ctx.net() : undefined, ts_boot_ns);
  const not_captured: string[] = [];
  if (net.not_captured) not_captured.push(net.not_captured);
  if (typeof cg === 'string') not_captured.push(cg);
  const noIo = procs.filter((p) => p.read_bytes === null).map((p) => p.pid);
  if (noIo.length) not_captured.push(`io: /proc/<pid>/io unreadable for pid ${noIo.join(', ')} (not root?)`);
  const noFd = procs.filter((p) => p.fds === null).map((p) => p.pid);
  if (noFd.length) not_captured.push(`fds: /proc/<pid>/fd unreadable for pid ${noFd.join(', ')}`);
  if (root.agent?.comm !== procs[0].comm) root.agent = { comm: procs[0].comm, name: readAgentName(root.pid, procs[0].comm, proc) };
  const base = { host: ctx.host, boot_id: ctx.boot_id, root_pid: root.pid, root_start_ticks: root.start_ticks, ts_boot_ns };
  const used = process.cpuUsage(cpu0);
  return {
    v: RESOURCE_SAMPLE_VERSION, kind: 'resource_sample', id: resourceSampleId(base), ...base, root_comm: procs[0].comm, agent_name: root.agent.name, ts_wall_ns,
    interval_ms: root.lastBootNs === undefined ? 0 : Number((ts_boot_ns - root.lastBootNs) / 1_000_000n),
    procs, tree: { ...treeTotals(procs), net_sent_bytes: net.tree?.sent ?? null, net_recv_bytes: net.tree?.recv ?? null }, cgroup: typeof cg === 'string' ? null : cg, not_captured,
    sampler_cpu_ns: (used.user + used.system) * 1000, net_age_ms: net.age_ms, net_since_ticks: net.since_ticks,
  };
}

/** Sampling intervals: `activeMs` while the tree does anything, doubling up to `idleMaxMs` while it is idle. */
export interface SamplingPolicy {
  /** `AGENTSIGHT_SAMPLE_MS` (default in OPTIONS: 1000 ms). */
  activeMs: number;
  /** `AGENTSIGHT_SAMPLE_IDLE_MAX_MS` (default in OPTIONS: 8000 ms). */
  idleMaxMs: number;
}

/** The policy from `AGENTSIGHT_SAMPLE_MS` / `AGENTSIGHT_SAMPLE_IDLE_MAX_MS`; throws on a value that is not a positive number of ms. */
export function samplingPolicy(env: NodeJS.ProcessEnv = process.env): SamplingPolicy {
  const ms = (name: string) => {
    const v = env[name];
    if (v === undefined || v === '') return optionDefaultNumber(name);
    if (!/^\d+$/.test(v.trim()) || Number(v) < 10) throw new Error(`${name} must be a whole number of ms, at least 10, not ${JSON.stringify(v)}`);
    return Number(v);
  };
  const activeMs = ms('AGENTSIGHT_SAMPLE_MS');
  return { activeMs, idleMaxMs: Math.max(activeMs, ms('AGENTSIGHT_SAMPLE_IDLE_MAX_MS')) };
}

/**
 * The next interval after `cur` given the previous sample: the active interval when the tree used CPU, changed its
 * processes or did I/O (storage, syscalls or network) since `prev` (or there is no `prev`), else the current interval doubled, at most `idleMaxMs`.
 */
export function nextIntervalMs(policy: SamplingPolicy, currentMs: number, prev: RawResourceSample | undefined, cur: RawResourceSample): number {
  if (!prev) return policy.activeMs;
  const pids = (s: RawResourceSample) => s.procs.map((p) => `${p.pid}/${p.start_ticks}`).join(',');
  const io = (s: RawResourceSample) => s.procs.reduce((a, p) => a + (p.rchar ?? 0) + (p.wchar ?? 0), 0) + (s.tree.net_sent_bytes ?? 0) + (s.tree.net_recv_bytes ?? 0);
  const active = cur.tree.cpu_ns > prev.tree.cpu_ns || pids(cur) !== pids(prev) || io(cur) !== io(prev);
  return active ? policy.activeMs : Math.min(policy.idleMaxMs, Math.max(policy.activeMs, currentMs * 2));
}

/** CPU use between two samples of one tree, in % of one core (100 = one core busy); null without an interval. */
export function cpuPercent(prev: RawResourceSample, cur: RawResourceSample): number | null {
  const dt = Number(cur.ts_boot_ns - prev.ts_boot_ns);
  if (dt <= 0) return null;
  return (Math.max(0, cur.tree.cpu_ns - prev.tree.cpu_ns) / dt) * 100;
}

/** `/proc/sys/kernel/random/boot_id`. */
export function bootId(proc = '/proc'): string {
  return (tryRead(`${proc}/sys/kernel/random/boot_id`) ?? '').trim();
}

/**
 * Samples traced roots on their own schedules ({@link SamplingPolicy}) and hands each sample to `publish`; a root
 * is dropped once it is gone. `publish` errors are reported to `onError` and the sample is not retried (the next one
 * carries the cumulative figures, so a lost sample loses resolution, not totals).
 */
export class ResourceSampler {
  private readonly roots = new Map<number, { root: SampledRoot; timer?: NodeJS.Timeout; intervalMs: number; prev?: RawResourceSample }>();
  private stopped = false;
  /** Samples handed to `publish`, and CPU ns the sampler spent reading (for the cost figures). */
  readonly stats = { samples: 0, sampler_cpu_ns: 0 };

  constructor(
    private readonly ctx: SampleContext,
    private readonly policy: SamplingPolicy,
    private readonly publish: (s: RawResourceSample) => Promise<void>,
    private readonly onError: (err: Error) => void = () => undefined,
  ) {}

  /** Starts sampling `pid` (now, then on its schedule). False when it is not running or already sampled. */
  add(pid: number): boolean {
    if (this.roots.has(pid) || this.stopped) return false;
    const s = readProcSample(pid, this.ctx.proc);
    if (!s) return false;
    this.roots.set(pid, { root: { pid, start_ticks: s.start_ticks, comm: s.comm }, intervalMs: this.policy.activeMs });
    void this.tick(pid);
    return true;
  }

  /** Pids being sampled. */
  pids(): number[] {
    return [...this.roots.keys()];
  }

  /** Takes one more sample of every root now (e.g. just before the agent is known to end), awaiting their publication. */
  async flush(): Promise<void> {
    await Promise.all([...this.roots.keys()].map((pid) => this.tick(pid, false)));
  }

  /** Stops every schedule; pending publications are awaited by {@link flush} callers, not here. */
  stop(): void {
    this.stopped = true;
    for (const r of this.roots.values()) clearTimeout(r.timer);
    this.roots.clear();
  }

  private async tick(pid: number, reschedule = true): Promise<void> {
    const r = this.roots.get(pid);
    if (!r) return;
    if (reschedule) clearTimeout(r.timer);
    const s = sampleTree(r.root, this.ctx);
    if (!s) {
      clearTimeout(r.timer);
      this.roots.delete(pid);
      return;
    }
    r.root.lastBootNs = s.ts_boot_ns;
    r.intervalMs = nextIntervalMs(this.policy, r.intervalMs, r.prev, s);
    r.prev = s;
    this.stats.samples++;
    this.stats.sampler_cpu_ns += s.sampler_cpu_ns;
    if (reschedule && !this.stopped) {
      r.timer = setTimeout(() => void this.tick(pid), r.intervalMs);
      r.timer.unref();
    }
    try {
      await this.publish(s);
    } catch (err) {
      this.onError(err as Error);
    }
  }
}
