/**
 * Never a silent zero, end to end: `agentsight exec` runs a client whose TLS no probe can hook (OpenSSL linked
 * statically and stripped, built at test time from services/probe-producer/test/tls-client.c, its `ssl_lib.c` file
 * name, the static OpenSSL locator's anchor, overwritten) against a local HTTPS
 * server. The terminal gets the notice when it happens and in the summary ("0 LLM call(s) captured: …why"), and the
 * notice is stored (`audit --type capture`, the dashboard's Capture page reads the same rows).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { startReplayServer, type ReplayServer } from '@agentsight/testkit';
import { describeCapture, Infra, ROOT, runCli, startInfra } from './harness';

describeCapture('agentsight exec: TLS no probe records is reported on the terminal and stored', () => {
  let infra: Infra;
  let server: ReplayServer;
  let tmp: string;
  let client: string;
  let exec: { code: number | null; stdout: string; stderr: string };

  beforeAll(async () => {
    infra = await startInfra();
    server = await startReplayServer();
    tmp = fs.mkdtempSync(join(os.tmpdir(), 'agentsight-notice-'));
    client = join(tmp, 'static-agent');
    execFileSync('cc', ['-O2', '-static', join(ROOT, 'services/probe-producer/test/tls-client.c'), '-o', client, '-lssl', '-lcrypto'], { stdio: 'pipe' });
    execFileSync('strip', [client]);
    // The static OpenSSL locator finds such a client by the "…ssl/ssl_lib.c" file name of its error sites (through
    // .eh_frame: gcc -static leaves no .eh_frame_hdr): overwritten, no locator knows its TLS.
    const bin = fs.readFileSync(client);
    for (let at = bin.indexOf('ssl_lib.c\0'); at >= 0; at = bin.indexOf('ssl_lib.c\0', at + 1)) bin.write('ssl_lib.x', at);
    fs.writeFileSync(client, bin);
    const port = new URL(server.url).port;
    exec = await runCli(['exec', '--', client, port, server.caPath, '{"model":"gpt-4o-mini"}'], infra.env);
  }, 300_000);

  afterAll(async () => {
    await server?.close();
    await infra?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const reason = 'TLS library not supported yet: no TLS stack the probe knows in the executable or the libraries it maps';

  test('the terminal names the binary, the server and the reason as it happens, and the summary says why 0 calls', () => {
    expect(exec.code).toBe(0);
    const port = new URL(server.url).port;
    expect(exec.stderr).toContain(`[agentsight] warning: TLS of ${client} to hold.test.invalid:${port} not captured: ${reason} (pid `);
    expect(exec.stderr).toContain(`[agentsight] not captured: 1 TLS connection(s) of ${client}: ${reason}`);
    expect(exec.stderr).toContain(`[agentsight] 0 LLM call(s) captured: TLS traffic of ${client} was not captured (see above)`);
  });

  test('the notice is stored as a capture audit record', async () => {
    const out = await runCli(['audit', '--type', 'capture', '--json'], infra.env);
    const rows = JSON.parse(out.stdout) as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const mine = rows.filter((r) => r.details.binary === client);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ type: 'capture', action: 'tls_not_captured', comm: 'static-agent' });
    expect(mine[0].details).toMatchObject({ cause: 'unsupported', reason, server_name: 'hold.test.invalid', address: '127.0.0.1', port: Number(new URL(server.url).port) });
    expect(mine[0].summary).toContain('not captured');
  });
});
