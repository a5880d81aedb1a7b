/**
 * Ollama's native API: `POST /api/chat` (messages) and `POST /api/generate` (prompt), streamed by default as NDJSON
 * (`application/x-ndjson`, one JSON object per line, the last with `done: true`) and not (`stream: false`, one object).
 * Ollama's OpenAI-compatible `/v1/chat/completions` goes through the Chat Completions path instead.
 *
 * API reference: https://github.com/ollama/ollama/blob/main/docs/api.md ; usage per OTel GenAI semconv v1.41
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/): input = `prompt_eval_count`, output = `eval_count`.
 */
import type { Usage } from '@agentsight/contracts';
import { defineApi } from './api-adapter';
import { emptyExtraction, type Extraction, type ResponseJson } from './extraction';
import { messagesHistory } from './history';
import { arr, num, obj, str, type JsonObject } from './json';

/** Usage fields of a final Ollama chunk kept as `raw_usage` (counts in tokens, durations in ns as Ollama reports them). */
const RAW_FIELDS = ['prompt_eval_count', 'eval_count', 'total_duration', 'load_duration', 'prompt_eval_duration', 'eval_duration'];

/** Maps Ollama counts to OTel meanings (tokens): input = `prompt_eval_count`, output = `eval_count`; no cache/reasoning split. */
export function ollamaUsage(d: JsonObject | undefined): Usage {
  return {
    input_tokens: num(d?.prompt_eval_count),
    output_tokens: num(d?.eval_count),
    cache_read_input_tokens: null,
    cache_creation_input_tokens: null,
    reasoning_output_tokens: null,
  };
}

/** The documents of a response: NDJSON lines (as events) or the one body. */
function docs(res: ResponseJson): JsonObject[] {
  const all = res.events ? res.events.map((e) => e.json) : res.body === undefined ? [] : [res.body];
  return all.map((d) => obj(d)).filter((d): d is JsonObject => d !== undefined);
}

/**
 * True when a response looks like Ollama's native API (every document has a boolean `done` or a string `error`, and at
 * least one has `model` or `error`): what lets the generic `/api/chat` and `/api/generate` paths count as LLM calls.
 */
export function isOllamaShape(res: ResponseJson): boolean {
  const ds = docs(res);
  return ds.length > 0 && ds.every((d) => typeof d.done === 'boolean' || typeof d.error === 'string') && ds.some((d) => typeof d.model === 'string' || typeof d.error === 'string');
}

/**
 * Extracts an Ollama call: model = first `model`; usage from the `done: true` chunk ({@link ollamaUsage});
 * finish = its `done_reason`; text = `message.content` (chat) or `response` (generate), `thinking` excluded; tool calls
 * = `message.tool_calls[].function` (arguments object → JSON text); no response id (Ollama has none). A `{error}`
 * line inside a stream sets `error_type` `error` (Ollama errors are free text; an HTTP error falls back to the status).
 */
export function extractOllama(res: ResponseJson): Extraction {
  const x = emptyExtraction();
  for (const d of docs(res)) {
    if (typeof d.error === 'string') {
      if (res.events) x.error_type = 'error';
      continue;
    }
    x.response_model ??= str(d.model);
    const msg = obj(d.message);
    if (typeof msg?.content === 'string') x.output_text += msg.content;
    if (typeof d.response === 'string') x.output_text += d.response;
    for (const rt of arr(msg?.tool_calls)) {
      const t = obj(rt);
      const fn = obj(t?.function);
      if (!fn) continue;
      const args = fn.arguments;
      x.tool_calls.push({ id: str(t?.id), name: str(fn.name) ?? '', arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}) });
    }
    if (d.done === true) {
      x.usage = ollamaUsage(d);
      const raw: JsonObject = {};
      for (const k of RAW_FIELDS) if (d[k] !== undefined) raw[k] = d[k];
      x.raw_usage = Object.keys(raw).length ? raw : null;
      const reason = str(d.done_reason);
      if (reason) x.finish_reasons = [reason];
    }
  }
  return x;
}

/**
 * Ollama's native chat: `POST /api/chat`. The path is generic, so a call also needs Ollama's request shape (a string
 * `model` and a `messages` list) and, when it succeeded, Ollama's response shape ({@link isOllamaShape}).
 */
export const ollamaChatApi = defineApi({
  api: 'ollama.chat',
  provider: 'ollama',
  operation: 'chat',
  matchesPath: (p) => /^\/api\/chat$/.test(p),
  acceptsRequest: (req) => typeof req?.model === 'string' && Array.isArray(req.messages),
  acceptsResponse: isOllamaShape,
  framing: 'ndjson',
  extract: (res) => extractOllama(res),
  history: messagesHistory,
});

/** Ollama's native completion: `POST /api/generate` (a string `model` and `prompt`), as {@link ollamaChatApi}. */
export const ollamaGenerateApi = defineApi({
  api: 'ollama.generate',
  provider: 'ollama',
  operation: 'text_completion',
  matchesPath: (p) => /^\/api\/generate$/.test(p),
  acceptsRequest: (req) => typeof req?.model === 'string' && typeof req.prompt === 'string',
  acceptsResponse: isOllamaShape,
  framing: 'ndjson',
  extract: (res) => extractOllama(res),
  history: messagesHistory,
});
