/**
 * Real tests of the attach hold (a traced process that runs or maps new code is stopped until it is attached),
 * attach on executable mappings (dlopen), and TLS notices (TLS traffic no probe records is reported, never a
 * silent zero): real probes, real clients built at test time (tls-client.c against Debian's libssl-dev), real Bun
 * (npm @oven/bun-linux-x64), a real HTTPS server, records read back from JetStream.
 *
 * Skips (with a console message) when not root or BPF/BTF is unavailable, unless AGENTSIGHT_REQUIRE_BPF=1.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BPF_REQUIRED, bpfUnavailableReason, probeBinary, repoRoot } from '@agentsight/testkit';
import { connect } from '@nats-io/transport-node';
import { hostToken, RawRecord, RawSslRecord, RawTlsNoticeRecord } from '@agentsight/contracts';
import { collectRun, Got, makeCert, NATS_URL, ProbeCounters, reassemble, startHttpsServer, systemLibrary, NATS_OPTS, PROBE_ENV, producerRun } from './harness';

const BUN = path.join(repoRoot(), 'node_modules/@oven/bun-linux-x64/bin/bun');
const skipReason = bpfUnavailableReason();
if (skipReason && !BPF_REQUIRED) {
  process.stderr.write(`SKIPPED probe-producer hold/notice test: ${skipReason} (set AGENTSIGHT_REQUIRE_BPF=1 to make this fail)\n`);
}
const describeCapture = skipReason && !BPF_REQUIRED ? describe.skip : describe;
const SRC = path.join(__dirname, 'tls-client.c');

/** One producer run: its stdout JSON lines and stderr as they come. */
function startProducer(args: string[]) {
  return producerRun(spawn(probeBinary(), [...args, '--nats-url', NATS_URL, '--stats-interval-ms', '60000'], { stdio: ['ignore', 'pipe', 'pipe'], env: PROBE_ENV }));
}

/**
 * Runs `sh -c 'read go; <script>'` traced by a producer (`extra` flags): once the producer is ready the shell is
 * released and the script runs (so every binary it starts is executed while traced). Returns the producer's lines,
 * stderr, the shell's output and every record of the run.
 */
async function tracedShell(script: string, env: NodeJS.ProcessEnv = {}, extra: string[] = []) {
  const host = `hold.test-${randomUUID().slice(0, 8)}`;
  const sh: ChildProcess = spawn('sh', ['-c', `read go; ${script}`], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let shOut = '';
  let shErr = '';
  sh.stdout!.on('data', (d) => (shOut += d));
  sh.stderr!.on('data', (d) => (shErr += d));
  const shDone = new Promise<number | null>((resolve) => sh.on('exit', (c) => resolve(c)));
  const nc = await connect({ ...NATS_OPTS });
  const got: Got[] = [];
  const decodeErrors: string[] = [];
  const col = await collectRun(nc, hostToken(host), (m, rec) => got.push({ subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') ?? '', rec }), decodeErrors);
  const run = startProducer(['--pid', String(sh.pid), '--host', host, ...extra]);
  try {
    await run.waitLine((l) => l.event === 'ready', 'ready line');
    sh.stdin!.end('go\n');
    const timer = setTimeout(() => sh.kill('SIGKILL'), 30000);
    const code = await shDone;
    clearTimeout(timer);
    expect({ code, shErr }).toEqual({ code: 0, shErr: '' });
  } finally {
    sh.kill('SIGKILL');
  }
  const { stopped, code } = await run.stop();
  await col.drain(stopped.last_seq);
  await nc.close();
  expect(code).toBe(0);
  expect(decodeErrors).toEqual([]);
  expect(stopped).toMatchObject({ lost_records: 0, ringbuf_drops: 0, publish_failures: 0 });
  return { pid: sh.pid!, lines: run.lines(), stderr: run.stderr(), stopped, out: shOut, recs: got.map((g) => g.rec), got };
}

/** The write stream of pid's connections whose request carries marker, and the fns that carried it. */
function requestWith(recs: RawRecord[], pid: number, marker: string): { request: string; fns: Set<string>; binaries: Set<number> } {
  const ssl = recs.filter((x): x is RawSslRecord => x.kind === 'ssl' && x.pid === pid && x.dir === 'write');
  for (const c of new Set(ssl.map((x) => x.ssl))) {
    const mine = ssl.filter((x) => x.ssl === c);
    const request = reassemble(mine).toString('latin1');
    if (request.includes(marker)) return { request, fns: new Set(mine.map((x) => x.fn)), binaries: new Set() };
  }
  throw new Error(`no captured request of pid ${pid} carries ${marker}`);
}

describeCapture('agentsight-probe: attach holds, executable mappings, TLS notices', () => {
  let tmp: string;
  let server: ChildProcess;
  let port: number;
  let cert: string;
  let staticClient: string;
  let unknownClient: string;
  let dlopenClient: string;

  beforeAll(async () => {
    if (skipReason) throw new Error(`BPF capture required (AGENTSIGHT_REQUIRE_BPF=1) but unavailable: ${skipReason}`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-hold-'));
    const c = makeCert(tmp);
    cert = c.cert;
    ({ server, port } = await startHttpsServer(c.key, c.cert));
    // A client with OpenSSL linked statically and stripped (gcc -static: no .eh_frame_hdr, the static OpenSSL locator
    // takes function extents from .eh_frame).
    staticClient = path.join(tmp, 'tls-static');
    execFileSync('cc', ['-O2', '-static', SRC, '-o', staticClient, '-lssl', '-lcrypto'], { stdio: 'pipe' });
    execFileSync('strip', [staticClient]);
    // The same with every "ssl_lib.c" file name in its strings overwritten (the static OpenSSL locator's anchor): TLS
    // no locator knows (nothing to hook).
    unknownClient = path.join(tmp, 'tls-static-unknown');
    const bin = fs.readFileSync(staticClient);
    for (let at = bin.indexOf('ssl_lib.c\0'); at >= 0; at = bin.indexOf('ssl_lib.c\0', at + 1)) bin.write('ssl_lib.x', at);
    fs.writeFileSync(unknownClient, bin, { mode: 0o755 });
    // A client that dlopen()s the libssl named on its command line.
    dlopenClient = path.join(tmp, 'tls-dlopen');
    execFileSync('cc', ['-O2', '-DUSE_DLOPEN', SRC, '-o', dlopenClient, '-ldl'], { stdio: 'pipe' });
  }, 120000);

  /** src copied to a new inode (never checked, nothing cached) in a directory of its own, executable. */
  const freshCopy = (src: string, name: string): string => {
    const copy = path.join(fs.mkdtempSync(path.join(tmp, `${name}-`)), name);
    fs.copyFileSync(src, copy);
    fs.chmodSync(copy, 0o755);
    return copy;
  };

  afterAll(() => {
    server?.kill();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('holds a fresh Bun copy executed by a traced shell until it is located and attached: its first request is captured', async () => {
    if (!fs.existsSync(BUN)) throw new Error(`no Bun binary at ${BUN} (npm ci installs @oven/bun-linux-x64)`);
    const dir = fs.mkdtempSync(path.join(tmp, 'bun-'));
    const copy = path.join(dir, 'bun-fresh');
    fs.copyFileSync(BUN, copy); // a new inode: never checked, nothing cached (no --cache-dir)
    fs.chmodSync(copy, 0o755);
    const marker = `mk-${randomUUID()}`;
    // No gate: Bun fetches as soon as it starts, well within the 40-60 ms the pattern scan takes.
    const script = path.join(dir, 'fetch.mjs');
    fs.writeFileSync(script, `const r = await fetch(process.argv[2], { method: 'POST', body: process.argv[3] }); console.log((await r.text()).slice(0, 4));`);
    const r = await tracedShell(`exec "${copy}" "${script}" https://127.0.0.1:${port}/bun ${marker}`, { NODE_EXTRA_CA_CERTS: cert });
    expect(r.out).toBe('RESP\n');
    expect(r.lines.filter((l) => l.event === 'attached' && l.path === copy)).toEqual([{ event: 'attached', path: copy, family: 'BoringSSL', how: 'anchors' }]);
    expect(r.lines.filter((l) => l.event === 'hold_miss')).toEqual([]);
    expect(r.stopped.holds.held).toBeGreaterThanOrEqual(1);
    expect(r.stopped.holds).toMatchObject({ misses: 0, bound_ms: 1000 });
    const exec = r.recs.find((x) => x.kind === 'proc' && x.event === 'exec' && x.pid === r.pid);
    expect(exec).toMatchObject({ filename: copy });
    const req = requestWith(r.recs, r.pid, marker);
    expect(req.request.startsWith('POST /bun HTTP/1.1\r\n')).toBe(true);
    expect(req.fns).toEqual(new Set(['SSL_write']));
    expect(r.stopped.tls_notices).toEqual([]);
  }, 120000);

  it('attaches a libssl copy a traced process dlopen()s (seen as an executable mapping, not by its name) and captures its first request', async () => {
    const libssl = systemLibrary('libssl.so.3');
    if (!libssl) throw new Error('needs the system libssl.so.3');
    const dir = fs.mkdtempSync(path.join(tmp, 'lib-'));
    const copy = path.join(dir, 'bundled-tls.bin'); // no .so in the name: only the PROT_EXEC mapping reveals it
    fs.copyFileSync(libssl, copy);
    const marker = `mk-${randomUUID()}`;
    const r = await tracedShell(`exec "${dlopenClient}" ${port} "${cert}" ${marker} "${copy}"`);
    expect(r.out).toBe('HTTP/1.1 200 OK\n');
    expect(r.lines.filter((l) => l.event === 'attached' && l.path === copy)).toEqual([{ event: 'attached', path: copy, family: 'OpenSSL', how: 'symbols' }]);
    expect(r.stderr).toContain(`pid ${r.pid} mapped ${copy} executable: attached`);
    expect(r.stopped.holds.misses).toBe(0);
    expect(r.stopped.holds.held).toBeGreaterThanOrEqual(2); // the new client's exec and the library's mapping
    const req = requestWith(r.recs, r.pid, marker);
    expect(req.request.startsWith('POST /hold HTTP/1.1\r\n')).toBe(true);
    expect(req.request.endsWith(`\r\n\r\n${marker}`)).toBe(true);
    const probes = (r.stopped.probes as ProbeCounters[]).filter((p) => p.binary === copy && p.records > 0).map((p) => p.fn).sort();
    expect(probes).toEqual(['SSL_do_handshake', 'SSL_read', 'SSL_write']);
    // Its handshake ran inside a probed call: no notice, and the hello was seen.
    expect(r.stopped.tls_notices).toEqual([]);
    expect(r.stopped.tls_hellos).toBeGreaterThanOrEqual(1);
  }, 120000);

  it('holds a static, stripped OpenSSL client (no .eh_frame_hdr) a traced shell executes until it is located and attached: its request is captured', async () => {
    const copy = freshCopy(staticClient, 'static-client');
    const marker = `mk-${randomUUID()}`;
    const r = await tracedShell(`exec "${copy}" ${port} "${cert}" ${marker}`);
    expect(r.out).toBe('HTTP/1.1 200 OK\n');
    expect(r.lines.filter((l) => l.event === 'attached' && l.path === copy)).toEqual([{ event: 'attached', path: copy, family: 'OpenSSL', how: 'anchors' }]);
    expect(r.stopped.holds).toMatchObject({ misses: 0 });
    expect(r.stopped.holds.held).toBeGreaterThanOrEqual(1);
    const req = requestWith(r.recs, r.pid, marker);
    expect(req.request.startsWith('POST /hold HTTP/1.1\r\n')).toBe(true);
    expect(req.request.endsWith(`\r\n\r\n${marker}`)).toBe(true);
    expect(req.fns).toEqual(new Set(['SSL_write']));
    expect(r.stopped.tls_notices).toEqual([]);
  }, 120000);

  it('reports TLS no probe can see (a static, stripped OpenSSL client without the locator\'s anchor): a notice line at once, a tls_notice record, and the final count', async () => {
    const copy = freshCopy(unknownClient, 'static-agent');
    const marker = `mk-${randomUUID()}`;
    const r = await tracedShell(`"${copy}" ${port} "${cert}" ${marker} && "${copy}" ${port} "${cert}" ${marker}`);
    expect(r.out).toBe('HTTP/1.1 200 OK\nHTTP/1.1 200 OK\n');
    const reason = 'TLS library not supported yet: no TLS stack the probe knows in the executable or the libraries it maps';
    const notices = r.lines.filter((l) => l.event === 'tls_notice');
    expect(notices).toHaveLength(2); // one per process
    for (const n of notices) {
      expect(n).toMatchObject({ comm: 'static-agent', binary: copy, library: '', cause: 'unsupported', reason, address: '127.0.0.1', port, server_name: 'hold.test.invalid' });
    }
    expect(r.stderr).toContain(`(${copy}) to 127.0.0.1:${port} hold.test.invalid not captured: ${reason}`);
    const recs = r.recs.filter((x): x is RawTlsNoticeRecord => x.kind === 'tls_notice');
    expect(recs).toHaveLength(2);
    expect(recs[0]).toMatchObject({ binary: copy, library: '', cause: 'unsupported', reason, address: '127.0.0.1', port, server_name: 'hold.test.invalid', comm: 'static-agent' });
    expect(r.got.filter((g) => g.rec.kind === 'tls_notice').map((g) => g.subject)).toEqual([`agentsight.raw.proc.${hostToken(recs[0].host)}`, `agentsight.raw.proc.${hostToken(recs[0].host)}`]);
    // Nothing of it reached the TLS subjects, and the final line counts both connections under one key.
    expect(r.recs.filter((x) => x.kind === 'ssl' && notices.some((n) => n.pid === x.pid))).toEqual([]);
    expect(r.stopped.tls_notices).toEqual([{ binary: copy, library: '', reason, connections: 2, processes: 2 }]);
  }, 120000);
});
