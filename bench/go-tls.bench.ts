/**
 * Go crypto/tls per-call probe cost (not a test): `npx tsx bench/go-tls.bench.ts [rounds=20000]`, as root, after the
 * probe and the libs are built. Builds bench/capture/go-bench (stripped, CGO_ENABLED=0) with Debian's Go toolchain;
 * it runs a client and a server tls.Conn over memory in one process and times each 1-byte (*Conn).Write and each
 * (*Conn).Read (exactly one probed call each, no syscalls). Modes, 2 runs each, alternating: `off` (no probe) and
 * `traced` (probe with `--pid` and `--binary-path`: entry uprobe + a uprobe at the RET, record published to a private
 * nats-server). Added cost = percentile(traced) − percentile(off). Method and results: bench/README.md.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGoProgram, goVersion, probeBinary } from '@agentsight/testkit';

const ROUNDS = Number(process.argv[2] ?? 20000);

function freePort(): Promise<number> {
  return new Promise((res) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as any).port; s.close(() => res(p)); }); });
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
}

/** Runs the bench program once (stopped first when traced, so the probe is attached before its first call). */
async function run(bin: string, natsUrl: string | null): Promise<{ write: number[]; read: number[] }> {
  const cp = spawn('sh', ['-c', 'kill -STOP $$; exec "$@"', 'sh', 'taskset', '-c', '1', bin, String(ROUNDS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  cp.stdout!.on('data', (d) => (out += d));
  const done = new Promise((r) => cp.on('exit', r));
  await new Promise((r) => setTimeout(r, 100));
  let probe: ReturnType<typeof spawn> | undefined;
  if (natsUrl) {
    probe = spawn('taskset', ['-c', '0', probeBinary(), '--pid', String(cp.pid), '--binary-path', bin, '--nats-url', natsUrl, '--host', 'gobench'], { stdio: ['ignore', 'pipe', 'inherit'] });
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

async function main(): Promise<void> {
  const bin = buildGoProgram(join(__dirname, 'capture/go-bench'), { stripped: true, name: 'gobench' });
  const tmp = mkdtempSync(join(tmpdir(), 'agentsight-gobench-'));
  const port = await freePort();
  const nats = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(tmp, 'nats')], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 500));
  try {
    const res: Record<string, Array<{ write: number[]; read: number[] }>> = { off: [], traced: [] };
    for (let i = 0; i < 2; i++) {
      res.off.push(await run(bin, null));
      res.traced.push(await run(bin, `nats://127.0.0.1:${port}`));
    }
    const pool = (mode: string, k: 'write' | 'read') => res[mode].flatMap((r) => r[k]);
    console.log(`Go ${goVersion()}, ${ROUNDS} rounds x 2 runs per mode, ns p50 / p99`);
    for (const k of ['write', 'read'] as const) {
      const off = pool('off', k), tr = pool('traced', k);
      console.log(`(*Conn).${k === 'write' ? 'Write' : 'Read'}: off ${pct(off, 0.5)} / ${pct(off, 0.99)}, traced ${pct(tr, 0.5)} / ${pct(tr, 0.99)}, added ${pct(tr, 0.5) - pct(off, 0.5)} / ${pct(tr, 0.99) - pct(off, 0.99)}`);
    }
  } finally {
    nats.kill();
    await new Promise((r) => (nats.exitCode !== null ? r(null) : nats.on('exit', r)));
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
