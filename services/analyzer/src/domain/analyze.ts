/**
 * Exchange → LLM call. Pure and total: {@link analyzeExchange} never throws; anything it cannot read becomes a dead
 * letter draft while the best-effort call is still returned.
 */
import { deriveId, headerValue, type Exchange, type LlmCall } from '@agentsight/contracts';
import { auditForCall } from './audit';
import { extractAnthropicMessages } from './anthropic-messages';
import { emptyExtraction, type Extraction, type JsonEvent, type ResponseJson } from './extraction';
import { decodeUtf8, looksLikeJson, looksLikeSse, obj, parseJson, parseSseText, salvageString, str } from './json';
import { extractOpenAiChat } from './openai-chat';
import { apiFromPath, providerFor, stripPort, targetHost, targetPath } from './providers';
import { DLQ_SAMPLE_BYTES, type AnalyzeResult, type DeadLetterDraft, type LlmApi } from './types';

/** `LlmCall.error_type` of a recognised request whose connection ended before any response arrived. */
export const NO_RESPONSE_ERROR = 'no_response';

interface ParseFailure {
  where: string;
  error: string;
  text: string;
}

interface ParsedResponse {
  json: ResponseJson;
  /** True when the response was read as SSE (parser events, or an SSE-shaped body). */
  sse: boolean;
  /** The body text (non-streamed), for salvage and shape sniffing. */
  text: string;
}

const encoder = new TextEncoder();

function sample(text: string): Uint8Array {
  const bytes = encoder.encode(text.length > DLQ_SAMPLE_BYTES ? text.slice(0, DLQ_SAMPLE_BYTES) : text);
  return bytes.length > DLQ_SAMPLE_BYTES ? bytes.slice(0, DLQ_SAMPLE_BYTES) : bytes;
}

function isJsonContentType(headers: Array<[string, string]>): boolean {
  return /[/+]json\b/i.test(headerValue(headers, 'content-type') ?? '');
}

/** Parses the response: SSE events (from the parser, or from an SSE-shaped body) or one JSON body. */
function parseResponse(ex: Exchange, failures: ParseFailure[]): ParsedResponse {
  const res = ex.response;
  if (!res) return { json: {}, sse: false, text: '' };
  let events = res.events ?? [];
  const text = events.length ? '' : decodeUtf8(res.body);
  if (!events.length && looksLikeSse(text)) events = parseSseText(text);
  if (events.length || res.streaming) {
    const out: JsonEvent[] = [];
    events.forEach((ev, i) => {
      const data = ev.data.trim();
      if (data === '' || data === '[DONE]') return;
      const r = parseJson(data);
      if (r.ok) out.push({ event: ev.event, json: r.value });
      else failures.push({ where: `response.events[${i}]`, error: r.error, text: ev.data });
    });
    return { json: { events: out }, sse: true, text };
  }
  if (text.trim() === '') return { json: {}, sse: false, text };
  const expectJson = looksLikeJson(text) || (res.status < 400 && isJsonContentType(res.headers));
  if (!expectJson) return { json: {}, sse: false, text };
  const r = parseJson(text);
  if (r.ok) return { json: { body: r.value }, sse: false, text };
  failures.push({ where: 'response.body', error: r.error, text });
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

/** Recognises an API by response shape (for servers on unusual paths), or null. */
function apiFromShape(res: ParsedResponse, rawText: string): LlmApi | null {
  const d = firstDoc(res.json);
  if (d) {
    const object = str(d.object) ?? '';
    if (object.startsWith('chat.completion') || (Array.isArray(d.choices) && (str(d.model) !== null || str(d.id) !== null) && object !== 'text_completion')) {
      return 'chat.completions';
    }
    if (d.type === 'message_start' || (d.type === 'message' && Array.isArray(d.content))) return 'messages';
    return null;
  }
  // Unparseable: sniff the text.
  if (/"object"\s*:\s*"chat\.completion/.test(rawText)) return 'chat.completions';
  if (/"type"\s*:\s*"message_start"/.test(rawText)) return 'messages';
  return null;
}

function deadLetter(ex: Exchange, failures: ParseFailure[]): DeadLetterDraft {
  const first = failures[0];
  const more = failures.length > 1 ? ` (+${failures.length - 1} more: ${failures.slice(1, 4).map((f) => f.where).join(', ')}${failures.length > 4 ? ', …' : ''})` : '';
  return {
    reason: 'json_parse_error',
    error: `${first.where}: ${first.error}${more}`,
    input_id: ex.id,
    conn_key: ex.conn?.key ?? null,
    where: first.where,
    sample: sample(first.text),
  };
}

function extract(api: LlmApi, res: ResponseJson): Extraction {
  return api === 'messages' ? extractAnthropicMessages(res) : extractOpenAiChat(res);
}

/**
 * Recognises an LLM call in an exchange and extracts it.
 *
 * Recognition: a `POST` whose path ends in `/chat/completions` (OpenAI Chat Completions and OpenAI-compatible servers)
 * or `/v1/messages` (Anthropic Messages); otherwise, for a `POST` with a JSON body carrying `messages`, the response
 * shape (`object: chat.completion[.chunk]`, or Anthropic `message`/`message_start`). Provider = from the server host
 * (see `providerFor`), fallback `openai` / `anthropic`. A non-streamed body that is SSE text (wrong Content-Type) is
 * read as SSE.
 *
 * Output: `call` (id `deriveId('llm', exchange.id)`; timing start = `request.start_ns`, end = `response.end_ns`, ns;
 * tokens per OTel GenAI semconv v1.41, provider numbers in `raw_usage`), `audit` = `[auditForCall(call)]`, and at most
 * one `json_parse_error` dead letter draft for a recognised call whose request body, response body or SSE `data:` is
 * not valid JSON (the call is still returned, best effort: bad events are skipped, models salvaged from the text).
 * HTTP ≥ 400: `error_type` = the body's `error.type` (else `error.code`, else the status as text); an `error` SSE
 * event sets it too (e.g. `overloaded_error`); no response at all gives {@link NO_RESPONSE_ERROR}. Not an LLM call →
 * `{ call: null, audit: [], deadLetters: [] }`. Never throws (an internal failure yields an `analyzer_error` draft).
 */
export function analyzeExchange(ex: Exchange): AnalyzeResult {
  try {
    return analyze(ex);
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

function analyze(ex: Exchange): AnalyzeResult {
  const none: AnalyzeResult = { call: null, audit: [], deadLetters: [] };
  const req = ex.request;
  if (!req || req.method.toUpperCase() !== 'POST') return none;
  const pathApi = apiFromPath(targetPath(req.target));
  const reqText = decodeUtf8(req.body);
  const reqParsed = reqText.trim() === '' ? undefined : parseJson(reqText);
  const reqJson = reqParsed?.ok ? obj(reqParsed.value) : undefined;
  if (!pathApi && !(reqJson && Array.isArray(reqJson.messages))) return none;

  const failures: ParseFailure[] = [];
  const parsed = parseResponse(ex, failures);
  const api = pathApi ?? apiFromShape(parsed, parsed.text);
  if (!api) return none;
  if (reqParsed && !reqParsed.ok) failures.unshift({ where: 'request.body', error: reqParsed.error, text: reqText });

  const x = ex.response ? extract(api, parsed.json) : emptyExtraction();
  if (!x.response_model && failures.some((f) => f.where === 'response.body')) x.response_model = salvageString(parsed.text, 'model');
  const status = ex.response?.status ?? null;
  let errorType = x.error_type;
  if (!ex.response) errorType = NO_RESPONSE_ERROR;
  else if (status !== null && status >= 400 && !errorType) errorType = String(status);

  const server = stripPort(ex.server_address || targetHost(req.target));
  const call: LlmCall = {
    v: 1,
    id: deriveId('llm', ex.id),
    exchange_id: ex.id,
    provider: providerFor(server, api),
    api,
    operation: 'chat',
    streaming: Boolean(ex.response?.streaming) || parsed.sse,
    request_model: str(reqJson?.model) ?? (reqParsed && !reqParsed.ok ? salvageString(reqText, 'model') : null),
    response_model: x.response_model,
    response_id: x.response_id,
    usage: x.usage,
    raw_usage: x.raw_usage,
    finish_reasons: x.finish_reasons,
    tool_calls: x.tool_calls,
    output_text: x.output_text,
    error_type: errorType,
    server_address: server,
    http_status: status,
    start_ns: req.start_ns,
    end_ns: ex.response?.end_ns ?? req.end_ns,
    pid: ex.conn.pid,
    tid: ex.conn.tid,
    comm: ex.conn.comm,
    process: ex.process,
    conn_key: ex.conn.key,
    host: ex.conn.host,
  };
  return { call, audit: [auditForCall(call)], deadLetters: failures.length ? [deadLetter(ex, failures)] : [] };
}
