/**
 * Local HTTPS server that replays REAL recorded provider responses from the corpus (see corpus.ts), so real TLS clients
 * (node's static OpenSSL, curl / python on Debian's libssl) produce genuine TLS traffic without any internet access.
 *
 * Endpoints:
 * - `POST /v1/chat/completions`, `POST /v1/messages` (query ignored, e.g. `?beta=true`) and any path in `opts.routes`:
 *   replay the route's fixtures in rotation (request 1 → fixture 0, request 2 → fixture 1, …, wrapping around).
 * - `POST /v1/echo`: 200 `application/json` `{"received_bytes":N,"sha256":"<hex>"}` of the received request body.
 * Request headers understood by the server:
 * - `x-replay-fixture: <file>[#<index>]` serves that corpus fixture instead of the route's choice (any path).
 * - `x-replay-delay-ms: <ms>` waits that long between two streamed chunks.
 * - `x-replay-gzip: 1` compresses this response (same as `opts.gzip`).
 * Every replayed response carries `x-replay-fixture: <file>#<index>` naming what was served.
 */
import * as crypto from 'crypto';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as http2 from 'http2';
import * as https from 'https';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import type { TLSSocket } from 'tls';
import * as zlib from 'zlib';
import { Fixture, loadFixture, parseFixtureRef } from './corpus';

/** Routes served when `opts.routes` does not override them. */
export const DEFAULT_ROUTES: Record<string, string[]> = {
  '/v1/chat/completions': ['vercel__openai-text.chunks.txt'],
  '/v1/messages': ['vercel__anthropic-text.chunks.txt'],
};

export interface ReplayServerOptions {
  /** Path (without query, e.g. `/v1/chat/completions`) → corpus files (`file` or `file#index`) served in rotation. Merged over DEFAULT_ROUTES. */
  routes?: Record<string, string[]>;
  /** Gzip every response (`Content-Encoding: gzip`, streamed with a Z_SYNC_FLUSH per chunk). Default false. */
  gzip?: boolean;
  /** TCP port on 127.0.0.1; default 0 = ephemeral. */
  port?: number;
  /** Default delay between streamed chunks, in milliseconds (overridden per request by `x-replay-delay-ms`). Default 0. */
  delayMs?: number;
  /**
   * Extra DNS names for the certificate (e.g. `api.openai.com`), so a client that resolves a provider's real host name
   * to 127.0.0.1 (curl `--resolve`, a custom `lookup`) verifies the server under that name, with real SNI and Host.
   */
  hostnames?: string[];
  /**
   * Opt-in HTTP/2: serve with node:http2 `createSecureServer({ allowHTTP1: true })`, ALPN `h2` then `http/1.1`, so
   * clients that offer h2 (curl, node:http2, Go, httpx http2=True) speak HTTP/2 and the others HTTP/1.1. Same
   * endpoints and headers; a streamed fixture is written one DATA frame per chunk. Default false (ALPN `http/1.1` only).
   */
  h2?: boolean;
}

/** A request handler for node:http, node:https or node:http2 (compatibility API) servers. */
export type ReplayHandler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

/** One request as received by the server (recorded after its body was fully read). */
export interface RecordedRequest {
  method: string;
  /** Path including the query string, e.g. `/v1/messages?beta=true`. */
  path: string;
  /** Request headers (node's lower-cased IncomingHttpHeaders). */
  headers: http.IncomingHttpHeaders;
  /** Raw request body bytes. */
  body: Buffer;
  /** ALPN protocol negotiated on the connection (`http/1.1`, `h2`), or false when the client offered none. */
  alpnProtocol: string | false | null;
  /** HTTP version of the request as node reports it: `1.1` or `2.0`. */
  httpVersion?: string;
  /** `<file>#<index>` of the fixture served, when one was. */
  fixture?: string;
}

export interface ReplayServer {
  /** Base URL, `https://127.0.0.1:<port>` (no trailing slash). */
  url: string;
  port: number;
  /** Path of the self-signed certificate (PEM) to trust (curl `--cacert`, NODE_EXTRA_CA_CERTS, python cafile). */
  caPath: string;
  /** The same certificate as PEM text (for node `https.request({ ca })`). */
  certPem: string;
  /** Requests received so far, in arrival order. */
  requests: RecordedRequest[];
  /** Stops listening, drops open connections and deletes the temporary certificate directory. */
  close(): Promise<void>;
}

/**
 * Creates a self-signed RSA-2048 certificate for CN=localhost with SAN DNS:localhost, IP:127.0.0.1 and DNS:<each of
 * `hostnames`> (valid 1 day) in a new temporary directory, using the openssl CLI. Returns the paths and PEM texts.
 * Throws on a host name that is not a plain DNS name.
 */
export function makeSelfSignedCert(hostnames: string[] = []): { dir: string; certPath: string; keyPath: string; certPem: string; keyPem: string } {
  for (const h of hostnames) if (!/^[A-Za-z0-9.-]+$/.test(h)) throw new Error(`makeSelfSignedCert: not a DNS name: ${h}`);
  const san = ['DNS:localhost', 'IP:127.0.0.1', ...hostnames.map((h) => `DNS:${h}`)].join(',');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-replay-'));
  const certPath = path.join(dir, 'cert.pem');
  const keyPath = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', `subjectAltName=${san}`, '-keyout', keyPath, '-out', certPath,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { dir, certPath, keyPath, certPem: fs.readFileSync(certPath, 'utf8'), keyPem: fs.readFileSync(keyPath, 'utf8') };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function writeAsync(stream: NodeJS.WritableStream, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => stream.write(chunk, (err) => (err ? reject(err) : resolve())));
}

function sendJson(res: http.ServerResponse, status: number, obj: unknown): void {
  const body = Buffer.from(JSON.stringify(obj));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}

/** Connection-specific header fields that HTTP/2 forbids (RFC 9113 §8.2.2); node:http2 refuses to send them. */
const H2_FORBIDDEN = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** Writes `fx` to `res`: streaming fixtures chunk by chunk (chunked encoding / DATA frames), others with a Content-Length. */
async function replay(res: http.ServerResponse, fx: Fixture, gzip: boolean, delayMs: number, h2 = false): Promise<void> {
  const headers: http.OutgoingHttpHeaders = { ...fx.headers, 'x-replay-fixture': `${fx.file}#${fx.index}` };
  if (h2) for (const k of Object.keys(headers)) if (H2_FORBIDDEN.has(k.toLowerCase())) delete headers[k];
  // Never compress twice: recorded gzip bodies already carry their own Content-Encoding.
  const compress = gzip && !fx.headers['content-encoding'];
  if (compress) headers['content-encoding'] = 'gzip';

  if (!fx.streaming) {
    const raw = Buffer.concat(fx.body);
    const body = compress ? zlib.gzipSync(raw) : raw;
    headers['content-length'] = body.length;
    res.writeHead(fx.status, headers);
    res.end(body);
    return;
  }

  res.writeHead(fx.status, headers); // no content-length → Transfer-Encoding: chunked
  res.flushHeaders();
  let aborted = false;
  res.on('close', () => { aborted = !res.writableFinished; });
  const gz = compress ? zlib.createGzip() : undefined;
  if (gz) gz.pipe(res);
  for (let i = 0; i < fx.body.length && !aborted; i++) {
    if (i > 0 && delayMs > 0) await sleep(delayMs);
    if (gz) {
      gz.write(fx.body[i]);
      await new Promise<void>((r) => gz.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
    } else {
      await writeAsync(res, fx.body[i]);
    }
  }
  await new Promise<void>((resolve) => {
    res.once('finish', resolve);
    res.once('close', resolve);
    if (gz) gz.end(); else res.end();
  });
}

/**
 * The replay server's request handler (endpoints in the module comment) for any node server, e.g. a cleartext
 * `http2.createServer` in tests that need the plaintext frames; each request is appended to `requests`. Only `routes`,
 * `gzip` and `delayMs` of `opts` apply.
 */
export function createReplayHandler(opts: ReplayServerOptions, requests: RecordedRequest[]): ReplayHandler {
  const routes: Record<string, string[]> = { ...DEFAULT_ROUTES, ...(opts.routes ?? {}) };
  const rotation = new Map<string, number>();
  const cache = new Map<string, Fixture>();

  const fixture = (ref: string): Fixture => {
    const { file, index } = parseFixtureRef(ref);
    const key = `${file}#${index}`;
    let fx = cache.get(key);
    if (!fx) cache.set(key, (fx = loadFixture(file, index)));
    return fx;
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const h2 = req.httpVersionMajor === 2;
    const rec: RecordedRequest = {
      method: req.method ?? '', path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks),
      alpnProtocol: (req.socket as TLSSocket).alpnProtocol ?? null, httpVersion: req.httpVersion,
    };
    requests.push(rec);
    const pathname = new URL(rec.path, 'https://x').pathname;
    const override = req.headers['x-replay-fixture'];
    const gzip = opts.gzip === true || req.headers['x-replay-gzip'] === '1';
    const delayHdr = Number(req.headers['x-replay-delay-ms']);
    const delayMs = Number.isFinite(delayHdr) && delayHdr > 0 ? delayHdr : opts.delayMs ?? 0;

    if (!override && pathname === '/v1/echo') {
      sendJson(res, 200, { received_bytes: rec.body.length, sha256: crypto.createHash('sha256').update(rec.body).digest('hex') });
      return;
    }
    let ref: string | undefined;
    if (typeof override === 'string' && override) {
      ref = override;
    } else {
      const key = routes[rec.path] ? rec.path : pathname;
      const list = routes[key];
      if (!list || list.length === 0) {
        sendJson(res, 404, { error: { type: 'not_found', message: `replay server: no route for ${req.method} ${rec.path}` } });
        return;
      }
      const n = rotation.get(key) ?? 0;
      rotation.set(key, n + 1);
      ref = list[n % list.length];
    }
    let fx: Fixture;
    try {
      fx = fixture(ref);
    } catch (err) {
      sendJson(res, override ? 400 : 500, { error: { type: 'replay_fixture_error', message: (err as Error).message } });
      return;
    }
    rec.fixture = `${fx.file}#${fx.index}`;
    await replay(res, fx, gzip, delayMs, h2);
  };

  // The http2 compatibility objects offer the same surface the handler uses.
  return (req, res) => {
    const r = req as http.IncomingMessage;
    const w = res as http.ServerResponse;
    handle(r, w).catch((err) => {
      if (!w.headersSent) sendJson(w, 500, { error: { type: 'replay_server_error', message: String(err) } });
      else w.destroy(err as Error);
    });
  };
}

/**
 * Starts the replay server on 127.0.0.1 (HTTPS, fresh self-signed cert; ALPN `http/1.1` only, or `h2` + `http/1.1` with
 * `opts.h2`). Fixtures are loaded lazily and cached; an unknown fixture in `routes` only fails the request that selects
 * it (HTTP 500 with a JSON error).
 */
export async function startReplayServer(opts: ReplayServerOptions = {}): Promise<ReplayServer> {
  const requests: RecordedRequest[] = [];
  const cert = makeSelfSignedCert(opts.hostnames ?? []);
  const handler = createReplayHandler(opts, requests);
  const sessions = new Set<http2.Http2Session>();
  let server: https.Server | http2.Http2SecureServer;
  if (opts.h2) {
    const s2 = http2.createSecureServer({ key: cert.keyPem, cert: cert.certPem, allowHTTP1: true, ALPNProtocols: ['h2', 'http/1.1'] }, handler);
    s2.on('session', (s) => {
      sessions.add(s);
      s.on('close', () => sessions.delete(s));
    });
    s2.setTimeout(0);
    server = s2;
  } else {
    const s1 = https.createServer({ key: cert.keyPem, cert: cert.certPem, ALPNProtocols: ['http/1.1'] }, handler);
    // No request/keep-alive timeouts getting in the way of slow (delayed) streams or stopped clients.
    s1.requestTimeout = 0;
    s1.headersTimeout = 0;
    server = s1;
  }
  const sockets = new Set<TLSSocket>();
  server.on('secureConnection', (s: TLSSocket) => {
    s.setNoDelay(true);
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closed = false;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    caPath: cert.certPath,
    certPem: cert.certPem,
    requests,
    close: async () => {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
        for (const s of sessions) s.destroy();
        for (const s of sockets) s.destroy();
      });
      fs.rmSync(cert.dir, { recursive: true, force: true });
    },
  };
}
