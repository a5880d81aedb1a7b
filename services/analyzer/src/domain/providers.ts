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
  [/(^|\.)aiplatform\.googleapis\.com$/, 'gcp.vertex_ai'],
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

/**
 * The `gen_ai.provider.name` for a server host and API: from the host when known (Azure OpenAI → `azure.ai.openai`,
 * xAI → `x_ai`, …), else the API's own provider (`openai` for Chat Completions, `anthropic` for Messages).
 */
export function providerFor(host: string, api: LlmApi): string {
  const h = stripPort(host);
  for (const [re, name] of HOST_PROVIDERS) if (re.test(h)) return name;
  return api === 'messages' ? 'anthropic' : 'openai';
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
 * The LLM API a request path names, or null: `…/chat/completions` → Chat Completions (OpenAI, Azure
 * `/openai/deployments/<d>/chat/completions`, DeepSeek `/chat/completions`, Groq `/openai/v1/chat/completions`,
 * DashScope `/compatible-mode/v1/chat/completions`, …); `…/v1/messages` → Anthropic Messages (also DeepSeek's
 * `/anthropic/v1/messages`; not OpenAI Assistants' `/threads/<id>/messages`, not `/v1/messages/count_tokens` or
 * `/v1/messages/batches`).
 */
export function apiFromPath(path: string): LlmApi | null {
  const p = path.replace(/\/+$/, '');
  if (/\/chat\/completions$/.test(p)) return 'chat.completions';
  if (/(^|\/)v1\/messages$/.test(p)) return 'messages';
  return null;
}
