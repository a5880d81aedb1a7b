/**
 * Probe overhead and loss benchmark (not a test): `npx tsx bench/capture.bench.ts [--quick]`, as root, after the probe
 * (`make -C services/probe-producer`) and the libs (`npx nx run-many -t build`) are built. Everything is local: a
 * private nats-server (JetStream, temp dir), local TLS servers, the real probe. Writes bench/out/capture.json and
 * prints a Markdown summary. Method and results: bench/README.md, section "capture.bench.ts — probe overhead and loss".
 *
 * The servers (bench/capture/servers.js and the testkit replay server) run on a private COPY of the node binary: uprobes
 * are per inode, so the copy is not probed and the server plays the remote peer (an LLM API is not on the traced
 * machine); only the client pays for capture. Clients: /usr/bin/node (node's static OpenSSL: SSL_write/SSL_read) and
 * Debian's /usr/bin/python3 (libssl.so.3: SSL_write_ex/SSL_read_ex). Probe modes of one client run:
 *   off      — no probe running;
 *   traced   — probe with `--pid <client>` (uprobes fire and the client's calls are recorded and published);
 *   filtered — probe with `--comm <no such comm>` (uprobes fire in the client, the BPF filter rejects the call);
 *   stats    — as traced, with BPF run-time statistics on (bpf(BPF_ENABLE_STATS)): calls per round trip and the BPF
 *              programs' own run time; a separate run, so the stats' own cost is not in the traced figures.
 *
 * 1. Per-call cost: N 1-byte round trips, each call / round trip timed with a monotonic ns clock; added cost =
 *    percentile(mode) − percentile(off). *_mem: client and server in ONE process over memory (python SSLObject +
 *    MemoryBIO: SSL_write_ex / SSL_read_ex timed one by one; node TLSSockets over an in-memory duplex pair: round trip
 *    ÷ probed calls per round trip from the stats run). *_tcp: over TCP to the echo server, timing the write call
 *    (node socket.write → SSL_write, synchronous; python sock.send → SSL_write_ex) and the round trip.
 * 2. Throughput: (a) 5,000 sequential `GET /small` on one keep-alive connection (node https, python http.client);
 *    (b) agent-like: streamed LLM calls (replay server, vercel__openai-text.chunks.txt) each followed by `ls /`
 *    (spawnSync), node client, unpaced (the worst case); (c) `agent_paced`: the same calls paced like a real API (the
 *    replay server waits PACED_DELAY_MS between two SSE events, ≈100 tokens/s), each followed by PACED_TOOLS tool
 *    execs. off and traced runs alternate; ratio = traced / off (means of the reps); `overhead` = the capture's cost in
 *    % of wall time (wall time added, and CPU added by probe + NATS + the client's traps; see overhead()).
 *    `--only name,…` runs only those workloads (node_mem, python_mem, node_tcp, python_tcp, small_node, small_python,
 *    agent_node, agent_paced, loss).
 * 3. Loss: 1,000 POSTs of 96 KiB with MARK-<i>-<uuid> at both ends (8 keep-alive sockets), traced under a unique
 *    --host; every raw record of the run is read back from JetStream (ordered consumers), each connection direction is
 *    reassembled by stream_offset, markers and whole bodies (sha256) are counted, plus the probe's stopped counters.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { decode, hostToken, lostBytes, lostRecords, RawLossRecord, RawProcRecord, RawRecord, RawSslCloseRecord, RawSslRecord } from '@agentsight/contracts';
import { connectNats } from '@agentsight/jetstream';
import { freePort, makeSelfSignedCert, probeBinary, runProcess } from '@agentsight/testkit';
import { DeliverPolicy } from '@nats-io/jetstream';
import type { JsMsg } from '@nats-io/jetstream';

const QUICK = process.argv.includes('--quick');
/** `--only a,b`: run only these workloads (per-call, throughput names, `loss`); default all. */
const ONLY = (() => {
  const i = process.argv.indexOf('--only');
  return i >= 0 ? new Set(process.argv[i + 1].split(',')) : null;
})();
const selected = (name: string) => !ONLY || ONLY.has(name);
const ROOT = resolve(__dirname, '..');
const HERE = join(__dirname, 'capture');
const NODE = '/usr/bin/node';
const PYTHON = '/usr/bin/python3';
const PROBE = process.env.AGENTSIGHT_PROBE || probeBinary(); // AGENTSIGHT_PROBE: measure another build
const LOOP_N = QUICK ? 3000 : 20000; // round trips per loop run
const LOOP_REPS = QUICK ? 1 : 2;
const WARMUP = QUICK ? 300 : 1000; // first round trips of each run dropped
const SMALL_N = QUICK ? 1000 : 5000;
const TPUT_REPS = QUICK ? 2 : 4; // runs per mode (after one warm-up run)
const AGENT_N = QUICK ? 20 : 150;
const PACED_N = QUICK ? 3 : 10; // paced agent: calls per run
const PACED_DELAY_MS = 10; // between two SSE events: 300 events at ≈100 tokens/s, the fast end of real APIs (30–100)
const PACED_TOOLS = 3; // tool execs after each call
const FIXTURE = 'vercel__openai-text.chunks.txt';
const UPLOADS = QUICK ? 200 : 1000;
const UPLOAD_BYTES = 96 * 1024;
const UPLOAD_CONC = 8;
const RUN_ID = `${Date.now().toString(36)}`;

type Mode = 'off' | 'traced' | 'filtered' | 'stats';
interface Stopped { records: number; published: number; lost_records: number; publish_failures: number; last_seq: number }
/** probe_cpu_s: the probe's CPU from start to stop; probe_start_cpu_s: of that, until its ready line (attach). */
interface ProbeRun { host: string; stopped: Stopped; probe_cpu_s: number; probe_start_cpu_s: number; nats_cpu_s: number; ready_ms: number; bpf?: Record<string, { run_cnt: number; run_time_ns: number }> }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const sorted = (xs: number[]) => Float64Array.from(xs).sort() as unknown as number[];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const r1 = (x: number) => Math.round(x * 10) / 10;

function cpuSeconds(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, USER_HZ = 100
  } catch {
    return NaN;
  }
}

/** Spawns cmd and resolves with the first stdout line parsed as JSON. */
async function spawnJsonLine<T>(cmd: string, args: string[]): Promise<{ proc: ChildProcess; info: T }> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const info = await new Promise<T>((res, rej) => {
    let buf = '';
    proc.stdout!.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0) res(JSON.parse(buf.slice(0, nl)));
    });
    proc.once('exit', (c) => rej(new Error(`${cmd} ${args.join(' ')} exited ${c}`)));
  });
  return { proc, info };
}

/** Ids of the BPF programs held by `pid` (prog_id lines of /proc/<pid>/fdinfo/*). */
function progIdsOf(pid: number): Set<number> {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const m = /^prog_id:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) ids.add(Number(m[1]));
    } catch {
      // fd closed meanwhile
    }
  }
  return ids;
}

/** bpftool's view of the probe's BPF programs: run_cnt / run_time_ns per program name (needs BPF stats on). */
function bpfProgStats(probePid: number): Record<string, { run_cnt: number; run_time_ns: number }> {
  const mine = progIdsOf(probePid);
  const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as Array<{
    id: number; name?: string; run_cnt?: number; run_time_ns?: number;
  }>;
  const out: Record<string, { run_cnt: number; run_time_ns: number }> = {};
  for (const p of progs) {
    if (!mine.has(p.id) || !p.name) continue;
    out[p.name] = { run_cnt: p.run_cnt ?? 0, run_time_ns: p.run_time_ns ?? 0 };
  }
  return out;
}

class Bench {
  natsUrl = '';
  natsPid = 0;
  private children: ChildProcess[] = [];
  /** Client runs during which another agentsight-probe was running (its uprobes also fire in our clients). */
  readonly overlaps: string[] = [];
  constructor(readonly tmp: string) {}

  track(p: ChildProcess): ChildProcess {
    this.children.push(p);
    return p;
  }

  async stopAll(): Promise<void> {
    for (const p of this.children.reverse()) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      p.kill('SIGTERM');
      await Promise.race([new Promise((r) => p.once('exit', r)), sleep(5000)]);
    }
  }

  /** Starts the probe with `args` (+ this bench's NATS and host), waits for its ready line. */
  /** CPU list the probe runs on (taskset), or '' for any. */
  probeCpus = '';

  async startProbe(host: string, args: string[]): Promise<{ pid: number; readyMs: number; stop(): Promise<Stopped> }> {
    const t0 = Date.now();
    const argv = [PROBE, ...args, '--host', host, '--nats-url', this.natsUrl, '--stats-interval-ms', '1000'];
    const p = this.track(this.probeCpus ? spawn('taskset', ['-c', this.probeCpus, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
    const line = async (event: string, ms: number): Promise<Record<string, unknown>> => {
      const end = Date.now() + ms;
      for (;;) {
        const l = out.split('\n').filter(Boolean).map((x) => JSON.parse(x)).find((x) => x.event === event);
        if (l) return l;
        if (Date.now() > end || p.exitCode !== null) throw new Error(`probe: no ${event} line; stderr:\n${err}`);
        await sleep(10);
      }
    };
    await line('ready', 30000);
    const readyMs = Date.now() - t0;
    return {
      pid: p.pid!,
      readyMs,
      stop: async () => {
        p.kill('SIGINT');
        const s = (await line('stopped', 60000)) as unknown as Stopped;
        await exited;
        return s;
      },
    };
  }

  /** One client run in `mode`; returns the client's JSON line and, under a probe, the probe's figures. */
  /** nats_cpu_s: CPU seconds of this bench's nats-server during the run (its idle cost in `off` runs). */
  async client<T>(cmd: string, args: string[], mode: Mode, tag: string): Promise<{ res: T; probe?: ProbeRun; nats_cpu_s: number }> {
    const parse = (r: { exitCode: number | null; stdout: string; stderr: string }): T => {
      if (r.exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
      return JSON.parse(r.stdout.split('\n')[0]) as T;
    };
    const timeoutMs = 300_000;
    const others = otherProbes().length;
    if (others > 0) this.overlaps.push(`${tag}/${mode}: ${others} other agentsight-probe process(es) running`);
    const nats0 = cpuSeconds(this.natsPid);
    const natsCpu = () => Math.round((cpuSeconds(this.natsPid) - nats0) * 100) / 100;
    if (mode === 'off') {
      const res = parse(await runProcess(cmd, args, { timeoutMs }));
      return { res, nats_cpu_s: natsCpu() };
    }
    const host = `capbench-${RUN_ID}-${tag}-${mode}`;
    if (mode === 'filtered') {
      const probe = await this.startProbe(host, ['--comm', 'no-such-comm-x']);
      const probe_start_cpu_s = cpuSeconds(probe.pid);
      const res = parse(await runProcess(cmd, args, { timeoutMs }));
      const probe_cpu_s = cpuSeconds(probe.pid);
      const stopped = await probe.stop();
      return { res, nats_cpu_s: natsCpu(), probe: { host, stopped, probe_cpu_s, probe_start_cpu_s, nats_cpu_s: natsCpu(), ready_ms: probe.readyMs } };
    }
    const child = await runProcess(cmd, args, { timeoutMs, stopped: true });
    let statsHolder: ChildProcess | undefined;
    let probe;
    try {
      if (mode === 'stats') {
        statsHolder = this.track(spawn(PYTHON, [join(HERE, 'bpf-stats.py')], { stdio: ['pipe', 'pipe', 'inherit'] }));
        const ok = await new Promise<string>((r) => statsHolder!.stdout!.once('data', (d) => r(String(d).trim())));
        if (ok !== 'on') throw new Error(`bpf-stats: ${ok}`);
      }
      probe = await this.startProbe(host, ['--pid', String(child.pid)]);
    } catch (e) {
      child.kill();
      statsHolder?.stdin!.end();
      throw e;
    }
    const before = mode === 'stats' ? bpfProgStats(probe.pid) : undefined;
    const probe_start_cpu_s = cpuSeconds(probe.pid);
    child.resume();
    const res = parse(await child.result);
    let bpf: ProbeRun['bpf'];
    if (before) {
      const after = bpfProgStats(probe.pid);
      bpf = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, { run_cnt: v.run_cnt - (before[k]?.run_cnt ?? 0), run_time_ns: v.run_time_ns - (before[k]?.run_time_ns ?? 0) }]));
      statsHolder!.stdin!.end();
    }
    const probe_cpu_s = cpuSeconds(probe.pid);
    const stopped = await probe.stop();
    return { res, nats_cpu_s: natsCpu(), probe: { host, stopped, probe_cpu_s, probe_start_cpu_s, nats_cpu_s: natsCpu(), ready_ms: probe.readyMs, bpf } };
  }
}

type Dist = { n: number; p50: number; p90: number; p99: number; mean: number };
function dist(xs: number[]): Dist {
  const s = sorted(xs);
  return { n: s.length, p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), mean: Math.round(mean(xs)) };
}

/** Sets the CPU affinity of every thread of pid. */
function pin(pid: number, cpuList: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
}

type Samples = Partial<Record<'write_ns' | 'read_ns' | 'rtt_ns', number[]>>;

/** 1. Per-call cost. The client runs on CPU 1; the probe, NATS and the servers on CPU 0. */
async function perCall(b: Bench, echoPort: number, key: string, cert: string): Promise<Record<string, unknown>> {
  const on1 = (cmd: string, args: string[]) => ({ cmd: 'taskset', args: ['-c', '1', cmd, ...args] });
  const workloads: Record<string, { cmd: string; args: string[] }> = {
    node_mem: on1(NODE, [join(HERE, 'node-client.js'), 'mem', key, cert, String(LOOP_N)]),
    python_mem: on1(PYTHON, [join(HERE, 'py-client.py'), 'mem', key, cert, String(LOOP_N)]),
    node_tcp: on1(NODE, [join(HERE, 'node-client.js'), 'loop', String(echoPort), cert, String(LOOP_N)]),
    python_tcp: on1(PYTHON, [join(HERE, 'py-client.py'), 'loop', String(echoPort), cert, String(LOOP_N)]),
  };
  const out: Record<string, unknown> = {};
  for (const [name, c] of Object.entries(workloads)) {
    if (!selected(name)) continue;
    const samples: Record<string, Samples> = {};
    const probes: Record<string, ProbeRun[]> = {};
    for (let rep = 0; rep < LOOP_REPS; rep++) {
      for (const mode of ['off', 'traced', 'filtered'] as Mode[]) {
        const { res, probe } = await b.client<Samples>(c.cmd, c.args, mode, `${name}-${rep}`);
        const s = (samples[mode] ??= {});
        for (const [k, v] of Object.entries(res) as Array<[keyof Samples, number[]]>) (s[k] ??= []).push(...v.slice(WARMUP));
        if (probe) (probes[mode] ??= []).push(probe);
        process.stderr.write(`${name} ${mode} rep ${rep}: ${Object.entries(res).map(([k, v]) => `${k} p50 ${pct(sorted(v.slice(WARMUP)), 50)}`).join(', ')}\n`);
      }
    }
    // Calls per round trip and the BPF programs' own run time (separate run, statistics on).
    const st = await b.client<Samples>(c.cmd, c.args, 'stats', `${name}-stats`);
    const bpf = Object.fromEntries(Object.entries(st.probe!.bpf!).filter(([, v]) => v.run_cnt > 0).map(([k, v]) => [k, {
      per_round_trip: Math.round((v.run_cnt / LOOP_N) * 100) / 100, avg_run_ns: Math.round(v.run_time_ns / v.run_cnt), run_cnt: v.run_cnt,
    }]));
    const uprobes = Object.entries(bpf).filter(([k]) => k.startsWith('probe_')).reduce((n, [, v]) => n + v.per_round_trip, 0);
    const d = Object.fromEntries(Object.entries(samples).map(([m, s]) => [m, Object.fromEntries(Object.entries(s).map(([k, v]) => [k, dist(v)]))]));
    const added = (m: string) => Object.fromEntries(Object.keys(d.off).map((k) => [k, {
      p50: d[m][k].p50 - d.off[k].p50, p99: d[m][k].p99 - d.off[k].p99, mean: d[m][k].mean - d.off[k].mean,
    }]));
    const perCallFromRtt = (m: string) => (uprobes > 0 ? {
      p50: Math.round((d[m].rtt_ns.p50 - d.off.rtt_ns.p50) / uprobes), p99: Math.round((d[m].rtt_ns.p99 - d.off.rtt_ns.p99) / uprobes),
      mean: Math.round((d[m].rtt_ns.mean - d.off.rtt_ns.mean) / uprobes),
    } : null);
    out[name] = {
      dist: d,
      added_traced: added('traced'),
      added_filtered: added('filtered'),
      probed_calls_per_round_trip: Math.round(uprobes * 100) / 100,
      per_call_from_round_trip: { traced: perCallFromRtt('traced'), filtered: perCallFromRtt('filtered') },
      bpf_stats_run: bpf,
      probe_runs: probes,
    };
  }
  return out;
}

/** 2. Throughput, off vs traced, alternating. */
async function throughput(b: Bench, httpsPort: number, replayUrl: string, ca: string, replayCa: string): Promise<Record<string, unknown>> {
  const workloads = {
    small_node: { cmd: NODE, args: [join(HERE, 'node-client.js'), 'small', String(httpsPort), ca, String(SMALL_N)], unit: 'requests' },
    small_python: { cmd: PYTHON, args: [join(HERE, 'py-client.py'), 'small', String(httpsPort), ca, String(SMALL_N)], unit: 'requests' },
    agent_node: { cmd: NODE, args: [join(HERE, 'node-client.js'), 'agent', replayUrl, replayCa, String(AGENT_N), FIXTURE], unit: 'calls' },
    agent_paced: {
      cmd: NODE, unit: 'calls',
      args: [join(HERE, 'node-client.js'), 'agent', replayUrl, replayCa, String(PACED_N), FIXTURE, String(PACED_DELAY_MS), String(PACED_TOOLS)],
    },
  };
  const out: Record<string, unknown> = {};
  for (const [name, w] of Object.entries(workloads)) {
    if (!selected(name)) continue;
    const runs: Record<string, TputRun[]> = { off: [], traced: [] };
    // One discarded warm-up run, then off/traced in ABBA order so drift does not favour either mode.
    await b.client(w.cmd, w.args, 'off', `${name}-warmup`);
    const order: Mode[] = Array.from({ length: TPUT_REPS }, (_, k) => (k % 2 === 0 ? ['off', 'traced'] : ['traced', 'off']) as Mode[]).flat();
    for (const [k, mode] of order.entries()) {
      const { res, probe, nats_cpu_s } = await b.client<{ n: number; seconds: number; tool_ms?: number; cpu_ms?: number }>(w.cmd, w.args, mode, `${name}-${k}`);
      runs[mode].push({ per_s: Math.round((res.n / res.seconds) * 10) / 10, seconds: Math.round(res.seconds * 1000) / 1000, probe, nats_cpu_s, tool_ms: res.tool_ms, cpu_ms: res.cpu_ms });
      process.stderr.write(`${name} ${mode} run ${k}: ${r1(res.n / res.seconds)} ${w.unit}/s\n`);
    }
    const off = mean(runs.off.map((r) => r.per_s));
    const on = mean(runs.traced.map((r) => r.per_s));
    out[name] = {
      unit: `${w.unit}/s`, n: name === 'agent_paced' ? PACED_N : name.startsWith('agent') ? AGENT_N : SMALL_N,
      off_per_s: r1(off), traced_per_s: r1(on), ratio: Math.round((on / off) * 1000) / 1000,
      overhead: overhead(runs.off, runs.traced), runs,
    };
  }
  return out;
}

/** One throughput run: calls or requests per second, its wall seconds, the client's own CPU ms (when it reports it). */
interface TputRun { per_s: number; seconds: number; probe?: ProbeRun; nats_cpu_s: number; tool_ms?: number; cpu_ms?: number }

/**
 * Capture overhead of traced runs against off runs, in % of the traced run's wall time: `wall_pct` = how much longer
 * the run took (mean seconds traced ÷ mean seconds off − 1); `cpu_pct` = CPU the capture added while the agent ran:
 * the probe's CPU after its ready line + NATS CPU above its idle rate in the off runs + the client's CPU above its
 * mean off figure, ÷ wall time, mean of the traced runs; `probe_cpu_pct` the probe alone (after ready);
 * `probe_start_cpu_s` the probe's start (attach) CPU, paid once per probe and left out of the percentages. The
 * client's CPU includes its uprobe traps (kernel time of its threads); its tool children are not counted.
 */
function overhead(off: TputRun[], traced: TputRun[]): Record<string, number> | null {
  if (off.some((r) => r.cpu_ms === undefined) || traced.some((r) => r.cpu_ms === undefined || !r.probe)) return null;
  const offCpuS = mean(off.map((r) => r.cpu_ms!)) / 1000;
  const natsIdlePerS = mean(off.map((r) => r.nats_cpu_s / r.seconds));
  const probeRun = (r: TputRun) => r.probe!.probe_cpu_s - r.probe!.probe_start_cpu_s;
  const natsAdded = (r: TputRun) => r.nats_cpu_s - natsIdlePerS * r.seconds;
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    wall_pct: r2((mean(traced.map((r) => r.seconds)) / mean(off.map((r) => r.seconds)) - 1) * 100),
    cpu_pct: r2(mean(traced.map((r) => (probeRun(r) + natsAdded(r) + r.cpu_ms! / 1000 - offCpuS) / r.seconds)) * 100),
    probe_cpu_pct: r2(mean(traced.map((r) => probeRun(r) / r.seconds)) * 100),
    nats_cpu_added_pct: r2(mean(traced.map((r) => natsAdded(r) / r.seconds)) * 100),
    client_cpu_added_pct: r2(mean(traced.map((r) => (r.cpu_ms! / 1000 - offCpuS) / r.seconds)) * 100),
    probe_start_cpu_s: r2(mean(traced.map((r) => r.probe!.probe_start_cpu_s))),
    records_per_s: r2(mean(traced.map((r) => r.probe!.stopped.records / r.seconds))),
  };
}

/** Reads every message of `filter` in AGENTSIGHT_RAW with an ordered consumer. */
async function readAll(nats: Awaited<ReturnType<typeof connectNats>>, filter: string): Promise<RawRecord[]> {
  const info = await nats.jsm.streams.info('AGENTSIGHT_RAW', { subjects_filter: filter });
  const expected = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
  const recs: RawRecord[] = [];
  if (expected === 0) return recs;
  const c = await nats.js.consumers.get('AGENTSIGHT_RAW', { filter_subjects: filter, deliver_policy: DeliverPolicy.All });
  const msgs = await c.consume({ max_messages: 512 });
  for await (const m of msgs as AsyncIterable<JsMsg>) {
    recs.push(decode<RawRecord>(m.data));
    if (recs.length >= expected) break;
  }
  await msgs.close();
  return recs;
}

/** 3. Loss harness. */
async function lossHarness(b: Bench, httpsPort: number, ca: string): Promise<Record<string, unknown>> {
  type Up = { n: number; seconds: number; requests: Array<{ i: number; marker: string; sha256: string; ok: boolean }> };
  const args = [join(HERE, 'node-client.js'), 'upload', String(httpsPort), ca, String(UPLOADS), String(UPLOAD_BYTES), String(UPLOAD_CONC)];
  const off = await b.client<Up>(NODE, args, 'off', 'upload');
  const t0 = Date.now();
  const { res, probe } = await b.client<Up>(NODE, args, 'traced', 'loss');
  const tClient = Date.now();
  const token = hostToken(probe!.host);
  const nats = await connectNats(b.natsUrl, 'capture-bench-reader');
  let ssl: RawRecord[];
  let other: RawRecord[];
  try {
    ssl = await readAll(nats, `agentsight.raw.ssl.${token}.>`);
    other = [...(await readAll(nats, `agentsight.raw.proc.${token}`)), ...(await readAll(nats, `agentsight.raw.loss.${token}`))];
  } finally {
    await nats.nc.close();
  }
  const tRead = Date.now();

  // Completeness of the run's sequence numbers (every record published once).
  const seqs = new Set([...ssl, ...other].map((r) => r.seq));
  const missingSeq: number[] = [];
  for (let s = 0; s <= probe!.stopped.last_seq; s++) if (!seqs.has(s)) missingSeq.push(s);

  // Reassemble each (pid, ssl, dir) by stream_offset.
  const frags = ssl.filter((r): r is RawSslRecord => r.kind === 'ssl');
  const closes = ssl.filter((r): r is RawSslCloseRecord => r.kind === 'ssl_close');
  const groups = new Map<string, RawSslRecord[]>();
  for (const f of frags) {
    const k = `${f.pid}/${f.ssl}/${f.dir}`;
    (groups.get(k) ?? groups.set(k, []).get(k)!).push(f);
  }
  let gaps = 0, gapBytes = 0, overlaps = 0;
  const streams: Array<{ key: string; dir: string; buf: Buffer }> = [];
  for (const [key, fs] of groups) {
    fs.sort((a, b) => a.stream_offset - b.stream_offset);
    let next = 0;
    const parts: Buffer[] = [];
    for (const f of fs) {
      if (f.stream_offset > next) { gaps++; gapBytes += f.stream_offset - next; }
      if (f.stream_offset < next) { overlaps++; continue; }
      parts.push(Buffer.from(f.data));
      next = f.stream_offset + f.data.length;
    }
    streams.push({ key, dir: fs[0].dir, buf: Buffer.concat(parts) });
  }
  // ssl_close offsets vs reassembled lengths.
  const closeMismatch = closes.filter((c) => {
    const w = streams.find((s) => s.key === `${c.pid}/${c.ssl}/write`)?.buf.length ?? 0;
    const r = streams.find((s) => s.key === `${c.pid}/${c.ssl}/read`)?.buf.length ?? 0;
    return w !== c.write_offset || r !== c.read_offset;
  }).length;

  // Markers: request bodies (write direction) and the server's answers naming them (read direction).
  const expected = new Map(res.requests.map((r) => [r.marker, r]));
  const MARK = /MARK-\d+-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
  const writeHits = new Map<string, number>();
  const readHits = new Map<string, number>();
  let intact = 0;
  for (const s of streams) {
    const text = s.buf.toString('latin1');
    for (const m of text.matchAll(MARK)) {
      const hits = s.dir === 'write' ? writeHits : readHits;
      hits.set(m[0], (hits.get(m[0]) ?? 0) + 1);
      const e = expected.get(m[0]);
      if (s.dir === 'write' && e && hits.get(m[0]) === 1) {
        const body = s.buf.subarray(m.index!, m.index! + UPLOAD_BYTES);
        if (body.length === UPLOAD_BYTES && createHash('sha256').update(body).digest('hex') === e.sha256) intact++;
      }
    }
  }
  const missingWrite = [...expected.keys()].filter((k) => (writeHits.get(k) ?? 0) < 2);
  const missingRead = [...expected.keys()].filter((k) => (readHits.get(k) ?? 0) < 2);
  const loss = other.filter((r): r is RawLossRecord => r.kind === 'loss').sort((a, b) => a.seq - b.seq);
  const procs = other.filter((r): r is RawProcRecord => r.kind === 'proc');
  return {
    requests: UPLOADS, body_bytes: UPLOAD_BYTES, concurrency: UPLOAD_CONC,
    client_ok: res.requests.filter((r) => r.ok).length,
    untraced_client_seconds: Math.round(off.res.seconds * 1000) / 1000,
    traced_client_seconds: Math.round(res.seconds * 1000) / 1000,
    run_seconds: { client_and_probe_stop: (tClient - t0) / 1000, read_back_and_check: (tRead - tClient) / 1000, total: (Date.now() - t0) / 1000 },
    markers_expected: 2 * UPLOADS,
    markers_found_write: [...expected.keys()].reduce((n, k) => n + Math.min(2, writeHits.get(k) ?? 0), 0),
    bodies_intact: intact,
    missing_write: missingWrite.slice(0, 20),
    missing_write_count: missingWrite.length,
    response_markers_expected: 2 * UPLOADS,
    response_markers_found: [...expected.keys()].reduce((n, k) => n + Math.min(2, readHits.get(k) ?? 0), 0),
    missing_read_count: missingRead.length,
    records: { ssl_fragments: frags.length, ssl_close: closes.length, proc: procs.length, loss: loss.length, connections: new Set(frags.map((f) => `${f.pid}/${f.ssl}`)).size },
    reassembly: { streams: streams.length, gaps, gap_bytes: gapBytes, overlaps, close_offset_mismatches: closeMismatch },
    bytes: { write: streams.filter((s) => s.dir === 'write').reduce((n, s) => n + s.buf.length, 0), read: streams.filter((s) => s.dir === 'read').reduce((n, s) => n + s.buf.length, 0) },
    seq: { last_seq: probe!.stopped.last_seq, missing: missingSeq.length, missing_first: missingSeq.slice(0, 20) },
    probe_stopped: probe!.stopped,
    last_loss_record: loss.length ? { lost_records: lostRecords(loss[loss.length - 1]), lost_bytes: lostBytes(loss[loss.length - 1]), records: loss[loss.length - 1].records, publish_failures: loss[loss.length - 1].publish_failures } : null,
    probe_cpu_s: probe!.probe_cpu_s, nats_cpu_s: probe!.nats_cpu_s,
  };
}

/** agentsight-probe processes not started by this bench (another test or benchmark, or a deployed probe). */
function otherProbes(): string[] {
  try {
    return execFileSync('pgrep', ['-a', '-f', 'agentsight-probe'], { encoding: 'utf8' }).trim().split('\n')
      .filter((l) => l && !l.includes('pgrep') && !l.includes(`capbench-${RUN_ID}`));
  } catch {
    return [];
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (eBPF)');
  statSync(PROBE);
  const tStart = Date.now();
  const tmp = mkdtempSync(join(tmpdir(), 'agentsight-capbench-'));
  const b = new Bench(tmp);
  const out: Record<string, unknown> = {
    date: new Date().toISOString(), quick: QUICK, machine: `${cpus().length} cores, ${cpus()[0]?.model}`,
    kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(), node: process.version,
    probe: { path: PROBE, sha256: createHash('sha256').update(readFileSync(PROBE)).digest('hex').slice(0, 16) },
    git_head: (() => { try { return execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { return null; } })(),
    other_probes_at_start: otherProbes(),
    loadavg_at_start: readFileSync('/proc/loadavg', 'utf8').trim(),
  };
  try {
    // Unprobed node for the servers: a copy is another inode, which the probe does not attach to.
    const nodeCopy = join(tmp, 'node-unprobed');
    copyFileSync(NODE, nodeCopy);
    execFileSync('chmod', ['755', nodeCopy]);
    if (statSync(nodeCopy).ino === statSync(NODE).ino) throw new Error('node copy has the same inode');
    const cert = makeSelfSignedCert();
    const natsPort = await freePort();
    const nats = b.track(spawn('nats-server', ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', join(tmp, 'nats')], { stdio: 'ignore' }));
    b.natsPid = nats.pid!;
    b.natsUrl = `nats://127.0.0.1:${natsPort}`;
    for (let i = 0; ; i++) {
      try {
        const n = await connectNats(b.natsUrl, 'capture-bench'); // creates the pipeline's streams
        await n.nc.close();
        break;
      } catch (e) {
        if (i > 100) throw e;
        await sleep(100);
      }
    }
    const servers = await spawnJsonLine<{ echoPort: number; httpsPort: number }>(nodeCopy, [join(HERE, 'servers.js'), cert.keyPath, cert.certPath]);
    b.track(servers.proc);
    const replay = await spawnJsonLine<{ url: string; caPath: string }>(nodeCopy, [join(ROOT, 'libs/testkit/dist/replay-server-cli.js')]);
    b.track(replay.proc);

    process.stderr.write('1. per-call cost\n');
    for (const pid of [nats.pid!, servers.proc.pid!, replay.proc.pid!]) pin(pid, '0');
    b.probeCpus = '0';
    out.per_call = await perCall(b, servers.info.echoPort, cert.keyPath, cert.certPath);
    for (const pid of [nats.pid!, servers.proc.pid!, replay.proc.pid!]) pin(pid, '0-1');
    b.probeCpus = '';
    process.stderr.write('2. throughput\n');
    out.throughput = await throughput(b, servers.info.httpsPort, replay.info.url, cert.certPath, replay.info.caPath);
    if (selected('loss')) {
      process.stderr.write('3. loss harness\n');
      out.loss = await lossHarness(b, servers.info.httpsPort, cert.certPath);
    }
    out.other_probes_at_end = otherProbes();
    out.runs_with_other_probes = b.overlaps;
    out.total_seconds = (Date.now() - tStart) / 1000;
    rmSync(cert.dir, { recursive: true, force: true });
  } finally {
    await b.stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
  mkdirSync(join(__dirname, 'out'), { recursive: true });
  writeFileSync(join(__dirname, 'out/capture.json'), JSON.stringify(out, null, 2));
  console.log(summary(out));
}

function summary(o: Record<string, any>): string {
  const L: string[] = [`# capture.bench.ts — ${o.date}${o.quick ? ' (quick)' : ''}, ${o.total_seconds} s`, ''];
  const f = (x: { p50: number; p99: number } | undefined | null) => (x ? `${x.p50} / ${x.p99}` : '');
  L.push('| workload | mode | write p50 / p99 ns | read p50 / p99 ns | round trip p50 / p99 ns | added write | added read | added round trip | per probed call (from rt) |',
    '|---|---|---|---|---|---|---|---|---|');
  for (const [w, v] of Object.entries<any>(o.per_call)) {
    for (const m of ['off', 'traced', 'filtered']) {
      const d = v.dist[m];
      const a = m === 'off' ? {} : v[`added_${m}`];
      L.push(`| ${w} | ${m} | ${f(d.write_ns)} | ${f(d.read_ns)} | ${f(d.rtt_ns)} | ${f(a.write_ns)} | ${f(a.read_ns)} | ${f(a.rtt_ns)} | ${m === 'off' ? '' : f(v.per_call_from_round_trip[m])} |`);
    }
    L.push(`| ${w} | bpf stats | ${v.probed_calls_per_round_trip} probed calls/rt: ${Object.entries<any>(v.bpf_stats_run).map(([k, s]) => `${k} ${s.per_round_trip}× ${s.avg_run_ns} ns`).join(', ')} ||||||||`);
  }
  L.push('', '| workload | off /s | traced /s | ratio | wall added % | CPU added % of wall (probe / NATS / client) | probe start CPU s | records/s |',
    '|---|---|---|---|---|---|---|---|');
  for (const [k, v] of Object.entries<any>(o.throughput)) {
    const x = v.overhead;
    L.push(`| ${k} (${v.unit}) | ${v.off_per_s} | ${v.traced_per_s} | ${v.ratio} | ${x?.wall_pct ?? ''} | ` +
      `${x ? `${x.cpu_pct} (${x.probe_cpu_pct} / ${x.nats_cpu_added_pct} / ${x.client_cpu_added_pct})` : ''} | ${x?.probe_start_cpu_s ?? ''} | ${x?.records_per_s ?? ''} |`);
  }
  const l = o.loss;
  if (l) L.push('', `loss: markers ${l.markers_found_write}/${l.markers_expected} (bodies intact ${l.bodies_intact}/${l.requests}), response markers ${l.response_markers_found}/${l.response_markers_expected}, ` +
    `lost in the kernel ${lostRecords(l.probe_stopped)}, publish failures ${l.probe_stopped.publish_failures}, seq missing ${l.seq.missing}, gaps ${l.reassembly.gaps}, ` +
    `client ${l.untraced_client_seconds} s untraced / ${l.traced_client_seconds} s traced, run ${l.run_seconds.total} s`);
  return L.join('\n');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
