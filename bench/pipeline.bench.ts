/**
 * End-to-end pipeline benchmark (not a test): `npx tsx bench/pipeline.bench.ts [connections]` after `npm run setup`,
 * as root. Private NATS, Redis and chDB on this machine, the five stage services as processes, the real probe.
 *
 * 1. Throughput: raw SSL records of `connections` recorded streamed calls (vercel__openai-text.chunks.txt: request
 *    + status/headers + one record per SSE event, as captured from real clients) are published to the raw subjects
 *    as fast as JetStream takes them; the clock stops when every call is stored. Records/s = records / elapsed.
 * 2. Latency: 30 streamed calls (the same recording, 300 SSE events) by a real Node client under real capture, one
 *    after another; latency = time the call's row is readable through the API − the client's exit (end of the
 *    response), polled every 10 ms. `latency_hops_ms`: where that time goes, from a core NATS subscription of the
 *    bench (arrival times of the call's last raw SSL record, last HTTP event, exchange, LLM and GenAI events):
 *    p50/p99 of each hop (probe = last raw record − client exit, may be negative; sink = the `stored` event of the
 *    call's `llm_calls` row on the API's `/api/live` − GenAI event, i.e. the storage sink's consume and insert;
 *    read = row readable through `/api/calls` − that `stored` event). `latency_stored_ms`: client exit → that
 *    `stored` event (the insert succeeded, so the row is queryable), without the read API's poll, whose queries
 *    share chDB with the inserts.
 * 3. RSS: VmHWM (peak) and VmRSS of each service and of the probe at the end; CPU seconds of each stage during
 *    the throughput part (`cpu_s`, start-up excluded).
 * With `BENCH_CPU_PROF=<dir>` each stage writes a V8 CPU profile (`.cpuprofile`) into `<dir>` when it stops; with
 * `BENCH_MEM=<dir>` each stage samples its memory every 100 ms and writes `<service>-<pid>.mem.json` (peak RSS split
 * into anonymous/file pages and V8's spaces, bench/mem-sampler.cjs; `BENCH_MEM_HEAP_PROF=1` adds an allocation profile).
 * `BENCH_NODE_OPTIONS=<options>` adds node options to every stage process (e.g. `--require <a heap sampler>`).
 * Writes bench/out/pipeline.json (or `--out=<path>`) and prints it. `--throughput-only` runs part 1 alone (the CI
 * guard, bench/guard.ts). `--sampled-trees=N[xP]` adds the resource sampler's traffic to part 1 (see {@link SAMPLED}).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { connKey, Subjects } from '@agentsight/contracts';
import { apiToken, connectNats, Publisher } from '@agentsight/jetstream';
import { loadFixture, streamedCallRecords } from '@agentsight/testkit';
import { api, startInfra, startProbe, Stages } from '../test/e2e/harness';
import { startSampling } from '../services/api/src/cli/resources/run';
import { readTree } from '../services/api/src/cli/resources/sampler';

const ARGS = process.argv.slice(2);
const CONNECTIONS = Number(ARGS.find((a) => !a.startsWith('--')) || 200);
/** `--throughput-only`: part 1 and the stages' RSS only (no probe, no root needed); the CI guard's short form. */
const THROUGHPUT_ONLY = ARGS.includes('--throughput-only');
/**
 * `--sampled-trees=N[xP]`: during part 1, the CLI's resource sampler (`startSampling`) also samples N process trees of
 * P processes (default 10: a `sh` and its `sleep`s) every second (idle backoff off: the active worst case), so its
 * samples go through NATS and the storage sink (`resource_samples`, P rows per sample) beside the capture.
 */
const SAMPLED = /^--sampled-trees=(\d+)(?:x(\d+))?$/.exec(ARGS.find((a) => a.startsWith('--sampled-trees=')) ?? '');
/** `--out=<path>`: where the JSON goes (default bench/out/pipeline.json). */
const OUT = ARGS.find((a) => a.startsWith('--out='))?.slice(6);
const LATENCY_CALLS = 30;
const FIXTURE = 'vercel__openai-text.chunks.txt';

/** VmHWM (peak) and VmRSS of a process, MiB (also soak.bench.ts). */
export function rss(pid: number): { hwm_mib: number; rss_mib: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
  return { hwm_mib: +(kb('VmHWM') / 1024).toFixed(1), rss_mib: +(kb('VmRSS') / 1024).toFixed(1) };
}

/** CPU seconds (user + system) the process has used so far, from `/proc/<pid>/stat` (clock ticks of 1/100 s). */
export function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return +((Number(f[11]) + Number(f[12])) / 100).toFixed(2);
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

/**
 * 2. Latency under real capture. The replay server is its own process, started before the probe, so only the
 * clients (started after, as descendants of this process) are traced. Also 3: RSS of the stages and the probe.
 */
async function latencyPart(infra: Awaited<ReturnType<typeof startInfra>>, stages: Stages, out: Record<string, unknown>): Promise<void> {
  const serverProc = spawn(process.execPath, [join(__dirname, '../libs/testkit/dist/replay-server-cli.js')], { stdio: ['ignore', 'pipe', 'ignore'] });
  const server = await new Promise<{ url: string; caPath: string }>((res) => serverProc.stdout!.once('data', (d) => res(JSON.parse(String(d).split('\n')[0]))));
  const probe = await startProbe(infra, ['--pid', String(process.pid)]);
  const client = join(__dirname, '../test/e2e/client.js');
  const lat: number[] = [];
  /** Client exit → the call's row stored (its `stored` event on /api/live: the insert succeeded, so it is queryable). */
  const storedLat: number[] = [];
  // Arrival time (ms) of every message on the stages' subjects, per hop name, for the hop breakdown.
  const seen: Record<'raw' | 'http' | 'exchange' | 'llm' | 'genai', number[]> = { raw: [], http: [], exchange: [], llm: [], genai: [] };
  const watch = await connectNats(infra.natsUrl, 'bench-watch');
  for (const [hop, subj] of [['raw', 'agentsight.raw.ssl.>'], ['http', 'agentsight.http.>'], ['exchange', 'agentsight.exchange.>'], ['llm', 'agentsight.llm.>'], ['genai', 'agentsight.genai.>']] as const) {
    watch.nc.subscribe(subj, { callback: () => void seen[hop].push(Date.now()) });
  }
  // `stored` events of llm_calls rows (their stored_at, ms) from the live channel.
  const storedAt: number[] = [];
  const live = new AbortController();
  const liveRes = await fetch(`http://127.0.0.1:${infra.env.AGENTSIGHT_API_PORT}/api/live`, { headers: { authorization: `Bearer ${apiToken(infra.env)}` }, signal: live.signal });
  void (async () => {
    let buf = '';
    for await (const chunk of liveRes.body as unknown as AsyncIterable<Uint8Array>) {
      buf += Buffer.from(chunk).toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith('data:')) continue;
        const e = JSON.parse(line.slice(5)) as { table?: string; stored_at?: number };
        if (e.table === 'llm_calls' && e.stored_at) storedAt.push(e.stored_at);
      }
    }
  })().catch(() => undefined);
  const hops: Record<string, number[]> = { probe: [], parser: [], aggregator: [], analyzer: [], genai: [], sink: [], read: [] };
  let known = (await api<unknown[]>(infra, '/api/calls?limit=100000')).length;
  for (let k = 0; k < LATENCY_CALLS; k++) {
    const begin = Date.now();
    await new Promise<void>((res, rej) => {
      const p = spawn(process.execPath, [client, server.url, server.caPath, 'stream', '/v1/chat/completions', FIXTURE, '0'], { stdio: 'ignore' });
      p.on('exit', (c) => (c === 0 ? res() : rej(new Error(`client exit ${c}`))));
    });
    const end = Date.now();
    for (;;) {
      const n = (await api<unknown[]>(infra, '/api/calls?limit=100000')).length;
      if (n > known) { known = n; break; }
      if (Date.now() - end > 60_000) throw new Error('call not stored within 60 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    const stored = Date.now();
    lat.push(stored - end);
    // The call's last message of each kind between its start and its row (calls run one after another).
    const within = (xs: number[]) => Math.max(...xs.filter((t) => t >= begin && t <= stored));
    const last = (h: keyof typeof seen) => within(seen[h]);
    const t = [end, last('raw'), last('http'), last('exchange'), last('llm'), last('genai'), within(storedAt), stored];
    if (Number.isFinite(t[6])) storedLat.push(t[6] - end);
    if (t.every(Number.isFinite)) Object.keys(hops).forEach((h, i) => hops[h].push(t[i + 1] - t[i]));
  }
  await watch.nc.close();
  live.abort();
  out.latency_ms = { calls: lat.length, p50: pct(lat, 50), p99: pct(lat, 99), max: Math.max(...lat) };
  out.latency_stored_ms = storedLat.length ? { calls: storedLat.length, p50: pct(storedLat, 50), p99: pct(storedLat, 99), max: Math.max(...storedLat) } : null;
  out.latency_hops_ms = Object.fromEntries(Object.entries(hops).map(([h, xs]) => [h, xs.length ? { calls: xs.length, p50: pct(xs, 50), p99: pct(xs, 99) } : null]));
  out.rss = Object.fromEntries([...stages.children].map(([n, c]) => [n, rss(c.proc.pid!)]).concat([['probe', rss(probe.proc.pid!)]]));
  probe.proc.kill('SIGINT');
  const stopped = (await probe.exited).lines.find((l) => l.event === 'stopped');
  out.probe = stopped;
  serverProc.kill('SIGTERM');
}

/** A `sh` with `procs - 1` sleeping children, detached (its own process group); resolves once all are in /proc. */
async function sleepTree(procs: number) {
  const c = spawn('sh', ['-c', `i=0; while [ $i -lt ${procs - 2} ]; do sleep 900 & i=$((i+1)); done; sleep 900`], { stdio: 'ignore', detached: true });
  for (let i = 0; i < 600 && readTree(c.pid!).length < procs; i++) await new Promise((r) => setTimeout(r, 50));
  return c;
}

async function main(): Promise<void> {
  const infra = await startInfra();
  // BENCH_CPU_PROF=<dir>: every stage process writes a V8 CPU profile there when it stops (bench/cpu-prof.cjs).
  const profDir = process.env.BENCH_CPU_PROF;
  if (profDir) mkdirSync(profDir, { recursive: true });
  // BENCH_NODE_OPTIONS: more node options for every stage process (e.g. `--require <heap sampler>`).
  // BENCH_MEM=<dir>: every stage process samples its memory and writes `<service>-<pid>.mem.json` there (bench/mem-sampler.cjs).
  const memDir = process.env.BENCH_MEM;
  if (memDir) mkdirSync(memDir, { recursive: true });
  const nodeOptions = [
    profDir ? `--require ${join(__dirname, 'cpu-prof.cjs')}` : '', memDir ? `--require ${join(__dirname, 'mem-sampler.cjs')}` : '', process.env.BENCH_NODE_OPTIONS ?? '',
  ].filter(Boolean).join(' ');
  const stages = new Stages(nodeOptions ? { ...infra.env, NODE_OPTIONS: nodeOptions } : infra.env);
  await stages.startAll();
  const out: Record<string, unknown> = { date: new Date().toISOString(), connections: CONNECTIONS, machine: `${require('node:os').cpus().length} cores` };
  try {
    // 1. Throughput.
    const fixture = loadFixture(FIXTURE);
    const nats = await connectNats(infra.natsUrl, 'bench');
    const pub = new Publisher(nats.js, nats.large);
    const all = Array.from({ length: CONNECTIONS }, (_, i) => streamedCallRecords(i, fixture.body, i * 10_000));
    const total = all.reduce((n, r) => n + r.length, 0);
    const trees = SAMPLED ? await Promise.all(Array.from({ length: Number(SAMPLED[1]) }, () => sleepTree(Number(SAMPLED[2] ?? 10)))) : [];
    const sampling = SAMPLED ? await startSampling({ ...infra.env, AGENTSIGHT_SAMPLE_MS: '1000', AGENTSIGHT_SAMPLE_IDLE_MAX_MS: '1000' }, (l) => process.stderr.write(`${l}\n`)) : undefined;
    for (const t of trees) sampling!.add(t.pid!);
    const cpu0 = Object.fromEntries([...stages.children].map(([n, c]) => [n, cpuSeconds(c.proc.pid!)]));
    const t0 = Date.now();
    const pending: Promise<unknown>[] = [];
    // Connections interleaved record by record, as concurrent agents would be.
    for (let k = 0; k < Math.max(...all.map((r) => r.length)); k++) {
      for (const recs of all) {
        const r = recs[k];
        if (!r) continue;
        pending.push(pub.publish(Subjects.rawSsl('bench', r.partition), `bench:${connKey(r)}:${r.seq}`, r));
        if (pending.length >= 2000) await Promise.all(pending.splice(0));
      }
    }
    await Promise.all(pending);
    const published = Date.now();
    for (;;) {
      const calls = await api<unknown[]>(infra, `/api/calls?limit=${CONNECTIONS + 10}`);
      if (calls.length >= CONNECTIONS) break;
      if (Date.now() - t0 > 900_000) throw new Error(`only ${calls.length} of ${CONNECTIONS} calls stored after 15 min`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const elapsed = (Date.now() - t0) / 1000;
    if (sampling) {
      out.sampler = { trees: trees.length, procs_per_tree: Number(SAMPLED![2] ?? 10), ...(await sampling.stop()) };
      for (const t of trees) process.kill(-t.pid!, 'SIGKILL');
    }
    out.throughput = { records: total, seconds: elapsed, records_per_s: Math.round(total / elapsed), publish_seconds: (published - t0) / 1000, calls_per_s: +(CONNECTIONS / elapsed).toFixed(1) };
    // CPU of each stage during the throughput part (start-up excluded): robust to a shared machine, unlike elapsed time.
    const cpu = Object.fromEntries([...stages.children].map(([n, c]) => [n, +(cpuSeconds(c.proc.pid!) - cpu0[n]).toFixed(2)]));
    out.cpu_s = cpu;
    // Records per CPU second of all five stages: what the stages cost, nearly independent of other load.
    (out.throughput as Record<string, number>).records_per_cpu_s = Math.round(total / Object.values(cpu).reduce((a, b) => a + b, 0));
    await nats.nc.close();
    if (THROUGHPUT_ONLY) out.rss = Object.fromEntries([...stages.children].map(([n, c]) => [n, rss(c.proc.pid!)]));
    else await latencyPart(infra, stages, out);

  } finally {
    await stages.stopAll();
    await infra.stop();
  }
  const outPath = OUT ?? join(__dirname, 'out/pipeline.json');
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, JSON.stringify(out, null, 2));
  console.log(JSON.stringify(out, null, 2));
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
