/**
 * Recognising LLM APIs and naming providers. Provider names are OTel `gen_ai.provider.name` values (semconv v1.41,
 * https://opentelemetry.io/docs/specs/semconv/registry/attributes/gen-ai/#gen-ai-provider-name); `alibaba.dashscope`
 * is not a well-known value (the attribute is an open enum).
 */
import { adapterForPath, apiAdapter, LLM_APIS } from './apis';
import type { LlmApi } from './types';

/** Host suffix → provider, first match wins. Hosts are compared lower-case, without port. */
const HOST_PROVIDERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/(^|\.)openai\.azure\.com$/, 'azure.ai.openai'],
  [/(^|\.)cognitiveservices\.azure\.com$/, 'azure.ai.openai'],
  [/(^|\.)services\.ai\.azure\.com$/, 'azure.ai.openai'],
  [/(^|\.)(models|inference)\.ai\.azure\.com$/, 'azure.ai.inference'],
  [/(^|\.)deepseek\.com$/, 'deepseek'],
  [/(^|\.)x\.ai$/, 'x_ai'],
  [/(^|\.)groq\.com$/, 'groq'],
  [/(^|\.)mistral\.ai$/, 'mistral_ai'],
  [/(^|\.)perplexity\.ai$/, 'perplexity'],
  [/(^|\.)cohere\.(ai|com)$/, 'cohere'],
  [/(^|\.)generativelanguage\.googleapis\.com$/, 'gcp.gemini'],
  [/(^|[.-])aiplatform\.googleapis\.com$/, 'gcp.vertex_ai'], // global or <region>-aiplatform,
  [/(^|\.)cloudcode-pa\.googleapis\.com$/, 'gcp.gen_ai'],
  [/(^|\.)ollama\.com$/, 'ollama'],
  [/^bedrock-runtime[.-].*\.amazonaws\.com$/, 'aws.bedrock'],
  [/(^|\.)dashscope(-intl|-us)?\.aliyuncs\.com$/, 'alibaba.dashscope'],
  [/(^|\.)anthropic\.com$/, 'anthropic'],
  [/(^|\.)openai\.com$/, 'openai'],
];

/**
 * Providers whose output count leaves reasoning tokens out on every API they serve (xAI `api.x.ai`: `completion_tokens`
 * and `output_tokens` exclude `reasoning_tokens`); see `reasoning.ts`.
 */
export const REASONING_APART_PROVIDERS: ReadonlySet<string> = new Set(['x_ai']);

/** `host[:port]` or `[v6]:port` → host, lower-case. */
export function stripPort(hostport: string): string {
  const h = hostport.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : h;
  }
  const colon = h.indexOf(':');
  return colon >= 0 && h.indexOf(':', colon + 1) < 0 ? h.slice(0, colon) : h;
}

/**
 * The `gen_ai.provider.name` for a server host and API: from the host when known (Azure OpenAI → `azure.ai.openai`,
 * xAI → `x_ai`, Gemini API → `gcp.gemini`, Vertex AI → `gcp.vertex_ai`, Bedrock → `aws.bedrock`, …), else the API's
 * own provider (`LlmApiAdapter.provider`: `openai` for Chat Completions and Responses, `anthropic` for Messages,
 * `gcp.gemini` for generateContent, `aws.bedrock` for Converse/InvokeModel, `ollama` for Ollama's native API; `ollama`
 * is not a well-known semconv value, the attribute is an open enum), `openai` for an unknown API.
 */
export function providerFor(host: string, api: string): string {
  const h = stripPort(host);
  for (const [re, name] of HOST_PROVIDERS) if (re.test(h)) return name;
  return apiAdapter(api)?.provider ?? 'openai';
}

/** Path of a request-target (origin-form `/p?q` or absolute-form `https://h/p?q`), without query or fragment. */
export function targetPath(target: string): string {
  let t = target;
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(t);
  if (abs) t = t.slice(abs[0].length) || '/';
  const q = t.search(/[?#]/);
  return q >= 0 ? t.slice(0, q) : t;
}

/** Host of an absolute-form request-target, or '' (origin-form). */
export function targetHost(target: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#@]*@)?([^/?#]*)/i.exec(target);
  return m ? m[2] : '';
}

/**
 * The LLM API a request path names, or null: the first adapter of `LLM_APIS` (`apis.ts`) whose `matchesPath` holds
 * (each adapter's doc lists its paths: `…/chat/completions`, `…/v1/messages`, `…/v1/responses`, `…:generateContent`,
 * `/model/<id>/converse`, `/api/chat`, …). Generic paths (Ollama's) also need the adapter's request and response shapes,
 * see {@link analyzeExchange}.
 */
export function apiFromPath(path: string): LlmApi | null {
  return (adapterForPath(path)?.api as LlmApi | undefined) ?? null;
}

/**
 * The model a request path names (the first adapter's `modelFromPath`), URL-decoded, or null: Gemini/Vertex `…/models/<model>:generateContent` (also
 * `tunedModels/<m>`), Bedrock `/model/<modelId or ARN>/converse…|invoke…` (e.g. `us.anthropic.claude-3-7-sonnet-20250219-v1:0`).
 */
export function modelFromPath(path: string): string | null {
  for (const a of LLM_APIS) {
    const m = a.modelFromPath?.(path);
    if (m != null) return m;
  }
  return null;
}

/** True for a path some adapter names a streaming method: Gemini `:streamGenerateContent`, Bedrock `converse-stream`, `invoke-with-response-stream`. */
export function isStreamingPath(path: string): boolean {
  const p = path.replace(/\/+$/, '');
  return LLM_APIS.some((a) => a.streamingPath?.(p) === true);
}
