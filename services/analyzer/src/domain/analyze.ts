/**
 * Exchange → LLM call. Pure and total: {@link analyzeExchange} never throws; anything it cannot read becomes a dead
 * letter draft while the best-effort call is still returned.
 */
import { agentName, DEAD_LETTER_SAMPLE_BYTES, deriveId, headerValue, type Exchange, type LlmCall } from '@agentsight/contracts';
import type { LlmApiAdapter } from './api-adapter';
import { adapterForPath, LLM_APIS } from './apis';
import { auditForCall } from './audit';
import { decodeEventStream, looksLikeEventStream } from './eventstream';
import { emptyExtraction, type Extraction, type JsonEvent, type ResponseJson } from './extraction';
import { decodeUtf8, looksLikeJson, looksLikeSse, obj, parseJson, parseSseText, salvageString, str, type JsonObject } from './json';
import { isStreamingPath, modelFromPath, providerFor, stripPort, targetHost, targetPath } from './providers';
import { type AnalyzeResult, type AnalyzerDeadLetter } from './types';
import { estimateUsage } from './usage-estimate';
import { reasoningText, usageDetail } from './usage-detail';
import { withReasoningInOutput } from './reasoning';
import { conversationOf } from './conversation';
import { llmContent, normalizeRequest } from './messages';
import { redactValue } from '@agentsight/contracts';

/** Options of {@link analyzeExchange}. */
export interface AnalyzeOptions {
  /** Put the semconv messages into `LlmCall.content` (redacted); default false (see `captureContentEnabled`). */
  captureContent?: boolean;
}

/** `LlmCall.error_type` of a recognised request whose connection ended before any response arrived. */
export const NO_RESPONSE_ERROR = 'no_response';

interface ParseFailure {
  reason: 'json_parse_error' | 'json_depth_limit' | 'eventstream_error';
  where: string;
  error: string;
  /** The offending text or bytes (sampled into the dead letter). */
  text: string | Uint8Array;
}

interface ParsedResponse {
  json: ResponseJson;
  /** True when the response was read as a stream (parser SSE events, an SSE-shaped body, NDJSON or event-stream). */
  sse: boolean;
  /** The body text (non-streamed), for salvage and shape sniffing. */
  text: string;
}

const encoder = new TextEncoder();

function sample(text: string | Uint8Array): Uint8Array {
  if (typeof text !== 'string') return text.slice(0, DEAD_LETTER_SAMPLE_BYTES);
  const bytes = encoder.encode(text.length > DEAD_LETTER_SAMPLE_BYTES ? text.slice(0, DEAD_LETTER_SAMPLE_BYTES) : text);
  return bytes.length > DEAD_LETTER_SAMPLE_BYTES ? bytes.slice(0, DEAD_LETTER_SAMPLE_BYTES) : bytes;
}

function isJsonContentType(headers: Array<[string, string]>): boolean {
  return /[/+]json\b/i.test(headerValue(headers, 'content-type') ?? '');
}

/** Reads an AWS event-stream body into events (payload JSON), reporting CRC/framing problems and non-JSON payloads. */
function parseEventStream(body: Uint8Array, failures: ParseFailure[]): JsonEvent[] {
  const { messages, problems } = decodeEventStream(body);
  for (const p of problems) {
    failures.push({ reason: 'eventstream_error', where: `response.frames[${p.index}]@${p.offset}`, error: p.error, text: body.subarray(p.offset, p.offset + DEAD_LETTER_SAMPLE_BYTES) });
  }
  const out: JsonEvent[] = [];
  messages.forEach((m, i) => {
    const h = m.headers;
    const messageType = typeof h[':message-type'] === 'string' ? h[':message-type'] : 'event';
    const name = messageType === 'exception' ? h[':exception-type'] : messageType === 'error' ? h[':error-code'] : h[':event-type'];
    const text = decodeUtf8(m.payload);
    let json: unknown = null;
    if (text.trim() !== '') {
      const r = parseJson(text);
      if (r.ok) json = r.value;
      else if (messageType === 'event') {
        failures.push({ reason: r.reason, where: `response.frames[${i}]`, error: r.error, text });
        return;
      } else json = { message: text };
    }
    out.push({ event: typeof name === 'string' ? name : '', json, message_type: messageType });
  });
  return out;
}

/** Reads an NDJSON body (one JSON document per line) into events. */
function parseNdjson(text: string, failures: ParseFailure[]): JsonEvent[] {
  const out: JsonEvent[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    const r = parseJson(line);
    if (r.ok) out.push({ event: 'message', json: r.value });
    else failures.push({ reason: r.reason, where: `response.lines[${i}]`, error: r.error, text: line });
  });
  return out;
}

/**
 * Parses the response: AWS event-stream messages (Bedrock, by Content-Type or by a valid first prelude), NDJSON lines
 * (Ollama), SSE events (from the parser, or from an SSE-shaped body) or one JSON body.
 */
function parseResponse(ex: Exchange, api: LlmApiAdapter | undefined, failures: ParseFailure[]): ParsedResponse {
  const res = ex.response;
  if (!res) return { json: {}, sse: false, text: '' };
  let events = res.events ?? [];
  const contentType = headerValue(res.headers, 'content-type') ?? '';
  const body = res.body ?? new Uint8Array(0);
  if (!events.length && body.length && (/amazon\.eventstream/i.test(contentType) || (api?.framing === 'eventstream' && looksLikeEventStream(body)))) {
    return { json: { events: parseEventStream(body, failures) }, sse: true, text: '' };
  }
  const text = events.length ? '' : decodeUtf8(body);
  const ndjson = /x-ndjson|jsonl/i.test(contentType) || (api?.framing === 'ndjson' && /\}\s*\n\s*\{/.test(text));
  if (!events.length && ndjson && text.trim() !== '') return { json: { events: parseNdjson(text, failures) }, sse: true, text };
  if (!events.length && looksLikeSse(text)) events = parseSseText(text);
  if (events.length || res.streaming) {
    const out: JsonEvent[] = [];
    events.forEach((ev, i) => {
      const data = ev.data.trim();
      if (data === '' || data === '[DONE]') return;
      const r = parseJson(data);
      if (r.ok) out.push({ event: ev.event, json: r.value });
      else failures.push({ reason: r.reason, where: `response.events[${i}]`, error: r.error, text: ev.data });
    });
    return { json: { events: out }, sse: true, text };
  }
  if (text.trim() === '') return { json: {}, sse: false, text };
  const expectJson = looksLikeJson(text) || (res.status < 400 && isJsonContentType(res.headers));
  if (!expectJson) return { json: {}, sse: false, text };
  const r = parseJson(text);
  if (r.ok) return { json: { body: r.value }, sse: false, text };
  failures.push({ reason: r.reason, where: 'response.body', error: r.error, text });
  return { json: {}, sse: false, text };
}

/** The first JSON document of a response (body, or first event), for shape recognition. */
function firstDoc(res: ResponseJson): Record<string, unknown> | undefined {
  if (res.body !== undefined) return obj(res.body);
  for (const e of res.events ?? []) {
    const o = obj(e.json);
    if (o && o.type !== 'ping') return o;
  }
  return undefined;
}

/** Recognises an API by response shape (for servers on unusual paths): the first adapter matching, or undefined. */
function apiFromShape(res: ParsedResponse, rawText: string): LlmApiAdapter | undefined {
  const d = firstDoc(res.json);
  // Unparseable: sniff the text.
  if (!d) return LLM_APIS.find((a) => a.matchesResponseText?.(rawText));
  return LLM_APIS.find((a) => a.matchesResponse?.(d));
}

/** One draft per reason (so `deriveId('dlq', stage, input_id, reason)` stays unique), in order of first failure. */
function deadLetters(ex: Exchange, failures: ParseFailure[]): AnalyzerDeadLetter[] {
  const reasons = [...new Set(failures.map((f) => f.reason))];
  return reasons.map((reason) => {
    const mine = failures.filter((f) => f.reason === reason);
    const first = mine[0];
    const more = mine.length > 1 ? ` (+${mine.length - 1} more: ${mine.slice(1, 4).map((f) => f.where).join(', ')}${mine.length > 4 ? ', …' : ''})` : '';
    return {
      reason,
      error: `${first.where}: ${first.error}${more}`,
      input_id: ex.id,
      conn_key: ex.conn?.key ?? null,
      where: first.where,
      sample: sample(first.text),
    };
  });
}

/**
 * Recognises an LLM call in an exchange and extracts it.
 *
 * Recognition (a `POST`), by path first (see `apiFromPath`): `…/chat/completions` (OpenAI Chat Completions and
 * compatibles), `…/v1/messages` (Anthropic), `…/v1/responses` (OpenAI Responses), `…:generateContent` /
 * `…:streamGenerateContent` (Gemini API, Vertex AI), `/model/<id>/converse[-stream]` and
 * `/model/<id>/invoke[-with-response-stream]` (Bedrock), `/api/chat` and `/api/generate` (Ollama: only with Ollama's
 * request and response shapes), `/api/v1/services/aigc/…/generation` (DashScope native); otherwise, for a `POST` whose
 * JSON body carries `messages`, `input` or `contents`, by response shape (`chat.completion[.chunk]`, Anthropic
 * `message`/`message_start`, a Responses `response`, a Gemini `candidates` document). Provider = from the server host
 * (see `providerFor`), else the API's own. Response framing: the parser's SSE events; an SSE-shaped body (wrong
 * Content-Type); AWS event-stream bytes (Content-Type `application/vnd.amazon.eventstream`, or a valid first prelude on
 * a Bedrock path); NDJSON (`application/x-ndjson`, or several JSON lines on an Ollama path); else one JSON body
 * (Gemini: possibly an array of chunks).
 *
 * Output: `call` (id `deriveId('llm', exchange.id)`; `operation` `chat`, `generate_content` for Gemini,
 * `text_completion` for Ollama `/api/generate`; `request_model` from the body, else from the path (Gemini
 * `models/<m>:…`, Bedrock `/model/<id>/…`, URL-decoded); `streaming` when the response was a stream or the path names a
 * streaming method; timing start = `request.start_ns`, end = `response.end_ns`, ns; tokens per OTel GenAI semconv
 * v1.41, input including cached tokens, provider numbers in `raw_usage`; when the response carried no usage at all,
 * counted with the model's tokenizer and marked `usage_source: 'estimated'`, see `estimateUsage`), `audit` =
 * `[auditForCall(call)]`, and dead letter drafts, at most one per reason: `json_parse_error` for a recognised call whose request body, response body,
 * SSE `data:`, NDJSON line or event-stream payload is not valid JSON, `json_depth_limit` for one nested deeper than
 * `MAX_JSON_DEPTH` (256, contracts `json-limits.ts`: refused before any recursive walk), `eventstream_error` for an event-stream CRC32
 * mismatch or broken framing (the call is still returned, best effort: bad events are skipped, models salvaged from
 * the text). Errors (rule F): HTTP ≥ 400 → `error_type` = the body's error type (OpenAI `error.type`/`code`, Anthropic
 * `error.type`, Google `error.status`, Bedrock `x-amzn-errortype`, DashScope `code`), else the status as text; error
 * events mid-stream set it too (Anthropic `error`, Responses `error`/`response.failed`, Gemini `{error}` chunks,
 * Bedrock exception messages, Ollama `{error}` lines); no response at all gives {@link NO_RESPONSE_ERROR}. Not an LLM
 * call → `{ call: null, audit: [], deadLetters: [] }`. Never throws (an internal failure yields an `analyzer_error`
 * draft).
 */
export function analyzeExchange(ex: Exchange, opts: AnalyzeOptions = {}): AnalyzeResult {
  try {
    return analyze(ex, opts);
  } catch (e) {
    return {
      call: null,
      audit: [],
      deadLetters: [
        {
          reason: 'analyzer_error',
          error: e instanceof Error ? e.message : String(e),
          input_id: ex?.id ?? '',
          conn_key: ex?.conn?.key ?? null,
          where: 'exchange',
          sample: new Uint8Array(0),
        },
      ],
    };
  }
}

function analyze(ex: Exchange, opts: AnalyzeOptions): AnalyzeResult {
  const none: AnalyzeResult = { call: null, audit: [], deadLetters: [] };
  const req = ex.request;
  if (!req || req.method.toUpperCase() !== 'POST') return none;
  const path = targetPath(req.target);
  const pathApi = adapterForPath(path);
  const reqText = decodeUtf8(req.body);
  const reqParsed = reqText.trim() === '' ? undefined : parseJson(reqText);
  const reqJson = reqParsed?.ok ? obj(reqParsed.value) : undefined;
  if (pathApi?.acceptsRequest && !pathApi.acceptsRequest(reqJson)) return none;
  if (!pathApi && !(reqJson && (Array.isArray(reqJson.messages) || reqJson.input !== undefined || Array.isArray(reqJson.contents)))) return none;

  const failures: ParseFailure[] = [];
  const parsed = parseResponse(ex, pathApi, failures);
  // Generic paths (Ollama's): a 2xx answer must have the API's shape; an error status on a request of its shape is a failed call.
  if (pathApi?.acceptsResponse && ex.response && ex.response.status < 400 && !pathApi.acceptsResponse(parsed.json)) return none;
  const adapter = pathApi ?? apiFromShape(parsed, parsed.text);
  if (!adapter) return none;
  const api = adapter.api;
  if (reqParsed && !reqParsed.ok) failures.unshift({ reason: reqParsed.reason, where: 'request.body', error: reqParsed.error, text: reqText });

  const x = ex.response
    ? adapter.extract(parsed.json, {
        headers: ex.response.headers,
        request: reqJson,
        fail: (where, error) => failures.push({ reason: 'json_parse_error', where, error, text: '' }),
      })
    : emptyExtraction();
  if (!x.response_model && failures.some((f) => f.where === 'response.body')) x.response_model = salvageString(parsed.text, 'model');
  const status = ex.response?.status ?? null;
  let errorType = x.error_type;
  if (!ex.response) errorType = NO_RESPONSE_ERROR;
  else if (status !== null && status >= 400 && !errorType) {
    errorType = adapter.errorType?.(ex.response.headers, parsed.json.body) ?? String(status);
  }

  const server = stripPort(ex.server_address || targetHost(req.target));
  const requestModel = str(reqJson?.model) ?? (reqParsed && !reqParsed.ok ? salvageString(reqText, 'model') : null) ?? modelFromPath(path);
  const provider = providerFor(server, api);
  const usage = estimateUsage({
    usage: withReasoningInOutput(x.usage, api, provider),
    status: ex.response ? status : null,
    error_type: errorType,
    model: x.response_model ?? requestModel,
    request: reqJson,
    output_text: x.output_text,
    tool_calls: x.tool_calls,
    response_readable: !failures.some((f) => f.where === 'response.body'),
  });
  const call: LlmCall = {
    v: 1,
    id: deriveId('llm', ex.id),
    exchange_id: ex.id,
    provider,
    api,
    operation: adapter.operation,
    streaming: Boolean(ex.response?.streaming) || parsed.sse || isStreamingPath(path),
    request_model: requestModel,
    response_model: x.response_model,
    response_id: x.response_id,
    usage: usage.usage,
    usage_source: usage.usage_source,
    usage_tokenizer: usage.usage_tokenizer,
    usage_detail: usageDetail({
      usage: usage.usage, api, provider, model: x.response_model ?? requestModel, request: reqJson, output_text: x.output_text,
      tool_calls: x.tool_calls, reasoning_text: reasoningText(parsed.json),
    }),
    raw_usage: x.raw_usage,
    finish_reasons: x.finish_reasons,
    tool_calls: x.tool_calls,
    output_text: x.output_text,
    error_type: errorType,
    server_address: server,
    http_status: status,
    start_ns: req.start_ns,
    end_ns: ex.response?.end_ns ?? req.end_ns,
    ...(ex.response?.first_event_ns !== undefined ? { first_chunk_ns: ex.response.first_event_ns } : {}),
    pid: ex.conn.pid,
    tid: ex.conn.tid,
    comm: ex.conn.comm,
    process: ex.process,
    conn_key: ex.conn.key,
    host: ex.conn.host,
  };
  // Sessions, semconv messages and tool uses (conversation.ts, messages.ts, tools.ts).
  const request = normalizeRequest(api, reqJson);
  const conversation = conversationOf(api, ex, reqJson);
  call.conversation_id = conversation.id;
  call.agent_name = agentName(ex.process, ex.conn.comm);
  call.content = opts.captureContent ? redactValue(llmContent(request, x)) : null;
  return { call, audit: [auditForCall(call)], deadLetters: deadLetters(ex, failures), request, conversation };
}
