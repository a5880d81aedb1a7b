/**
 * Real capture test of agentsight-probe: real eBPF probes, real TLS clients (curl = libssl SSL_write/SSL_read,
 * Python = libssl SSL_write_ex/SSL_read_ex, Node = node's static OpenSSL), a real HTTPS server and a real NATS
 * JetStream. Nothing is mocked.
 *
 * Skips (with a console message) when not root or BPF/BTF is unavailable, unless AGENTSIGHT_REQUIRE_BPF=1, then fails.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BPF_REQUIRED, bpfUnavailableReason, probeBinary } from '@agentsight/testkit';
import { collectRun, FRAG_MAX, makeCert, PARTITIONS, partitionOf, reassemble, startHttpsServer, waitStopped, NATS_URL, NATS_OPTS, PROBE_ENV } from './harness';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  hostToken,
  normalizeNs,
  rawMsgId,
  RawLossRecord,
  RawProcRecord,
  RawSslCloseRecord,
  RawRecord,
  RawSslHandshakeRecord,
  RawSslRecord,
  Subjects,
} from '@agentsight/contracts';

const BIN = probeBinary();
const REQUIRE = BPF_REQUIRED;

const skipReason = bpfUnavailableReason();
if (skipReason && !REQUIRE) {
  // Written to stderr directly: Jest does not show console output of a suite whose tests are all skipped.
  process.stderr.write(`SKIPPED probe-producer capture test: ${skipReason} (set AGENTSIGHT_REQUIRE_BPF=1 to make this fail)\n`);
}
const describeCapture = skipReason && !REQUIRE ? describe.skip : describe;

interface Got {
  subject: string;
  msgId: string;
  raw: Uint8Array;
  rec: RawRecord;
  jsTimestampNs: bigint;
}

/** Spawns `cmd args` behind a shell that stops itself first; returns the process (its pid is the traced root). */
function spawnStopped(cmd: string, args: string[], outFile: string): ChildProcess {
  const out = fs.openSync(outFile, 'w');
  const cp = spawn('sh', ['-c', 'kill -STOP $$; exec "$@"', 'sh', cmd, ...args], { stdio: ['ignore', out, 'pipe'] });
  fs.closeSync(out);
  return cp;
}

function exited(cp: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  cp.stderr?.on('data', (d) => (stderr += d));
  return new Promise((resolve) => cp.on('exit', (code) => resolve({ code, stderr })));
}

/** SSL records of pid grouped by connection (ssl pointer) for dir. */
function streamsOf(recs: RawSslRecord[], pid: number, dir: 'write' | 'read'): Map<number, RawSslRecord[]> {
  const m = new Map<number, RawSslRecord[]>();
  for (const r of recs.filter((x) => x.pid === pid && x.dir === dir)) {
    if (!m.has(r.ssl)) m.set(r.ssl, []);
    m.get(r.ssl)!.push(r);
  }
  return m;
}

/** The HTTP/1.1 body after the header block of a reassembled stream. */
function httpBody(stream: Buffer): Buffer {
  const i = stream.indexOf('\r\n\r\n');
  expect(i).toBeGreaterThan(0);
  return stream.subarray(i + 4);
}

describeCapture('agentsight-probe real capture', () => {
  let tmp: string;
  let server: ChildProcess;
  let port: number;
  let nc: NatsConnection;
  const host = `capture.test-${randomUUID().slice(0, 8)}`;
  const token = hostToken(host);
  const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

  // Results shared by the assertions below (one producer run with three traced clients).
  const got: Got[] = [];
  const decodeErrors: string[] = [];
  let ready: { event: string; pid: number; attached: string[] };
  let stopped: { event: string; records: number; published: number; lost_records: number; ringbuf_drops: number; publish_failures: number; last_seq: number };
  let producerExit: number | null;
  const marker = `mk-${randomUUID()}`;
  const bodies: Record<string, Buffer> = {};
  const clients: Record<string, { pid: number; argv: string[]; code: number | null; stderr: string; out: Buffer }> = {};
  let pythonExe = '';

  beforeAll(async () => {
    if (skipReason) throw new Error(`BPF required (AGENTSIGHT_REQUIRE_BPF=1) but unavailable: ${skipReason}`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-capture-'));
    makeCert(tmp);
    pythonExe = execFileSync('python3', ['-c', 'import sys; print(sys.executable)']).toString().trim();

    // HTTPS server (ALPN http/1.1 only): answers every request with a response body derived from the path and the
    // received body, so the clients' received bytes are known and distinct.
    ({ server, port } = await startHttpsServer(path.join(tmp, 'key.pem'), path.join(tmp, 'cert.pem')));
    nc = await connect({ ...NATS_OPTS });

    // Request bodies: random bytes with the marker at both ends.
    for (const [name, size] of [['curl', 300 * 1024], ['python', 100 * 1024], ['node', 300 * 1024], ['big', 16 * 1024 * 1024]] as const) {
      bodies[name] = Buffer.concat([Buffer.from(`${name}:${marker}:`), randomBytes(size), Buffer.from(`:${marker}:end`)]);
      fs.writeFileSync(path.join(tmp, `${name}.body`), bodies[name]);
    }
    const url = (p: string) => `https://127.0.0.1:${port}/${p}/${marker}`;
    const cert = path.join(tmp, 'cert.pem');
    const specs: Record<string, string[]> = {
      curl: ['curl', '-sS', '--fail', '--http1.1', '--cacert', cert, '-X', 'POST', '-H', 'Content-Type: application/octet-stream',
        '--data-binary', `@${path.join(tmp, 'curl.body')}`, url('upload')],
      python: [pythonExe, '-c', [
        'import ssl, sys, urllib.request',
        'ctx = ssl.create_default_context(cafile=sys.argv[1])',
        'req = urllib.request.Request(sys.argv[2], data=open(sys.argv[3], "rb").read(), method="POST", headers={"Content-Type": "application/octet-stream"})',
        'sys.stdout.buffer.write(urllib.request.urlopen(req, context=ctx).read())',
      ].join('\n'), cert, url('python'), path.join(tmp, 'python.body')],
      node: [process.execPath, '-e', `
        const https = require('https'), fs = require('fs');
        const body = fs.readFileSync(process.argv[3]);
        const req = https.request(process.argv[2], { method: 'POST', ca: fs.readFileSync(process.argv[1]), agent: false,
          headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } }, (res) => {
          res.on('data', (c) => process.stdout.write(c));
          res.on('end', () => process.exit(res.statusCode === 200 ? 0 : 1));
        });
        req.on('error', (e) => { console.error(e); process.exit(2); });
        req.end(body);`, cert, url('node'), path.join(tmp, 'node.body')],
    };
    // A 16 MiB body written with one call: node hands it to one SSL_write of 16 MiB (512 fragments).
    specs.big = [specs.node[0], specs.node[1], specs.node[2], cert, url('big'), path.join(tmp, 'big.body')];
    const procs: Record<string, ChildProcess> = {};
    for (const [name, argv] of Object.entries(specs)) {
      procs[name] = spawnStopped(argv[0], argv.slice(1), path.join(tmp, `${name}.out`));
      await waitStopped(procs[name].pid!);
    }

    // Producer: traces the three stopped shells (and what they exec).
    const producer = spawn(BIN, [...Object.values(procs).flatMap((p) => ['--pid', String(p.pid)]), '--host', host,
      '--nats-url', NATS_URL, '--partitions', String(PARTITIONS), '--stats-interval-ms', '1000'], { stdio: ['ignore', 'pipe', 'pipe'], env: PROBE_ENV });
    let stdout = '';
    let perr = '';
    producer.stderr!.on('data', (d) => (perr += d));
    const lines: Array<Record<string, unknown>> = [];
    const lineWaiters: Array<() => void> = [];
    producer.stdout!.on('data', (d) => {
      stdout += d;
      let i;
      while ((i = stdout.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(stdout.slice(0, i)));
        stdout = stdout.slice(i + 1);
        lineWaiters.splice(0).forEach((w) => w());
      }
    });
    const producerDone = new Promise<number | null>((resolve) => producer.on('exit', (c) => resolve(c)));
    const waitLine = async (event: string, ms: number) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const l = lines.find((x) => x.event === event);
        if (l) return l;
        if (Date.now() > deadline || producer.exitCode !== null) throw new Error(`no ${event} line from the producer; stderr:\n${perr}`);
        await new Promise<void>((r) => { lineWaiters.push(r); setTimeout(r, 100); });
      }
    };
    ready = (await waitLine('ready', 30000)) as typeof ready;

    // Consume this run's subjects (unique host token) while the clients run.
    const run = await collectRun(nc, token, (m, rec) => got.push({ subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') ?? '', raw: m.data, rec, jsTimestampNs: normalizeNs(m.info.timestampNanos) }), decodeErrors);

    const exits = Object.fromEntries(Object.entries(procs).map(([n, p]) => [n, exited(p)]));
    for (const p of Object.values(procs)) process.kill(p.pid!, 'SIGCONT');
    for (const [name, p] of Object.entries(procs)) {
      const { code, stderr } = await exits[name];
      clients[name] = { pid: p.pid!, argv: specs[name], code, stderr, out: fs.readFileSync(path.join(tmp, `${name}.out`)) };
    }
    await new Promise((r) => setTimeout(r, 1200)); // at least one periodic loss record
    producer.kill('SIGINT');
    stopped = (await waitLine('stopped', 30000)) as typeof stopped;
    producerExit = await producerDone;

    // Everything up to last_seq must arrive.
    await run.drain(stopped.last_seq);
    if (perr.trim()) console.log(`producer stderr:\n${perr}`); // eslint-disable-line no-console
  }, 120000);

  afterAll(async () => {
    server?.kill();
    await nc?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const ssl = () => got.map((g) => g.rec).filter((r): r is RawSslRecord => r.kind === 'ssl');
  const proc = () => got.map((g) => g.rec).filter((r): r is RawProcRecord => r.kind === 'proc');

  it('runs the producer and the clients successfully', () => {
    expect(ready.pid).toBeGreaterThan(0);
    expect(ready.attached.some((p) => /libssl\.so\.3$/.test(p))).toBe(true);
    expect(ready.attached).toContain(fs.realpathSync(process.execPath));
    for (const [name, c] of Object.entries(clients)) expect({ name, code: c.code, stderr: c.stderr }).toEqual({ name, code: 0, stderr: '' });
    expect(producerExit).toBe(0);
    expect(stopped).toMatchObject({ lost_records: 0, lost_bytes: 0, ringbuf_drops: 0, publish_failures: 0 });
    expect(stopped.published).toBe(stopped.last_seq + 1);
  });

  it('publishes every record once, with seq 0..last_seq, Nats-Msg-Id <boot_id>:<run>:<seq> and contract encoding', () => {
    expect(decodeErrors).toEqual([]);
    const seqs = got.map((g) => g.rec.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: stopped.last_seq + 1 }, (_, i) => i));
    const runs = new Set(got.map((g) => g.rec.run));
    expect(runs.size).toBe(1);
    for (const g of got) {
      expect(g.rec.v).toBe(1);
      expect(g.rec.host).toBe(host);
      expect(g.rec.boot_id).toBe(bootId);
      expect(g.msgId).toBe(rawMsgId(g.rec));
      expect(g.msgId).toMatch(/^[0-9a-f-]{36}:\d+:\d+$/);
      // ts_* are always msgpack uint64 (0xcf), whatever their value.
      for (const key of ['ts_boot_ns', 'ts_wall_ns']) {
        const k = Buffer.concat([Buffer.from([0xa0 | key.length]), Buffer.from(key)]);
        const i = Buffer.from(g.raw).indexOf(k);
        expect(i).toBeGreaterThan(0);
        expect(g.raw[i + k.length]).toBe(0xcf);
      }
      const wall = normalizeNs(g.rec.ts_wall_ns);
      expect(Number(wall / 1_000_000n)).toBeGreaterThan(Date.now() - 120_000);
      expect(Number(wall / 1_000_000n)).toBeLessThanOrEqual(Date.now());
      if (g.rec.kind === 'ssl' || g.rec.kind === 'ssl_close' || g.rec.kind === 'ssl_handshake') {
        expect(g.subject).toBe(Subjects.rawSsl(token, g.rec.partition));
        expect(g.rec.partition).toBe(partitionOf(g.rec.pid, g.rec.ssl, PARTITIONS));
      } else if (g.rec.kind === 'proc' || g.rec.kind === 'file_open' || g.rec.kind === 'net_connect' || g.rec.kind === 'tls_notice') expect(g.subject).toBe(Subjects.rawProc(token));
      else if (g.rec.kind === 'stdio') expect(g.subject).toBe(Subjects.rawStdio(token, g.rec.pid % PARTITIONS));
      else expect(g.subject).toBe(Subjects.rawLoss(token));
    }
    // Every connection of the (exited) clients is closed exactly once, after its last fragment, with the
    // byte count of each direction.
    const bytes = new Map<string, { write: number; read: number; lastSeq: number }>();
    for (const g of got) {
      if (g.rec.kind !== 'ssl') continue;
      const k = `${g.rec.pid}/${g.rec.ssl}`;
      const b = bytes.get(k) ?? { write: 0, read: 0, lastSeq: 0 };
      b[g.rec.dir] += g.rec.data.length;
      b.lastSeq = Math.max(b.lastSeq, g.rec.seq);
      bytes.set(k, b);
    }
    const closes = got.filter((g) => g.rec.kind === 'ssl_close').map((g) => g.rec as RawSslCloseRecord);
    expect(closes.map((c) => `${c.pid}/${c.ssl}`).sort()).toEqual([...bytes.keys()].sort());
    for (const c of closes) {
      const b = bytes.get(`${c.pid}/${c.ssl}`)!;
      expect([c.write_offset, c.read_offset]).toEqual([b.write, b.read]);
      expect(c.seq).toBeGreaterThan(b.lastSeq);
      expect(c.reason).toBe('process_exit');
    }
    // Low-rate records are not held back in the ring buffer until it fills or the probe stops: exec records reach
    // JetStream within the periodic consume (100 ms) plus publish. A coarse bound, so a loaded machine does not fail
    // it; the latency figures themselves are measured in bench/.
    const delays = got.filter((g) => g.rec.kind === 'proc' && (g.rec as RawProcRecord).event === 'exec')
      .map((g) => Number(g.jsTimestampNs - normalizeNs(g.rec.ts_wall_ns)) / 1e6);
    console.log(`exec record capture->JetStream delay (ms): ${delays.map((d) => d.toFixed(1)).join(', ')}`); // eslint-disable-line no-console
    expect(delays.length).toBe(Object.keys(clients).length);
    for (const d of delays) expect(d).toBeLessThan(1500);
  });

  it('reassembles curl (SSL_write/SSL_read) request and response exactly', () => {
    const c = clients.curl;
    const writes = streamsOf(ssl(), c.pid, 'write');
    const reads = streamsOf(ssl(), c.pid, 'read');
    expect(writes.size).toBe(1);
    const [conn, recs] = [...writes.entries()][0];
    expect(new Set(recs.map((r) => r.fn))).toEqual(new Set(['SSL_write']));
    const req = reassemble(recs);
    expect(req.subarray(0, 120).toString('latin1')).toMatch(new RegExp(`^POST /upload/${marker} HTTP/1\\.1\\r\\n`));
    expect(httpBody(req).equals(bodies.curl)).toBe(true);
    const resp = reassemble(reads.get(conn)!);
    expect(resp.subarray(0, 17).toString('latin1')).toBe('HTTP/1.1 200 OK\r\n');
    expect(httpBody(resp).equals(c.out)).toBe(true);
    expect(c.out.subarray(0, 200).toString()).toContain(`len=${bodies.curl.length} sha=${createHash('sha256').update(bodies.curl).digest('hex')}`);
    expect(new Set(reads.get(conn)!.map((r) => r.fn))).toEqual(new Set(['SSL_read']));
    expect(recs.every((r) => r.comm === 'curl' && r.uid === 0)).toBe(true);
  });

  it('reassembles python (SSL_write_ex/SSL_read_ex) request and response exactly', () => {
    const c = clients.python;
    const writes = streamsOf(ssl(), c.pid, 'write');
    expect(writes.size).toBe(1);
    const [conn, recs] = [...writes.entries()][0];
    expect(new Set(recs.map((r) => r.fn))).toEqual(new Set(['SSL_write_ex']));
    const req = reassemble(recs);
    expect(req.toString('latin1', 0, 120)).toMatch(new RegExp(`^POST /python/${marker} HTTP/1\\.1\\r\\n`));
    expect(httpBody(req).equals(bodies.python)).toBe(true);
    const reads = streamsOf(ssl(), c.pid, 'read').get(conn)!;
    expect(new Set(reads.map((r) => r.fn))).toEqual(new Set(['SSL_read_ex']));
    expect(httpBody(reassemble(reads)).equals(c.out)).toBe(true);
  });

  it('reassembles node (static OpenSSL) request and response exactly, splitting large calls into fragments', () => {
    const c = clients.node;
    const writes = streamsOf(ssl(), c.pid, 'write');
    expect(writes.size).toBe(1);
    const [conn, recs] = [...writes.entries()][0];
    const req = reassemble(recs);
    expect(req.toString('latin1', 0, 120)).toMatch(new RegExp(`^POST /node/${marker} HTTP/1\\.1\\r\\n`));
    expect(httpBody(req).equals(bodies.node)).toBe(true);
    expect(httpBody(reassemble(streamsOf(ssl(), c.pid, 'read').get(conn)!)).equals(c.out)).toBe(true);
    // At least one call larger than one record, delivered as ordered fragments of the same call.
    const multi = recs.filter((r) => r.frag_total > FRAG_MAX);
    expect(multi.length).toBeGreaterThan(1);
    const first = multi.find((r) => r.frag_offset === 0)!;
    const frags = multi.filter((r) => r.stream_offset - r.frag_offset === first.stream_offset).sort((a, b) => a.frag_offset - b.frag_offset);
    expect(frags.map((r) => r.frag_offset)).toEqual(Array.from({ length: Math.ceil(first.frag_total / FRAG_MAX) }, (_, i) => i * FRAG_MAX));
    expect(new Set(frags.map((r) => r.ts_boot_ns)).size).toBe(1);
  });

  it('publishes ssl_handshake records of OpenSSL SSL_do_handshake (by symbol; curl reaches it through SSL_connect)', () => {
    const hs = got.map((g) => g.rec).filter((r): r is RawSslHandshakeRecord => r.kind === 'ssl_handshake' && r.pid === clients.curl.pid);
    const curlConns = new Set(ssl().filter((r) => r.pid === clients.curl.pid).map((r) => r.ssl));
    const done = hs.filter((h) => h.result === 1 && curlConns.has(h.ssl));
    expect(done.length).toBeGreaterThan(0);
    expect(done[0]).toMatchObject({ fn: 'SSL_do_handshake', comm: 'curl' });
    expect(done[0].duration_ns).toBeGreaterThan(0);
    expect(done[0].seq).toBeLessThan(Math.min(...ssl().filter((r) => r.ssl === done[0].ssl && r.pid === done[0].pid).map((r) => r.seq)));
  });

  it('captures a 16 MiB call completely as 512 ordered fragments', () => {
    const c = clients.big;
    const writes = streamsOf(ssl(), c.pid, 'write');
    expect(writes.size).toBe(1);
    const [conn, recs] = [...writes.entries()][0];
    const req = reassemble(recs);
    expect(httpBody(req).equals(bodies.big)).toBe(true);
    expect(Math.max(...recs.map((r) => r.frag_total))).toBeGreaterThanOrEqual(16 * 1024 * 1024);
    expect(httpBody(reassemble(streamsOf(ssl(), c.pid, 'read').get(conn)!)).equals(c.out)).toBe(true);
  });

  it('publishes exec (argv, ppid), exit (code 0, duration) and snapshot records of the traced processes', () => {
    for (const [name, c] of Object.entries(clients)) {
      const snap = proc().find((r) => r.pid === c.pid && r.event === 'snapshot');
      expect(snap).toMatchObject({ ppid: process.pid, comm: 'sh', argv: ['sh', '-c', 'kill -STOP $$; exec "$@"', 'sh', ...c.argv], argv_truncated: false });
      const exec = proc().find((r) => r.pid === c.pid && r.event === 'exec');
      expect({ name, exec }).toMatchObject({ name, exec: { ppid: process.pid, uid: 0, argv: c.argv, argv_truncated: false, exit_code: 0, duration_ns: 0 } });
      expect(fs.realpathSync(exec!.filename)).toBe(fs.realpathSync(name === 'curl' ? execFileSync('sh', ['-c', 'command -v curl']).toString().trim() : c.argv[0]));
      const exit = proc().filter((r) => r.pid === c.pid && r.event === 'exit');
      expect(exit).toHaveLength(1);
      expect(exit[0]).toMatchObject({ ppid: process.pid, exit_code: 0, filename: '', argv: [] });
      expect(exit[0].duration_ns).toBeGreaterThan(1e6);
      expect(exit[0].duration_ns).toBeLessThan(120e9);
      // Order: snapshot before exec before exit, and every SSL record of the pid between exec and exit.
      const seqOf = (r: RawRecord) => r.seq;
      const sslSeqs = ssl().filter((r) => r.pid === c.pid).map(seqOf);
      expect(sslSeqs.length).toBeGreaterThan(0);
      expect(seqOf(snap!)).toBeLessThan(seqOf(exec!));
      expect(Math.min(...sslSeqs)).toBeGreaterThan(seqOf(exec!));
      expect(Math.max(...sslSeqs)).toBeLessThan(seqOf(exit[0]));
    }
    // Only traced processes: every ssl/proc record belongs to one of the three roots.
    const pids = new Set(Object.values(clients).map((c) => c.pid));
    expect([...ssl(), ...proc()].filter((r) => !pids.has(r.pid))).toEqual([]);
  });

  it('publishes loss records with zero drops, the last one matching the stopped counters', () => {
    const loss = got.map((g) => g.rec).filter((r): r is RawLossRecord => r.kind === 'loss').sort((a, b) => a.seq - b.seq);
    expect(loss.length).toBeGreaterThanOrEqual(2); // periodic (1 s) + final
    const last = loss[loss.length - 1];
    expect(last.seq).toBe(stopped.last_seq);
    expect(last).toMatchObject({ lost_records: 0, lost_bytes: 0, ringbuf_drops: 0, ringbuf_drop_bytes: 0, publish_failures: 0, publish_reordered: 0, records: stopped.records });
    // Encoded after every earlier record was acknowledged: all of them but itself.
    expect(last.published).toBe(stopped.last_seq);
    const io = got.filter((g) => g.rec.kind === 'file_open' || g.rec.kind === 'net_connect' || g.rec.kind === 'stdio' || g.rec.kind === 'ssl_handshake').length;
    expect(stopped.records).toBe(ssl().length + proc().filter((r) => r.event !== 'snapshot').length + io);
  });
});
