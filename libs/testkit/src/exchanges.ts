/**
 * Test helpers: build {@link Exchange}s from the real traffic corpus (`corpusDir()`: ../shared/corpus beside the repository, see its README.md) the
 * way the wire would carry them (the analyzer's input), for the analyzer's specs and the cross-stage ones in test/.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as yaml from 'js-yaml';
import { connKey, type ConnRef, type Exchange, type HeaderList, type SseEvent } from '@agentsight/contracts';
import { corpusDir, fixtureBytes, loadFixture, type GroundTruthEntry } from './corpus';

export const CORPUS = corpusDir();

/** One element of ground_truth.json (provider-raw numbers; see the corpus README "How the ground truth was derived"). */
export type GroundTruth = GroundTruthEntry;

const enc = new TextEncoder();
export const bytes = (s: string): Uint8Array => enc.encode(s);

/**
 * A deliberately small SSE splitter for tests (independent of the analyzer's own): blocks separated by a blank line,
 * `event:` and `data:` fields, comments skipped, one optional space after the colon removed.
 */
export function sseEvents(text: string): SseEvent[] {
  const out: SseEvent[] = [];
  for (const block of text.replace(/\r\n/g, '\n').split(/\n\n+/)) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const m = /^([a-z]+):? ?(.*)$/.exec(line);
      if (!m) continue;
      if (m[1] === 'event') event = m[2];
      else if (m[1] === 'data') data.push(m[2]);
    }
    if (data.length) out.push({ event, data: data.join('\n') });
  }
  return out;
}

/** Everything a test needs to say about one exchange; the rest gets neutral defaults. */
export interface ExchangeSpec {
  id?: string;
  host: string;
  method?: string;
  target: string;
  reqHeaders?: HeaderList;
  reqBody: string | Uint8Array;
  reqIncomplete?: 'short' | 'decode_error';
  status?: number;
  respHeaders?: HeaderList;
  respBody?: string | Uint8Array;
  events?: SseEvent[];
  streaming?: boolean;
  noResponse?: boolean;
  times?: { reqStart: bigint; reqEnd: bigint; respStart: bigint; respEnd: bigint };
  pid?: number;
  tid?: number;
  comm?: string;
}

/** Builds an Exchange (contract v1) as the aggregator would publish it. */
export function makeExchange(s: ExchangeSpec): Exchange {
  const pid = s.pid ?? 4242;
  const conn: ConnRef = {
    key: connKey({ host: 'test-host', boot_id: 'boot-1', run: 7, pid, ssl: 0x5555 }),
    host: 'test-host',
    boot_id: 'boot-1',
    run: 7,
    pid,
    tid: s.tid ?? pid + 1,
    uid: 1000,
    comm: s.comm ?? 'agent',
    ssl: '0x5555',
    partition: 3,
  };
  const t = s.times ?? { reqStart: 1_000_000_000n, reqEnd: 1_000_500_000n, respStart: 1_200_000_000n, respEnd: 1_900_000_000n };
  const body = (b: string | Uint8Array | undefined) => (b === undefined ? new Uint8Array(0) : typeof b === 'string' ? bytes(b) : b);
  const events = s.events ?? [];
  return {
    v: 1,
    id: s.id ?? `ex-${s.target}-${s.host}`,
    conn,
    process: null,
    server_address: s.host,
    request: {
      method: s.method ?? 'POST',
      target: s.target,
      version: 'HTTP/1.1',
      headers: s.reqHeaders ?? [['Host', s.host], ['Content-Type', 'application/json']],
      body: body(s.reqBody),
      ...(s.reqIncomplete ? { body_incomplete: s.reqIncomplete } : {}),
      start_ns: t.reqStart,
      end_ns: t.reqEnd,
    },
    response: s.noResponse
      ? null
      : {
          status: s.status ?? 200,
          reason: 'OK',
          version: 'HTTP/1.1',
          headers: s.respHeaders ?? [['Content-Type', (s.streaming ?? events.length > 0) ? 'text/event-stream' : 'application/json']],
          body: body(s.respBody),
          events,
          streaming: s.streaming ?? events.length > 0,
          start_ns: t.respStart,
          end_ns: t.respEnd,
        },
  };
}

/** Where the vercel/ai fixtures would have been recorded: host and request path per ground-truth provider. */
const VERCEL_ENDPOINTS: Record<string, { host: string; target: string }> = {
  openai: { host: 'api.openai.com', target: '/v1/chat/completions' },
  'azure-openai': { host: 'my-resource.openai.azure.com', target: '/openai/deployments/model-router/chat/completions?api-version=2025-04-01-preview' },
  deepseek: { host: 'api.deepseek.com', target: '/chat/completions' },
  groq: { host: 'api.groq.com', target: '/openai/v1/chat/completions' },
  xai: { host: 'api.x.ai', target: '/v1/chat/completions' },
  anthropic: { host: 'api.anthropic.com', target: '/v1/messages' },
};

/** The request model put in the synthesised request of a vercel fixture (vercel stores no request). */
export function vercelRequestModel(gt: GroundTruth): string {
  return gt.model ?? 'o1-mini';
}

/** Hosts of the vercel fixtures whose request the testkit's `loadFixture` reconstructs (Responses, Gemini, Bedrock). */
const VERCEL_HOSTS: Record<string, string> = {
  openai: 'api.openai.com',
  'google-gemini': 'generativelanguage.googleapis.com',
  'amazon-bedrock': 'bedrock-runtime.us-east-1.amazonaws.com',
};

/**
 * A synthesised request body for a vercel fixture outside Chat Completions / Messages, in the API's own shape:
 * Responses `{model, input, stream}`, Gemini `{contents}` (model in the path), Bedrock Converse `{messages}` (model
 * in the path).
 */
function vercelRequestBody(gt: GroundTruth): string {
  if (gt.api === 'responses') return JSON.stringify({ model: vercelRequestModel(gt), input: 'Hello', ...(gt.streaming ? { stream: true } : {}) });
  if (gt.api === 'converse-stream') return JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'Hello' }] }] });
  return JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Hello' }] }] });
}

/**
 * Fixture replayed by the testkit (`loadFixture`: vercel Responses/Gemini/Bedrock chunks re-framed as the wire carries
 * them, jsgenai recordings) → Exchange as the parser/aggregator would publish it: `text/event-stream` bodies become SSE
 * events, anything else (JSON, AWS event-stream bytes) stays a non-streamed body. The request is the recorded one
 * (jsgenai) or synthesised ({@link vercelRequestBody}).
 */
export function fixtureExchange(gt: GroundTruth): Exchange {
  const f = loadFixture(gt.file, gt.call ?? 0);
  const body = fixtureBytes(f);
  const respHeaders: HeaderList = Object.entries(f.headers).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((one): [string, string] => [k, one]));
  const sse = /text\/event-stream/i.test(header(respHeaders, 'content-type') ?? '');
  let host = VERCEL_HOSTS[gt.provider] ?? 'localhost';
  let reqBody: string;
  if (gt.file.startsWith('jsgenai__')) {
    const doc = JSON.parse(readFileSync(join(CORPUS, gt.file), 'utf8')) as { interactions: Array<{ request: { serverAddress: string } }> };
    host = doc.interactions[gt.call ?? 0].request.serverAddress;
    reqBody = JSON.stringify(f.requestBody);
  } else reqBody = vercelRequestBody(gt);
  return makeExchange({
    id: `fixture:${gt.file}#${gt.call ?? 0}`,
    host,
    method: f.method,
    target: f.path,
    reqBody,
    status: f.status,
    respHeaders,
    ...(sse ? { events: sseEvents(body.toString('utf8')), streaming: true } : { respBody: new Uint8Array(body), streaming: false }),
  });
}

/**
 * vercel/ai fixture → Exchange. The fixture stores no request, so a minimal request is synthesised (model
 * {@link vercelRequestModel}, `stream` as the fixture). `.chunks.txt`: each line becomes an SSE `data:` event
 * (Anthropic: `event: <type>`; OpenAI chat: a final `data: [DONE]`); `.json`: the non-streamed body (status 400
 * when it is an error document).
 */
export function vercelExchange(gt: GroundTruth): Exchange {
  const ep = VERCEL_ENDPOINTS[gt.provider];
  if (!ep) throw new Error(`no endpoint for vercel provider ${gt.provider}`);
  const text = readFileSync(join(CORPUS, gt.file), 'utf8');
  const streaming = gt.file.endsWith('.chunks.txt');
  const reqBody = JSON.stringify({
    model: vercelRequestModel(gt),
    max_tokens: 1024,
    messages: [{ role: 'user', content: 'Hello' }],
    ...(streaming ? { stream: true } : {}),
  });
  if (streaming) {
    const events: SseEvent[] = text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((line) => ({ event: gt.api === 'messages' ? (JSON.parse(line) as { type: string }).type : 'message', data: line }));
    if (gt.api === 'chat.completions') events.push({ event: 'message', data: '[DONE]' });
    return makeExchange({ id: `vercel:${gt.file}`, host: ep.host, target: ep.target, reqBody, events, streaming: true });
  }
  const isError = 'error' in (JSON.parse(text) as object);
  return makeExchange({ id: `vercel:${gt.file}`, host: ep.host, target: ep.target, reqBody, respBody: text, status: isError ? 400 : 200 });
}

function headerList(h: unknown): HeaderList {
  const out: HeaderList = [];
  for (const [k, v] of Object.entries((h ?? {}) as Record<string, unknown>)) {
    for (const one of Array.isArray(v) ? v : [v]) out.push([k, one instanceof Uint8Array ? Buffer.from(one).toString('utf8') : String(one)]);
  }
  return out;
}

function header(h: HeaderList, name: string): string | undefined {
  return h.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

/**
 * DataDog/dd-trace-py vcrpy cassette → Exchange (interaction `gt.call`, default 0). Bodies as the parser would deliver
 * them: gzip `!!binary` bodies gunzipped; AWS event-stream `!!binary` bodies kept as bytes (the parser does not split
 * them); `!!binary` header values decoded as UTF-8; the httpx-flavoured cassette (`response.content`) is already
 * decoded text. `text/event-stream` responses become SSE events; anything else stays a body, even SSE text under a
 * JSON Content-Type (the parser only splits by Content-Type).
 */
export function ddtraceExchange(gt: GroundTruth): Exchange {
  // js-yaml 4 has no YAML11_SCHEMA export; its DEFAULT_SCHEMA carries the YAML 1.1 types vcrpy uses (!!binary, timestamps, merge).
  const doc = yaml.load(readFileSync(join(CORPUS, gt.file), 'utf8'), { schema: yaml.DEFAULT_SCHEMA }) as {
    interactions: Array<{ request: Record<string, unknown>; response: Record<string, unknown> }>;
  };
  const { request, response } = doc.interactions[gt.call ?? 0];
  const url = new URL(String(request.uri));
  const reqHeaders = headerList(request.headers);
  const respHeaders = headerList(response.headers);
  let raw: string | Uint8Array;
  if (typeof response.content === 'string') raw = response.content;
  else {
    const s = (response.body as { string: unknown }).string;
    raw = s instanceof Uint8Array ? s : String(s);
  }
  if (raw instanceof Uint8Array && raw[0] === 0x1f && raw[1] === 0x8b) raw = new Uint8Array(gunzipSync(raw));
  const status = typeof response.status_code === 'number' ? response.status_code : (response.status as { code: number }).code;
  const isSse = /text\/event-stream/i.test(header(respHeaders, 'content-type') ?? '');
  const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8');
  return makeExchange({
    id: `ddtrace:${gt.file}#${gt.call ?? 0}`,
    host: url.host,
    method: String(request.method),
    target: url.pathname + url.search,
    reqHeaders,
    reqBody: String(request.body ?? ''),
    status,
    respHeaders,
    ...(isSse ? { events: sseEvents(text), streaming: true } : { respBody: raw, streaming: false }),
  });
}

/** One line of agentsight__claude-code-raw.jsonl (an SSL_write/SSL_read seen by sslsniff). */
interface RawLine {
  function: string;
  timestamp_ns: number;
  pid: number;
  tid: number;
  comm: string;
  data: string;
}

let rawLines: RawLine[] | undefined;
export function claudeCodeRecords(): RawLine[] {
  rawLines ??= readFileSync(join(CORPUS, 'agentsight__claude-code-raw.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as RawLine);
  return rawLines;
}

/** The capture's `data` text back to bytes (README: chars < U+0100 are single bytes, others UTF-8). */
function captureBytes(s: string): Buffer {
  return Buffer.concat(Array.from(s).map((c) => (c.codePointAt(0)! < 0x100 ? Buffer.from([c.codePointAt(0)!]) : Buffer.from(c, 'utf8'))));
}

/** A minimal HTTP/1.1 message reader over some capture records: head, headers, body (chunked and gzip removed). */
export function httpFromRecords(indices: number[]): { startLine: string; headers: HeaderList; body: Uint8Array; declaredLength: number | null } {
  const recs = claudeCodeRecords();
  const all = Buffer.concat(indices.map((i) => (i === 19 || i === 20 ? Buffer.from(recs[i].data, 'utf8') : captureBytes(recs[i].data))));
  const sep = all.indexOf('\r\n\r\n');
  const [startLine, ...lines] = all.subarray(0, sep).toString('latin1').split('\r\n');
  const headers: HeaderList = lines.map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]);
  let body: Buffer = all.subarray(sep + 4);
  if (/chunked/i.test(header(headers, 'transfer-encoding') ?? '')) {
    const parts: Buffer[] = [];
    let rest = body;
    for (;;) {
      const eol = rest.indexOf('\r\n');
      const n = parseInt(rest.subarray(0, eol).toString(), 16);
      if (!n) break;
      parts.push(rest.subarray(eol + 2, eol + 2 + n));
      rest = rest.subarray(eol + 4 + n);
    }
    body = Buffer.concat(parts);
  }
  if (/gzip/i.test(header(headers, 'content-encoding') ?? '')) body = gunzipSync(body);
  const cl = header(headers, 'content-length');
  return { startLine, headers, body: new Uint8Array(body), declaredLength: cl ? Number(cl) : null };
}

/** Capture timestamps of some records, as bigint ns. */
export function recordNs(i: number): bigint {
  return BigInt(claudeCodeRecords()[i].timestamp_ns);
}

/**
 * The capture's one LLM call: request from records 19–20 as written (its body is 98,135 bytes although
 * Content-Length says 98,207 because of post-hoc redaction, so `body_incomplete: 'short'`), response head from
 * record 21 and, as body, the derived `agentsight__claude-code-raw.v1-messages-response.sse` split into SSE events.
 */
export function claudeCodeExchange(): Exchange {
  const req = httpFromRecords([19, 20]);
  const recs = claudeCodeRecords();
  const head = recs[21].data.slice(0, recs[21].data.indexOf('\r\n\r\n'));
  const respHeaders: HeaderList = head.split('\r\n').slice(1).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]);
  const sse = readFileSync(join(CORPUS, 'agentsight__claude-code-raw.v1-messages-response.sse'), 'utf8');
  const [method, target] = req.startLine.split(' ');
  return makeExchange({
    id: 'capture:claude-code:19',
    host: header(req.headers, 'host')!,
    method,
    target,
    reqHeaders: req.headers,
    reqBody: req.body,
    reqIncomplete: req.declaredLength !== null && req.declaredLength > req.body.length ? 'short' : undefined,
    status: Number(head.split(' ')[1]),
    respHeaders,
    events: sseEvents(sse),
    streaming: true,
    times: { reqStart: recordNs(19), reqEnd: recordNs(20), respStart: recordNs(21), respEnd: recordNs(85) },
    pid: recs[19].pid,
    tid: recs[19].tid,
    comm: recs[19].comm,
  });
}

/** Exchange for a ground-truth row (every API of the corpus). */
export function exchangeFor(gt: GroundTruth): Exchange {
  if (gt.file.startsWith('agentsight__')) return claudeCodeExchange();
  if (gt.file.startsWith('jsgenai__')) return fixtureExchange(gt);
  if (gt.file.startsWith('vercel__')) return VERCEL_ENDPOINTS[gt.provider] && (gt.api === 'chat.completions' || gt.api === 'messages') ? vercelExchange(gt) : fixtureExchange(gt);
  if (gt.file.startsWith('ddtrace__')) return ddtraceExchange(gt);
  throw new Error(`no exchange builder for ${gt.file}`);
}

/**
 * `ex` with the SSE events that carry a usage object (`"usage":{`) dropped: a streamed response as a client that did
 * not ask for usage would see it, for the analyzer's usage estimation. Events are otherwise kept as they are.
 */
export function withoutUsageChunk(ex: Exchange): Exchange {
  return { ...ex, response: { ...ex.response!, events: ex.response!.events!.filter((e) => !/"usage":\{/.test(e.data)) } };
}

