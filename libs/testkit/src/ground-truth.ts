/**
 * Comparing an LLM call (as the analyzer emits it, or as stored and read back) with the corpus ground truth
 * (`ground_truth.json`, rules A–F of the corpus README), shared by the analyzer's corpus spec and the end-to-end
 * capture spec, plus where each recorded call was sent (provider host, path, request body).
 *
 * Mapping decisions (the ground truth holds provider-raw numbers):
 * - `gen_ai.usage.input_tokens` includes cached input (semconv): Anthropic Messages and Bedrock Converse report it
 *   apart, so input = input + cache_read + cache_creation for them; OpenAI and Gemini already include it.
 * - `gen_ai.usage.output_tokens` includes reasoning (semconv): Gemini and xAI report it apart, so output = output +
 *   reasoning for them ({@link semconvOutputTokens}).
 * - Rule F (errors): the ground truth writes `error:<HTTP status>:<error type>`; a call keeps `finish_reasons` for
 *   what the model reported (none for a rejected request, `[]`) and carries the type in `error_type`.
 * - Tool-call arguments compare as parsed JSON (key order and whitespace are not significant); OpenAI custom tools
 *   carry raw text, compared as text.
 * - Answer text: the first 60 code points (the README's "first 60 characters", computed in Python).
 */
import * as fs from 'fs';
import * as path from 'path';
import { corpusDir, loadFixture, type GroundTruthEntry } from './corpus';

/** Ground-truth `api` label → `LlmCall.api` and `gen_ai.operation.name` (streaming is separate, not in the API name). */
export const GT_API: Record<string, { api: string; operation: string }> = {
  'chat.completions': { api: 'chat.completions', operation: 'chat' },
  messages: { api: 'messages', operation: 'chat' },
  responses: { api: 'responses', operation: 'chat' },
  generateContent: { api: 'generate_content', operation: 'generate_content' },
  streamGenerateContent: { api: 'generate_content', operation: 'generate_content' },
  'converse-stream': { api: 'converse', operation: 'chat' },
};

/** Ground-truth provider label → OTel `gen_ai.provider.name`. */
export const GT_PROVIDER: Record<string, string> = {
  openai: 'openai',
  'azure-openai': 'azure.ai.openai',
  deepseek: 'deepseek',
  xai: 'x_ai',
  groq: 'groq',
  anthropic: 'anthropic',
  'google-gemini': 'gcp.gemini',
  'amazon-bedrock': 'aws.bedrock',
};

/** APIs whose provider input count excludes cache reads/writes (semconv input = input + cache_read + cache_creation). */
const ADDS_CACHE = new Set(['messages', 'converse-stream']);

/** `file` or `file#call` (multi-call files): how tests name a ground-truth row. */
export function gtLabel(gt: GroundTruthEntry): string {
  return gt.call !== undefined ? `${gt.file}#${gt.call}` : gt.file;
}

/** First `n` code points of `s` (the README's "first 60 characters"). */
export function textPrefix(s: string, n = 60): string {
  return Array.from(s).slice(0, n).join('');
}

/** Semconv `gen_ai.usage.input_tokens` (tokens) from the provider-raw ground truth; null when not reported. */
export function semconvInputTokens(gt: GroundTruthEntry): number | null {
  if (!ADDS_CACHE.has(gt.api) || gt.input_tokens === null) return gt.input_tokens;
  return gt.input_tokens + (gt.cache_read_tokens ?? 0) + (gt.cache_creation_tokens ?? 0);
}

/** Ground-truth providers whose output count leaves reasoning out (semconv output = output + reasoning). */
const REASONING_APART = new Set(['google-gemini', 'xai']);

/**
 * Semconv `gen_ai.usage.output_tokens` (tokens) from the provider-raw ground truth: reasoning included (Gemini's
 * `candidatesTokenCount` and xAI's output count exclude it, so it is added); null when neither is reported.
 */
export function semconvOutputTokens(gt: GroundTruthEntry): number | null {
  if (!REASONING_APART.has(gt.provider) || gt.reasoning_tokens === null) return gt.output_tokens;
  return (gt.output_tokens ?? 0) + gt.reasoning_tokens;
}

/** An LLM call in the neutral shape {@link groundTruthDiff} compares (from an `LlmCall` or a stored call). */
export interface ObservedCall {
  /** `gen_ai.provider.name`. */
  provider: string;
  /** `gen_ai.operation.name`. */
  operation: string;
  response_model: string | null;
  response_id: string | null;
  /** Token counts (tokens), semconv meaning; null = not reported. */
  input_tokens: number | null;
  output_tokens: number | null;
  cache_read_input_tokens: number | null;
  cache_creation_input_tokens: number | null;
  reasoning_output_tokens: number | null;
  finish_reasons: string[];
  error_type: string | null;
  http_status: number | null;
  /** Tool calls in order; `arguments` as text or already parsed (stored calls parse JSON arguments). */
  tool_calls: Array<{ name: string; arguments: unknown }>;
  /** Answer text, reasoning excluded. */
  output_text: string;
  /** Whether the response was a stream, when known. */
  streaming?: boolean;
}

/**
 * A stored call as the read API returns it (`/api/calls`, `agentsight calls --json`: the `CallSummary` of
 * `@agentsight/clickhouse`), the fields {@link observedStoredCall} reads.
 */
export interface StoredCallFields {
  'gen_ai.provider.name': string;
  'gen_ai.operation.name': string;
  'gen_ai.response.model': string | null;
  'gen_ai.response.id': string | null;
  'gen_ai.usage.input_tokens': number | null;
  'gen_ai.usage.output_tokens': number | null;
  'gen_ai.usage.cache_read.input_tokens': number | null;
  'gen_ai.usage.cache_creation.input_tokens': number | null;
  'gen_ai.usage.reasoning.output_tokens': number | null;
  'gen_ai.response.finish_reasons': string[];
  'error.type': string | null;
  'http.response.status_code': number | null;
  tool_calls: Array<{ name: string; arguments: unknown }>;
  output_text: string;
}

/** A stored call in the shape {@link groundTruthDiff} compares; `streaming` when the caller knows it (else not compared). */
export function observedStoredCall(c: StoredCallFields, streaming?: boolean): ObservedCall {
  return {
    provider: c['gen_ai.provider.name'],
    operation: c['gen_ai.operation.name'],
    response_model: c['gen_ai.response.model'],
    response_id: c['gen_ai.response.id'],
    input_tokens: c['gen_ai.usage.input_tokens'],
    output_tokens: c['gen_ai.usage.output_tokens'],
    cache_read_input_tokens: c['gen_ai.usage.cache_read.input_tokens'],
    cache_creation_input_tokens: c['gen_ai.usage.cache_creation.input_tokens'],
    reasoning_output_tokens: c['gen_ai.usage.reasoning.output_tokens'],
    finish_reasons: c['gen_ai.response.finish_reasons'],
    error_type: c['error.type'],
    http_status: c['http.response.status_code'],
    tool_calls: c.tool_calls,
    output_text: c.output_text,
    streaming,
  };
}

function parsedArgs(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** JSON value with object keys sorted (so key order does not matter). */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/**
 * Every way `call` differs from ground-truth row `gt`, one readable line per field (`[]` = equal): provider and
 * operation, response model and id, the five token counts (semconv mapping above), finish reasons / error type and
 * HTTP status (rule F), tool-call names and arguments, the answer's first 60 characters, and `streaming` when the
 * call says.
 */
export function groundTruthDiff(gt: GroundTruthEntry, call: ObservedCall): string[] {
  const out: string[] = [];
  const check = (field: string, got: unknown, want: unknown) => {
    if (!same(got, want)) out.push(`${field}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  };
  check('provider', call.provider, GT_PROVIDER[gt.provider] ?? gt.provider);
  check('operation', call.operation, GT_API[gt.api]?.operation);
  check('response_model', call.response_model, gt.model);
  check('response_id', call.response_id, gt.response_id);
  check('input_tokens', call.input_tokens, semconvInputTokens(gt));
  check('output_tokens', call.output_tokens, semconvOutputTokens(gt));
  check('cache_read_input_tokens', call.cache_read_input_tokens, gt.cache_read_tokens);
  check('cache_creation_input_tokens', call.cache_creation_input_tokens, gt.cache_creation_tokens);
  check('reasoning_output_tokens', call.reasoning_output_tokens, gt.reasoning_tokens);
  if (gt.finish_reason?.startsWith('error:')) {
    check('finish_reasons', call.finish_reasons, []);
    check('error', `error:${call.http_status}:${call.error_type}`, gt.finish_reason);
  } else {
    check('finish_reasons', call.finish_reasons, gt.finish_reason === null ? [] : [gt.finish_reason]);
    check('error_type', call.error_type, null);
  }
  if (gt.http) check('http_status', call.http_status, gt.http.status);
  check('tool_calls.name', call.tool_calls.map((t) => t.name), gt.tool_calls.map((t) => t.name));
  gt.tool_calls.forEach((t, i) => {
    if (i < call.tool_calls.length) check(`tool_calls[${i}].arguments`, parsedArgs(call.tool_calls[i].arguments), parsedArgs(t.arguments));
  });
  check('output_text (first 60)', gt.text_prefix === null ? call.output_text : textPrefix(call.output_text), gt.text_prefix ?? '');
  if (call.streaming !== undefined) check('streaming', call.streaming, gt.streaming);
  return out;
}

/** Where vercel/ai recordings (which store no request) would have been sent: host and request-target per provider/API. */
const VERCEL_ENDPOINTS: Record<string, { host: string; target: string }> = {
  'openai:chat.completions': { host: 'api.openai.com', target: '/v1/chat/completions' },
  'openai:responses': { host: 'api.openai.com', target: '/v1/responses' },
  'azure-openai:chat.completions': {
    host: 'my-resource.openai.azure.com', target: '/openai/deployments/model-router/chat/completions?api-version=2025-04-01-preview',
  },
  'deepseek:chat.completions': { host: 'api.deepseek.com', target: '/chat/completions' },
  'groq:chat.completions': { host: 'api.groq.com', target: '/openai/v1/chat/completions' },
  'xai:chat.completions': { host: 'api.x.ai', target: '/v1/chat/completions' },
  'anthropic:messages': { host: 'api.anthropic.com', target: '/v1/messages' },
  'google-gemini:generateContent': { host: 'generativelanguage.googleapis.com', target: '' },
  'google-gemini:streamGenerateContent': { host: 'generativelanguage.googleapis.com', target: '' },
  'amazon-bedrock:converse-stream': { host: 'bedrock-runtime.us-east-1.amazonaws.com', target: '' },
};

/** A recorded call's request: where it went and what it carried. */
export interface GroundTruthRequest {
  /** Provider host name, e.g. `api.openai.com` (no port). */
  host: string;
  method: string;
  /** Request-target (path and query), e.g. `/v1/chat/completions`. */
  target: string;
  /** The request body as JSON text. */
  body: string;
  /** True when the body is the recorded one; false when synthesised (vercel fixtures store no request). */
  recorded: boolean;
}

/**
 * The request of ground-truth row `gt`: the recorded URI and body (ddtrace cassettes, js-genai recordings), else
 * (vercel/ai fixtures, and the derived Claude Code SSE) the provider's usual host and path with a minimal body in the
 * API's own shape: Chat Completions / Messages `{model, max_tokens, messages, stream?}` (model = the ground truth's,
 * `o1-mini` when it has none), Responses `{model, input, stream?}`, Gemini `{contents}` (model in the path), Bedrock
 * Converse `{messages}` (model in the path). Throws for the raw eBPF capture (not an HTTP recording).
 */
export function groundTruthRequest(gt: GroundTruthEntry): GroundTruthRequest {
  const f = loadFixture(gt.file, gt.call ?? 0);
  if (gt.file.startsWith('ddtrace__')) {
    const m = /^https?:\/\/([^/]+)(.*)$/.exec((gt.http?.uri ?? '').trim());
    const host = m ? m[1] : new URL(`https://x${f.path}`).host;
    return { host, method: f.method, target: m ? m[2] : f.path, body: JSON.stringify(f.requestBody ?? {}), recorded: f.requestBody !== undefined };
  }
  if (gt.file.startsWith('jsgenai__')) {
    const doc = JSON.parse(fs.readFileSync(path.join(corpusDir(), gt.file), 'utf8')) as { interactions: Array<{ request: { serverAddress: string } }> };
    return { host: doc.interactions[gt.call ?? 0].request.serverAddress, method: f.method, target: f.path, body: JSON.stringify(f.requestBody ?? {}), recorded: true };
  }
  const ep = VERCEL_ENDPOINTS[`${gt.provider}:${gt.api}`];
  if (!ep) throw new Error(`groundTruthRequest: no endpoint for ${gt.provider} ${gt.api}`);
  const model = gt.model ?? 'o1-mini';
  const stream = gt.streaming ? { stream: true } : {};
  let body: unknown;
  if (gt.api === 'responses') body = { model, input: 'Hello', ...stream };
  else if (gt.api === 'converse-stream') body = { messages: [{ role: 'user', content: [{ text: 'Hello' }] }] };
  else if (GT_API[gt.api]?.api === 'generate_content') body = { contents: [{ role: 'user', parts: [{ text: 'Hello' }] }] };
  else body = { model, max_tokens: 1024, messages: [{ role: 'user', content: 'Hello' }], ...stream };
  return { host: ep.host, method: 'POST', target: ep.target || f.path, body: JSON.stringify(body), recorded: false };
}
