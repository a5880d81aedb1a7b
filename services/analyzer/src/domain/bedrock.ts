/**
 * AWS Bedrock runtime (`bedrock-runtime.<region>.amazonaws.com`): Converse / ConverseStream
 * (`POST /model/<modelId>/converse[-stream]`) and InvokeModel / InvokeModelWithResponseStream
 * (`POST /model/<modelId>/invoke[-with-response-stream]`). Streams are binary AWS event-stream bodies
 * (see `eventstream.ts`), decoded into {@link JsonEvent}s before they reach this module.
 *
 * API reference: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html ,
 * https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModelWithResponseStream.html ; usage mapping
 * per OTel GenAI semconv v1.41 (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/): Bedrock's
 * `inputTokens` excludes cache reads and writes (`totalTokens` = input + output + cacheRead + cacheWrite), so
 * `gen_ai.usage.input_tokens` = inputTokens + cacheReadInputTokens + cacheWriteInputTokens, as for Anthropic.
 */
import { headerValue, type HeaderList, type ToolCall, type Usage } from '@agentsight/contracts';
import { extractAnthropicMessages } from './anthropic-messages';
import { decodeSegment, defineApi, pushText } from './api-adapter';
import { emptyExtraction, type Extraction, type JsonEvent, type ResponseJson } from './extraction';
import { arr, num, obj, parseJson, str, type JsonObject } from './json';
import { messagesHistory } from './history';
import { extractOpenAiChat } from './openai-chat';

/**
 * Maps a Bedrock usage object to OTel meanings (token counts). Converse names (`inputTokens`, `outputTokens`,
 * `cacheReadInputTokens`, `cacheWriteInputTokens`) and InvokeModel's `amazon-bedrock-invocationMetrics` names
 * (`inputTokenCount`, `outputTokenCount`, `cacheReadInputTokenCount`, `cacheWriteInputTokenCount`) are both read:
 * input = input + cache_read + cache_write (null when none is reported), output, cache_read, cache_creation = cache
 * write; reasoning = null (Bedrock does not report it apart).
 */
export function bedrockUsage(u: JsonObject | undefined): Usage {
  const input = num(u?.inputTokens) ?? num(u?.inputTokenCount);
  const cacheRead = num(u?.cacheReadInputTokens) ?? num(u?.cacheReadInputTokenCount);
  const cacheWrite = num(u?.cacheWriteInputTokens) ?? num(u?.cacheWriteInputTokenCount);
  const total = input === null && cacheRead === null && cacheWrite === null ? null : (input ?? 0) + (cacheRead ?? 0) + (cacheWrite ?? 0);
  return {
    input_tokens: total,
    output_tokens: num(u?.outputTokens) ?? num(u?.outputTokenCount),
    cache_read_input_tokens: cacheRead,
    cache_creation_input_tokens: cacheWrite,
    reasoning_output_tokens: null,
  };
}

/**
 * The error type of a failed Bedrock response (rule F): the `x-amzn-errortype` header up to its first `:`
 * (e.g. `ValidationException`), else the body's `__type` (after any `#`), else null (the caller falls back to the
 * HTTP status).
 */
export function bedrockErrorType(headers: HeaderList, body: unknown): string | null {
  const h = headerValue(headers, 'x-amzn-errortype');
  if (h) return h.split(':')[0] || null;
  const t = str(obj(body)?.__type);
  return t ? t.slice(t.lastIndexOf('#') + 1) : null;
}

/** The exception named by an event-stream message whose `:message-type` is `exception` or `error`, or null. */
function exceptionOf(ev: JsonEvent): string | null {
  if (ev.message_type === 'exception' || ev.message_type === 'error') return ev.event || 'error';
  return null;
}

interface Block {
  index: number;
  id: string | null;
  name: string;
  input: string;
  tool: boolean;
}

/** Tool call of a Converse `toolUse` (non-streamed: `input` is an object). */
function toolFromUse(tu: JsonObject): ToolCall {
  const input = tu.input;
  return { id: str(tu.toolUseId), name: str(tu.name) ?? '', arguments: typeof input === 'string' ? input : JSON.stringify(input ?? {}) };
}

/**
 * Extracts a Converse / ConverseStream call (rule E of the corpus README). Streamed: usage = `metadata.usage`
 * ({@link bedrockUsage}); finish = `messageStop.stopReason`; tool calls = `contentBlockStart.start.toolUse`
 * (id, name) + concatenated `contentBlockDelta.delta.toolUse.input` by `contentBlockIndex` (empty → `{}`); text =
 * `contentBlockDelta.delta.text` (reasoning excluded); exception messages (`throttlingException`, …) set
 * `error_type`. Non-streamed: `output.message.content[]` (`text`, `toolUse`), `stopReason`, `usage`. The stream has
 * no id or model (the model is in the request path).
 */
export function extractBedrockConverse(res: ResponseJson): Extraction {
  const x = emptyExtraction();
  if (!res.events) {
    const body = obj(res.body);
    if (!body) return x;
    const usage = obj(body.usage);
    x.usage = bedrockUsage(usage);
    x.raw_usage = usage ?? null;
    const stop = str(body.stopReason);
    if (stop) x.finish_reasons = [stop];
    for (const rb of arr(obj(obj(body.output)?.message)?.content)) {
      const b = obj(rb);
      if (typeof b?.text === 'string') x.output_text += b.text;
      const tu = obj(b?.toolUse);
      if (tu) x.tool_calls.push(toolFromUse(tu));
    }
    return x;
  }
  const blocks = new Map<number, Block>();
  let usage: JsonObject | undefined;
  for (const ev of res.events) {
    const exc = exceptionOf(ev);
    if (exc) {
      x.error_type = exc;
      continue;
    }
    const d = obj(ev.json);
    if (!d) continue;
    const index = num(d.contentBlockIndex) ?? -1;
    switch (ev.event) {
      case 'contentBlockStart': {
        const tu = obj(obj(d.start)?.toolUse);
        if (tu) blocks.set(index, { index, id: str(tu.toolUseId), name: str(tu.name) ?? '', input: '', tool: true });
        break;
      }
      case 'contentBlockDelta': {
        const delta = obj(d.delta) ?? {};
        if (typeof delta.text === 'string') x.output_text += delta.text;
        const tu = obj(delta.toolUse);
        if (tu && typeof tu.input === 'string') {
          let b = blocks.get(index);
          if (!b) blocks.set(index, (b = { index, id: null, name: '', input: '', tool: true }));
          b.input += tu.input;
        }
        break;
      }
      case 'messageStop': {
        const stop = str(d.stopReason);
        if (stop) x.finish_reasons = [stop];
        break;
      }
      case 'metadata':
        usage = obj(d.usage) ?? usage;
        break;
      default:
        break;
    }
  }
  x.usage = bedrockUsage(usage);
  x.raw_usage = usage ?? null;
  x.tool_calls = [...blocks.values()]
    .filter((b) => b.tool)
    .sort((a, b) => a.index - b.index)
    .map((b) => ({ id: b.id, name: b.name, arguments: b.input === '' ? '{}' : b.input }));
  return x;
}

/** Model-native documents of an InvokeModel response: the body, or each stream `chunk`'s base64 `bytes` decoded. */
function nativeDocs(res: ResponseJson, failures: string[]): unknown[] {
  if (!res.events) return res.body === undefined ? [] : [res.body];
  const docs: unknown[] = [];
  for (const ev of res.events) {
    const b64 = str(obj(ev.json)?.bytes);
    if (!b64) continue;
    const r = parseJson(Buffer.from(b64, 'base64').toString('utf8'));
    if (r.ok) docs.push(r.value);
    else failures.push(r.error);
  }
  return docs;
}

/** Generic reading of non-Anthropic, non-OpenAI model bodies (Titan, Llama, Mistral, Cohere, Nova-style). */
function extractGenericNative(docs: unknown[], x: Extraction): void {
  for (const raw of docs) {
    const d = obj(raw);
    if (!d) continue;
    for (const k of ['outputText', 'generation', 'completion', 'text']) if (typeof d[k] === 'string') x.output_text += d[k] as string;
    for (const o of [...arr(d.outputs), ...arr(d.results), ...arr(d.generations)]) {
      const oo = obj(o);
      const t = oo?.text ?? oo?.outputText;
      if (typeof t === 'string') x.output_text += t;
      const f = str(oo?.stop_reason) ?? str(oo?.completionReason) ?? str(oo?.finish_reason);
      if (f) x.finish_reasons = [f];
    }
    const msgText = obj(obj(d.output)?.message);
    if (msgText) for (const c of arr(msgText.content)) if (typeof obj(c)?.text === 'string') x.output_text += obj(c)!.text as string;
    const f = str(d.completionReason) ?? str(d.stop_reason) ?? str(d.stopReason) ?? str(d.finish_reason);
    if (f) x.finish_reasons = [f];
  }
}

/**
 * Extracts an InvokeModel / InvokeModelWithResponseStream call: the body (or the decoded stream chunks) is the
 * model's native format, read as Anthropic Messages (`type: message|message_start`), as Chat Completions (`choices`)
 * or generically (Titan `outputText`, Llama `generation`, Mistral `outputs[]`); when the native format reports no
 * usage, usage comes from the last chunk's `amazon-bedrock-invocationMetrics`, else from the
 * `x-amzn-bedrock-input-token-count` / `-output-token-count` response headers. Returns the extraction and the
 * base64 chunks that were not JSON (for a dead letter).
 */
export function extractBedrockInvoke(res: ResponseJson, headers: HeaderList): { x: Extraction; failures: string[] } {
  const failures: string[] = [];
  let exc: string | null = null;
  for (const ev of res.events ?? []) exc = exceptionOf(ev) ?? exc;
  const docs = nativeDocs(res, failures);
  const objs = docs.map((d) => obj(d)).filter((d): d is JsonObject => d !== undefined);
  let x: Extraction;
  const anthropic = objs.some((d) => d.type === 'message_start' || (d.type === 'message' && Array.isArray(d.content)));
  const chat = objs.some((d) => Array.isArray(d.choices));
  const asEvents = (): JsonEvent[] => objs.map((d) => ({ event: str(d.type) ?? 'message', json: d }));
  if (anthropic) x = extractAnthropicMessages(res.events ? { events: asEvents() } : { body: docs[0] });
  else if (chat) x = extractOpenAiChat(res.events ? { events: asEvents() } : { body: docs[0] });
  else {
    x = emptyExtraction();
    extractGenericNative(docs, x);
  }
  if (x.usage.input_tokens === null && x.usage.output_tokens === null) {
    let metrics: JsonObject | undefined;
    for (const d of objs) metrics = obj(d['amazon-bedrock-invocationMetrics']) ?? metrics;
    const last = objs.length ? objs[objs.length - 1] : undefined;
    const u = obj(last?.usage);
    const inTok = num(u?.inputTokens) ?? num(u?.input_tokens) ?? num(last?.prompt_token_count);
    const outTok = num(u?.outputTokens) ?? num(u?.output_tokens) ?? num(last?.generation_token_count);
    if (metrics) {
      x.usage = bedrockUsage(metrics);
      x.raw_usage = metrics;
    } else if (last && (inTok !== null || outTok !== null)) {
      x.usage = bedrockUsage({ inputTokens: inTok, outputTokens: outTok });
      x.raw_usage = u ?? { prompt_token_count: last.prompt_token_count, generation_token_count: last.generation_token_count };
    } else {
      const hin = Number(headerValue(headers, 'x-amzn-bedrock-input-token-count') ?? NaN);
      const hout = Number(headerValue(headers, 'x-amzn-bedrock-output-token-count') ?? NaN);
      if (Number.isFinite(hin) || Number.isFinite(hout)) {
        const raw = { inputTokenCount: Number.isFinite(hin) ? hin : null, outputTokenCount: Number.isFinite(hout) ? hout : null };
        x.usage = bedrockUsage(raw);
        x.raw_usage = raw;
      }
    }
  }
  if (exc) x.error_type = exc;
  return { x, failures };
}

/** The model id or ARN of a Bedrock runtime path `/model/<id>/converse…|invoke…`, URL-decoded, or null. */
function bedrockModelFromPath(path: string): string | null {
  const m = /(?:^|\/)model\/([^/]+)\/(?:converse|invoke)/.exec(path);
  return m ? decodeSegment(m[1]) : null;
}

/**
 * Bedrock Converse / ConverseStream: `/model/<id>/converse[-stream]`, the stream an AWS event-stream body; the model
 * from the path (e.g. `us.anthropic.claude-3-7-sonnet-20250219-v1:0`, or an inference-profile ARN).
 */
export const bedrockConverseApi = defineApi({
  api: 'converse',
  provider: 'aws.bedrock',
  operation: 'chat',
  matchesPath: (p) => /(^|\/)model\/[^/]+\/converse(-stream)?$/.test(p),
  framing: 'eventstream',
  modelFromPath: bedrockModelFromPath,
  streamingPath: (p) => /\/converse-stream$/.test(p),
  extract: (res) => extractBedrockConverse(res),
  errorType: bedrockErrorType,
  history: messagesHistory,
  reasoning: (d, out) => {
    for (const c of arr(obj(obj(d.output)?.message)?.content)) pushText(out, obj(obj(obj(c)?.reasoningContent)?.reasoningText)?.text);
    pushText(out, obj(obj(d.delta)?.reasoningContent)?.text);
  },
});

/**
 * Bedrock InvokeModel / InvokeModelWithResponseStream: `/model/<id>/invoke[-with-response-stream]`, the body (or the
 * stream's chunks) in the model's native format (Anthropic Messages, Chat Completions, Titan, Llama, Mistral).
 */
export const bedrockInvokeApi = defineApi({
  api: 'invoke_model',
  provider: 'aws.bedrock',
  operation: 'chat',
  matchesPath: (p) => /(^|\/)model\/[^/]+\/invoke(-with-response-stream)?$/.test(p),
  framing: 'eventstream',
  modelFromPath: bedrockModelFromPath,
  streamingPath: (p) => /\/invoke-with-response-stream$/.test(p),
  extract: (res, ctx) => {
    const r = extractBedrockInvoke(res, ctx.headers);
    for (const e of r.failures) ctx.fail('response.chunk.bytes', e);
    return r.x;
  },
  errorType: bedrockErrorType,
  history: messagesHistory,
  // No reasoning reader of its own: the native bodies are Anthropic's and Chat Completions' shapes, read by theirs.
});
