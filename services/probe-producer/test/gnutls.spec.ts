/**
 * Real capture test of the GnuTLS probes of agentsight-probe (gnutls_record_send / gnutls_record_recv in the system
 * libgnutls.so.30): `gnutls-cli`, verifying a self-signed certificate (--x509cafile), sends an HTTP/1.1 POST with a
 * unique marker body to a local Node HTTPS server. Real probes, real TLS, real JetStream; nothing is mocked.
 *
 * Skips (with a console message) when not root, BPF/BTF is unavailable or gnutls-cli / libgnutls.so.30 is missing,
 * unless AGENTSIGHT_REQUIRE_BPF=1, then fails.
 */
import { ChildProcess, execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BPF_REQUIRED, bpfUnavailableReason } from '@agentsight/testkit';
import type { RawSslRecord } from '@agentsight/contracts';
import { CaptureResult, captureClient, expectLosslessRun, expectSingleConnection, makeCert, startHttpsServer, systemLibrary } from './harness';

function gnutlsCli(): string | null {
  try {
    return execFileSync('sh', ['-c', 'command -v gnutls-cli'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

const LIBGNUTLS = systemLibrary('libgnutls.so.30');
const GNUTLS_CLI = gnutlsCli();
const skipReason = bpfUnavailableReason() ?? (!GNUTLS_CLI ? 'no gnutls-cli (apt gnutls-bin)' : !LIBGNUTLS ? 'no libgnutls.so.30' : null);
if (skipReason && !BPF_REQUIRED) {
  process.stderr.write(`SKIPPED probe-producer GnuTLS capture test: ${skipReason} (set AGENTSIGHT_REQUIRE_BPF=1 to make this fail)\n`);
}
const describeCapture = skipReason && !BPF_REQUIRED ? describe.skip : describe;

describeCapture('agentsight-probe GnuTLS capture (gnutls-cli)', () => {
  let tmp: string;
  let server: ChildProcess | undefined;
  const host = `gnutls.test-${randomUUID().slice(0, 8)}`;
  const marker = `mk-${randomUUID()}`;
  const body = Buffer.concat([Buffer.from(`gnutls:${marker}:`), randomBytes(100 * 1024), Buffer.from(`:${marker}:end`)]);
  let request: Buffer;
  let r: CaptureResult;

  beforeAll(async () => {
    if (skipReason) throw new Error(`GnuTLS capture required (AGENTSIGHT_REQUIRE_BPF=1) but unavailable: ${skipReason}`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-gnutls-'));
    const { key, cert } = makeCert(tmp);
    const srv = await startHttpsServer(key, cert);
    server = srv.server;
    request = Buffer.concat([Buffer.from(`POST /gnutls/${marker} HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]);
    // gnutls-cli verifies the server against cert.pem (IP SAN 127.0.0.1), sends its stdin and prints what it receives
    // (handshake details go to --logfile); it exits when the server closes. Its stdin stays open until then: at EOF
    // it would close the session before the response arrived.
    r = await captureClient(host, [GNUTLS_CLI!, '--x509cafile', cert, '-p', String(srv.port), '--logfile', path.join(tmp, 'client.log'),
      '127.0.0.1'], path.join(tmp, 'client.out'), (cp) => cp.stdin!.write(request));
    if (r.producerStderr.trim()) console.log(`producer stderr:\n${r.producerStderr}`); // eslint-disable-line no-console
  }, 120000);

  afterAll(() => {
    server?.kill();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('attaches libgnutls.so.30 next to libssl, runs the client and publishes every record without loss', () => {
    expect(r.ready.attached).toContain(LIBGNUTLS);
    expect(r.ready.attached.some((p) => /libssl\.so\.3$/.test(p))).toBe(true);
    expectLosslessRun(r);
    // The client really got the server's answer to the exact body.
    expect(r.client.out.subarray(0, 17).toString('latin1')).toBe('HTTP/1.1 200 OK\r\n');
    expect(r.client.out.toString('latin1')).toContain(`RESP /gnutls/${marker} len=${body.length} sha=${createHash('sha256').update(body).digest('hex')}\n`);
  });

  it('reassembles the request from gnutls_record_send and the response from gnutls_record_recv exactly, then closes the session', () => {
    expectSingleConnection(r, host, { request, comm: 'gnutls-cli', writeFns: ['gnutls_record_send'], readFns: ['gnutls_record_recv'] });
    // 100 KiB go out and 70 KB come in over several calls.
    const calls = r.got.map((g) => g.rec).filter((x): x is RawSslRecord => x.kind === 'ssl');
    expect(calls.filter((x) => x.dir === 'read').length).toBeGreaterThan(1);
    expect(calls.filter((x) => x.dir === 'write').length).toBeGreaterThan(1);
  });
});
