/**
 * What a probe costs the processes it does NOT trace (not a test): `npx tsx bench/untraced.bench.ts [--quick]
 * [--reps N] [--probes label=path,label=path]`, as root, after `make -C services/probe-producer`. Method and results:
 * bench/README.md, section "untraced.bench.ts".
 *
 * The clients run on private copies of the TLS code (libssl.so.3 + libcrypto.so.3 through LD_LIBRARY_PATH for
 * Debian's python3, a copy of /usr/bin/node): uprobes are per inode, so other probes running on this shared machine
 * (other engineers' tests attach to the system files) do not fire in them; the measured probe is given the copies
 * with --binary-path. Per client run, one of these modes:
 *   off     — no probe;
 *   system  — probe with `--comm <no such comm>`: system-wide attachment, every process pays the trap, the BPF
 *             filter drops the call (what `trace` without filters, or --comm/--uid alone, costs everyone else);
 *   other   — probe with `--pid <an idle sleep>`: the probe traces another process (`exec`/`record`); the client is
 *             an untraced process of the same machine;
 *   traced  — probe with `--pid <the client>` (started stopped): the traced process' own cost.
 * Clients (bench/capture/): `py-client.py mem` (client and server SSLObjects over memory BIOs in one process: each
 * client write is one SSL_write_ex, each read one SSL_read_ex, timed one by one) and `node-client.js mem` (TLSSockets
 * over an in-memory duplex pair: the round trip, 6 probed calls, see bench/README.md). Per-call figures are
 * percentiles of the pooled runs minus the `off` percentile (node: of the round trip, ÷ 6). Client on CPU 1, probe
 * and NATS unpinned. Writes bench/out/untraced.json and prints a Markdown table.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, makeSelfSignedCert, probeBinary } from '@agentsight/testkit';

const QUICK = process.argv.includes('--quick');
const N = QUICK ? 4000 : 10000; // round trips per client run
const WARMUP = QUICK ? 500 : 1000; // first round trips of each run dropped
const REPS = (() => { // rounds (--reps N); in each, every probe and mode once, interleaved
  const i = process.argv.indexOf('--reps');
  return i >= 0 ? Number(process.argv[i + 1]) : QUICK ? 1 : 3;
})();
const NODE_CALLS_PER_RT = 6; // probed calls per in-memory node round trip (2 SSL_write, 4 SSL_read)
const HERE = join(__dirname, 'capture');
const PROBES: Array<[string, string]> = (() => {
  const i = process.argv.indexOf('--probes');
  if (i < 0) return [['build', probeBinary()]];
  return process.argv[i + 1].split(',').map((kv) => kv.split('=') as [string, string]);
})();
const MODES = ['system', 'other', 'traced'] as const;
type Mode = 'off' | (typeof MODES)[number];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

/** Runs a child to its end; its stdout, or an error with its stderr. */
function run(p: ChildProcess): Promise<string> {
  let out = '';
  let err = '';
  p.stdout?.on('data', (d) => (out += d));
  p.stderr?.on('data', (d) => (err += d));
  return new Promise((res, rej) => p.once('exit', (c) => (c === 0 ? res(out) : rej(new Error(`exit ${c}: ${err}`)))));
}

function procState(pid: number): string {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
  } catch {
    return '';
  }
}

/** Starts a probe, waits for its ready line; returns a stop function. */
async function startProbe(bin: string, args: string[], natsUrl: string): Promise<() => Promise<void>> {
  const p = spawn(bin, [...args, '--nats-url', natsUrl, '--host', `untraced-${process.pid}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (err += d));
  const exited = new Promise((r) => p.once('exit', r));
  for (const end = Date.now() + 30000; !out.includes('"event":"ready"'); await sleep(10))
    if (Date.now() > end || p.exitCode !== null) throw new Error(`probe ${bin}: no ready line: ${err}`);
  return async () => {
    p.kill('SIGINT');
    await exited;
  };
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'untraced-bench-'));
  const libs = join(tmp, 'lib');
  mkdirSync(libs);
  for (const l of ['libssl.so.3', 'libcrypto.so.3']) copyFileSync(`/usr/lib/x86_64-linux-gnu/${l}`, join(libs, l));
  const node = join(tmp, 'node');
  copyFileSync('/usr/bin/node', node);
  const { keyPath: key, certPath: cert, dir: certDir } = makeSelfSignedCert();
  const port = await freePort();
  const nats = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', join(tmp, 'js')], { stdio: 'ignore' });
  await sleep(500);
  const natsUrl = `nats://127.0.0.1:${port}`;
  const copies = ['--binary-path', join(libs, 'libssl.so.3'), '--binary-path', node];
  const idle = spawn('sleep', ['100000'], { stdio: 'ignore' });
  const clients = {
    python: { cmd: '/usr/bin/python3', args: [join(HERE, 'py-client.py'), 'mem', key, cert, String(N)], env: { ...process.env, LD_LIBRARY_PATH: libs } },
    node: { cmd: node, args: [join(HERE, 'node-client.js'), 'mem', key, cert, String(N)], env: process.env },
  };
  type Samples = Record<string, number[]>;
  const pooled: Record<string, Record<string, Samples>> = {}; // client -> `${probe}/${mode}` | 'off' -> series
  const add = (client: string, key: string, res: Samples) => {
    const s = ((pooled[client] ??= {})[key] ??= {});
    for (const [k, v] of Object.entries(res)) (s[k] ??= []).push(...v.slice(WARMUP));
  };
  const t0 = Date.now();
  try {
    for (let rep = 0; rep < REPS; rep++) {
      for (const [cname, c] of Object.entries(clients)) {
        const runs: Array<[string, string, Mode]> = [['off', '', 'off']];
        for (const [label, bin] of PROBES) for (const m of MODES) runs.push([`${label}/${m}`, bin, m]);
        for (const [key, bin, mode] of rep % 2 ? runs.reverse() : runs) {
          const argv = ['-c', '1', c.cmd, ...c.args];
          let stop: (() => Promise<void>) | undefined;
          let res: string;
          if (mode === 'traced') {
            const sh = spawn('sh', ['-c', 'kill -STOP $$; exec "$@"', 'sh', 'taskset', ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: c.env });
            const done = run(sh);
            while (procState(sh.pid!) !== 'T') await sleep(5);
            stop = await startProbe(bin, ['--pid', String(sh.pid), ...copies], natsUrl);
            process.kill(sh.pid!, 'SIGCONT');
            res = await done;
          } else {
            if (mode === 'system') stop = await startProbe(bin, ['--comm', 'no-such-comm-x', ...copies], natsUrl);
            if (mode === 'other') stop = await startProbe(bin, ['--pid', String(idle.pid), ...copies], natsUrl);
            res = await run(spawn('taskset', argv, { stdio: ['ignore', 'pipe', 'pipe'], env: c.env }));
          }
          await stop?.();
          const parsed = JSON.parse(res.split('\n')[0]) as Samples;
          add(cname, key, parsed);
          process.stderr.write(`${cname} ${key} rep ${rep}: ${Object.entries(parsed).map(([k, v]) => `${k} p50 ${pct(Float64Array.from(v.slice(WARMUP)).sort() as unknown as number[], 50)}`).join(', ')}\n`);
        }
      }
    }
  } finally {
    idle.kill();
    nats.kill();
    rmSync(tmp, { recursive: true, force: true });
    rmSync(certDir, { recursive: true, force: true });
  }
  const stats = (xs: number[]) => {
    const s = Float64Array.from(xs).sort() as unknown as number[];
    return { n: s.length, p50: pct(s, 50), p99: pct(s, 99) };
  };
  const out: Record<string, unknown> = {
    date: new Date().toISOString(), machine: `${cpus().length} cores, ${cpus()[0]?.model}`, n: N, reps: REPS,
    probes: Object.fromEntries(PROBES), seconds: Math.round((Date.now() - t0) / 1000), clients: {},
  };
  const L = [`# untraced.bench.ts — ${out.date}${QUICK ? ' (quick)' : ''}, ${out.seconds} s`, '',
    '| client, per call | off p50 / p99 ns | ' + PROBES.flatMap(([l]) => MODES.map((m) => `${l} ${m}: added p50 / p99 ns`)).join(' | ') + ' |',
    '|---|---|' + PROBES.flatMap(() => MODES.map(() => '---|')).join('')];
  for (const [cname, series] of Object.entries(pooled)) {
    const metrics = cname === 'python' ? ['write_ns', 'read_ns'] : ['rtt_ns'];
    const div = cname === 'python' ? 1 : NODE_CALLS_PER_RT;
    const d = Object.fromEntries(Object.entries(series).map(([k, s]) => [k, Object.fromEntries(metrics.map((m) => [m, stats(s[m])]))]));
    (out.clients as Record<string, unknown>)[cname] = d;
    for (const m of metrics) {
      const off = d.off[m];
      const cells = PROBES.flatMap(([l]) => MODES.map((mode) => {
        const x = d[`${l}/${mode}`][m];
        return `${Math.round((x.p50 - off.p50) / div)} / ${Math.round((x.p99 - off.p99) / div)}`;
      }));
      L.push(`| ${cname} ${m === 'rtt_ns' ? `round trip ÷ ${div}` : m} | ${Math.round(off.p50 / div)} / ${Math.round(off.p99 / div)} | ${cells.join(' | ')} |`);
    }
  }
  mkdirSync(resolve(__dirname, 'out'), { recursive: true });
  writeFileSync(resolve(__dirname, 'out/untraced.json'), JSON.stringify(out, null, 2));
  process.stdout.write(L.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : e}\n`);
  process.exit(1);
});
