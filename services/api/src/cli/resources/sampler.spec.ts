/** The resource sampler against the real /proc, with real child processes whose own figures (getrusage) we compare. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { resourceSampleId, type RawResourceSample } from '@agentsight/contracts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NET_NO_PROBE } from './net-bytes';
import { ResourceSampler, bootId, cpuPercent, nextIntervalMs, parseStat, readAgentName, readProcSample, readTree, sampleTree, samplingPolicy } from './sampler';

/** Node code run by the children: burns `CPU_MS` of CPU, touches `MB` MiB, prints its own figures, then idles. */
const WORKER = `
const cpuMs = Number(process.env.CPU_MS || 0), mb = Number(process.env.MB || 0);
const t0 = process.cpuUsage();
while ((process.cpuUsage(t0).user + process.cpuUsage(t0).system) / 1000 < cpuMs) {}
const keep = mb ? Buffer.alloc(mb * 1024 * 1024, 1) : null;
const u = process.cpuUsage();
console.log(JSON.stringify({ pid: process.pid, cpu_ns: (u.user + u.system) * 1000, rss: process.memoryUsage().rss, n: keep ? keep.length : 0 }));
if (process.env.EXIT) process.exit(0);
setInterval(() => {}, 1000);
`;

const started: ChildProcess[] = [];
afterAll(() => {
  // Each child leads its own process group: kill the whole group (grandchildren included).
  for (const c of started) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

function run(cmd: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; line: () => Promise<Record<string, number>> } {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  started.push(child);
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return { child, line: async () => JSON.parse((await lines.next()).value as string) };
}

const ctx = { host: 'test-host', boot_id: bootId() };

describe('parseStat', () => {
  it('reads fields after a comm holding spaces and parentheses', () => {
    const line = '42 (a) b (c)) S 7 42 42 0 -1 4194560 100 0 0 0 250 30 4 6 20 0 3 0 12345 1000 10 18446744073709551615';
    expect(parseStat(line)).toEqual({ comm: 'a) b (c)', state: 'S', ppid: 7, utime: 250, stime: 30, cutime: 4, cstime: 6, start: 12345 });
    expect(parseStat('garbage')).toBeNull();
  });
});

describe('sampling real processes', () => {
  it('reads a tree: root, children and grandchildren, with CPU and peak RSS matching what each process says of itself', async () => {
    // sh → (node burning 300 ms and holding 64 MiB) and (node idle)
    const { child, line } = run('/bin/sh', ['-c', `node -e "$W" & CPU_MS=0 node -e "$W" & wait`], { W: WORKER, CPU_MS: '300', MB: '64' });
    const a = await line();
    const b = await line();
    const tree = readTree(child.pid!);
    expect(tree[0].pid).toBe(child.pid);
    const byPid = new Map(tree.map((p) => [p.pid, p]));
    expect([...byPid.keys()].sort()).toEqual([child.pid!, a.pid, b.pid].sort());
    for (const self of [a, b]) {
      const p = byPid.get(self.pid)!;
      expect(p.ppid).toBe(child.pid);
      // /proc counts in 10 ms ticks; the process read its getrusage a moment before: within 2 ticks + what it spent since.
      expect(Math.abs(p.utime_ns + p.stime_ns - self.cpu_ns)).toBeLessThan(50e6);
      expect(p.threads).toBeGreaterThan(1);
      expect(p.fds).toBeGreaterThan(2);
      expect(p.read_bytes).not.toBeNull();
      expect(p.rchar).toBeGreaterThan(0);
    }
    const hog = byPid.get(a.pid)!;
    expect(a.n).toBe(64 * 1024 * 1024);
    expect(hog.rss_peak_bytes!).toBeGreaterThanOrEqual(a.rss - 4 * 1024 * 1024);
    expect(hog.rss_peak_bytes!).toBeGreaterThan(64 * 1024 * 1024);

    const s = sampleTree({ pid: child.pid!, start_ticks: tree[0].start_ticks, comm: 'sh' }, ctx)!;
    expect(s.tree.procs).toBe(3);
    expect(s.tree.cpu_ns).toBe(s.procs.reduce((x, p) => x + p.utime_ns + p.stime_ns + p.children_cpu_ns, 0));
    expect(s.tree.rss_bytes).toBe(s.procs.reduce((x, p) => x + p.rss_bytes!, 0));
    expect(s.tree.cpu_ns).toBeGreaterThanOrEqual(a.cpu_ns - 20e6);
    // No probe with this sampler: the network figures are null and the sample says why.
    expect(s.not_captured).toContain(NET_NO_PROBE);
    expect(s.procs.every((p) => p.net_sent_bytes === null && p.net_recv_bytes === null && p.children_net_sent_bytes === null)).toBe(true);
    expect([s.tree.net_sent_bytes, s.tree.net_recv_bytes, s.net_age_ms]).toEqual([null, null, null]);
    // No cgroup of its own here: said, not zero.
    if (s.cgroup === null) expect(s.not_captured.some((n) => n.startsWith('cgroup:'))).toBe(true);
    expect(s.id).toBe(resourceSampleId(s));
    expect(s.id).toMatch(/^[0-9a-f]{32}$/);
    expect(s.sampler_cpu_ns).toBeGreaterThanOrEqual(0);
  });

  it('names the root as the analyzer names agents (gen_ai.agent.name), read again when the root execs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentsight-sampler-'));
    writeFileSync(join(dir, 'claude'), WORKER);
    // sh says it runs, sleeps, then execs node on a script named like Claude Code's.
    const { child, line } = run('/bin/sh', ['-c', `echo '{"pid":0}'; sleep 0.5; exec node ${join(dir, 'claude')} --print`]);
    await line();
    const tree = readTree(child.pid!);
    const root = { pid: child.pid!, start_ticks: tree[0].start_ticks, comm: 'sh' };
    expect(sampleTree(root, ctx)!.agent_name).toBe('sh');
    expect((await line()).pid).toBe(child.pid); // the worker runs in the exec'd root
    const after = sampleTree(root, ctx)!;
    expect([after.root_comm, after.agent_name]).toEqual(['node', 'claude-code']);
    expect(readAgentName(2 ** 22 + 1, 'gone')).toBeNull();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the CPU of a child that exited and was reaped inside the tree (cutime of its parent)', async () => {
    const { child, line } = run('/bin/sh', ['-c', `node -e "$W"; echo '{"done":1}'; sleep 60`], { W: WORKER, CPU_MS: '300', EXIT: '1' });
    const worker = await line();
    await line(); // the worker exited and sh waited for it
    const tree = readTree(child.pid!);
    expect(tree.map((p) => p.pid)).not.toContain(worker.pid);
    const s = sampleTree({ pid: child.pid!, start_ticks: tree[0].start_ticks, comm: 'sh' }, ctx)!;
    expect(s.procs[0].children_cpu_ns).toBeGreaterThanOrEqual(worker.cpu_ns - 20e6);
    expect(s.tree.cpu_ns).toBeGreaterThanOrEqual(worker.cpu_ns - 20e6);
  });

  it('gives null for a root that is gone or whose pid now belongs to another process', async () => {
    const { child } = run('/bin/true', []);
    const start = await new Promise<number>((res) => child.on('spawn', () => res(readProcSample(child.pid!)?.start_ticks ?? -1)));
    await new Promise((r) => child.on('exit', r));
    expect(sampleTree({ pid: child.pid!, start_ticks: start, comm: 'true' }, ctx)).toBeNull();
    expect(sampleTree({ pid: process.pid, start_ticks: readProcSample(process.pid)!.start_ticks + 1, comm: 'x' }, ctx)).toBeNull();
  });

  it('backs off while the tree is idle and returns to the active interval when it works', async () => {
    const policy = { activeMs: 100, idleMaxMs: 400 };
    const { child } = run('/bin/sleep', ['60']);
    await new Promise((r) => child.on('spawn', r));
    // Idle only once its exec is done (the forked node turned into `sleep` and sleeping): until then it runs and
    // reads the loader and libc, which is activity (seen under load: 100 ms instead of 200).
    const slept = () => readFileSync(`/proc/${child.pid}/stat`, 'utf8').includes('(sleep) S');
    for (let i = 0; i < 200 && !slept(); i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    const root = { pid: child.pid!, start_ticks: readProcSample(child.pid!)!.start_ticks, comm: 'sleep' };
    const s1 = sampleTree(root, ctx)!;
    const s2 = sampleTree(root, ctx)!;
    expect(nextIntervalMs(policy, 100, undefined, s1)).toBe(100);
    expect(nextIntervalMs(policy, 100, s1, s2)).toBe(200);
    expect(nextIntervalMs(policy, 200, s1, s2)).toBe(400);
    expect(nextIntervalMs(policy, 400, s1, s2)).toBe(400);
    const busy: RawResourceSample = { ...s2, tree: { ...s2.tree, cpu_ns: s2.tree.cpu_ns + 1 } };
    expect(nextIntervalMs(policy, 400, s1, busy)).toBe(100);
    expect(cpuPercent(s1, busy)).toBeGreaterThan(0);
  });

  it('ResourceSampler publishes samples of each root until it exits, each with a distinct deterministic id', async () => {
    const { child, line } = run('/bin/sh', ['-c', `node -e "$W"; sleep 0.5`], { W: WORKER, CPU_MS: '200', EXIT: '1' });
    const published: RawResourceSample[] = [];
    const sampler = new ResourceSampler(ctx, { activeMs: 50, idleMaxMs: 100 }, async (s) => void published.push(s));
    expect(sampler.add(child.pid!)).toBe(true);
    expect(sampler.add(child.pid!)).toBe(false);
    const worker = await line();
    await new Promise((r) => child.on('exit', r));
    await sampler.flush();
    // The root is gone: the sampler dropped it.
    expect(sampler.pids()).toEqual([]);
    sampler.stop();
    expect(published.length).toBeGreaterThan(1);
    expect(new Set(published.map((s) => s.id)).size).toBe(published.length);
    expect(published[0].interval_ms).toBe(0);
    expect(published.every((s) => s.root_pid === child.pid)).toBe(true);
    expect(published.some((s) => s.procs.some((p) => p.pid === worker.pid))).toBe(true);
    // cumulative CPU of the tree never goes down
    for (let i = 1; i < published.length; i++) expect(published[i].tree.cpu_ns).toBeGreaterThanOrEqual(published[i - 1].tree.cpu_ns);
  });

  it('reads its policy from the environment and refuses nonsense', () => {
    expect(samplingPolicy({})).toEqual({ activeMs: 1000, idleMaxMs: 8000 });
    expect(samplingPolicy({ AGENTSIGHT_SAMPLE_MS: '250', AGENTSIGHT_SAMPLE_IDLE_MAX_MS: '100' })).toEqual({ activeMs: 250, idleMaxMs: 250 });
    expect(() => samplingPolicy({ AGENTSIGHT_SAMPLE_MS: '1s' })).toThrow(/AGENTSIGHT_SAMPLE_MS/);
  });
});
