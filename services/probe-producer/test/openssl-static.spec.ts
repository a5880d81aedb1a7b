/**
 * The static OpenSSL 3 locator (src/locate_openssl.c) on real binaries, with `--locate` (no BPF needed):
 * - Copilot CLI's `runtime.node` (1.0.102, OpenSSL 3.5.8 linked into a stripped Rust addon): the copilot binary from
 *   npm (`@github/copilot-linux-x64`, fetched once by `npm pack`) unpacks it under its cache dir at its first run
 *   (`copilot --version` with a private HOME under $AGENTSIGHT_TEST_CACHE/copilot, kept for later runs). FOUND with
 *   the five functions at the offsets read by hand from its disassembly (the error sites of `SSL_read`/`SSL_write`,
 *   the `_ex` wrappers calling `ssl_read_internal`/`ssl_write_internal`), its unrecognised rustls named in `why`; a
 *   cached answer is the same.
 * - Debian's `libssl.so.3` (OpenSSL 3.0, gcc), whose `.dynsym` exports the same functions: the independent ground
 *   truth, every located offset equal to the exported symbol's.
 * - A copy of `runtime.node` whose `SSL_read` site raises another reason code: UNRECOGNISED with the reason (the
 *   second check) after its rustls's, nothing to attach.
 * - A `gcc -static` client (Debian's libssl.a, OpenSSL 3.0), stripped: such executables have no `.eh_frame_hdr`, so
 *   function extents come from `.eh_frame`'s FDEs; FOUND at the offsets of its unstripped twin's `.symtab`. The same
 *   with `.eh_frame` removed too: UNRECOGNISED, naming the missing unwind table (never a silent absent).
 * - The copilot binary itself (a Node single executable, OpenSSL 3.5.7) and this machine's node (OpenSSL 3.0), both
 *   built with ssl_write_internal / ssl_read_internal inlined into SSL_write, SSL_write_ex (and SSL_write_ex2) beside
 *   a standalone copy: FOUND, every copy at the offset of the symbol each of them also exports (independent ground
 *   truth); a copy whose 5-argument ssl_write_internal lost its reason-412 site is refused by the register check.
 * - Capture (root, eBPF, NATS): a copy of node whose .dynsym no longer names its SSL functions is probed through the
 *   located copies; an HTTPS exchange is captured exactly once (SSL_write / SSL_read copies), nothing lost.
 * Capture through the located functions, end to end with the real agent: test/e2e/copilot.e2e.spec.ts.
 */
import { ChildProcess, execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BPF_REQUIRED, bpfUnavailableReason, probeBinary } from '@agentsight/testkit';
import { captureClient, CaptureResult, expectLosslessRun, expectSingleConnection, httpsFixture } from './harness';
import { fetchNpmFile } from './npm-binaries';

jest.setTimeout(600_000);

/** Where the copilot binary and the HOME it unpacked its package into are kept. */
const COPILOT_CACHE = path.join(process.env.AGENTSIGHT_TEST_CACHE || '/var/cache/agentsight-test', 'copilot');
const COPILOT = { name: '@github/copilot-linux-x64', version: '1.0.102', file: 'copilot' };
/** File offsets in runtime.node 1.0.102, read by hand from its disassembly (objdump; see the README). */
const RUNTIME_1_0_102 = {
  SSL_write: 0x7fbd9d0, SSL_read: 0x7fbd350, SSL_write_ex: 0x7fbda30, SSL_read_ex: 0x7fbd3b0, SSL_do_handshake: 0x7fbccf0,
};
const FNS = ['SSL_write', 'SSL_read', 'SSL_write_ex', 'SSL_read_ex', 'SSL_do_handshake'];
/** What is probed in an OpenSSL 3.2+ whose ssl_write_internal / ssl_read_internal are inlined (each copy). */
const INLINED_3_5 = ['SSL_write', 'SSL_write_ex', 'SSL_write_ex2', 'ssl_write_internal', 'SSL_read', 'SSL_read_ex', 'ssl_read_internal', 'SSL_do_handshake'];
/** The same in node's OpenSSL 3.0 (no SSL_write_ex2; SSL_do_handshake, inlined into SSL_connect and SSL_accept too,
 * is not probed). */
const INLINED_3_0 = ['SSL_write', 'SSL_write_ex', 'ssl_write_internal', 'SSL_read', 'SSL_read_ex', 'ssl_read_internal'];
const LIBSSL = '/usr/lib/x86_64-linux-gnu/libssl.so.3';

interface Located { status: string; cached?: boolean; family?: string; how?: string; method?: string; build?: string; why?: string; fns?: Array<{ fn: string; offset: string }> }

function locate(bin: string, ...extra: string[]): Located {
  return JSON.parse(execFileSync(probeBinary(), [...extra, '--locate', bin], { encoding: 'utf8' }).trim());
}

const skipReason = bpfUnavailableReason();
if (skipReason && !BPF_REQUIRED) {
  process.stderr.write(`SKIPPED static OpenSSL capture test: ${skipReason} (set AGENTSIGHT_REQUIRE_BPF=1 to make this fail)\n`);
}
const describeCapture = skipReason && !BPF_REQUIRED ? describe.skip : describe;

const offsets = (r: Located) => Object.fromEntries(r.fns!.map((f) => [f.fn, Number(f.offset)]));

/** runtime.node as the copilot binary unpacks it (run once with a private HOME; that HOME is the cache). */
async function runtimeNode(): Promise<string> {
  const bin = await fetchNpmFile(COPILOT, COPILOT_CACHE);
  const home = path.join(COPILOT_CACHE, `home-${COPILOT.version}`);
  const file = path.join(home, '.cache/copilot/pkg/linux-x64', COPILOT.version, 'prebuilds/linux-x64/runtime.node');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(home, { recursive: true });
    execFileSync(bin, ['--version'], {
      env: { PATH: process.env.PATH, HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), XDG_CONFIG_HOME: path.join(home, '.config'), COPILOT_OFFLINE: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000,
    });
  }
  if (!fs.existsSync(file)) throw new Error(`copilot ${COPILOT.version} --version did not unpack ${file}`);
  return file;
}

/** File offset of each exported function of an ELF file (.dynsym value mapped through its PT_LOAD segments). */
function exportedOffsets(file: string, names: string[]): Record<string, number> {
  const loads = execFileSync('readelf', ['-lW', file], { encoding: 'utf8' }).split('\n').filter((l) => /^\s*LOAD\s/.test(l))
    .map((l) => l.trim().split(/\s+/)).map((f) => ({ off: Number(f[1]), vaddr: Number(f[2]), size: Number(f[4]) }));
  const syms = execFileSync('nm', ['-D', '--defined-only', file], { encoding: 'utf8', maxBuffer: 256 << 20 }).split('\n');
  return Object.fromEntries(names.map((n) => {
    const line = syms.find((l) => l.split(/\s+/)[2]?.replace(/@.*/, '') === n);
    if (!line) throw new Error(`${file} does not export ${n}`);
    const v = parseInt(line.split(/\s+/)[0], 16);
    const seg = loads.find((s) => v >= s.vaddr && v < s.vaddr + s.size)!;
    return [n, v - seg.vaddr + seg.off];
  }));
}

describe('static OpenSSL 3 located by ssl_lib.c error sites and call graph', () => {
  let runtime: string;
  let tmp: string;

  beforeAll(async () => {
    runtime = await runtimeNode();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-openssl-static-'));
  });
  afterAll(() => { if (tmp) fs.rmSync(tmp, { recursive: true, force: true }); });

  it(`Copilot ${COPILOT.version}'s runtime.node: FOUND, OpenSSL 3.5.8, the five functions at their hand-read offsets; cached the same`, () => {
    const cache = path.join(tmp, 'cache');
    const r = locate(runtime, '--cache-dir', cache);
    // Its rustls (not what its HTTPS uses) is not recognised: named beside the found stack, never silently unprobed.
    expect(r).toMatchObject({
      status: 'found', cached: false, family: 'OpenSSL', how: 'anchors', build: 'OpenSSL 3.5.8',
      why: 'rustls 0.23.46 not recognised: CommonState::buffer_plaintext: no function with its entry shape reaching the record layer',
    });
    expect(r.fns!.map((f) => f.fn)).toEqual(FNS);
    expect(offsets(r)).toEqual(RUNTIME_1_0_102);
    const again = locate(runtime, '--cache-dir', cache);
    expect({ ...again, cached: false }).toEqual(r);
    expect(again.cached).toBe(true);
  });

  it("Debian's libssl.so.3: every located offset is the exported symbol's", () => {
    const r = locate(LIBSSL);
    expect(r).toMatchObject({ status: 'found', family: 'OpenSSL', why: '' });
    expect(offsets(r)).toEqual(exportedOffsets(LIBSSL, FNS));
  });

  it('a runtime.node whose SSL_read error site raises another reason: UNRECOGNISED with the reason, nothing located', () => {
    const copy = path.join(tmp, 'runtime.node');
    fs.copyFileSync(runtime, copy);
    const buf = fs.readFileSync(copy);
    // SSL_read's only site: `mov esi, 0x10f` (SSL_R_BAD_LENGTH) for ERR_set_error, within its first 0x80 bytes.
    const at = buf.indexOf(Buffer.from([0xbe, 0x0f, 0x01, 0x00, 0x00]), RUNTIME_1_0_102.SSL_read);
    expect(at - RUNTIME_1_0_102.SSL_read).toBeLessThan(0x80);
    buf.writeUInt32LE(0x110, at + 1);
    fs.writeFileSync(copy, buf);
    const r = locate(copy);
    // Its rustls (not recognised either, and not what its HTTPS uses) is named first, then the OpenSSL's reason.
    expect(r).toMatchObject({ status: 'unrecognised', family: 'rustls', build: 'rustls 0.23.46, OpenSSL 3.5.8' });
    expect(r.why).toMatch(/; OpenSSL: SSL_read: its error sites do not raise reason 271 of library 20$/);
    expect(r.fns!.map((f) => [f.fn, Number(f.offset)])).toEqual([
      'rustls::CommonState::buffer_plaintext', 'rustls::CommonState::take_received_plaintext', ...FNS].map((f) => [f, 0]));
  });

  it('a gcc -static stripped client (no .eh_frame_hdr): FOUND through .eh_frame at its unstripped twin\'s symbols; without unwind tables UNRECOGNISED with the reason', () => {
    const src = path.join(__dirname, 'tls-client.c');
    const sym = path.join(tmp, 'tls-static-sym');
    execFileSync('cc', ['-O2', '-static', src, '-o', sym, '-lssl', '-lcrypto'], { stdio: 'pipe' });
    const stripped = path.join(tmp, 'tls-static');
    execFileSync('strip', ['-o', stripped, sym]);
    expect(execFileSync('readelf', ['-SW', stripped], { encoding: 'utf8' })).not.toContain('.eh_frame_hdr');
    const r = locate(stripped);
    expect(r).toMatchObject({ status: 'found', family: 'OpenSSL', how: 'anchors', why: '' });
    // Ground truth: .symtab of the unstripped build (a non-PIE executable: file offset = vaddr - segment vaddr + offset).
    const loads = execFileSync('readelf', ['-lW', sym], { encoding: 'utf8' }).split('\n').filter((l) => /^\s*LOAD\s/.test(l))
      .map((l) => l.trim().split(/\s+/)).map((f) => ({ off: Number(f[1]), vaddr: Number(f[2]), size: Number(f[4]) }));
    const syms = execFileSync('nm', ['--defined-only', sym], { encoding: 'utf8' }).split('\n');
    const truth = Object.fromEntries(FNS.map((n) => {
      const v = parseInt(syms.find((l) => l.split(/\s+/)[2] === n)!.split(/\s+/)[0], 16);
      const seg = loads.find((x) => v >= x.vaddr && v < x.vaddr + x.size)!;
      return [n, v - seg.vaddr + seg.off];
    }));
    expect(offsets(r)).toEqual(truth);
    const bare = path.join(tmp, 'tls-static-bare');
    execFileSync('objcopy', ['--remove-section=.eh_frame', stripped, bare]);
    const u = locate(bare);
    expect(u).toMatchObject({ status: 'unrecognised', family: 'OpenSSL', why: 'no unwind table (.eh_frame_hdr or .eh_frame): function extents unknown' });
    expect(u.fns!.map((f) => f.fn)).toEqual(FNS);
  });

  it(`the copilot binary itself (a Node single-executable, program headers at a 4-aligned offset; OpenSSL 3.5.7 with ssl_write_internal and ssl_read_internal inlined): FOUND, every copy at the offset its own .dynsym export gives`, async () => {
    const bin = await fetchNpmFile(COPILOT, COPILOT_CACHE);
    const head = Buffer.alloc(64);
    const fd = fs.openSync(bin, 'r');
    fs.readSync(fd, head, 0, 64, 0);
    fs.closeSync(fd);
    const phoff = head.readBigUInt64LE(0x20); // e_phoff
    expect(Number(phoff % 8n)).toBe(4);
    const r = locate(bin);
    expect(r).toMatchObject({ status: 'found', family: 'OpenSSL', how: 'anchors', build: 'OpenSSL 3.5.7', why: '' });
    // Four write copies (SSL_write's, SSL_write_ex's, SSL_write_ex2's and the standalone one SSL_write_early_data and
    // the SSL BIO call, the last two with `written` in r8), three read copies, SSL_do_handshake.
    expect(r.fns!.map((f) => f.fn).sort()).toEqual([...INLINED_3_5].sort());
    expect(offsets(r)).toEqual(exportedOffsets(bin, INLINED_3_5));
  });

  it(`node ${process.versions.node}'s own OpenSSL ${process.versions.openssl} (-O3, internal functions inlined, no flags argument before 3.2; SSL_do_handshake inlined into SSL_connect and SSL_accept): FOUND, every copy at its exported offset, the handshake not probed and said so`, () => {
    const r = locate(process.execPath);
    expect(r).toMatchObject({ status: 'found', family: 'OpenSSL', how: 'anchors', build: `OpenSSL ${process.versions.openssl}`, why: '',
      method: 'ssl_lib.c error sites; inlined copies; no SSL_do_handshake' });
    expect(r.fns!.map((f) => f.fn).sort()).toEqual([...INLINED_3_0].sort());
    expect(offsets(r)).toEqual(exportedOffsets(process.execPath, INLINED_3_0));
  });

  it('a copilot binary whose standalone ssl_write_internal no longer raises reason 412 (taken for a 4-argument copy): UNRECOGNISED by the argument-register check', async () => {
    const bin = await fetchNpmFile(COPILOT, COPILOT_CACHE);
    const at = exportedOffsets(bin, ['ssl_write_internal']).ssl_write_internal;
    const copy = path.join(tmp, 'copilot-412');
    const buf = fs.readFileSync(bin);
    // Its SSL_R_UNSUPPORTED_WRITE_FLAG site: `mov esi, 0x19c` for ERR_set_error, within the function (581 bytes).
    const site = buf.indexOf(Buffer.from([0xbe, 0x9c, 0x01, 0x00, 0x00]), at);
    expect(site - at).toBeLessThan(581);
    buf.writeUInt32LE(0x19d, site + 1);
    fs.writeFileSync(copy, buf);
    const r = locate(copy);
    expect(r).toMatchObject({ status: 'unrecognised', family: 'OpenSSL', build: 'OpenSSL 3.5.7' });
    expect(r.why).toMatch(/^ssl_write_internal copy at 0x[0-9a-f]+ \(ssl_write_internal\): the argument registers it reads \(rcx yes, r8 yes\) do not match \(second check\)$/);
  });

  it('this probe (it holds the string "ssl/ssl_lib.c") is ABSENT', () => {
    expect(locate(probeBinary()).status).toBe('absent');
  });
});

/**
 * A copy of the ELF file src at dst whose .dynsym no longer names `names`: the first byte of each name's string in
 * .dynstr becomes 'X' (the symbols stay, under other names; nothing else of the file changes). The probe then finds no
 * OpenSSL export and asks the locators, as for a stripped static build.
 */
function withoutExports(src: string, dst: string, names: string[]): void {
  const line = execFileSync('readelf', ['-SW', src], { encoding: 'utf8' }).split('\n').find((l) => /\s\.dynstr\s/.test(l));
  const f = line!.replace(/^.*\]\s*/, '').trim().split(/\s+/); // Name Type Address Off Size ...
  const off = parseInt(f[3], 16);
  const end = off + parseInt(f[4], 16);
  const buf = fs.readFileSync(src);
  for (const n of names) {
    const needle = Buffer.from(`\0${n}\0`);
    let hits = 0;
    for (let at = buf.indexOf(needle, off); at >= 0 && at < end; at = buf.indexOf(needle, at + 1), hits++) buf[at + 1] = 0x58;
    if (!hits) throw new Error(`${src}: no .dynstr string ${n}`);
  }
  fs.writeFileSync(dst, buf, { mode: 0o755 });
}

describeCapture('capture through the located copies of an inlined static OpenSSL (node without its SSL exports)', () => {
  let tmp: string;
  let server: ChildProcess | undefined;
  let port: number;
  let cert: string;
  let node: string;
  const host = `openssl-inlined.test-${randomUUID().slice(0, 8)}`;
  const marker = `mk-${randomUUID()}`;
  const body = Buffer.concat([Buffer.from(`node:${marker}:`), randomBytes(64 * 1024), Buffer.from(`:${marker}:end`)]);
  let request: Buffer;
  let r: CaptureResult;
  // A TLS client of node's own `tls` (SSL_write / SSL_read): stdin is the request, the answer goes to stdout.
  const CLIENT = `const tls = require('tls'), fs = require('fs');
    const s = tls.connect({ host: '127.0.0.1', port: +process.argv[1], ca: fs.readFileSync(process.argv[2]), ALPNProtocols: ['http/1.1'] }, () => process.stdin.pipe(s, { end: false }));
    s.on('data', (d) => fs.writeSync(1, d));
    s.on('end', () => process.exit(0));
    s.on('error', (e) => { console.error(e); process.exit(2); });`;

  beforeAll(async () => {
    if (skipReason) throw new Error(`static OpenSSL capture required (AGENTSIGHT_REQUIRE_BPF=1) but unavailable: ${skipReason}`);
    ({ tmp, cert, server, port } = await httpsFixture('openssl-inlined'));
    fs.mkdirSync(path.join(tmp, 'bin'));
    node = path.join(tmp, 'bin', 'node'); // named node: its thread name (comm) is the records' comm
    withoutExports(process.execPath, node, FNS);
    request = Buffer.concat([Buffer.from(`POST /inlined/${marker} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]);
    r = await captureClient(host, [node, '-e', CLIENT, String(port), cert], path.join(tmp, 'client.out'),
      (cp) => cp.stdin!.end(request), ['--binary-path', node]);
    if (r.producerStderr.trim()) console.log(`producer stderr:\n${r.producerStderr}`); // eslint-disable-line no-console
  }, 180000);

  afterAll(() => {
    server?.kill();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the copy exports no SSL function, and its located copies are attached (anchors), nothing lost', () => {
    const exported = execFileSync('nm', ['-D', '--defined-only', node], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n')
      .map((l) => l.split(/\s+/)[2]);
    for (const f of FNS) expect(exported).not.toContain(f);
    expect(r.lines).toContainEqual({ event: 'attached', path: node, family: 'OpenSSL', how: 'anchors' });
    expect(r.stopped.attach_failures).toEqual([]);
    expectLosslessRun(r);
    expect(r.client.out.subarray(0, 17).toString('latin1')).toBe('HTTP/1.1 200 OK\r\n');
  });

  it('reassembles the request from the SSL_write copy and the answer from the SSL_read copy exactly once, one SSL*', () => {
    expectSingleConnection(r, host, { request, comm: 'node', writeFns: ['SSL_write'], readFns: ['SSL_read'] });
    const counters = r.stopped.probes.filter((p) => p.binary === node);
    expect(counters.map((p) => p.fn).sort()).toEqual([...INLINED_3_0].sort());
    // Every byte was counted at one copy only (the other copies saw no call).
    expect(counters.filter((p) => p.fn !== 'SSL_write' && p.fn !== 'SSL_read').map((p) => p.bytes)).toEqual([0, 0, 0, 0]);
    expect(counters.reduce((a, p) => a + p.bytes, 0)).toBe(request.length + r.client.out.length);
  });
});
