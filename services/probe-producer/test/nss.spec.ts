/**
 * Real capture test of the NSS probes of agentsight-probe (PR_Write / PR_Read / PR_Send / PR_Recv in the system
 * libnspr4.so): a small NSS client (nss-client.c, built here against libnss3-dev) pins the server's self-signed
 * certificate, sends an HTTP/1.1 POST with a unique marker body to a local Node HTTPS server (head with PR_Write, body
 * with PR_Send), reads the response alternately with PR_Read and PR_Recv, then PR_Writes to a plain file, which must
 * not be captured. Real probes, real TLS, real JetStream; nothing is mocked.
 *
 * Skips (with a console message) when not root, BPF/BTF is unavailable, libnspr4.so is missing or the client cannot be
 * built (no libnss3-dev), unless AGENTSIGHT_REQUIRE_BPF=1, then fails.
 */
import { ChildProcess, execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BPF_REQUIRED, bpfUnavailableReason } from '@agentsight/testkit';
import type { RawSslRecord } from '@agentsight/contracts';
import { CaptureResult, captureClient, expectLosslessRun, expectSingleConnection, makeCert, startHttpsServer, systemLibrary } from './harness';

const BUILD_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-nss-client-'));
const CLIENT = path.join(BUILD_DIR, 'nss-client');

/** Builds nss-client.c; null on success, else why it failed. */
function buildClient(): string | null {
  try {
    execFileSync('sh', ['-c', `cc -O2 -Wall -Wextra -Werror -o "$1" "$2" $(pkg-config --cflags --libs nss)`, 'sh', CLIENT,
      path.join(__dirname, 'nss-client.c')], { stdio: 'pipe' });
    return null;
  } catch (e) {
    return `cannot build nss-client.c (apt libnss3-dev): ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`;
  }
}

const LIBNSPR = systemLibrary('libnspr4.so');
const skipReason = bpfUnavailableReason() ?? (!LIBNSPR ? 'no libnspr4.so' : buildClient());
if (skipReason) fs.rmSync(BUILD_DIR, { recursive: true, force: true });
if (skipReason && !BPF_REQUIRED) {
  process.stderr.write(`SKIPPED probe-producer NSS capture test: ${skipReason} (set AGENTSIGHT_REQUIRE_BPF=1 to make this fail)\n`);
}
const describeCapture = skipReason && !BPF_REQUIRED ? describe.skip : describe;

describeCapture('agentsight-probe NSS capture (PR_Write/PR_Read/PR_Send/PR_Recv)', () => {
  let tmp: string;
  let server: ChildProcess | undefined;
  const host = `nss.test-${randomUUID().slice(0, 8)}`;
  const marker = `mk-${randomUUID()}`;
  const body = Buffer.concat([Buffer.from(`nss:${marker}:`), randomBytes(100 * 1024), Buffer.from(`:${marker}:end`)]);
  let request: Buffer;
  let plainFile: string;
  let r: CaptureResult;

  beforeAll(async () => {
    if (skipReason) throw new Error(`NSS capture required (AGENTSIGHT_REQUIRE_BPF=1) but unavailable: ${skipReason}`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-nss-'));
    const { key, cert, certDer } = makeCert(tmp);
    const srv = await startHttpsServer(key, cert);
    server = srv.server;
    request = Buffer.concat([Buffer.from(`POST /nss/${marker} HTTP/1.1\r\nHost: localhost:${srv.port}\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`), body]);
    fs.writeFileSync(path.join(tmp, 'request'), request);
    plainFile = path.join(tmp, 'plain.txt');
    r = await captureClient(host, [CLIENT, String(srv.port), certDer, path.join(tmp, 'request'), plainFile], path.join(tmp, 'client.out'));
    if (r.producerStderr.trim()) console.log(`producer stderr:\n${r.producerStderr}`); // eslint-disable-line no-console
  }, 120000);

  afterAll(() => {
    server?.kill();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(BUILD_DIR, { recursive: true, force: true });
  });

  it('attaches libnspr4.so, runs the client and publishes every record without loss', () => {
    expect(r.ready.attached).toContain(LIBNSPR);
    expectLosslessRun(r);
    expect(r.client.out.subarray(0, 17).toString('latin1')).toBe('HTTP/1.1 200 OK\r\n');
    expect(r.client.out.toString('latin1')).toContain(`RESP /nss/${marker} len=${body.length} sha=${createHash('sha256').update(body).digest('hex')}\n`);
  });

  it('reassembles the request (PR_Write + PR_Send) and the response (PR_Read + PR_Recv) exactly, then closes the fd', () => {
    expectSingleConnection(r, host, { request, comm: 'nss-client', writeFns: ['PR_Write', 'PR_Send'], readFns: ['PR_Read', 'PR_Recv'] });
    // The head went out with PR_Write, the body with PR_Send.
    const prWrite = r.got.map((g) => g.rec).filter((x): x is RawSslRecord => x.kind === 'ssl' && x.fn === 'PR_Write');
    expect(prWrite.reduce((n, x) => n + x.data.length, 0)).toBe(request.indexOf('\r\n\r\n') + 4);
  });

  it('skips PR_Write on a plain NSPR file (no TLS layer)', () => {
    const note = fs.readFileSync(plainFile, 'utf8');
    expect(note).toBe(`plain-file:${request.length}`);
    const leaked = r.got.map((g) => g.rec).filter((x): x is RawSslRecord => x.kind === 'ssl')
      .filter((x) => Buffer.from(x.data).toString('latin1').includes('plain-file:'));
    expect(leaked).toEqual([]);
  });
});
