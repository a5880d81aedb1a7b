/** The replay server's opt-in HTTP/2 mode, with real curl (nghttp2 over libssl) and node:http2 clients. */
import * as http2 from 'http2';
import { fixtureBytes, loadFixture } from './corpus';
import { runProcess } from './clients';
import { ReplayServer, startReplayServer } from './replay-server';

describe('replay server, h2 mode', () => {
  let server: ReplayServer;
  beforeAll(async () => {
    server = await startReplayServer({ h2: true });
  });
  afterAll(() => server.close());

  it('curl --http2 negotiates h2 by ALPN and gets the recorded stream byte for byte', async () => {
    const fx = loadFixture('vercel__openai-text.chunks.txt');
    const r = await runProcess('curl', ['-sS', '-v', '--http2', '--noproxy', '*', '--cacert', server.caPath, '-d', '{}', `${server.url}/v1/chat/completions`]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/ALPN: server accepted h2/);
    expect(r.stderr).toMatch(/< HTTP\/2 200/);
    expect(Buffer.from(r.stdout).equals(fixtureBytes(fx))).toBe(true);
    const last = server.requests[server.requests.length - 1];
    expect([last.alpnProtocol, last.httpVersion]).toEqual(['h2', '2.0']);
  });

  it('HTTP/1.1 clients are still served (allowHTTP1)', async () => {
    const r = await runProcess('curl', ['-sS', '-v', '--http1.1', '--noproxy', '*', '--cacert', server.caPath, '-d', '{}', `${server.url}/v1/echo`]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/ALPN: server accepted http\/1\.1/);
    expect(JSON.parse(r.stdout)).toEqual({ received_bytes: 2, sha256: '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a' });
  });

  it('node:http2 runs concurrent streams on one session, each answered with its fixture', async () => {
    const session = http2.connect(server.url, { ca: server.certPem });
    const get = (fixture: string) => new Promise<Buffer>((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': '/v1/chat/completions', 'x-replay-fixture': fixture, 'x-replay-delay-ms': '5' });
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
      req.end('{}');
    });
    const files = ['vercel__openai-text.chunks.txt', 'vercel__anthropic-text.chunks.txt', 'vercel__openai-text.json'];
    const bodies = await Promise.all(files.map(get));
    session.close();
    bodies.forEach((b, i) => expect(b.equals(fixtureBytes(loadFixture(files[i])))).toBe(true));
  });
});
