/**
 * A scripted mock LLM provider for real agent binaries: one HTTPS server (CA + leaf made at start with
 * {@link makeCaAndLeaf}; ALPN `h2` and `http/1.1`) answering Anthropic Messages, OpenAI Responses, OpenAI Chat
 * Completions and Gemini generateContent the way the real APIs do (see the per-API modules), with the script of
 * ./script.ts (shell tool call first, `answer` after the tool result). Runs in the test's process (node:http2
 * `createSecureServer({ allowHTTP1: true })`); the agent must run as a child process (async spawn), not spawnSync.
 *
 * Routing: Anthropic paths (`/v1/messages…`, `GET /v1/models` with `anthropic-version`), Gemini paths
 * (`…/models/<m>:generateContent` …, `GET /v1beta/models`), then `…/responses`, `…/chat/completions`, `GET …/models`
 * (OpenAI list). Anything else: 404 JSON error, logged as `other`. Every answer is appended to {@link MockLlm.log}.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { makeCaAndLeaf } from './certs';
import { anthropic } from './anthropic';
import { gemini } from './gemini';
import { openaiChat } from './openai-chat';
import { openaiResponses } from './openai-responses';
import { MockAnswer, MockLlmResponseLog, MockRequest, sideLog } from './script';

export * from './script';
export { makeCaAndLeaf } from './certs';

/** A running mock provider. */
export interface MockLlm {
  port: number;
  /** `https://127.0.0.1:PORT` (no trailing slash; the certificate also names `localhost`). */
  baseUrl: string;
  /** PEM of the CA that signed the server's leaf (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, …). */
  caPath: string;
  /** Every response sent so far, in order (a copy). */
  log(): MockLlmResponseLog[];
  close(): Promise<void>;
}

/** Options of {@link startMockLlm}. */
export interface MockLlmOptions {
  /** Directory for the CA and leaf files (created if missing). */
  dir: string;
  /** Shell command the scripted tool call runs; default `echo agentsight-tool-ok`. */
  toolCommand?: string;
  /** Text answered once the request carries a tool result; default `agentsight-mock-answer`. */
  answer?: string;
}

/** Default {@link MockLlmOptions.toolCommand}. */
export const MOCK_TOOL_COMMAND = 'echo agentsight-tool-ok';
/** Default {@link MockLlmOptions.answer}. */
export const MOCK_ANSWER = 'agentsight-mock-answer';

const APIS = [anthropic, gemini, openaiResponses, openaiChat];

function openaiModels(req: MockRequest): MockAnswer | undefined {
  if (req.method !== 'GET' || !req.pathname.endsWith('/models')) return undefined;
  const data = ['gpt-5-mock', 'gpt-4.1-mock'].map((id) => ({ id, object: 'model', created: 1764633600, owned_by: 'agentsight' }));
  return { status: 200, json: { object: 'list', data }, log: sideLog('openai.chat_completions', req) };
}

/** Starts the mock provider on an ephemeral 127.0.0.1 port. */
export async function startMockLlm(opts: MockLlmOptions): Promise<MockLlm> {
  fs.mkdirSync(opts.dir, { recursive: true });
  const certs = makeCaAndLeaf(opts.dir);
  const toolCommand = opts.toolCommand ?? MOCK_TOOL_COMMAND;
  const answer = opts.answer ?? MOCK_ANSWER;
  const log: MockLlmResponseLog[] = [];
  let seq = 0;
  const handle = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try { body = raw ? JSON.parse(raw) : undefined; } catch { body = undefined; }
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      const mreq: MockRequest = { method: req.method ?? 'GET', path: req.url ?? '/', pathname: url.pathname, query: url.searchParams,
        headers: req.headers, body, next: () => ++seq, toolCommand, answer };
      let a: MockAnswer | undefined;
      for (const api of [...APIS, openaiModels]) if ((a = api(mreq))) break;
      if (!a) a = { status: 404, json: { error: { type: 'not_found_error', message: `mock: no route for ${mreq.method} ${url.pathname}` } }, log: sideLog('openai.chat_completions', mreq) };
      log.push(a.log);
      const r = res as http.ServerResponse;
      if (a.sse) {
        r.writeHead(a.status, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
        const events = a.sse;
        // One write per event, each after the previous was handed to TLS, so the client reads a real stream.
        const step = (i: number) => (i < events.length ? r.write(events[i], () => setImmediate(() => step(i + 1))) : r.end());
        step(0);
      } else {
        r.writeHead(a.status, { 'content-type': 'application/json' });
        r.end(JSON.stringify(a.json));
      }
    });
  };
  const server = http2.createSecureServer({ key: fs.readFileSync(certs.key), cert: fs.readFileSync(certs.cert), allowHTTP1: true,
    ALPNProtocols: ['h2', 'http/1.1'] }, handle);
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', () => resolve()); });
  const port = (server.address() as AddressInfo).port;
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => { sessions.add(s); s.on('close', () => sessions.delete(s)); });
  const sockets = new Set<import('node:net').Socket>();
  server.on('secureConnection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  return {
    port, baseUrl: `https://127.0.0.1:${port}`, caPath: certs.ca,
    log: () => log.map((e) => ({ ...e, tool_calls: e.tool_calls.map((t) => ({ ...t })) })),
    close: () => new Promise<void>((resolve) => {
      for (const s of sessions) s.destroy();
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
