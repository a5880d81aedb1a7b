/**
 * Attach time of the probe on stripped Bun binaries (BoringSSL located by anchors, services/probe-producer/src/
 * locate_boringssl.c), cold (empty locator cache) and cached (second run, same --cache-dir).
 *
 * Run as root after `npm run setup`: `npx tsx bench/bun-attach.bench.ts [runs=5]`. Binaries: the cached npm builds of
 * services/probe-producer/test/bun-builds.json (fetched by that test's set-up; missing ones are fetched here).
 * Per binary and run:
 * - `--locate` wall time (one process, the locator alone, no BPF), cold then cached;
 * - the producer's own attach time for `--binary-path <binary>` (its stderr `… attached in N ms`: locate, or the
 *   cache lookup, plus the uprobe attach of SSL_read, SSL_write and SSL_do_handshake), cold then cached.
 * The file itself is in the page cache in both cases (a first read from disk adds the read of 100-400 MB).
 * Prints a Markdown table (medians) and writes bench/out/bun-attach.json.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { probeBinary } from '../libs/testkit/src';
import { allBuilds } from '../services/probe-producer/test/bun-builds';
import { fetchNpmFile } from '../services/probe-producer/test/npm-binaries';

const RUNS = Number(process.argv[2] ?? 5);
const PICK = ['@oven/bun-linux-x64@1.2.0', '@oven/bun-linux-x64@1.3.14', '@oven/bun-linux-x64-baseline@1.3.14', '@oven/bun-linux-x64@1.4.5'];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const loadavg = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');

function locateMs(bin: string, cache: string): number {
  const t0 = process.hrtime.bigint();
  execFileSync(probeBinary(), ['--cache-dir', cache, '--locate', bin]);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** The producer's `attached in N ms` for bin (its stderr), after its `ready` line. */
async function attachMs(bin: string, cache: string): Promise<number> {
  const idle = spawn('sleep', ['60'], { stdio: 'ignore' });
  const p = spawn(probeBinary(), ['--pid', String(idle.pid), '--host', 'bench.attach', '--stats-interval-ms', '60000',
    '--cache-dir', cache, '--binary-path', bin], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stderr!.on('data', (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    p.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('"event":"ready"')) resolve();
    });
    p.on('exit', (c) => reject(new Error(`producer exited ${c}: ${err}`)));
  });
  p.removeAllListeners('exit');
  p.kill('SIGINT');
  await new Promise((r) => p.on('exit', r));
  idle.kill();
  const m = /located by .* attached in ([0-9.]+) ms/.exec(err);
  if (!m) throw new Error(`no attach line for ${bin}: ${err}`);
  return Number(m[1]);
}

async function main() {
  const builds = allBuilds().filter((b) => PICK.includes(b.label) || !b.name.startsWith('@oven/'));
  const rows: Record<string, unknown>[] = [];
  const load0 = loadavg();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-bench-attach-'));
  for (const b of builds) {
    const bin = fs.realpathSync(await fetchNpmFile(b));
    fs.readFileSync(bin); // page cache
    const size = fs.statSync(bin).size;
    const lc: number[] = [], lw: number[] = [], ac: number[] = [], aw: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const c1 = fs.mkdtempSync(path.join(tmp, 'c-'));
      lc.push(locateMs(bin, c1));
      lw.push(locateMs(bin, c1));
      const c2 = fs.mkdtempSync(path.join(tmp, 'c-'));
      ac.push(await attachMs(bin, c2));
      aw.push(await attachMs(bin, c2));
    }
    const row = { binary: b.label, size_mb: Math.round(size / 1e6), locate_cold_ms: median(lc), locate_cached_ms: median(lw),
      attach_cold_ms: median(ac), attach_cached_ms: median(aw) };
    rows.push(row);
    console.error(JSON.stringify(row)); // eslint-disable-line no-console
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.join(__dirname, 'out'), { recursive: true });
  fs.writeFileSync(path.join(__dirname, 'out', 'bun-attach.json'), JSON.stringify({ date: new Date().toISOString(), runs: RUNS, loadavg: [load0, loadavg()], rows }, null, 2));
  console.log(`load average at start ${load0}, at end ${loadavg()}`); // eslint-disable-line no-console
  const f = (x: unknown) => (typeof x === 'number' ? x.toFixed(x < 10 ? 1 : 0) : String(x));
  console.log('| binary | size | --locate cold | --locate cached | attach cold | attach cached |'); // eslint-disable-line no-console
  console.log('|---|---|---|---|---|---|'); // eslint-disable-line no-console
  for (const r of rows) console.log(`| ${r.binary} | ${r.size_mb} MB | ${f(r.locate_cold_ms)} ms | ${f(r.locate_cached_ms)} ms | ${f(r.attach_cold_ms)} ms | ${f(r.attach_cached_ms)} ms |`); // eslint-disable-line no-console
}

main().catch((e) => {
  console.error(e); // eslint-disable-line no-console
  process.exit(1);
});
