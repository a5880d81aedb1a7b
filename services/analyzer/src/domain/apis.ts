/**
 * The registry of LLM APIs the analyzer understands, in recognition order (a path names at most one API; off-path
 * shape recognition tries them in this order). Adding an API = its adapter (`api-adapter.ts`) in its own file, and a
 * line here.
 */
import type { LlmApiAdapter } from './api-adapter';
import { anthropicMessagesApi } from './anthropic-messages';
import { bedrockConverseApi, bedrockInvokeApi } from './bedrock';
import { dashscopeApi } from './dashscope';
import { geminiApi } from './gemini';
import { ollamaChatApi, ollamaGenerateApi } from './ollama';
import { openAiChatApi } from './openai-chat';
import { openAiResponsesApi } from './openai-responses';

/** Every API adapter, in recognition order. */
export const LLM_APIS = [
  openAiChatApi,
  anthropicMessagesApi,
  openAiResponsesApi,
  geminiApi,
  bedrockConverseApi,
  bedrockInvokeApi,
  ollamaChatApi,
  ollamaGenerateApi,
  dashscopeApi,
] as const;

const BY_NAME: ReadonlyMap<string, LlmApiAdapter> = new Map(LLM_APIS.map((a) => [a.api, a as LlmApiAdapter]));

/** The adapter of an API name (`LlmCall.api`), or undefined for a name the analyzer does not know. */
export function apiAdapter(api: string): LlmApiAdapter | undefined {
  return BY_NAME.get(api);
}

/** The adapter whose path rule matches a request path (trailing slashes ignored), or undefined. */
export function adapterForPath(path: string): LlmApiAdapter | undefined {
  const p = path.replace(/\/+$/, '');
  return LLM_APIS.find((a) => a.matchesPath(p));
}
