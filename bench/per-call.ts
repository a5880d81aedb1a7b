/**
 * Shared harness of the per-call probe cost benches (go-tls.bench.ts, openssl-static.bench.ts): a bench program that
 * times each of its own probed calls and prints `{"write":[ns…],"read":[ns…]}` is run in two modes, 2 runs each,
 * alternating: `off` (no probe) and `traced` (the probe with `--pid` and `--binary-path <binary>`, records published
 * to a private nats-server). The program is started stopped (`kill -STOP $$`) and continued once the probe is
 * ready, so every call is probed; it is pinned to CPU 1, the probe to CPU 0. Added cost = percentile(traced) −
 * percentile(off), pooled over the runs. Results: bench/README.md.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeBinary } from '@agentsight/testkit';

/** Per-call times of one run, ns. */
export interface CallTimes { write: number[]; read: number[] }

function freePort(): Promise<number> {
  return new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as any).port; s.close(() => res(p)); }); });
}

/** The p-quantile (0..1) of xs (nearest rank). */
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
}

/** Runs argv once (stopped first when traced, so the probe is attached before its first call). */
async function runOnce(argv: string[], binary: string, host: string, natsUrl: string | null): Promise<CallTimes> {
  const cp = spawn('sh', ['-c', 'kill -STOP $$; exec "$@"', 'sh', 'taskset', '-c', '1', ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  cp.stdout!.on('data', (d) => (out += d));
  const done = new Promise((r) => cp.on('exit', r));
  await new Promise((r) => setTimeout(r, 100));
  let probe: ReturnType<typeof spawn> | undefined;
  if (natsUrl) {
    probe = spawn('taskset', ['-c', '0', probeBinary(), '--pid', String(cp.pid), '--binary-path', binary, '--nats-url', natsUrl, '--host', host], { stdio: ['ignore', 'pipe', 'inherit'] });
    let pout = '';
    probe.stdout!.on('data', (d) => (pout += d));
    while (!pout.includes('"event":"ready"')) await new Promise((r) => setTimeout(r, 20));
  }
  process.kill(cp.pid!, 'SIGCONT');
  await done;
  if (probe) {
    probe.kill('SIGINT');
    await new Promise((r) => probe!.on('exit', r));
  }
  return JSON.parse(out);
}

/**
 * Runs the two modes and prints, per call kind, p50 / p99 of `off`, `traced` and the difference (ns), headed by
 * `title` and the load average. `names` label the two kinds, e.g. `{ write: '(*Conn).Write', read: '(*Conn).Read' }`.
 */
export async function perCallBench(o: { title: string; argv: string[]; binary: string; host: string; names: Record<keyof CallTimes, string> }): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), `agentsight-${o.host}-`));
  const port = await freePort();
  const nats = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(tmp, 'nats')], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  try {
    const res: Record<'off' | 'traced', CallTimes[]> = { off: [], traced: [] };
    for (let i = 0; i < 2; i++) {
      res.off.push(await runOnce(o.argv, o.binary, o.host, null));
      res.traced.push(await runOnce(o.argv, o.binary, o.host, `nats://127.0.0.1:${port}`));
    }
    const pool = (mode: 'off' | 'traced', k: keyof CallTimes) => res[mode].flatMap((r) => r[k]);
    console.log(`${o.title}, 2 runs per mode, ns p50 / p99 (load average ${loadavg().map((x) => x.toFixed(2)).join(' ')})`);
    for (const k of ['write', 'read'] as const) {
      const off = pool('off', k), tr = pool('traced', k);
      console.log(`${o.names[k]}: off ${pct(off, 0.5)} / ${pct(off, 0.99)}, traced ${pct(tr, 0.5)} / ${pct(tr, 0.99)}, added ${pct(tr, 0.5) - pct(off, 0.5)} / ${pct(tr, 0.99) - pct(off, 0.99)}`);
    }
  } finally {
    nats.kill();
    await new Promise((r) => (nats.exitCode !== null ? r(null) : nats.on('exit', r)));
    rmSync(tmp, { recursive: true, force: true });
  }
}
