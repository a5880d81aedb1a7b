/**
 * rustls 0.23 located in the real Codex binaries from npm (static-pie musl Rust, stripped): `--locate` finds
 * CommonState::buffer_plaintext and take_received_plaintext in two pinned releases, and a real `codex exec` against a
 * local HTTPS server answering the OpenAI Responses API (streamed) is captured with the request and the response
 * each exactly once, both directions under one connection identity.
 *
 * The binaries (≈290–315 MB each) are fetched by `npm pack` once and cached under
 * $AGENTSIGHT_TEST_CACHE/codex (default /var/cache/agentsight-test/codex). Needs root (eBPF) and NATS.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { probeBinary } from '@agentsight/testkit';
import type { RawSslRecord } from '@agentsight/contracts';
import { captureClient } from './harness';
import { fetchAll, NpmFile } from './npm-binaries';

jest.setTimeout(600_000);

const CODEX_CACHE = path.join(process.env.AGENTSIGHT_TEST_CACHE || '/var/cache/agentsight-test', 'codex');
const FILE = 'vendor/x86_64-unknown-linux-musl/bin/codex';
/** Pinned releases: the linux-x64 build is published as a version of @openai/codex itself (`<v>-linux-x64`). */
const FOUND: Array<NpmFile & { rustls: string }> = [
  { name: '@openai/codex', version: '0.171.0-linux-x64', file: FILE, rustls: 'rustls 0.23.46' },
  { name: '@openai/codex', version: '0.160.0-linux-x64', file: FILE, rustls: 'rustls 0.23.45' },
];
/** An older release whose buffer_plaintext is inlined differently: refused, never attached at a guess. */
const REFUSED: NpmFile & { rustls: string } = { name: '@openai/codex', version: '0.140.0-linux-x64', file: FILE, rustls: 'rustls 0.23.36' };

interface Located { status: string; family?: string; build?: string; why?: string; fns?: Array<{ fn: string; offset: string }> }

function locate(bin: string): Located {
  return JSON.parse(execFileSync(probeBinary(), ['--locate', bin], { encoding: 'utf8' }).trim());
}

/** A CA and a leaf for localhost/127.0.0.1 signed by it (rustls refuses a self-signed leaf): paths in dir. */
function makeCaAndLeaf(dir: string): { ca: string; key: string; cert: string } {
  const f = (n: string) => path.join(dir, n);
  const sh = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  sh(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=agentsight-test-ca', '-keyout', f('ca.key'),
    '-out', f('ca.pem'), '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  sh(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', f('leaf.key'), '-out', f('leaf.csr')]);
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  sh(['x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1',
    '-extfile', f('ext.cnf'), '-out', f('leaf.pem')]);
  return { ca: f('ca.pem'), key: f('leaf.key'), cert: f('leaf.pem') };
}

/**
 * HTTPS server (HTTP/1.1) answering POST /v1/responses with a minimal valid Responses stream (text `answer`, usage),
 * anything else 404. Prints its port, then one JSON line per request on stderr.
 */
async function startResponsesServer(key: string, cert: string, answer: string): Promise<{ server: ChildProcess; port: number; log: () => string }> {
  const js = `
    const https = require('https'), fs = require('fs');
    const answer = process.argv[3];
    const srv = https.createServer({ key: fs.readFileSync(process.argv[1]), cert: fs.readFileSync(process.argv[2]), ALPNProtocols: ['http/1.1'] }, (req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        console.error(JSON.stringify({ method: req.method, url: req.url, bytes: body.length }));
        if (req.method !== 'POST' || !req.url.endsWith('/responses')) { res.writeHead(404, { 'content-type': 'application/json' }); res.end('{}'); return; }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const id = 'resp_agentsight_1';
        const ev = (type, o) => res.write('event: ' + type + '\\ndata: ' + JSON.stringify({ type, ...o }) + '\\n\\n');
        const item = { type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: answer, annotations: [] }] };
        ev('response.created', { response: { id, object: 'response', status: 'in_progress', model: 'gpt-test' } });
        ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } });
        ev('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: answer });
        ev('response.output_item.done', { output_index: 0, item });
        ev('response.completed', { response: { id, object: 'response', status: 'completed', model: 'gpt-test', output: [item],
          usage: { input_tokens: 11, input_tokens_details: { cached_tokens: 0 }, output_tokens: 3, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 14 } } });
        res.end();
      });
    });
    srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));`;
  const server = spawn(process.execPath, ['-e', js, key, cert, answer], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stderr!.on('data', (d) => (log += d));
  const port = await new Promise<number>((resolve, reject) => {
    server.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
    server.once('exit', (c) => reject(new Error(`server exited ${c}: ${log}`)));
  });
  return { server, port, log: () => log };
}

let bins: string[] = [];
let refused = '';

beforeAll(async () => {
  [refused, ...bins] = await fetchAll([REFUSED, ...FOUND], 2, CODEX_CACHE);
});

describe('rustls locator on Codex releases from npm', () => {
  it.each(FOUND.map((f, i) => [f.version, i] as const))('%s: FOUND, both functions', (_v, i) => {
    const r = locate(bins[i]);
    expect(r).toMatchObject({ status: 'found', family: 'rustls', build: FOUND[i].rustls, why: '' });
    expect(r.fns!.map((f) => f.fn)).toEqual(['rustls::CommonState::buffer_plaintext', 'rustls::CommonState::take_received_plaintext']);
    const offs = r.fns!.map((f) => Number(f.offset));
    expect(offs.every((o) => o > 0)).toBe(true);
    expect(offs[0]).not.toBe(offs[1]);
  });

  it(`${REFUSED.version}: UNRECOGNISED with the reason, nothing to attach`, () => {
    const r = locate(refused);
    expect(r).toMatchObject({ status: 'unrecognised', family: 'rustls', build: REFUSED.rustls });
    expect(r.why).toMatch(/buffer_plaintext/);
  });

  it('a binary merely holding the strings (this probe) is ABSENT', () => {
    expect(locate(probeBinary()).status).toBe('absent');
  });
});

describe('codex exec captured at rustls\'s boundary', () => {
  let tmp: string;
  let srv: Awaited<ReturnType<typeof startResponsesServer>>;
  let certs: ReturnType<typeof makeCaAndLeaf>;
  const answer = `PONG-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-codex-'));
    certs = makeCaAndLeaf(tmp);
    srv = await startResponsesServer(certs.key, certs.cert, answer);
  });
  afterAll(() => {
    srv?.server.kill();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it.each(FOUND.map((f, i) => [f.version, i] as const))('%s: request and streamed response exactly once', async (_v, i) => {
    const home = fs.mkdtempSync(path.join(tmp, 'home-'));
    fs.writeFileSync(path.join(home, 'config.toml'), [
      'model = "gpt-test"', 'model_provider = "mock"', '[model_providers.mock]', 'name = "mock"',
      `base_url = "https://localhost:${srv.port}/v1"`, 'wire_api = "responses"', 'env_key = "OPENAI_API_KEY"', ''].join('\n'));
    const before = srv.log().split('\n').filter(Boolean).length;
    const host = `codex-${randomUUID().slice(0, 8)}`;
    const r = await captureClient(host, [bins[i], 'exec', '--skip-git-repo-check', 'say pong'], path.join(tmp, `out-${i}.txt`),
      (cp) => cp.stdin!.end(), ['--binary-path', bins[i]],
      { CODEX_HOME: home, OPENAI_API_KEY: 'sk-agentsight-test', SSL_CERT_FILE: certs.ca, RUST_LOG: 'off' });
    const served = srv.log().split('\n').filter(Boolean).slice(before).map((l) => JSON.parse(l));
    expect(r.client.code).toBe(0);
    expect(r.client.out.toString()).toContain(answer);
    expect(r.ready.attached).toContain(fs.realpathSync(bins[i]));
    expect(r.lines.filter((l) => l.event === 'attached' && l.path === fs.realpathSync(bins[i]))).toEqual([
      { event: 'attached', path: fs.realpathSync(bins[i]), family: 'rustls', how: 'anchors' }]);
    expect(r.producerExit).toBe(0);
    expect(r.stopped).toMatchObject({ ringbuf_drops: 0, publish_failures: 0 });
    expect(r.decodeErrors).toEqual([]);

    const ssl = r.got.map((g) => g.rec).filter((x): x is RawSslRecord => x.kind === 'ssl' && x.pid === r.client.pid);
    const posts = served.filter((s) => s.url.endsWith('/responses'));
    expect(posts.length).toBeGreaterThanOrEqual(1);
    // Per connection (ssl = &CommonState): each direction reassembled by stream_offset, no gap, no overlap.
    const conns = new Map<number, { write: RawSslRecord[]; read: RawSslRecord[] }>();
    for (const x of ssl) {
      const c = conns.get(x.ssl) ?? { write: [], read: [] };
      c[x.dir === 'write' ? 'write' : 'read'].push(x);
      conns.set(x.ssl, c);
    }
    const join = (recs: RawSslRecord[]) => {
      const sorted = [...recs].sort((a, b) => a.stream_offset - b.stream_offset);
      let next = 0;
      for (const x of sorted) {
        expect(x.stream_offset).toBe(next);
        next += x.data.length;
      }
      return Buffer.concat(sorted.map((x) => Buffer.from(x.data))).toString('latin1');
    };
    const streams = [...conns.values()].map((c) => ({ write: join(c.write), read: join(c.read) }));
    const requests = streams.flatMap((s) => s.write.split(/(?=POST \/v1\/responses HTTP\/1\.1\r\n)/).filter((p) => p.startsWith('POST /v1/responses ')));
    // Exactly once: as many request heads as the server answered, each with its whole body (Content-Length).
    expect(requests).toHaveLength(posts.length);
    for (const [k, q] of requests.entries()) {
      const m = /\r\ncontent-length: (\d+)\r\n/i.exec(q);
      expect(m).not.toBeNull();
      const body = q.slice(q.indexOf('\r\n\r\n') + 4);
      expect(Buffer.byteLength(body, 'latin1')).toBe(posts[k].bytes);
      expect(JSON.parse(body)).toMatchObject({ model: 'gpt-test', stream: true });
    }
    const responses = streams.map((s) => s.read).join('');
    expect(responses.split('HTTP/1.1 200 OK').length - 1).toBe(posts.length);
    expect(responses.split('event: response.completed').length - 1).toBe(posts.length);
    expect(responses.split(`"delta":"${answer}"`).length - 1).toBe(posts.length);
    // Both directions of the request's connection carry the same identity.
    const reqConn = streams.findIndex((s) => s.write.includes('POST /v1/responses '));
    expect(streams[reqConn].read).toContain('event: response.completed');
  });
});
