import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import {
  fixtureBytes, httpsRequest, loadFixture, procState, replayableEntries, ReplayServer, runCurl, runNode, runProcess, runPyClient,
  startReplayServer,
} from './index';

const entries = replayableEntries(['chat.completions', 'messages']);
const ref = (e: { file: string; call?: number }) => `${e.file}#${e.call ?? 0}`;
const gunzip = (b: Buffer) => zlib.gunzipSync(b, { finishFlush: zlib.constants.Z_SYNC_FLUSH });

describe('replay server (plain)', () => {
  let server: ReplayServer;
  let tmp: string;
  beforeAll(async () => {
    server = await startReplayServer({
      routes: { '/v1/rotate': ['vercel__openai-text.json', 'vercel__anthropic-text.json'] },
    });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'testkit-spec-'));
  });
  afterAll(async () => {
    await server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('serves a real certificate for 127.0.0.1/localhost from a temp dir', () => {
    expect(fs.readFileSync(server.caPath, 'utf8')).toBe(server.certPem);
    expect(server.certPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const x = new crypto.X509Certificate(server.certPem);
    expect(x.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(x.subjectAltName).toContain('DNS:localhost');
    expect(server.url).toBe(`https://127.0.0.1:${server.port}`);
  });

  describe.each(entries.map((e) => [ref(e), e]))('%s', (_r, e) => {
    const fx = loadFixture(e.file, e.call ?? 0);
    const expected = fixtureBytes(fx);

    it('node https client receives the fixture byte-exact', async () => {
      const res = await httpsRequest(server.url + fx.path, {
        ca: server.certPem, headers: { 'x-replay-fixture': ref(e) }, body: fx.requestBody ?? { model: 'x' },
      });
      expect(res.status).toBe(fx.status);
      expect(res.alpnProtocol).toBe('http/1.1');
      expect(res.headers['x-replay-fixture']).toBe(ref(e));
      expect(res.headers['content-type']).toBe(fx.headers['content-type']);
      if (fx.streaming) {
        expect(res.headers['transfer-encoding']).toBe('chunked');
        expect(res.headers['content-length']).toBeUndefined();
      } else {
        expect(Number(res.headers['content-length'])).toBe(expected.length);
      }
      expect(res.body.equals(expected)).toBe(true);
      const text = (res.headers['content-encoding'] === 'gzip' ? gunzip(res.body) : res.body).toString('utf8');
      if (e.response_id) expect(text).toContain(e.response_id);
    });

    it('curl receives the fixture byte-exact', async () => {
      const hdr = path.join(tmp, `${e.file}.${e.call ?? 0}.hdr`);
      const r = await runCurl(
        ['-X', 'POST', '-D', hdr, '-H', `x-replay-fixture: ${ref(e)}`, '-H', 'content-type: application/json', '--data-binary', '@-', server.url + fx.path],
        { caPath: server.caPath, input: JSON.stringify(fx.requestBody ?? {}) },
      );
      expect(r.stderr).toBe('');
      expect(r.exitCode).toBe(0);
      expect(fs.readFileSync(hdr, 'utf8')).toMatch(new RegExp(`^HTTP/1\\.1 ${fx.status} `));
      expect(r.stdoutBytes.equals(expected)).toBe(true);
    });
  });

  it('python urllib (system libssl) receives every chat/messages fixture byte-exact', async () => {
    for (const e of entries) {
      const fx = loadFixture(e.file, e.call ?? 0);
      const r = await runPyClient({ url: server.url + fx.path, caPath: server.caPath, json: fx.requestBody ?? {}, headers: { 'x-replay-fixture': ref(e) } });
      const meta = JSON.parse(r.stderr.split('\n')[0]) as { status: number };
      expect([ref(e), meta.status]).toEqual([ref(e), fx.status]);
      expect([ref(e), r.stdoutBytes.equals(fixtureBytes(fx))]).toEqual([ref(e), true]);
    }
  });

  it('records what it received (method, path with query, headers, body, ALPN)', async () => {
    const before = server.requests.length;
    const body = { model: 'claude-x', messages: [{ role: 'user', content: 'hi' }], stream: true };
    const res = await httpsRequest(`${server.url}/v1/messages?beta=true`, { ca: server.certPem, body, headers: { 'x-test': 'yes' } });
    expect(res.status).toBe(200);
    expect(res.headers['x-replay-fixture']).toBe('vercel__anthropic-text.chunks.txt#0');
    expect(res.body.equals(fixtureBytes(loadFixture('vercel__anthropic-text.chunks.txt')))).toBe(true);
    const rec = server.requests[before];
    expect(server.requests).toHaveLength(before + 1);
    expect(rec).toMatchObject({ method: 'POST', path: '/v1/messages?beta=true', alpnProtocol: 'http/1.1', fixture: 'vercel__anthropic-text.chunks.txt#0' });
    expect(rec.headers['x-test']).toBe('yes');
    expect(JSON.parse(rec.body.toString())).toEqual(body);
  });

  it('curl offering h2 is answered over HTTP/1.1 (ALPN http/1.1 only)', async () => {
    // plain curl (no --http1.1) offers h2 first
    const h2 = await runProcess('curl', ['-sS', '-v', '--noproxy', '*', '--cacert', server.caPath, '-o', '/dev/null', '-d', '{}', `${server.url}/v1/chat/completions`]);
    expect(h2.exitCode).toBe(0);
    expect(h2.stderr).toMatch(/ALPN: offers h2/);
    expect(h2.stderr).toMatch(/ALPN: server accepted http\/1\.1/);
  });

  it('rotates a route\'s fixtures per request', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await httpsRequest(`${server.url}/v1/rotate`, { ca: server.certPem, body: {} });
      ids.push(JSON.parse(res.body.toString()).id);
    }
    expect(ids).toEqual(['chatcmpl-D8Z5f52zQqikDBEKQMQoYcWMcWPeU', 'msg_01VdEjxAP5ahtHKrrRdNBteQ', 'chatcmpl-D8Z5f52zQqikDBEKQMQoYcWMcWPeU']);
  });

  it('x-replay-fixture overrides the route, including #index, and rejects unknown files', async () => {
    const a = await httpsRequest(`${server.url}/v1/chat/completions`, {
      ca: server.certPem, body: {}, headers: { 'x-replay-fixture': 'ddtrace__chat_completion_stream_prompt_caching_cache_read.yaml' },
    });
    expect(a.body.toString()).toContain('chatcmpl-BpJBM4XqgLRpLxmTeun39ESCNhQwb');
    expect(a.body.toString()).not.toContain('chatcmpl-D8Z5oo6uDh67AD85p73ksdT1KxhE0');
    const b = await httpsRequest(`${server.url}/v1/chat/completions`, {
      ca: server.certPem, body: {}, headers: { 'x-replay-fixture': 'ddtrace__agent_run_async.yaml#1' },
    });
    expect(b.headers['x-replay-fixture']).toBe('ddtrace__agent_run_async.yaml#1');
    expect(b.body.equals(fixtureBytes(loadFixture('ddtrace__agent_run_async.yaml', 1)))).toBe(true);
    const c = await httpsRequest(`${server.url}/v1/chat/completions`, { ca: server.certPem, body: {}, headers: { 'x-replay-fixture': 'nope.chunks.txt' } });
    expect(c.status).toBe(400);
    expect(JSON.parse(c.body.toString()).error.type).toBe('replay_fixture_error');
  });

  it('answers 404 for unknown paths', async () => {
    const r = await httpsRequest(`${server.url}/v1/unknown`, { ca: server.certPem, body: {} });
    expect(r.status).toBe(404);
  });

  it('streams event by event (x-replay-delay-ms), not as one blob', async () => {
    const fx = loadFixture('vercel__anthropic-text.chunks.txt');
    const res = await httpsRequest(`${server.url}/v1/messages`, { ca: server.certPem, body: {}, headers: { 'x-replay-delay-ms': '25' } });
    expect(res.body.equals(fixtureBytes(fx))).toBe(true);
    expect(res.chunks.length).toBeGreaterThanOrEqual(fx.body.length - 1);
    const spread = res.chunks[res.chunks.length - 1].t - res.chunks[0].t;
    expect(spread).toBeGreaterThanOrEqual(25 * (fx.body.length - 2));
  });

  it('/v1/echo reports size and sha256 of a 2 MiB upload (node, curl, python)', async () => {
    const data = crypto.randomBytes(2 * 1024 * 1024);
    const sha = crypto.createHash('sha256').update(data).digest('hex');
    const file = path.join(tmp, 'upload.bin');
    fs.writeFileSync(file, data);

    const n = await httpsRequest(`${server.url}/v1/echo`, { ca: server.certPem, body: data, headers: { 'content-type': 'application/octet-stream' } });
    expect(n.status).toBe(200);
    expect(n.headers['content-type']).toBe('application/json');
    expect(JSON.parse(n.body.toString())).toEqual({ received_bytes: 2097152, sha256: sha });
    expect(server.requests[server.requests.length - 1].body.equals(data)).toBe(true);

    const c = await runCurl(['--data-binary', `@${file}`, `${server.url}/v1/echo`], { caPath: server.caPath });
    expect(JSON.parse(c.stdout)).toEqual({ received_bytes: 2097152, sha256: sha });

    const p = await runPyClient({ url: `${server.url}/v1/echo`, caPath: server.caPath, dataFile: file });
    expect(p.exitCode).toBe(0);
    expect(JSON.parse(p.stdout)).toEqual({ received_bytes: 2097152, sha256: sha });
  });

  it('starts clients stopped so a probe can attach, then resumes them (curl, python)', async () => {
    const before = server.requests.length;
    const c = await runCurl(['-d', '{}', `${server.url}/v1/chat/completions`], { caPath: server.caPath, stopped: true });
    expect(procState(c.pid)).toBe('T');
    await new Promise((r) => setTimeout(r, 150));
    expect(server.requests.length).toBe(before); // nothing sent while stopped
    c.resume();
    const r = await c.result;
    expect(r.pid).toBe(c.pid);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('chatcmpl-D8Z5oo6uDh67AD85p73ksdT1KxhE0');
    expect(server.requests.length).toBe(before + 1);

    const p = await runPyClient({ url: `${server.url}/v1/echo`, caPath: server.caPath, json: { a: 1 } }, { stopped: true });
    expect(procState(p.pid)).toBe('T');
    p.resume();
    const pr = await p.result;
    expect(pr.exitCode).toBe(0);
    expect(JSON.parse(pr.stdout).received_bytes).toBe(7);
  });

  it('runNode runs a node script that trusts the server via NODE_EXTRA_CA_CERTS', async () => {
    const script = path.join(tmp, 'client.js');
    fs.writeFileSync(script, `
      const https = require('https');
      const req = https.request(process.argv[2], { method: 'POST' }, (res) => {
        let n = 0; res.on('data', (d) => { n += d.length; }); res.on('end', () => { console.log(JSON.stringify({ status: res.statusCode, n })); });
      });
      req.end('{}');`);
    const fx = loadFixture('vercel__openai-text.chunks.txt');
    const r = await runNode(script, [`${server.url}/v1/chat/completions`], { env: { NODE_EXTRA_CA_CERTS: server.caPath } });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ status: 200, n: fixtureBytes(fx).length });
    const bad = await runNode(script, [`${server.url}/v1/chat/completions`], { env: { NODE_EXTRA_CA_CERTS: '' } });
    expect(bad.exitCode).not.toBe(0); // untrusted self-signed cert is refused
  });
});

describe('replay server (gzip)', () => {
  let server: ReplayServer;
  beforeAll(async () => {
    server = await startReplayServer({ gzip: true });
  });
  afterAll(() => server.close());

  it.each(entries.map((e) => [ref(e), e]))('%s decodes to the same bytes', async (_r, e) => {
    const fx = loadFixture(e.file, e.call ?? 0);
    const res = await httpsRequest(server.url + fx.path, { ca: server.certPem, body: {}, headers: { 'x-replay-fixture': ref(e) } });
    expect(res.status).toBe(fx.status);
    expect(res.headers['content-encoding']).toBe('gzip');
    if (fx.headers['content-encoding'] === 'gzip') {
      expect(res.body.equals(fixtureBytes(fx))).toBe(true); // recorded gzip bytes are not compressed twice
    } else {
      expect(res.body.equals(fixtureBytes(fx))).toBe(false);
      expect(gunzip(res.body).equals(fixtureBytes(fx))).toBe(true);
    }
  });

  it('curl --compressed decodes a gzip stream to the fixture', async () => {
    const fx = loadFixture('ddtrace__anthropic_completion_tools_stream.yaml');
    const r = await runCurl(['--compressed', '-H', 'x-replay-fixture: ddtrace__anthropic_completion_tools_stream.yaml', '-d', '{}', `${server.url}/v1/messages`], { caPath: server.caPath });
    expect(r.exitCode).toBe(0);
    expect(r.stdoutBytes.equals(fixtureBytes(fx))).toBe(true);
  });

  it('a gzip stream stays a stream (each event decodable on arrival)', async () => {
    const fx = loadFixture('vercel__anthropic-text.chunks.txt');
    const res = await httpsRequest(`${server.url}/v1/messages`, { ca: server.certPem, body: {}, headers: { 'x-replay-delay-ms': '30' } });
    expect(res.chunks.length).toBeGreaterThanOrEqual(fx.body.length - 1);
    // Inflate the first chunk(s) received before the last 100 ms of the response: they already hold complete events.
    const end = res.chunks[res.chunks.length - 1].t;
    const early = Buffer.concat(res.chunks.filter((c) => c.t < end - 100).map((c) => c.data));
    const partial = gunzip(early).toString();
    expect(partial.startsWith(fx.body[0].toString())).toBe(true);
    expect(partial.length).toBeGreaterThan(fx.body[0].length);
    expect(gunzip(res.body).equals(fixtureBytes(fx))).toBe(true);
  });

  it('x-replay-gzip: 1 compresses on a plain server', async () => {
    const plain = await startReplayServer();
    try {
      const a = await httpsRequest(`${plain.url}/v1/chat/completions`, { ca: plain.certPem, body: {} });
      expect(a.headers['content-encoding']).toBeUndefined();
      const b = await httpsRequest(`${plain.url}/v1/chat/completions`, { ca: plain.certPem, body: {}, headers: { 'x-replay-gzip': '1' } });
      expect(b.headers['content-encoding']).toBe('gzip');
      expect(gunzip(b.body).equals(a.body)).toBe(true);
    } finally {
      await plain.close();
    }
  });
});
