/**
 * rustls 0.23 located in the real Codex binaries from npm (static-pie musl Rust, stripped): `--locate` finds
 * CommonState::buffer_plaintext and take_received_plaintext in each pinned release (0.140-0.171, rustls 0.23.36-46,
 * two inlining shapes), and a real `codex exec` of each against a local HTTPS server answering the OpenAI Responses
 * API (streamed) is captured with the request and the response each exactly once, both directions under one
 * connection identity. A copy of a release whose take_received_plaintext entry no longer stores 32 is not located
 * (never attached at a guess).
 *
 * The binaries (≈290–315 MB each) are fetched by `npm pack` once and cached under
 * $AGENTSIGHT_TEST_CACHE/codex (default /var/cache/agentsight-test/codex). Needs root (eBPF) and NATS.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeCaAndLeaf, probeBinary, startResponsesServer } from '@agentsight/testkit';
import type { RawSslRecord } from '@agentsight/contracts';
import { captureClient } from './harness';
import { CODEX_CACHE, FOUND } from './codex-builds';
import { fetchAll } from './npm-binaries';

jest.setTimeout(600_000);

interface Located { status: string; family?: string; build?: string; why?: string; fns?: Array<{ fn: string; offset: string }> }

function locate(bin: string): Located {
  return JSON.parse(execFileSync(probeBinary(), ['--locate', bin], { encoding: 'utf8' }).trim());
}

let bins: string[] = [];

beforeAll(async () => {
  bins = await fetchAll(FOUND, 2, CODEX_CACHE);
});

const RUSTLS_FNS = ['rustls::CommonState::buffer_plaintext', 'rustls::CommonState::take_received_plaintext'];

describe('rustls locator on Codex releases from npm', () => {
  it.each(FOUND.map((f, i) => [f.version, i] as const))('%s: FOUND, both functions and its static OpenSSL\'s beside them (SSL_write only where linked)', (_v, i) => {
    const r = locate(bins[i]);
    const f = FOUND[i];
    expect(r).toMatchObject({ status: 'found', family: 'rustls', build: `${f.rustls}, ${f.openssl}`, why: '' });
    expect(r.fns!.map((x) => x.fn)).toEqual([...RUSTLS_FNS, ...(f.noSslWrite ? [] : ['SSL_write']), 'SSL_read', 'SSL_write_ex', 'SSL_read_ex', 'SSL_do_handshake']);
    const offs = r.fns!.map((x) => Number(x.offset));
    expect(offs.every((o) => o > 0)).toBe(true);
    expect(new Set(offs).size).toBe(offs.length);
    if (f.opensslOffsets)
      expect(Object.fromEntries(r.fns!.filter((x) => x.fn in f.opensslOffsets!).map((x) => [x.fn, Number(x.offset)]))).toEqual(f.opensslOffsets);
  });

  it(`${FOUND[3].version} with its take_received_plaintext's store of 32 changed to 33: rustls not recognised (named, nothing of it attached), its OpenSSL alone found`, () => {
    const i = 3;
    const read = Number(locate(bins[i]).fns!.find((x) => x.fn === RUSTLS_FNS[1])!.offset);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-codex-mut-'));
    try {
      const copy = path.join(tmp, 'codex');
      const buf = fs.readFileSync(bins[i]);
      // `mov byte [rdi+d8], 32` (c6 47 d8 20) or `mov byte [rdi+d32], 32` (c6 87 d32 20) within its first 48 bytes.
      let at = -1;
      for (let k = read; k < read + 48 && at < 0; k++) {
        if (buf[k] === 0xc6 && buf[k + 1] === 0x47 && buf[k + 3] === 0x20) at = k + 3;
        else if (buf[k] === 0xc6 && buf[k + 1] === 0x87 && buf[k + 6] === 0x20) at = k + 6;
      }
      expect(at).toBeGreaterThan(0);
      buf[at] = 33;
      fs.writeFileSync(copy, buf);
      const r = locate(copy);
      const reason = 'CommonState::take_received_plaintext: no function with its entry shape';
      // Its static OpenSSL is still found: attached alone, the rustls named beside it, nothing of it located.
      expect(r).toMatchObject({ status: 'found', family: 'OpenSSL', build: FOUND[i].openssl, why: `${FOUND[i].rustls} not recognised: ${reason}` });
      expect(r.fns!.map((x) => x.fn)).toEqual(['SSL_read', 'SSL_write_ex', 'SSL_read_ex', 'SSL_do_handshake']);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
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
    expect(r.stopped).toMatchObject({ lost_records: 0, ringbuf_drops: 0, publish_failures: 0 });
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
