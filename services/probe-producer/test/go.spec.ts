/**
 * Real capture test of the Go crypto/tls probes: a Go client built at test time by Debian's Go toolchain
 * (libs/testkit/go-client, CGO_ENABLED=0, stripped with `-ldflags=-s -w` and not) TLS-dials a local Node HTTPS server
 * and sends an HTTP/1.1 POST of 100 KiB with a unique marker in one tls.Conn.Write; it prints what it reads. The
 * producer locates crypto/tls.(*Conn).Write / Read through .gopclntab, probes their entries and every RET (no
 * uretprobes on Go code) and must publish the request and the response exactly once, as one connection (the
 * *tls.Conn). The located offsets are checked against binutils (nm, objdump) on the unstripped binary.
 *
 * Skips (with a console message) when not root, BPF/BTF is unavailable or there is no Go toolchain, unless
 * AGENTSIGHT_REQUIRE_BPF=1, then fails.
 */
import { ChildProcess, execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BPF_REQUIRED, bpfUnavailableReason, buildGoClient, goToolchain, goVersion, probeBinary } from '@agentsight/testkit';
import type { RawSslRecord } from '@agentsight/contracts';
import { CaptureResult, captureClient, expectLosslessRun, expectSingleConnection, makeCert, reassemble, startHttpsServer } from './harness';

const GO_WRITE = 'crypto/tls.(*Conn).Write';
const GO_READ = 'crypto/tls.(*Conn).Read';
const skipReason = bpfUnavailableReason() ?? (!goToolchain() ? 'no Go toolchain (apt golang-go)' : null);
if (skipReason && !BPF_REQUIRED) {
  process.stderr.write(`SKIPPED probe-producer Go crypto/tls capture test: ${skipReason} (set AGENTSIGHT_REQUIRE_BPF=1 to make this fail)\n`);
}
const describeCapture = skipReason && !BPF_REQUIRED ? describe.skip : describe;

interface Located { status: string; family: string; how: string; build: string; why: string; fns: Array<{ fn: string; offset: string; rets: string[] }> }

function locate(bin: string): Located {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-go-locate-'));
  try {
    return JSON.parse(execFileSync(probeBinary(), ['--cache-dir', dir, '--locate', bin], { encoding: 'utf8' }));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** File offset of virtual address v in bin (its PT_LOAD segments, from readelf). */
function fileOffset(bin: string, v: bigint): bigint {
  for (const l of execFileSync('readelf', ['-lW', bin], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+\S+\s+(0x[0-9a-f]+)/.exec(l);
    if (m && v >= BigInt(m[2]) && v < BigInt(m[2]) + BigInt(m[3])) return v - BigInt(m[2]) + BigInt(m[1]);
  }
  throw new Error(`0x${v.toString(16)} not in a LOAD segment of ${bin}`);
}

/** binutils' view of a function of the unstripped bin: entry and RET file offsets. */
function binutilsFn(bin: string, name: string): { offset: string; rets: string[] } {
  const sym = execFileSync('nm', [bin], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n').find((l) => l.endsWith(` ${name}`));
  if (!sym) throw new Error(`${name} not in nm ${bin}`);
  const start = BigInt(`0x${sym.split(' ')[0]}`);
  const size = BigInt(execFileSync('sh', ['-c', `readelf -sW ${bin} | awk '$8 == "${name}" {print $3}'`], { encoding: 'utf8' }).trim());
  const dis = execFileSync('objdump', ['-d', '--no-show-raw-insn', `--start-address=0x${start.toString(16)}`, `--stop-address=0x${(start + size).toString(16)}`, bin],
    { encoding: 'utf8', maxBuffer: 64 << 20 });
  const rets = dis.split('\n').map((l) => /^\s*([0-9a-f]+):\s+ret/.exec(l)).filter((m): m is RegExpExecArray => !!m)
    .map((m) => `0x${fileOffset(bin, BigInt(`0x${m[1]}`)).toString(16)}`);
  return { offset: `0x${fileOffset(bin, start).toString(16)}`, rets };
}

describeCapture('agentsight-probe Go crypto/tls capture (Go client built by golang-go)', () => {
  let tmp: string;
  let server: ChildProcess | undefined;
  let port: number;
  let cert: string;
  const bins: Record<'plain' | 'stripped', string> = { plain: '', stripped: '' };

  beforeAll(async () => {
    if (skipReason) throw new Error(`Go capture required (AGENTSIGHT_REQUIRE_BPF=1) but unavailable: ${skipReason}`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-go-'));
    const c = makeCert(tmp);
    cert = c.cert;
    const srv = await startHttpsServer(c.key, c.cert);
    server = srv.server;
    port = srv.port;
    bins.plain = buildGoClient({ stripped: false });
    bins.stripped = buildGoClient({ stripped: true });
  }, 300000);

  afterAll(() => {
    server?.kill();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('locates (*Conn).Write and Read by .gopclntab in both builds, where binutils sees them, and names the Go version', () => {
    expect(execFileSync('readelf', ['-SW', bins.stripped], { encoding: 'utf8' })).not.toMatch(/\.symtab/);
    const want = { plain: locate(bins.plain), stripped: locate(bins.stripped) };
    for (const l of Object.values(want)) {
      expect(l).toMatchObject({ status: 'found', family: 'Go crypto/tls', how: 'gopclntab', build: goVersion(), why: '' });
      expect(l.fns.map((f) => f.fn)).toEqual([GO_WRITE, GO_READ]);
    }
    for (const [i, name] of [GO_WRITE, GO_READ].entries()) {
      const b = binutilsFn(bins.plain, name);
      expect(b.rets.length).toBeGreaterThan(1);
      expect({ offset: want.plain.fns[i].offset, rets: want.plain.fns[i].rets }).toEqual(b);
    }
  });

  it('reports a Go program without crypto/tls as absent', () => {
    // The Go toolchain's own `gofmt` has no TLS.
    const gofmt = path.join(path.dirname(fs.realpathSync(goToolchain()!)), 'gofmt');
    expect(locate(gofmt)).toMatchObject({ status: 'absent' });
  });

  for (const variant of ['plain', 'stripped'] as const) {
    describe(`${variant} build`, () => {
      const host = `go-${variant}.test-${randomUUID().slice(0, 8)}`;
      const marker = `mk-${randomUUID()}`;
      const body = Buffer.concat([Buffer.from(`go:${marker}:`), randomBytes(100 * 1024), Buffer.from(`:${marker}:end`)]);
      let request: Buffer;
      let r: CaptureResult;

      beforeAll(async () => {
        request = Buffer.concat([Buffer.from(`POST /go/${marker} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
          `Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]);
        r = await captureClient(host, [bins[variant], 'raw', `127.0.0.1:${port}`, cert], path.join(tmp, `${variant}.out`),
          (cp) => cp.stdin!.end(request), ['--binary-path', bins[variant]]);
        if (r.producerStderr.trim()) console.log(`producer stderr:\n${r.producerStderr}`); // eslint-disable-line no-console
      }, 120000);

      it('attaches the Go binary, runs the client and publishes every record without loss', () => {
        expect(r.ready.attached).toContain(bins[variant]);
        expect(r.lines).toContainEqual({ event: 'attached', path: bins[variant], family: 'Go crypto/tls', how: 'gopclntab' });
        expect(r.producerStderr).toContain(`${bins[variant]}: ${goVersion()}, Go crypto/tls located by gopclntab`);
        expectLosslessRun(r);
        expect(r.client.out.subarray(0, 17).toString('latin1')).toBe('HTTP/1.1 200 OK\r\n');
        expect(r.client.out.toString('latin1')).toContain(`RESP /go/${marker} len=${body.length} sha=${createHash('sha256').update(body).digest('hex')}\n`);
      });

      it('reassembles the request from (*Conn).Write and the response from (*Conn).Read exactly once, one *tls.Conn', () => {
        expectSingleConnection(r, host, { request, comm: path.basename(bins[variant]), writeFns: [GO_WRITE], readFns: [GO_READ] });
        const calls = r.got.map((g) => g.rec).filter((x): x is RawSslRecord => x.kind === 'ssl');
        // One Write call of the whole request (in 32 KiB fragments); the 70 KB answer over several Reads.
        expect(calls.filter((x) => x.dir === 'write' && x.frag_offset === 0)).toHaveLength(1);
        expect(calls.filter((x) => x.dir === 'read').length).toBeGreaterThan(1);
        const counters = r.stopped.probes.filter((p) => p.binary === bins[variant]);
        expect(counters.map((p) => p.fn).sort()).toEqual([GO_READ, GO_WRITE]);
        expect(counters.reduce((a, p) => a + p.bytes, 0)).toBe(request.length + r.client.out.length);
      });
    });
  }

  // A Go program from Debian's archive: the `go` command itself (golang-go, Debian's build) fetching a module's info
  // from a GOPROXY over HTTPS (net/http, the CA given by SSL_CERT_FILE). The local server answers every path with its
  // own body, so `go` fails to parse it: only the wire is asserted.
  describe("Debian's go command (GOPROXY over HTTPS)", () => {
    const host = `go-cmd.test-${randomUUID().slice(0, 8)}`;
    const mod = `example.com/m${randomUUID().slice(0, 8)}`;
    let goBin: string;
    let r: CaptureResult;

    beforeAll(async () => {
      goBin = fs.realpathSync(goToolchain()!);
      const home = fs.mkdtempSync(path.join(tmp, 'gohome-'));
      r = await captureClient(host, [goBin, 'mod', 'download', '-json', `${mod}@v1.0.0`], path.join(tmp, 'go-cmd.out'), () => undefined,
        ['--binary-path', goBin], { GOPROXY: `https://127.0.0.1:${port}`, SSL_CERT_FILE: cert, GOSUMDB: 'off', GOFLAGS: '-mod=mod',
          GOPATH: path.join(home, 'path'), GOCACHE: path.join(home, 'cache'), GOMODCACHE: path.join(home, 'mod'), HOME: home, GOTOOLCHAIN: 'local' });
    }, 120000);

    it('is located by .gopclntab and its HTTPS request and the answer are captured from (*Conn).Write / Read', () => {
      expect(r.lines).toContainEqual({ event: 'attached', path: goBin, family: 'Go crypto/tls', how: 'gopclntab' });
      expect(r.stopped).toMatchObject({ lost_records: 0, ringbuf_drops: 0, publish_failures: 0 });
      const ssl = r.got.map((g) => g.rec).filter((x): x is RawSslRecord => x.kind === 'ssl' && x.pid === r.client.pid);
      expect(new Set(ssl.map((x) => x.fn))).toEqual(new Set([GO_WRITE, GO_READ]));
      const conns = [...new Set(ssl.map((x) => x.ssl))];
      const streams = conns.map((c) => ({
        w: reassemble(ssl.filter((x) => x.ssl === c && x.dir === 'write')).toString('latin1'),
        rd: reassemble(ssl.filter((x) => x.ssl === c && x.dir === 'read')).toString('latin1'),
      }));
      const info = streams.filter((s) => s.w.startsWith(`GET /${mod}/@v/v1.0.0.info HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`));
      expect(info).toHaveLength(1); // one request, captured once
      expect(info[0].w.split(`GET /${mod}/@v/v1.0.0.info`).length).toBe(2);
      expect(info[0].rd.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
      expect(info[0].rd).toContain(`RESP /${mod}/@v/v1.0.0.info len=0 sha=`);
    });
  });
});
