/**
 * Access to the shared corpus of REAL recorded LLM provider traffic (see `<corpus>/README.md`) and conversion of each
 * recording into the exact bytes an HTTP server must write to replay it.
 *
 * Replay rules (from the corpus README, plus the decisions documented inline):
 * - `vercel__*.chunks.txt`: one SSE `data:` payload per line → `data: <line>\n\n` per event. Anthropic Messages and OpenAI
 *   Responses also get `event: <type>\n` first (the wire format of both APIs carries event lines; the type comes from the JSON
 *   `type` field). Every Chat-Completions-style API (OpenAI, Azure, DeepSeek, Groq, xAI) gets a final `data: [DONE]\n\n`.
 *   Gemini payloads are wrapped as plain `data:` events. Bedrock payloads (`{"<eventType>": payload}`) are re-encoded as AWS
 *   event-stream frames (best effort: they are decoded payloads, not bytes from the wire).
 * - `vercel__*.json`: the (re-serialised) non-streaming body, sent verbatim; the status is inferred from the ground truth
 *   (`error:<status>:…`) since the file has none.
 * - `ddtrace__*.yaml` (vcrpy): text SSE bodies are replayed verbatim, split into events after each blank line; `!!binary`
 *   gzip bodies are replayed as the original bytes with their recorded `Content-Encoding: gzip`; `!!binary` AWS event-stream
 *   bodies are split at frame boundaries. Recorded response headers are kept except hop-by-hop/length headers
 *   (`transfer-encoding`, `content-length`, `connection`, `keep-alive`), which the server recomputes.
 *   The httpx-flavoured cassette (`response.content` + `status_code`, i.e. `ddtrace__chat_completion_tool_call_streamed.yaml`)
 *   stores already-DECODED text while its headers still say `Content-Encoding: gzip`: we DROP that content-encoding header
 *   (sending it would make every client fail to inflate plain text) and, because its recorded `Content-Type` is
 *   `application/json` although the body is an SSE stream, we correct the content type to `text/event-stream; charset=utf-8`.
 * - `jsgenai__*.json`: every `bodySegments` element is one SSE `data:` event (`data: <compact JSON>\n\n`; the original framing is
 *   not stored, so this is a reconstruction) for `text/event-stream` responses, else the single JSON body. The segments are
 *   stored decoded, so a recorded `Content-Encoding` header is dropped.
 * - `agentsight__claude-code-raw.v1-messages-response.sse`: verbatim, split into events.
 * - `agentsight__claude-code-raw.jsonl` is a raw eBPF capture, not an HTTP recording: `loadFixture` rejects it.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import * as zlib from 'zlib';

/** Walks up from `start` to the first directory containing `nx.json` (the agentsight repo root). */
export function repoRoot(start: string = __dirname): string {
  let dir = path.resolve(start);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'nx.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`repoRoot: no nx.json above ${start}`);
    dir = parent;
  }
}

/** Absolute path of the corpus directory: `$AGENTSIGHT_CORPUS_DIR`, else `<repo root>/../shared/corpus`. */
export function corpusDir(): string {
  const env = process.env.AGENTSIGHT_CORPUS_DIR;
  if (env) return path.resolve(env);
  return path.resolve(repoRoot(), '..', 'shared', 'corpus');
}

/** One tool call as listed in ground_truth.json; `arguments` is compact JSON (or raw text for custom tools). */
export interface GroundTruthToolCall {
  name: string;
  arguments: string;
}

/** One element of ground_truth.json = one LLM call found in a corpus file. Token counts are the provider's own numbers. */
export interface GroundTruthEntry {
  file: string;
  /** Index of the call inside a multi-call file (cassette interaction index); absent for single-call files. */
  call?: number;
  provider: string;
  api: string;
  streaming: boolean;
  model: string | null;
  response_id: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cache_read_tokens: number | null;
  cache_creation_tokens: number | null;
  reasoning_tokens: number | null;
  finish_reason: string | null;
  tool_calls: GroundTruthToolCall[];
  /** First 60 characters of the answer text (thinking excluded), or null. */
  text_prefix: string | null;
  source: { repo: string; commit: string; path: string; derived_from?: string };
  sha256: string;
  /** Recorded HTTP request line data, when the fixture stores it (uri may be absolute). */
  http?: { method: string; uri: string; status: number } | null;
  notes?: string[];
}

let gtCache: { dir: string; entries: GroundTruthEntry[] } | undefined;

/** Parsed `ground_truth.json` (cached per corpus dir). */
export function groundTruth(): GroundTruthEntry[] {
  const dir = corpusDir();
  if (!gtCache || gtCache.dir !== dir) {
    gtCache = { dir, entries: JSON.parse(fs.readFileSync(path.join(dir, 'ground_truth.json'), 'utf8')) };
  }
  return gtCache.entries;
}

/** The ground-truth entry for `file` (and call `index` for multi-call files). Throws if there is none. */
export function groundTruthFor(file: string, index = 0): GroundTruthEntry {
  const all = groundTruth().filter((e) => e.file === file);
  const hit = all.find((e) => (e.call ?? 0) === index) ?? (index === 0 ? all[0] : undefined);
  if (!hit) throw new Error(`groundTruthFor: no entry for ${file}#${index}`);
  return hit;
}

/**
 * Ground-truth entries that `loadFixture(e.file, e.call ?? 0)` can replay (every HTTP recording; the raw eBPF capture is
 * excluded), optionally restricted to some `api` values, e.g. `replayableEntries(['chat.completions', 'messages'])`.
 */
export function replayableEntries(apis?: string[]): GroundTruthEntry[] {
  return groundTruth().filter((e) => !e.file.endsWith('.jsonl') && (!apis || apis.includes(e.api)));
}

/** A recorded response turned into what a replay server writes. */
export interface Fixture {
  /** Corpus file name (no directory). */
  file: string;
  /** Interaction / call index inside the file (0 for single-call files). */
  index: number;
  provider: string;
  api: string;
  /** HTTP method of the recorded request (POST for every LLM call in the corpus). */
  method: string;
  /** Request path (+ query) the recording answers, e.g. `/v1/chat/completions`; reconstructed for vercel files. */
  path: string;
  streaming: boolean;
  /** HTTP status to send. */
  status: number;
  /** Response headers to send (lower-case names; no content-length/transfer-encoding: the server decides framing). */
  headers: Record<string, string | string[]>;
  /**
   * Body as the byte chunks to write, in order. Streaming fixtures: one element per SSE event (incl. its trailing blank
   * line) or per AWS event-stream frame, so the server can flush them one by one. Non-streaming: a single element.
   * `Buffer.concat(body)` is the exact response body on the wire (before any optional server-side gzip).
   */
  body: Buffer[];
  /** The recorded request JSON, when the fixture stores one (ddtrace, jsgenai). */
  requestBody?: unknown;
}

/** The full response body of a fixture (concatenation of its chunks). */
export function fixtureBytes(f: Fixture): Buffer {
  return Buffer.concat(f.body);
}

const HOP_BY_HOP = new Set(['transfer-encoding', 'content-length', 'connection', 'keep-alive']);
const CHAT_APIS = new Set(['chat.completions']);

/** Splits an SSE text into events, each ending after its blank line; the concatenation is the input, byte for byte. */
export function splitSseEvents(text: string): Buffer[] {
  const out: Buffer[] = [];
  const re = /\r?\n\r?\n/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const end = m.index + m[0].length;
    out.push(Buffer.from(text.slice(last, end), 'utf8'));
    last = end;
  }
  if (last < text.length) out.push(Buffer.from(text.slice(last), 'utf8'));
  return out;
}

/** Splits AWS event-stream bytes at frame boundaries (each frame starts with its u32 big-endian total length). */
export function splitEventStreamFrames(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt32BE(off);
    if (len < 16 || off + len > buf.length) break;
    out.push(buf.subarray(off, off + len));
    off += len;
  }
  if (off < buf.length) out.push(buf.subarray(off));
  return out;
}

/**
 * Encodes one AWS event-stream frame (`application/vnd.amazon.eventstream`): prelude (total length, headers length,
 * CRC32), string headers (type 7) in the given order, payload, message CRC32 — CRCs by Node's zlib.
 */
export function encodeEventStreamFrame(headers: Record<string, string>, payload: Uint8Array | string): Buffer {
  const hs = Buffer.concat(
    Object.entries(headers).map(([k, v]) => {
      const kb = Buffer.from(k);
      const vb = Buffer.from(v);
      return Buffer.concat([Buffer.from([kb.length]), kb, Buffer.from([7, vb.length >> 8, vb.length & 0xff]), vb]);
    }),
  );
  const pb = Buffer.from(payload);
  const total = 12 + hs.length + pb.length + 4;
  const frame = Buffer.alloc(total);
  frame.writeUInt32BE(total, 0);
  frame.writeUInt32BE(hs.length, 4);
  frame.writeUInt32BE(zlib.crc32(frame.subarray(0, 8)), 8);
  hs.copy(frame, 12);
  pb.copy(frame, 12 + hs.length);
  frame.writeUInt32BE(zlib.crc32(frame.subarray(0, total - 4)), total - 4);
  return frame;
}

function statusFromGroundTruth(gt: GroundTruthEntry | undefined): number {
  if (gt?.http?.status) return gt.http.status;
  const m = /^error:(\d{3}):/.exec(gt?.finish_reason ?? '');
  return m ? Number(m[1]) : 200;
}

function pathOf(uri: string): string {
  if (/^https?:\/\//.test(uri)) {
    const u = new URL(uri);
    return u.pathname + u.search;
  }
  return uri;
}

/** Request path a vercel fixture would have been sent to (vercel files do not store it). */
function vercelPath(gt: GroundTruthEntry): string {
  const model = gt.model ?? 'unknown-model';
  switch (gt.api) {
    case 'chat.completions':
      if (gt.provider === 'deepseek') return '/chat/completions';
      if (gt.provider === 'groq') return '/openai/v1/chat/completions';
      return '/v1/chat/completions';
    case 'responses':
      return '/v1/responses';
    case 'messages':
      return '/v1/messages';
    case 'streamGenerateContent':
      return `/v1beta/models/${model}:streamGenerateContent?alt=sse`;
    case 'generateContent':
      return `/v1beta/models/${model}:generateContent`;
    case 'converse-stream':
      return '/model/us.anthropic.claude-3-7-sonnet-20250219-v1:0/converse-stream';
    default:
      return '/';
  }
}

function normaliseHeaders(raw: Record<string, unknown> | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(raw ?? {})) {
    const name = k.toLowerCase();
    if (HOP_BY_HOP.has(name)) continue;
    const vals = (Array.isArray(v) ? v : [v]).map((x) => (x instanceof Uint8Array ? Buffer.from(x).toString('utf8') : String(x)));
    out[name] = vals.length === 1 ? vals[0] : vals;
  }
  return out;
}

function parseJsonMaybe(body: unknown): unknown {
  if (body == null) return undefined;
  const text = body instanceof Uint8Array ? Buffer.from(body).toString('utf8') : String(body);
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isSseText(s: string): boolean {
  return /^(data|event|id|:)/.test(s.trimStart());
}

function loadVercelChunks(file: string, text: string, gt: GroundTruthEntry): Fixture {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
  let body: Buffer[];
  let contentType = 'text/event-stream; charset=utf-8';
  if (gt.api === 'converse-stream') {
    contentType = 'application/vnd.amazon.eventstream';
    body = lines.map((l) => {
      const obj = JSON.parse(l) as Record<string, unknown>;
      const [eventType, payload] = Object.entries(obj)[0];
      return encodeEventStreamFrame({ ':event-type': eventType, ':content-type': 'application/json', ':message-type': 'event' }, JSON.stringify(payload));
    });
  } else {
    const withEvent = gt.api === 'messages' || gt.api === 'responses';
    body = lines.map((l) => {
      const type = withEvent ? (JSON.parse(l) as { type?: string }).type : undefined;
      return Buffer.from(`${type ? `event: ${type}\n` : ''}data: ${l}\n\n`, 'utf8');
    });
    if (CHAT_APIS.has(gt.api)) body.push(Buffer.from('data: [DONE]\n\n'));
  }
  return {
    file, index: 0, provider: gt.provider, api: gt.api, method: 'POST', path: vercelPath(gt), streaming: true,
    status: statusFromGroundTruth(gt), headers: { 'content-type': contentType, 'cache-control': 'no-cache' }, body,
  };
}

interface VcrInteraction {
  request: { method?: string; uri?: string; body?: unknown; headers?: Record<string, unknown> };
  response: {
    status?: { code: number };
    status_code?: number;
    headers?: Record<string, unknown>;
    body?: { string?: unknown };
    content?: unknown;
  };
}

function loadDdtrace(file: string, text: string, index: number): Fixture {
  const doc = yaml.load(text) as { interactions: VcrInteraction[] };
  const it = doc.interactions[index];
  if (!it) throw new Error(`loadFixture: ${file} has no interaction #${index} (${doc.interactions.length} interactions)`);
  const gt = groundTruth().find((e) => e.file === file && (e.call ?? 0) === index);
  const res = it.response;
  const httpx = res.content !== undefined && res.body === undefined;
  const rawBody = httpx ? res.content : res.body?.string;
  const headers = normaliseHeaders(res.headers);
  let body: Buffer[];
  let streaming: boolean;
  if (rawBody instanceof Uint8Array) {
    const buf = Buffer.from(rawBody);
    const ct = String(headers['content-type'] ?? '');
    if (ct.includes('amazon.eventstream')) {
      body = splitEventStreamFrames(buf);
      streaming = true;
    } else {
      // Original (typically gzip) bytes, kept with their recorded Content-Encoding.
      body = [buf];
      streaming = false;
    }
  } else {
    const s = rawBody == null ? '' : String(rawBody);
    if (httpx) {
      // httpx flavour: text is already decoded although the headers still announce gzip -> drop the false header.
      delete headers['content-encoding'];
    }
    streaming = isSseText(s);
    if (streaming) {
      body = splitSseEvents(s);
      if (!String(headers['content-type'] ?? '').includes('event-stream')) headers['content-type'] = 'text/event-stream; charset=utf-8';
    } else {
      body = [Buffer.from(s, 'utf8')];
    }
  }
  return {
    file, index, provider: gt?.provider ?? 'unknown', api: gt?.api ?? 'unknown', method: it.request.method ?? 'POST',
    path: pathOf(it.request.uri ?? '/'), streaming: gt?.streaming ?? streaming,
    status: res.status?.code ?? res.status_code ?? 200, headers, body, requestBody: parseJsonMaybe(it.request.body),
  };
}

interface GenaiInteraction {
  request: { method: string; url: string; bodySegments?: unknown[] };
  response: { statusCode: number; headers?: Record<string, unknown>; bodySegments: unknown[] };
}

function loadJsGenai(file: string, text: string, index: number): Fixture {
  const doc = JSON.parse(text) as { interactions: GenaiInteraction[] };
  const it = doc.interactions[index];
  if (!it) throw new Error(`loadFixture: ${file} has no interaction #${index}`);
  const gt = groundTruth().find((e) => e.file === file && (e.call ?? 0) === index);
  const headers = normaliseHeaders(it.response.headers);
  // bodySegments are stored parsed (decoded), so a recorded `Content-Encoding: gzip` would be false: drop it.
  delete headers['content-encoding'];
  const sse = String(headers['content-type'] ?? '').includes('event-stream');
  const body = sse
    ? it.response.bodySegments.map((seg) => Buffer.from(`data: ${JSON.stringify(seg)}\n\n`, 'utf8'))
    : [Buffer.from(JSON.stringify(it.response.bodySegments[0]), 'utf8')];
  return {
    file, index, provider: gt?.provider ?? 'google-gemini', api: gt?.api ?? 'unknown', method: it.request.method, path: it.request.url,
    streaming: sse, status: it.response.statusCode, headers, body, requestBody: it.request.bodySegments?.[0],
  };
}

/**
 * Loads corpus file `file` (a bare name like `vercel__openai-text.chunks.txt`) and returns what a server writes to replay
 * its response number `index` (cassette interaction / call index; 0 for single-call files). See the module comment for the
 * per-format rules. Throws for files that are not HTTP recordings (the raw eBPF capture).
 */
export function loadFixture(file: string, index = 0): Fixture {
  const full = path.join(corpusDir(), path.basename(file));
  if (file.endsWith('.jsonl')) {
    throw new Error(`loadFixture: ${file} is a raw eBPF capture, not an HTTP recording; replay agentsight__claude-code-raw.v1-messages-response.sse instead`);
  }
  const text = fs.readFileSync(full, 'utf8');
  if (file.startsWith('ddtrace__') || file.endsWith('.yaml')) return loadDdtrace(file, text, index);
  if (file.startsWith('jsgenai__')) return loadJsGenai(file, text, index);
  const gt = groundTruthFor(file, index);
  if (file.endsWith('.chunks.txt')) return loadVercelChunks(file, text, gt);
  if (file.endsWith('.sse')) {
    return {
      file, index: 0, provider: gt.provider, api: gt.api, method: 'POST', path: gt.api === 'messages' ? '/v1/messages' : vercelPath(gt),
      streaming: true, status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
      body: splitSseEvents(text),
    };
  }
  if (file.endsWith('.json')) {
    // vercel non-streaming body: verbatim file bytes (re-serialised with indentation by the recorder).
    return {
      file, index: 0, provider: gt.provider, api: gt.api, method: 'POST', path: vercelPath(gt), streaming: false,
      status: statusFromGroundTruth(gt), headers: { 'content-type': 'application/json' }, body: [fs.readFileSync(full)],
    };
  }
  throw new Error(`loadFixture: unsupported corpus file ${file}`);
}

/** Parses `"<file>[#<index>]"` (the `x-replay-fixture` header syntax) into its parts. */
export function parseFixtureRef(ref: string): { file: string; index: number } {
  const m = /^(.*?)(?:#(\d+))?$/.exec(ref.trim());
  return { file: m![1], index: m![2] ? Number(m![2]) : 0 };
}

/**
 * Fixtures used by the example agent (examples/src/agent.ts) and the demo, in the order the agent's two calls consume them
 * on `/v1/chat/completions`: call 1 = a real streamed OpenAI chat completion whose answer is a `get_current_weather` tool
 * call; call 2 = a real streamed OpenAI text answer.
 */
export const EXAMPLE_AGENT_FIXTURES = ['ddtrace__completion_stream_with_tools.yaml', 'vercel__openai-text.chunks.txt'] as const;

/** `routes` for `startReplayServer` / the CLI that serve the example agent's two calls in rotation. */
export const EXAMPLE_AGENT_ROUTES: Record<string, string[]> = { '/v1/chat/completions': [...EXAMPLE_AGENT_FIXTURES] };
