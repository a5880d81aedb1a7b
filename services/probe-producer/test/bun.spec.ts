/**
 * Real capture tests of Bun (BoringSSL statically linked and stripped: located by error-site anchors and call graph), attach on exec and
 * the per-probe counters of agentsight-probe. Real Bun (npm @oven/bun-linux-x64), real probes, the testkit replay
 * HTTPS server (real recorded SSE response, certificate trusted through NODE_EXTRA_CA_CERTS), real JetStream.
 *
 * Skips (with a console message) when not root, BPF/BTF is unavailable or the Bun binary is missing, unless
 * AGENTSIGHT_REQUIRE_BPF=1, then fails.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BPF_REQUIRED, bpfUnavailableReason, probeBinary, repoRoot, ReplayServer, startReplayServer } from '@agentsight/testkit';
import { connect } from '@nats-io/transport-node';
import { hostToken, RawLossRecord, RawSslHandshakeRecord, RawSslRecord } from '@agentsight/contracts';
import { AttachFailure, CaptureResult, captureClient, collectRun, expectLosslessRun, Got, NATS_URL, PARTITIONS, partitionOf, ProbeCounters, reassemble, systemLibrary, NATS_OPTS, PROBE_ENV, producerRun } from './harness';

const BUN = path.join(repoRoot(), 'node_modules/@oven/bun-linux-x64/bin/bun');
const skipReason = bpfUnavailableReason() ?? (!fs.existsSync(BUN) ? `no Bun binary at ${BUN}` : null);
if (skipReason && !BPF_REQUIRED) {
  process.stderr.write(`SKIPPED probe-producer Bun capture test: ${skipReason} (set AGENTSIGHT_REQUIRE_BPF=1 to make this fail)\n`);
}
const describeCapture = skipReason && !BPF_REQUIRED ? describe.skip : describe;

/** Bun client: optionally waits for stdin EOF (`gate`), POSTs a JSON body with the marker, reads the streamed
 * response body chunk by chunk and writes it to stdout. */
const CLIENT = `
const [url, marker, gate] = process.argv.slice(2);
if (gate === 'gate') await Bun.stdin.text();
const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hello from bun ' + marker }] });
const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-agentsight-marker': marker }, body });
if (res.status !== 200) throw new Error('status ' + res.status);
const chunks = [];
for await (const c of res.body) chunks.push(c);
await Bun.write(Bun.stdout, Buffer.concat(chunks));
`;

/** Splits a reassembled HTTP/1.1 message into its head and its (de-chunked) body. */
function httpMessage(stream: Buffer): { head: string; body: Buffer } {
  const i = stream.indexOf('\r\n\r\n');
  expect(i).toBeGreaterThan(0);
  const head = stream.subarray(0, i).toString('latin1');
  let rest = stream.subarray(i + 4);
  if (!/\r\ntransfer-encoding:\s*chunked/i.test(head)) return { head, body: rest };
  const parts: Buffer[] = [];
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.subarray(0, eol).toString('latin1'), 16);
    expect(Number.isNaN(size)).toBe(false);
    if (size === 0) break;
    parts.push(rest.subarray(eol + 2, eol + 2 + size));
    rest = rest.subarray(eol + 2 + size + 2);
  }
  return { head, body: Buffer.concat(parts) };
}

/** The records of pid's one connection that carried `marker`: its write and read streams, its handshake records. */
function connectionWithMarker(got: Got[], pid: number, marker: string) {
  const ssl = got.map((g) => g.rec).filter((x): x is RawSslRecord => x.kind === 'ssl' && x.pid === pid);
  const conns = [...new Set(ssl.map((x) => x.ssl))].filter((c) =>
    reassemble(ssl.filter((x) => x.ssl === c && x.dir === 'write')).includes(marker));
  expect(conns).toHaveLength(1);
  const mine = ssl.filter((x) => x.ssl === conns[0]);
  const handshakes = got.map((g) => g.rec).filter((x): x is RawSslHandshakeRecord => x.kind === 'ssl_handshake' && x.pid === pid);
  return {
    ssl: conns[0], records: mine, handshakes,
    request: reassemble(mine.filter((x) => x.dir === 'write')),
    response: reassemble(mine.filter((x) => x.dir === 'read')),
  };
}

/** The counters of binary's probes must account exactly for the records JetStream holds for them. */
function expectCountersMatch(probes: ProbeCounters[], binary: string, ssl: RawSslRecord[], handshakes: RawSslHandshakeRecord[]): void {
  const mine = probes.filter((p) => p.binary === binary);
  expect(mine.map((p) => p.fn).sort()).toEqual(['SSL_do_handshake', 'SSL_read', 'SSL_write']);
  for (const p of mine) {
    if (p.fn === 'SSL_do_handshake') {
      expect(p).toEqual({ binary, fn: p.fn, records: handshakes.length, fragments: handshakes.length, bytes: 0, lost_records: 0, ringbuf_drops: 0 });
      continue;
    }
    const recs = ssl.filter((x) => x.fn === p.fn);
    expect(recs.length).toBeGreaterThan(0);
    expect(p).toEqual({ binary, fn: p.fn, records: recs.filter((x) => x.frag_offset === 0).length, fragments: recs.length,
      bytes: recs.reduce((n, x) => n + x.data.length, 0), lost_records: 0, ringbuf_drops: 0 });
  }
}

/** A producer process with its stdout lines. */
function startProducer(args: string[]) {
  return producerRun(spawn(probeBinary(), ['--nats-url', NATS_URL, '--partitions', String(PARTITIONS), '--stats-interval-ms', '500', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: PROBE_ENV }));
}

/** Collects every record JetStream holds (and receives) for host. */
async function collect(host: string) {
  const nc = await connect({ ...NATS_OPTS });
  const got: Got[] = [];
  const decodeErrors: string[] = [];
  const run = await collectRun(nc, hostToken(host), (m, rec) => got.push({ subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') ?? '', rec }), decodeErrors);
  return {
    got,
    /** Waits until seq 0..lastSeq arrived (20 s at most), then stops consuming; every message must have decoded. */
    close: async (lastSeq: number) => {
      await run.drain(lastSeq);
      await nc.close();
      expect(decodeErrors).toEqual([]);
    },
  };
}

describeCapture('agentsight-probe: Bun (stripped BoringSSL by anchors), attach on exec, per-probe counters', () => {
  let tmp: string;
  let server: ReplayServer;
  let script: string;
  const bunReal = fs.realpathSync(BUN);

  beforeAll(async () => {
    if (skipReason) throw new Error(`Bun capture required (AGENTSIGHT_REQUIRE_BPF=1) but unavailable: ${skipReason}`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-bun-'));
    script = path.join(tmp, 'client.mjs');
    fs.writeFileSync(script, CLIENT);
    server = await startReplayServer();
  });

  afterAll(async () => {
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('Bun given with --binary-path: located by anchors, streaming fetch captured', () => {
    const host = `bun.test-${randomUUID().slice(0, 8)}`;
    const marker = `mk-${randomUUID()}`;
    let r: CaptureResult;

    beforeAll(async () => {
      r = await captureClient(host, [BUN, script, `${server.url}/v1/chat/completions`, marker], path.join(tmp, 'client1.out'),
        undefined, ['--binary-path', BUN], { NODE_EXTRA_CA_CERTS: server.caPath });
      if (r.producerStderr.trim()) console.log(`producer stderr:\n${r.producerStderr}`); // eslint-disable-line no-console
    }, 120000);

    it('attaches SSL_read, SSL_write and SSL_do_handshake of the Bun binary by anchors and loses nothing', () => {
      expect(r.ready.attached).toContain(bunReal);
      expect(r.lines.filter((l) => l.event === 'attached' && l.path === bunReal)).toEqual([
        { event: 'attached', path: bunReal, family: 'BoringSSL', how: 'anchors' }]);
      expect(r.producerStderr).toMatch(new RegExp(`${bunReal}: Bun v1\\.4\\.5 \\([0-9a-f]+\\), BoringSSL located by ssl_lib\\.cc error anchors \\+ call graph \\(SSL_read \\+0x237e500, SSL_write \\+0x23ffc30, SSL_do_handshake \\+0x23640c0\\)`));
      expectLosslessRun(r);
      expect(server.requests.filter((q) => q.headers['x-agentsight-marker'] === marker)).toHaveLength(1);
    });

    it('reassembles the exact request (method, path, marker body) and the streamed response from SSL_write / SSL_read', () => {
      const c = connectionWithMarker(r.got, r.client.pid, marker);
      expect(new Set(c.records.filter((x) => x.dir === 'write').map((x) => x.fn))).toEqual(new Set(['SSL_write']));
      expect(new Set(c.records.filter((x) => x.dir === 'read').map((x) => x.fn))).toEqual(new Set(['SSL_read']));
      const sent = server.requests.find((q) => q.headers['x-agentsight-marker'] === marker)!;
      const req = httpMessage(c.request);
      expect(req.head.startsWith('POST /v1/chat/completions HTTP/1.1\r\n')).toBe(true);
      expect(req.head.toLowerCase()).toContain(`\r\nx-agentsight-marker: ${marker}`);
      expect(req.body.equals(sent.body)).toBe(true);
      expect(req.body.toString()).toContain(`hello from bun ${marker}`);
      const res = httpMessage(c.response);
      expect(res.head.startsWith('HTTP/1.1 200')).toBe(true);
      expect(r.client.out.length).toBeGreaterThan(0);
      expect(res.body.equals(r.client.out)).toBe(true); // what Bun's stream reader got, byte for byte
      expect(r.client.out.toString()).toContain('data: ');
      for (const x of c.records) expect(x.partition).toBe(partitionOf(x.pid, x.ssl, PARTITIONS));
    });

    it('publishes ssl_handshake records (BoringSSL SSL_do_handshake by anchors) on the connection\'s partition', () => {
      const c = connectionWithMarker(r.got, r.client.pid, marker);
      const hs = c.handshakes.filter((h) => h.ssl === c.ssl);
      expect(hs.length).toBeGreaterThan(0);
      const done = hs.filter((h) => h.result === 1);
      expect(done.length).toBeGreaterThan(0);
      expect(done[0]).toMatchObject({ fn: 'SSL_do_handshake', pid: r.client.pid, uid: process.getuid!(), partition: partitionOf(r.client.pid, c.ssl, PARTITIONS) });
      expect(done[0].duration_ns).toBeGreaterThan(0);
      expect(done[0].seq).toBeLessThan(Math.min(...c.records.map((x) => x.seq))); // handshake done before any plaintext
      const subject = r.got.find((g) => g.rec === done[0])!.subject;
      expect(subject).toBe(`agentsight.raw.ssl.${hostToken(host)}.${done[0].partition}`);
    });

    it('counts records, fragments and bytes per probe consistently with what JetStream received (stopped line and loss record)', () => {
      const ssl = r.got.map((g) => g.rec).filter((x): x is RawSslRecord => x.kind === 'ssl');
      const hs = r.got.map((g) => g.rec).filter((x): x is RawSslHandshakeRecord => x.kind === 'ssl_handshake');
      expect(ssl.every((x) => x.pid === r.client.pid)).toBe(true);
      expectCountersMatch(r.stopped.probes, bunReal, ssl, hs);
      // Nothing else was traced: every other probe (libssl, node, ...) counted nothing.
      for (const p of r.stopped.probes.filter((q) => q.binary !== bunReal)) expect(p).toMatchObject({ records: 0, fragments: 0, bytes: 0, lost_records: 0, ringbuf_drops: 0 });
      const losses = r.got.map((g) => g.rec).filter((x): x is RawLossRecord => x.kind === 'loss').sort((a, b) => a.seq - b.seq);
      expect(losses[losses.length - 1].probes).toEqual(r.stopped.probes);
      expect(losses[losses.length - 1].attach_failures).toEqual(r.stopped.attach_failures);
    });
  });

  it('does not attach anything to a Bun copy whose SSL_do_handshake anchor is corrupted, and says so clearly', async () => {
    // A producer run on the real binary prints where it found SSL_do_handshake; change the reason code of its one
    // ssl_lib.cc error site (SSL_R_CONNECTION_TYPE_NOT_SET, `mov edx, 0x86`) in a copy. Both runs trace only an idle `sleep`.
    const idle = spawn('sleep', ['120'], { stdio: 'ignore' });
    const probe = startProducer(['--pid', String(idle.pid), '--host', `bun.bad-${randomUUID().slice(0, 8)}`, '--binary-path', BUN]);
    await probe.waitLine((l) => l.event === 'ready', 'ready line');
    const m = /SSL_do_handshake \+0x([0-9a-f]+)/.exec(probe.stderr());
    await probe.stop();
    expect(m).not.toBeNull();
    const bad = path.join(tmp, 'bun-corrupted');
    fs.copyFileSync(BUN, bad);
    const fd = fs.openSync(bad, 'r+');
    const fnBytes = Buffer.alloc(0x200);
    fs.readSync(fd, fnBytes, 0, fnBytes.length, parseInt(m![1], 16));
    const site = fnBytes.indexOf(Buffer.from([0xba, 0x86, 0x00, 0x00, 0x00]));
    expect(site).toBeGreaterThan(0);
    fs.writeSync(fd, Buffer.from([0x87]), 0, 1, parseInt(m![1], 16) + site + 1);
    fs.closeSync(fd);

    const run = startProducer(['--pid', String(idle.pid), '--host', `bun.bad-${randomUUID().slice(0, 8)}`, '--binary-path', bad]);
    const ready = await run.waitLine((l) => l.event === 'ready', 'ready line');
    const { stopped, code } = await run.stop();
    idle.kill();
    expect(code).toBe(0);
    expect(ready.attached).not.toContain(bad);
    expect(run.lines().filter((l) => l.event === 'attached' && l.path === bad)).toEqual([]);
    expect(run.stderr()).toContain(`${bad}: stripped BoringSSL (Bun v1.4.5 (`);
    expect(run.stderr()).toContain('not recognised: SSL_do_handshake: no function with only SSL_R_CONNECTION_TYPE_NOT_SET; nothing attached to this binary');
    // No partial attach: none of the three functions is probed, all three are reported.
    expect((stopped.probes as ProbeCounters[]).filter((p) => p.binary === bad)).toEqual([]);
    const failures = (stopped.attach_failures as AttachFailure[]).filter((f) => f.binary === bad);
    expect(failures.map((f) => f.fn)).toEqual(['SSL_read', 'SSL_write', 'SSL_do_handshake']);
    expect(failures[0].error).toMatch(/^Bun v1\.4\.5 \([0-9a-f]+\): not located \(SSL_do_handshake failed first\); nothing attached$/);
    expect(failures[2].error).toMatch(/^Bun v1\.4\.5 \([0-9a-f]+\): SSL_do_handshake: no function with only SSL_R_CONNECTION_TYPE_NOT_SET; nothing attached$/);
  }, 120000);

  it('attaches a new Bun binary executed by a traced shell without restarting, and captures its HTTPS traffic', async () => {
    const host = `bun.exec-${randomUUID().slice(0, 8)}`;
    const marker = `mk-${randomUUID()}`;
    const dir = fs.mkdtempSync(path.join(tmp, 'bin-'));
    fs.copyFileSync(BUN, path.join(dir, 'bun-exec-copy')); // a new inode the producer has never seen
    const copy = fs.realpathSync(path.join(dir, 'bun-exec-copy'));
    fs.chmodSync(copy, 0o755);
    const outFile = path.join(tmp, 'client2.out');
    const out = fs.openSync(outFile, 'w');
    // The shell waits for a line, then execs the copy; the Bun script waits for stdin EOF before fetching (so the
    // test does not depend on how fast the attach is).
    const sh: ChildProcess = spawn('sh', ['-c', 'read go; exec "$0" "$@"', copy, script, `${server.url}/v1/chat/completions`, marker, 'gate'],
      { stdio: ['pipe', out, 'pipe'], env: { ...process.env, NODE_EXTRA_CA_CERTS: server.caPath } });
    fs.closeSync(out);
    let shErr = '';
    sh.stderr!.on('data', (d) => (shErr += d));
    const shDone = new Promise<number | null>((resolve) => sh.on('exit', (c) => resolve(c)));
    const col = await collect(host);
    const run = startProducer(['--pid', String(sh.pid), '--host', host]);
    try {
      const ready = await run.waitLine((l) => l.event === 'ready', 'ready line');
      expect(ready.attached).not.toContain(copy);
      sh.stdin!.write('go\n');
      const attached = await run.waitLine((l) => l.event === 'attached' && l.path === copy, `attached line for ${copy}`);
      expect(attached).toEqual({ event: 'attached', path: copy, family: 'BoringSSL', how: 'anchors' });
      sh.stdin!.end();
      const timer = setTimeout(() => sh.kill('SIGKILL'), 30000);
      expect(await shDone).toBe(0);
      clearTimeout(timer);
      expect(shErr).toBe('');
      // A periodic stats line that already counts the copy's calls.
      await run.waitLine((l) => l.event === 'stats' && l.probes.some((p: ProbeCounters) => p.binary === copy && p.fn === 'SSL_read' && p.fragments > 0),
        'stats line counting the copy');
    } finally {
      sh.kill('SIGKILL');
    }
    const { stopped, code } = await run.stop();
    await col.close(stopped.last_seq);
    expect(code).toBe(0);
    expect(stopped).toMatchObject({ lost_records: 0, ringbuf_drops: 0, publish_failures: 0 });
    expect(new Set(col.got.map((g) => g.rec.seq)).size).toBe(stopped.last_seq + 1);

    const execRec = col.got.map((g) => g.rec).find((x) => x.kind === 'proc' && x.event === 'exec' && x.pid === sh.pid);
    expect(execRec).toMatchObject({ filename: copy });
    const c = connectionWithMarker(col.got, sh.pid!, marker);
    const sent = server.requests.find((q) => q.headers['x-agentsight-marker'] === marker)!;
    const req = httpMessage(c.request);
    expect(req.head.startsWith('POST /v1/chat/completions HTTP/1.1\r\n')).toBe(true);
    expect(req.body.equals(sent.body)).toBe(true);
    expect(httpMessage(c.response).body.equals(fs.readFileSync(outFile))).toBe(true);
    const ssl = col.got.map((g) => g.rec).filter((x): x is RawSslRecord => x.kind === 'ssl');
    const hs = col.got.map((g) => g.rec).filter((x): x is RawSslHandshakeRecord => x.kind === 'ssl_handshake');
    expectCountersMatch(stopped.probes as ProbeCounters[], copy, ssl, hs);
  }, 120000);

  it('attaches a private libssl copy a traced Python loads at run time (file_open of a .so) and captures its HTTPS traffic', async () => {
    const libssl = systemLibrary('libssl.so.3');
    if (!libssl || !fs.existsSync('/usr/bin/python3')) throw new Error('needs the system libssl.so.3 and /usr/bin/python3');
    const host = `pylib.test-${randomUUID().slice(0, 8)}`;
    const marker = `mk-${randomUUID()}`;
    const lib = fs.mkdtempSync(path.join(tmp, 'lib-'));
    fs.copyFileSync(libssl, path.join(lib, 'libssl.so.3')); // like a venv's bundled libssl: a new inode
    const copy = fs.realpathSync(path.join(lib, 'libssl.so.3'));
    const outFile = path.join(tmp, 'py.out');
    const out = fs.openSync(outFile, 'w');
    // `import ssl` loads _ssl, which loads libssl.so.3 from LD_LIBRARY_PATH: the copy. Then stdin EOF, then the POST.
    const py = `
import ssl, sys, urllib.request
sys.stdin.read()
ctx = ssl.create_default_context(cafile=sys.argv[2])
req = urllib.request.Request(sys.argv[1], data=('{"messages":[{"role":"user","content":"hello from python %s"}]}' % sys.argv[3]).encode(),
  headers={'content-type': 'application/json', 'x-agentsight-marker': sys.argv[3], 'connection': 'close'})
sys.stdout.buffer.write(urllib.request.urlopen(req, context=ctx).read())`;
    const sh: ChildProcess = spawn('sh', ['-c', 'read go; exec "$0" "$@"', '/usr/bin/python3', '-c', py, `${server.url}/v1/chat/completions`, server.caPath, marker],
      { stdio: ['pipe', out, 'pipe'], env: { ...process.env, LD_LIBRARY_PATH: lib } });
    fs.closeSync(out);
    let shErr = '';
    sh.stderr!.on('data', (d) => (shErr += d));
    const shDone = new Promise<number | null>((resolve) => sh.on('exit', (c) => resolve(c)));
    const col = await collect(host);
    const run = startProducer(['--pid', String(sh.pid), '--host', host]);
    try {
      await run.waitLine((l) => l.event === 'ready', 'ready line');
      sh.stdin!.write('go\n');
      const attached = await run.waitLine((l) => l.event === 'attached' && l.path === copy, `attached line for ${copy}`);
      expect(attached).toEqual({ event: 'attached', path: copy, family: 'OpenSSL', how: 'symbols' });
      sh.stdin!.end();
      const timer = setTimeout(() => sh.kill('SIGKILL'), 30000);
      expect({ code: await shDone, stderr: shErr }).toEqual({ code: 0, stderr: '' });
      clearTimeout(timer);
    } finally {
      sh.kill('SIGKILL');
    }
    const { stopped, code } = await run.stop();
    await col.close(stopped.last_seq);
    expect(code).toBe(0);
    const open = col.got.map((g) => g.rec).find((x) => x.kind === 'file_open' && x.path === copy);
    expect(open).toBeDefined();
    const c = connectionWithMarker(col.got, sh.pid!, marker);
    expect(new Set(c.records.map((x) => x.fn))).toEqual(new Set(['SSL_write_ex', 'SSL_read_ex']));
    const sent = server.requests.find((q) => q.headers['x-agentsight-marker'] === marker)!;
    expect(httpMessage(c.request).body.equals(sent.body)).toBe(true);
    expect(httpMessage(c.response).body.equals(fs.readFileSync(outFile))).toBe(true);
    const writes = (stopped.probes as ProbeCounters[]).find((p) => p.binary === copy && p.fn === 'SSL_write_ex')!;
    const recs = c.records.filter((x) => x.fn === 'SSL_write_ex');
    expect(writes).toEqual({ binary: copy, fn: 'SSL_write_ex', records: recs.filter((x) => x.frag_offset === 0).length, fragments: recs.length,
      bytes: recs.reduce((n, x) => n + x.data.length, 0), lost_records: 0, ringbuf_drops: 0 });
  }, 120000);
});
