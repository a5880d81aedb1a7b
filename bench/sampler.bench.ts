/**
 * The resource sampler's cost (not a test): `npx tsx bench/sampler.bench.ts [samples=300]` after `npm run setup` (no
 * root needed: the trees are the bench's own children). For traced trees of 1, 10, 50 and 200 processes (a `sh`
 * root whose children are `sleep`s; 1 = a lone `sleep`):
 * 1. **read**: `samples` × {@link sampleTree} of the tree (what the sampler does at each tick: the tree walk, `stat`,
 *    `status`, `io`, `fd` of each process, the cgroup), CPU of this process over them (`process.cpuUsage`, user +
 *    system) ÷ samples = CPU µs per sample, ÷ processes = per traced process;
 * 2. **publish**: the same number of those samples published as `startSampling` does (Publisher on a private
 *    nats-server, awaiting each PubAck), CPU µs per sample of this process (JSON/msgpack encoding, the client);
 * and from both, at the default interval while active (1 sample/s per traced root), the sampler's share of one core
 * (read + publish µs per second ÷ 10^6 × 100 %). Writes bench/out/sampler.json and prints it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg } from 'node:os';
import { join } from 'node:path';
import { Subjects, hostToken, type RawResourceSample } from '@agentsight/contracts';
import { connectNats, natsTarget, Publisher } from '@agentsight/jetstream';
import { bootId, readProcSample, readTree, sampleTree, type SampledRoot } from '../services/api/src/cli/resources/sampler';
import { ROOT, startInfra } from '../test/e2e/harness';

const SAMPLES = Number(process.argv[2] || 300);
const SIZES = [1, 10, 50, 200];

interface Figure {
  procs: number;
  samples: number;
  read_us_per_sample: number;
  read_us_per_proc: number;
  publish_us_per_sample: number;
  sample_bytes: number;
  /** (read + publish) µs per second at 1 sample/s, as % of one core. */
  core_pct_at_1hz: number;
}

const cpuUs = (u: NodeJS.CpuUsage) => u.user + u.system;

/** A `sh` with `procs - 1` sleeping children (a lone `sleep` for 1); resolves once the whole tree is visible in /proc. */
async function tree(procs: number): Promise<ChildProcess> {
  // procs − 2 sleeps in the background and one in the foreground (the sh stays their parent); a 1-process tree is a sleep.
  const script = procs === 1 ? 'exec sleep 600' : `i=0; while [ $i -lt ${procs - 2} ]; do sleep 600 & i=$((i+1)); done; sleep 600`;
  const c = spawn('sh', ['-c', script], { stdio: 'ignore', detached: true });
  for (let i = 0; i < 600 && readTree(c.pid!).length < procs; i++) await new Promise((r) => setTimeout(r, 50));
  if (readTree(c.pid!).length < procs) throw new Error(`tree of ${procs} did not start`);
  return c;
}

async function main(): Promise<void> {
  const load = loadavg()[0];
  const infra = await startInfra();
  const nats = await connectNats(natsTarget(infra.env), 'sampler-bench');
  const publisher = new Publisher(nats.js, nats.large, 10_000);
  const host = hostname();
  const subject = Subjects.rawResource(hostToken(host));
  const ctx = { host, boot_id: bootId() };
  const out: Figure[] = [];
  try {
    for (const procs of SIZES) {
      const c = await tree(procs);
      try {
        const s0 = readProcSample(c.pid!)!;
        const root: SampledRoot = { pid: c.pid!, start_ticks: s0.start_ticks, comm: s0.comm };
        for (let i = 0; i < 20; i++) sampleTree(root, ctx); // warm-up (JIT, page cache)
        const samples: RawResourceSample[] = [];
        const r0 = process.cpuUsage();
        for (let i = 0; i < SAMPLES; i++) {
          const s = sampleTree(root, ctx)!;
          root.lastBootNs = s.ts_boot_ns;
          samples.push(s);
        }
        const read = cpuUs(process.cpuUsage(r0));
        if (samples.some((s) => s.procs.length !== procs)) throw new Error(`a sample of the ${procs}-process tree missed processes`);
        for (const s of samples.slice(0, 10)) await publisher.publish(subject, `warm-${s.id}`, s);
        const p0 = process.cpuUsage();
        for (const s of samples) await publisher.publish(subject, s.id, s);
        const publish = cpuUs(process.cpuUsage(p0));
        const perSample = read / SAMPLES;
        const pubPerSample = publish / SAMPLES;
        out.push({
          procs, samples: SAMPLES, read_us_per_sample: Math.round(perSample), read_us_per_proc: Math.round((perSample / procs) * 10) / 10,
          publish_us_per_sample: Math.round(pubPerSample), sample_bytes: Buffer.byteLength(JSON.stringify(samples[0], (_k, v) => (typeof v === 'bigint' ? v.toString() : v))),
          core_pct_at_1hz: Math.round(((perSample + pubPerSample) / 1e6) * 100 * 1000) / 1000,
        });
        process.stderr.write(`${JSON.stringify(out[out.length - 1])}\n`);
      } finally {
        process.kill(-c.pid!, 'SIGKILL'); // its process group: the sh and its sleeps
      }
    }
  } finally {
    await nats.nc.drain();
    await infra.stop();
  }
  const result = { date: new Date().toISOString(), machine: `${cpus().length} cores ${cpus()[0]?.model ?? '?'}`, load_start: load, node: process.version, figures: out };
  mkdirSync(join(ROOT, 'bench/out'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/out/sampler.json'), JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}

void main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
