/**
 * Real tests of per-process uprobe attachment (`--pid`, README "Per-process attachment"): the kernel puts the
 * probe's breakpoints only into the traced process, its threads and its forked children, not into other processes
 * using the same library. Clients: Debian's python3 on a private copy of libssl.so.3 (LD_LIBRARY_PATH, given to the
 * probe with --binary-path, so other probes running on the machine, which attach to the system file, are not seen),
 * `bench/capture/py-client.py work|idle` (in-memory TLS: every write is one SSL_write_ex). A breakpoint is seen directly: the first byte
 * of SSL_write_ex in the process' memory (/proc/<pid>/mem) is int3 (0xcc) where a uprobe is installed.
 *
 * Skips (with a console message) when not root or BPF/BTF is unavailable, unless AGENTSIGHT_REQUIRE_BPF=1.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BPF_REQUIRED, bpfUnavailableReason, repoRoot } from '@agentsight/testkit';
import { captureClient, CaptureResult, makeCert, systemLibrary } from './harness';

const skipReason = bpfUnavailableReason();
if (skipReason && !BPF_REQUIRED) {
  process.stderr.write(`SKIPPED probe-producer per-process test: ${skipReason} (set AGENTSIGHT_REQUIRE_BPF=1 to make this fail)\n`);
}
const describeCapture = skipReason && !BPF_REQUIRED ? describe.skip : describe;
const SCRIPT = path.join(repoRoot(), 'bench/capture/py-client.py');
const ROUND_TRIPS = 50;

/** The first byte of `sym` (a .dynsym function of lib) in pid's memory, from its mapping of lib (/proc/<pid>/maps). */
function firstByte(pid: number, lib: string, sym: string): number {
  const line = execFileSync('nm', ['-D', '--defined-only', lib], { encoding: 'utf8' }).split('\n').find((l) => l.split(' ')[2]?.split('@')[0] === sym && l.split(' ')[1] === 'T');
  if (!line) throw new Error(`${sym} not in ${lib}`);
  const value = Number.parseInt(line.split(' ')[0], 16);
  const base = fs.readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').map((l) => l.split(/\s+/))
    .filter((f) => f[5] === lib && Number.parseInt(f[2], 16) === 0).map((f) => Number.parseInt(f[0].split('-')[0], 16))[0];
  if (base === undefined) throw new Error(`pid ${pid} does not map ${lib}`);
  const fd = fs.openSync(`/proc/${pid}/mem`, 'r');
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, base + value);
    return b[0];
  } finally {
    fs.closeSync(fd);
  }
}

async function waitFor(what: string, ok: () => boolean, ms = 20000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 20)))
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
}

describeCapture('per-process uprobe attachment', () => {
  let dir: string;
  let lib: string;
  let env: NodeJS.ProcessEnv;
  let tlsArgs: string[];

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-perproc-'));
    const { key, cert } = makeCert(dir);
    for (const so of ['libssl.so.3', 'libcrypto.so.3']) fs.copyFileSync(systemLibrary(so)!, path.join(dir, so));
    lib = fs.realpathSync(path.join(dir, 'libssl.so.3'));
    env = { LD_LIBRARY_PATH: dir };
    tlsArgs = [key, cert];
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /**
   * Runs `py-client.py work` traced (producer flags `extra`) and, beside it, an untraced `py-client.py idle`; once both
   * loaded the library, reads the first byte of SSL_write_ex in each, then lets the traced one work.
   */
  async function run(extra: string[]): Promise<{ r: CaptureResult; traced: number; untraced: number }> {
    const outFile = path.join(dir, `out-${randomUUID().slice(0, 8)}`);
    let checked: Promise<{ traced: number; untraced: number }> | undefined;
    let idle: ChildProcess | undefined;
    const r = await captureClient(`perproc.test-${randomUUID().slice(0, 8)}`, ['python3', SCRIPT, 'work', ...tlsArgs, String(ROUND_TRIPS)], outFile,
      (cp) => {
        checked = (async () => {
          idle = spawn('python3', [SCRIPT, 'idle', ...tlsArgs, '0'], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
          let idleOut = '';
          idle.stdout!.on('data', (d) => (idleOut += d));
          await waitFor('the untraced python', () => idleOut.includes('ready'));
          await waitFor('the traced python', () => fs.readFileSync(outFile, 'utf8').includes('ready'));
          const bytes = { traced: firstByte(cp.pid!, lib, 'SSL_write_ex'), untraced: firstByte(idle.pid!, lib, 'SSL_write_ex') };
          cp.stdin!.write('go\n');
          idle.stdin!.end('go\n');
          return bytes;
        })().catch((e) => {
          cp.kill('SIGKILL');
          throw e;
        });
      }, ['--binary-path', lib, ...extra], env);
    try {
      return { r, ...(await checked!) };
    } finally {
      idle?.kill();
    }
  }

  it('puts breakpoints only into the traced process and captures its threads and forked children', async () => {
    const { r, traced, untraced } = await run([]);
    expect(r.client.code).toBe(0);
    expect(r.ready).toMatchObject({ attach: 'per-process' });
    expect(traced).toBe(0xcc);
    expect(untraced).not.toBe(0xcc);
    // A thread's round trips and a forked child's (no exec): 2 SSL_write_ex each (client and server side).
    const writes = r.stopped.probes.find((p) => p.binary === lib && p.fn === 'SSL_write_ex');
    expect(writes?.records).toBe(4 * ROUND_TRIPS);
    expect(r.stopped.attach_failures).toEqual([]);
    expect(r.stopped.lost_records).toBe(0);
    expect(r.stopped.ringbuf_drops).toBe(0);
  }, 90_000);

  it('with --system-wide, every process using the library gets the breakpoint', async () => {
    const { r, traced, untraced } = await run(['--system-wide']);
    expect(r.ready).toMatchObject({ attach: 'system-wide' });
    expect({ traced, untraced }).toEqual({ traced: 0xcc, untraced: 0xcc });
    expect(r.stopped.probes.find((p) => p.binary === lib && p.fn === 'SSL_write_ex')?.records).toBe(4 * ROUND_TRIPS);
  }, 90_000);
});
