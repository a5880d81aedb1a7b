/**
 * Recognising LLM APIs and naming providers. Provider names are OTel `gen_ai.provider.name` values (semconv v1.41,
 * https://opentelemetry.io/docs/specs/semconv/registry/attributes/gen-ai/#gen-ai-provider-name); `alibaba.dashscope`
 * is not a well-known value (the attribute is an open enum).
 */
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

/** Provider of an API when the host names none (a self-hosted or proxied server): the API's own vendor. */
const API_PROVIDERS: Record<LlmApi, string> = {
  'chat.completions': 'openai',
  responses: 'openai',
  messages: 'anthropic',
  generate_content: 'gcp.gemini',
  converse: 'aws.bedrock',
  invoke_model: 'aws.bedrock',
  'ollama.chat': 'ollama',
  'ollama.generate': 'ollama',
  'dashscope.generation': 'alibaba.dashscope',
};

/**
 * The `gen_ai.provider.name` for a server host and API: from the host when known (Azure OpenAI → `azure.ai.openai`,
 * xAI → `x_ai`, Gemini API → `gcp.gemini`, Vertex AI → `gcp.vertex_ai`, Bedrock → `aws.bedrock`, …), else the API's
 * own provider (`openai` for Chat Completions and Responses, `anthropic` for Messages, `gcp.gemini` for
 * generateContent, `aws.bedrock` for Converse/InvokeModel, `ollama` for Ollama's native API; `ollama` is not a
 * well-known semconv value, the attribute is an open enum).
 */
export function providerFor(host: string, api: LlmApi): string {
  const h = stripPort(host);
  for (const [re, name] of HOST_PROVIDERS) if (re.test(h)) return name;
  return API_PROVIDERS[api] ?? 'openai';
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
 * The LLM API a request path names, or null:
 * - `…/chat/completions` → Chat Completions (OpenAI, Azure `/openai/deployments/<d>/chat/completions`, DeepSeek
 *   `/chat/completions`, Groq `/openai/v1/chat/completions`, DashScope `/compatible-mode/v1/chat/completions`, …);
 * - `…/v1/messages` → Anthropic Messages (also DeepSeek's `/anthropic/v1/messages`; not OpenAI Assistants'
 *   `/threads/<id>/messages`, not `/v1/messages/count_tokens` or `/v1/messages/batches`);
 * - `…/v1/responses`, Azure `/openai/responses` → OpenAI Responses (not `/v1/responses/<id>/cancel`,
 *   not `/v1/responses/input_tokens`);
 * - `…:generateContent`, `…:streamGenerateContent` → Gemini (Gemini API `/v1beta/models/<m>:…`, Vertex AI
 *   `/v1/projects/<p>/locations/<l>/publishers/google/models/<m>:…`, Code Assist `/v1internal:…`);
 * - `/model/<id>/converse[-stream]` → Bedrock Converse; `/model/<id>/invoke[-with-response-stream]` → Bedrock InvokeModel;
 * - `/api/chat`, `/api/generate` → Ollama (generic paths: {@link analyzeExchange} also requires Ollama's body shapes);
 * - `/api/v1/services/aigc/(text|multimodal)-generation/generation` → DashScope native.
 */
export function apiFromPath(path: string): LlmApi | null {
  const p = path.replace(/\/+$/, '');
  if (/\/chat\/completions$/.test(p)) return 'chat.completions';
  if (/(^|\/)v1\/messages$/.test(p)) return 'messages';
  if (/(^|\/)(v1|openai)\/responses$/.test(p)) return 'responses';
  if (/:(stream)?[gG]enerate[cC]ontent$/.test(p)) return 'generate_content';
  if (/(^|\/)model\/[^/]+\/converse(-stream)?$/.test(p)) return 'converse';
  if (/(^|\/)model\/[^/]+\/invoke(-with-response-stream)?$/.test(p)) return 'invoke_model';
  if (/^\/api\/chat$/.test(p)) return 'ollama.chat';
  if (/^\/api\/generate$/.test(p)) return 'ollama.generate';
  if (/\/api\/v1\/services\/aigc\/(text|multimodal)-generation\/generation$/.test(p)) return 'dashscope.generation';
  return null;
}

/**
 * The model a request path names, URL-decoded, or null: Gemini/Vertex `…/models/<model>:generateContent` (also
 * `tunedModels/<m>`), Bedrock `/model/<modelId or ARN>/converse…|invoke…` (e.g. `us.anthropic.claude-3-7-sonnet-20250219-v1:0`).
 */
export function modelFromPath(path: string): string | null {
  const m = /(?:^|\/)(?:models|tunedModels)\/([^/:]+):[A-Za-z]+$/.exec(path) ?? /(?:^|\/)model\/([^/]+)\/(?:converse|invoke)/.exec(path);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]) || null;
  } catch {
    return m[1];
  }
}

/** True for a Gemini streaming method (`:streamGenerateContent`) or a Bedrock streaming operation path. */
export function isStreamingPath(path: string): boolean {
  return /:stream[gG]enerate[cC]ontent$|\/converse-stream$|\/invoke-with-response-stream$/.test(path.replace(/\/+$/, ''));
}
