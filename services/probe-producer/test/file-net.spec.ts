/**
 * Real capture test of the file-open and connect() records (kind `file_open` / `net_connect` on
 * `agentsight.raw.proc.<host>`): a traced shell tree writes, reads and fails to open files, and traced node / python
 * clients connect to local TCP and unix sockets served by an untraced server; real eBPF, real NATS JetStream.
 *
 * Skips (with a console message) when not root or BPF/BTF is unavailable, unless AGENTSIGHT_REQUIRE_BPF=1, then fails.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { BPF_REQUIRED, bpfUnavailableReason, probeBinary, repoRoot } from '@agentsight/testkit';
import { connect } from '@nats-io/transport-node';
import {
  hostToken,
  RawFileOpenRecord,
  RawLossRecord,
  RawNetConnectRecord,
  RawProcRecord,
  RawRecord,
  Subjects,
} from '@agentsight/contracts';
import { captureClient, CaptureResult, collectRun, expectLosslessRun, NATS_URL, NATS_OPTS, PROBE_ENV } from './harness';

const skipReason = bpfUnavailableReason();
if (skipReason && !BPF_REQUIRED) {
  process.stderr.write(`SKIPPED probe-producer file/net test: ${skipReason} (set AGENTSIGHT_REQUIRE_BPF=1 to make this fail)\n`);
}
const describeCapture = skipReason && !BPF_REQUIRED ? describe.skip : describe;

const O_ACCMODE = 0o3;
const O_CREAT = 0o100;
const ENOENT = 2;
const EINPROGRESS = 115;
const ECONNREFUSED = 111;
const PSEUDO = /^\/(proc|sys|dev)(\/|$)/;

/**
 * Untraced server: TCP on 127.0.0.1 (and ::1 when available) and a unix socket; on every connection it opens a file
 * named `untracedFile` itself (opens of an untraced process must not be captured).
 */
async function startServer(sockPath: string, untracedFile: string): Promise<{ server: ChildProcess; port: number; port6: number | null }> {
  const js = `
    const net = require('net'), fs = require('fs');
    const onConn = (c) => { fs.writeFileSync(process.argv[2], 'x'); c.on('data', () => undefined); c.on('error', () => undefined); c.end(); };
    const tcp = net.createServer(onConn), unix = net.createServer(onConn), tcp6 = net.createServer(onConn);
    tcp.listen(0, '127.0.0.1', () => unix.listen(process.argv[1], () => {
      tcp6.on('error', () => console.log(JSON.stringify({ port: tcp.address().port, port6: null })));
      tcp6.listen(0, '::1', () => console.log(JSON.stringify({ port: tcp.address().port, port6: tcp6.address().port })));
    }));`;
  const server = spawn(process.execPath, ['-e', js, sockPath, untracedFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const info = await new Promise<{ port: number; port6: number | null }>((resolve, reject) => {
    server.stdout!.once('data', (d) => resolve(JSON.parse(d.toString())));
    server.once('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  return { server, ...info };
}

/** A TCP port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface Run {
  ready: Record<string, unknown>;
  stopped: { records: number; file_opens_skipped: number; last_seq: number; lost_records: number; ringbuf_drops: number };
  recs: RawRecord[];
  /** Every JSON line the producer printed, in order. */
  lines: Array<Record<string, unknown>>;
}

/**
 * Runs `sh -c script` traced by a producer started with `args` (the shell waits stopped until the producer is
 * ready), stops the producer once the shell exited, then reads back every record of the run from JetStream.
 */
async function runTraced(host: string, script: string, args: string[]): Promise<Run> {
  const sh = spawn('sh', ['-c', 'kill -STOP $$; exec sh -c "$1"', 'sh', script], { stdio: 'ignore' });
  const shDone = new Promise<void>((r) => sh.on('exit', () => r()));
  for (let i = 0; i < 200 && !/\) T/.test(fs.readFileSync(`/proc/${sh.pid}/stat`, 'utf8')); i++) await new Promise((r) => setTimeout(r, 10));
  const producer = spawn(probeBinary(), ['--pid', String(sh.pid), '--host', host, '--nats-url', NATS_URL, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: PROBE_ENV });
  let out = '';
  let err = '';
  producer.stdout!.on('data', (d) => (out += d));
  producer.stderr!.on('data', (d) => (err += d));
  const line = async (event: string) => {
    for (let i = 0; i < 600; i++) {
      const l = out.split('\n').filter(Boolean).map((x) => JSON.parse(x)).find((x) => x.event === event);
      if (l) return l;
      if (producer.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no ${event} line from the producer; stderr:\n${err}`);
  };
  const ready = await line('ready');
  process.kill(sh.pid!, 'SIGCONT');
  await shDone;
  producer.kill('SIGINT');
  const stopped = await line('stopped');

  const nc = await connect({ ...NATS_OPTS });
  try {
    // Every record of this host's run (these scripts make no TLS calls: proc, loss and stdio records).
    const recs: RawRecord[] = [];
    const decodeErrors: string[] = [];
    const run = await collectRun(nc, hostToken(host), (_m, rec) => recs.push(rec), decodeErrors);
    await run.drain(stopped.last_seq);
    expect(decodeErrors).toEqual([]);
    return { ready, stopped, recs, lines: out.split('\n').filter(Boolean).map((x) => JSON.parse(x)) };
  } finally {
    await nc.close();
  }
}

const fileOpens = (recs: RawRecord[]) => recs.filter((r): r is RawFileOpenRecord => r.kind === 'file_open');
const connects = (recs: RawRecord[]) => recs.filter((r): r is RawNetConnectRecord => r.kind === 'net_connect');

describeCapture('agentsight-probe file and connect records', () => {
  const uniq = `agentsight-fn-${randomUUID()}`;
  const file = path.join(os.tmpdir(), uniq);
  const sock = path.join(os.tmpdir(), `${uniq}.sock`);
  const untracedFile = path.join(os.tmpdir(), `${uniq}-untraced`);
  const host = `file-net.test-${randomUUID().slice(0, 8)}`;
  let server: ChildProcess;
  let port: number;
  let port6: number | null;
  let refused: number;
  let r: CaptureResult;
  let recs: RawRecord[];

  beforeAll(async () => {
    if (skipReason) throw new Error(`BPF required (AGENTSIGHT_REQUIRE_BPF=1) but unavailable: ${skipReason}`);
    ({ server, port, port6 } = await startServer(sock, untracedFile));
    refused = await closedPort();
    const nodeClient = `const s = require('net').connect(${port}, '127.0.0.1', () => s.end('hi')); s.on('data', () => undefined); s.on('close', () => process.exit(0));`;
    const pyClient = [
      'import socket',
      `s = socket.create_connection(("127.0.0.1", ${port})); s.close()`,
      `u = socket.socket(socket.AF_UNIX); u.connect(${JSON.stringify(sock)}); u.close()`,
      ...(port6 ? [`s6 = socket.socket(socket.AF_INET6); s6.connect(("::1", ${port6})); s6.close()`] : []),
      'x = socket.socket()',
      'try:',
      `    x.connect(("127.0.0.1", ${refused}))`,
      'except ConnectionRefusedError:',
      '    pass',
    ].join('\n');
    const script = [
      `echo x > ${file}`,
      `cat ${file}`,
      `cat ${file}.missing 2>/dev/null || true`,
      'cat /proc/self/stat > /dev/null',
      `${JSON.stringify(process.execPath)} -e ${JSON.stringify(nodeClient)}`,
      `python3 -c '${pyClient}'`,
    ].join('\n');
    r = await captureClient(host, ['sh', '-c', script], path.join(os.tmpdir(), `${uniq}.out`));
    recs = r.got.map((g) => g.rec);
  });

  afterAll(() => {
    server?.kill();
    for (const f of [file, sock, untracedFile, path.join(os.tmpdir(), `${uniq}.out`)]) fs.rmSync(f, { force: true });
  });

  it('runs losslessly with file and connect events on', () => {
    expectLosslessRun(r);
    expect(r.ready).toMatchObject({ file_events: true, net_events: true });
    expect(r.client.out.toString()).toBe('x\n');
  });

  it('publishes file_open records of the traced tree on the proc subject, ordered within each process', () => {
    const fo = fileOpens(recs);
    expect(fo.length).toBeGreaterThan(3);
    const subjects = new Set(r.got.filter((g) => g.rec.kind === 'file_open' || g.rec.kind === 'net_connect').map((g) => g.subject));
    expect(subjects).toEqual(new Set([Subjects.rawProc(hostToken(host))]));
    const procs = recs.filter((x): x is RawProcRecord => x.kind === 'proc');
    for (const x of [...fo, ...connects(recs)]) {
      const exec = procs.find((p) => p.pid === x.pid && p.event === 'exec');
      const exit = procs.find((p) => p.pid === x.pid && p.event === 'exit');
      expect({ path: (x as RawFileOpenRecord).path, exec: !!exec, exit: !!exit }).toEqual({ path: (x as RawFileOpenRecord).path, exec: true, exit: true });
      expect(x.seq).toBeGreaterThan(exec!.seq);
      expect(x.seq).toBeLessThan(exit!.seq);
      expect(x.uid).toBe(process.getuid!());
      expect(x.ppid).toBe(exec!.ppid);
    }
  });

  it('captures the write (O_CREAT), the read and the failed open with their results', () => {
    const fo = fileOpens(recs);
    const write = fo.filter((x) => x.path === file && (x.flags & O_CREAT) !== 0);
    expect(write).toHaveLength(1);
    expect(write[0]).toMatchObject({ pid: r.client.pid, tid: r.client.pid, comm: 'sh', path_truncated: false, mode: 0o666 });
    expect(write[0].flags & O_ACCMODE).toBe(1);
    expect(write[0].flags_text).toBe('O_WRONLY|O_CREAT|O_TRUNC');
    expect(write[0].result).toBeGreaterThanOrEqual(0);

    const read = fo.filter((x) => x.path === file && x.comm === 'cat');
    expect(read).toHaveLength(1);
    expect(read[0].flags & (O_ACCMODE | O_CREAT)).toBe(0);
    expect(read[0].flags_text).toMatch(/^O_RDONLY(\||$)/);
    expect(read[0].result).toBeGreaterThanOrEqual(0);
    expect(read[0].ppid).toBe(r.client.pid);

    const missing = fo.filter((x) => x.path === `${file}.missing`);
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatchObject({ comm: 'cat', result: -ENOENT });
  });

  it('skips and counts opens under /proc, /sys and /dev by default', () => {
    expect(fileOpens(recs).filter((x) => PSEUDO.test(x.path))).toEqual([]);
    // At least `cat /proc/self/stat` and the shell's `> /dev/null` / `2>/dev/null` redirections.
    expect(r.stopped).toHaveProperty('file_opens_skipped');
    const skipped = (r.stopped as unknown as { file_opens_skipped: number }).file_opens_skipped;
    expect(skipped).toBeGreaterThanOrEqual(3);
    const loss = recs.filter((x): x is RawLossRecord => x.kind === 'loss').sort((a, b) => a.seq - b.seq);
    expect(loss[loss.length - 1].file_opens_skipped).toBe(skipped);
  });

  it('captures connect() targets and results: node (non-blocking), python (blocking inet, inet6, unix, refused)', () => {
    const nc = connects(recs);
    const nodeC = nc.filter((x) => x.comm === 'node');
    expect(nodeC).toHaveLength(1);
    expect(nodeC[0]).toMatchObject({ family: 'inet', address: '127.0.0.1', port });
    expect([0, -EINPROGRESS]).toContain(nodeC[0].result);

    const py = nc.filter((x) => x.comm === 'python3').map(({ family, address, port: p, result }) => ({ family, address, port: p, result }));
    const expected = [
      { family: 'inet', address: '127.0.0.1', port, result: 0 },
      { family: 'unix', address: sock, port: 0, result: 0 },
      ...(port6 ? [{ family: 'inet6', address: '::1', port: port6, result: 0 }] : []),
      { family: 'inet', address: '127.0.0.1', port: refused, result: -ECONNREFUSED },
    ];
    for (const e of expected) expect(py).toContainEqual(e);
  });

  it('records nothing of untraced processes', () => {
    const tree = new Set(recs.filter((x): x is RawProcRecord => x.kind === 'proc').map((x) => x.pid));
    expect(tree.has(server.pid!)).toBe(false);
    expect([...fileOpens(recs), ...connects(recs)].filter((x) => !tree.has(x.pid))).toEqual([]);
    expect(fileOpens(recs).filter((x) => x.path.includes(`${uniq}-untraced`))).toEqual([]);
    expect(fs.existsSync(untracedFile)).toBe(true); // the server did open it
  });

  it('--no-file-events --no-net-events: no file or connect records', async () => {
    const run = await runTraced(`${host}-off`, `echo y > ${file}; cat ${file} > /dev/null; python3 -c 'import socket; socket.create_connection(("127.0.0.1", ${port})).close()'`,
      ['--no-file-events', '--no-net-events']);
    expect(run.ready).toMatchObject({ file_events: false, net_events: false });
    expect(run.stopped).toMatchObject({ lost_records: 0, ringbuf_drops: 0, file_opens_skipped: 0 });
    expect(run.recs).toHaveLength(run.stopped.last_seq + 1);
    expect(run.recs.filter((x) => x.kind === 'proc' && x.event === 'exec').length).toBeGreaterThanOrEqual(2);
    expect(fileOpens(run.recs)).toEqual([]);
    expect(connects(run.recs)).toEqual([]);
  });

  it('counts each traced process\' inet bytes sent and received (sock tracepoints): exactly a known TCP transfer, also on the periodic net_bytes lines', async () => {
    const sent = 300_001, recv = 1_048_583; // not multiples of any buffer size
    const srv = net.createServer((sock) => {
      let got = 0;
      sock.on('data', (d) => { got += d.length; if (got >= sent) sock.end(Buffer.alloc(recv, 0x61)); });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const p = (srv.address() as net.AddressInfo).port;
    try {
      // The process writes its own start time (/proc/self/stat field 22) and stays 0.5 s after the transfer.
      const startFile = path.join(os.tmpdir(), `agentsight-netstart-${randomUUID()}`);
      const py = `import socket, time; open("${startFile}", "w").write(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19]); s = socket.create_connection(("127.0.0.1", ${p})); s.sendall(b"x" * ${sent}); n = 0\nwhile True:\n  d = s.recv(65536)\n  if not d: break\n  n += len(d)\nassert n == ${recv}, n\ntime.sleep(0.5)`;
      const run = await runTraced(`${host}-netbytes`, `exec python3 -c '${py}'`, ['--no-file-events', '--net-bytes-ms', '100']);
      type NetBytes = { pids?: Array<{ pid: number; start_ticks: number; sent: number; recv: number; up: number[] }>; more?: number; since_ticks?: number; missing?: string };
      const nb = (run.stopped as unknown as { net_bytes: NetBytes }).net_bytes;
      if (nb.missing) throw new Error(`this kernel cannot count them: ${nb.missing}`);
      const python = run.recs.find((x) => x.kind === 'proc' && x.event === 'exec' && /python/.test(x.filename));
      expect(python).toBeDefined();
      expect(nb.more).toBe(0);
      // The traced tree is the shell exec'd into python: its one process made exactly this transfer, nothing else;
      // its start as /proc/<pid>/stat says it (how a reader tells a reused pid).
      const start = Number(fs.readFileSync(startFile, 'utf8'));
      fs.rmSync(startFile);
      expect(nb.pids).toEqual([{ pid: (python as { pid: number }).pid, start_ticks: start, sent, recv, up: expect.any(Array) }]);
      // Its ancestors at its first count, parent first, flat [pid, start_ticks, …]: the first is its parent.
      const up = nb.pids![0].up;
      expect(up.length % 2).toBe(0);
      expect(up.length).toBeGreaterThanOrEqual(2);
      expect(up.length).toBeLessThanOrEqual(8);
      expect(up[0]).toBe((python as { ppid: number }).ppid);
      // The counters were attached after the (stopped) shell was forked and before now.
      const uptimeTicks = Math.floor(Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 100);
      expect(nb.since_ticks).toBeGreaterThanOrEqual(start);
      expect(nb.since_ticks).toBeLessThanOrEqual(uptimeTicks);
      // --net-bytes-ms 100: the same object on its own lines, every 100 ms; one of them (while python slept) is final.
      const periodic = run.lines.filter((l) => l.event === 'net_bytes').map((l) => l.net_bytes as NetBytes);
      expect(periodic.length).toBeGreaterThanOrEqual(5);
      expect(periodic.some((x) => JSON.stringify(x.pids) === JSON.stringify(nb.pids))).toBe(true);
      for (const x of periodic) expect(x.since_ticks).toBe(nb.since_ticks);
    } finally {
      srv.close();
    }
  });

  it('counts more than 1,024 processes and reports every one: 1,100 traced children, each its own known TCP transfer, on the stopped line and on a round of 2 net_bytes lines', async () => {
    const N = 1100;
    // Each connection: the client sends n bytes and shuts its side; the server answers 2n + 3 bytes and closes.
    const srv = net.createServer((sock) => {
      let got = 0;
      sock.on('data', (d) => (got += d.length));
      sock.on('end', () => sock.end(Buffer.alloc(2 * got + 3, 0x62)));
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', 1024, r));
    const p = (srv.address() as net.AddressInfo).port;
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-netmany-'));
    try {
      // The traced python (test/e2e/net-many.py) forks N children one after another: child i sends 1 + i bytes, reads
      // the answer, exits; the parent makes no inet traffic, writes {pid: n} of its children, and stays 0.5 s.
      const run = await runTraced(`${host}-netmany`, `N=${N} PORT=${p} OUT=${path.join(tmp, 'sent.json')} HOLD_S=0.5 exec python3 ${path.join(repoRoot(), 'test/e2e/net-many.py')}`, ['--no-file-events', '--no-net-events', '--net-bytes-ms', '100']);
      const want = new Map(Object.entries(JSON.parse(fs.readFileSync(path.join(tmp, 'sent.json'), 'utf8')) as Record<string, number>).map(([pid, n]) => [Number(pid), { sent: n, recv: 2 * n + 3 }]));
      expect(want.size).toBe(N);
      type Entry = { pid: number; start_ticks: number; sent: number; recv: number; up: number[] };
      type NetBytes = { pids: Entry[]; more: number; since_ticks: number; round?: number; part?: number; parts?: number; missing?: string };
      const counts = (es: Entry[]) => new Map(es.map((e) => [e.pid, { sent: e.sent, recv: e.recv }]));
      // The stopped line: all of them, exactly, none in `more`.
      const nb = (run.stopped as unknown as { net_bytes: NetBytes }).net_bytes;
      if (nb.missing) throw new Error(`this kernel cannot count them: ${nb.missing}`);
      expect(nb.more).toBe(0);
      expect(nb.pids).toHaveLength(N);
      expect(counts(nb.pids)).toEqual(want);
      // Each child names the python as its parent (pid and start: the same for all), whose own ancestors follow.
      const python = run.recs.find((x) => x.kind === 'proc' && x.event === 'exec' && /python/.test(x.filename)) as { pid: number } | undefined;
      expect(python).toBeDefined();
      expect(new Set(nb.pids.map((e) => `${e.up[0]}/${e.up[1]}`))).toEqual(new Set([`${python!.pid}/${nb.pids[0].up[1]}`]));
      // The periodic lines: a round after the last child is 2 lines (1,024 + 76), numbered, each `more` = the other's.
      const periodic = run.lines.filter((l) => l.event === 'net_bytes').map((l) => l.net_bytes as NetBytes);
      const last = periodic[periodic.length - 1];
      expect([last.part, last.parts]).toEqual([1, 2]);
      const round = periodic.filter((x) => x.round === last.round);
      expect(round.map((x) => [x.part, x.parts, x.pids.length, x.more])).toEqual([[0, 2, 1024, 76], [1, 2, 76, 1024]]);
      expect(counts(round.flatMap((x) => x.pids))).toEqual(want);
      for (let i = 1; i < periodic.length; i++) expect(periodic[i].round! - periodic[i - 1].round!).toBeLessThanOrEqual(1);
      // (What the capture commands make of such rounds, services/api NetReadings, is test/e2e/net-bytes.e2e's.)
    } finally {
      srv.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 180_000);

  it('--all-files: opens under /proc and /dev are published, none skipped', async () => {
    const run = await runTraced(`${host}-all`, 'cat /proc/self/stat > /dev/null', ['--all-files', '--no-net-events']);
    expect(run.ready).toMatchObject({ file_events: true, net_events: false });
    expect(run.stopped).toMatchObject({ lost_records: 0, ringbuf_drops: 0, file_opens_skipped: 0 });
    expect(run.recs).toHaveLength(run.stopped.last_seq + 1);
    const fo = fileOpens(run.recs);
    expect(fo.find((x) => x.path === '/dev/null')).toMatchObject({ flags_text: 'O_WRONLY|O_CREAT|O_TRUNC' });
    expect(fo.find((x) => x.path === '/proc/self/stat' && x.comm === 'cat')!.result).toBeGreaterThanOrEqual(0);
  });
});
