/**
 * The one rule for reasoning tokens in `gen_ai.usage.output_tokens`.
 *
 * OTel GenAI semconv v1.41: `gen_ai.usage.reasoning.output_tokens` "SHOULD be included in
 * `gen_ai.usage.output_tokens`". OpenAI (Chat Completions and Responses), Azure, DeepSeek, DashScope and Anthropic
 * already count reasoning inside their output count. Two providers report it apart:
 * - Gemini (`generateContent` / `streamGenerateContent`, Gemini API, Vertex AI, Code Assist): `candidatesTokenCount`
 *   excludes `thoughtsTokenCount` (and is omitted when a reply is only thoughts);
 * - xAI (`api.x.ai`): `completion_tokens` / `output_tokens` exclude `reasoning_tokens`.
 * (The rule per API is the adapter's `reasoningApart`, per provider `REASONING_APART_PROVIDERS` in `providers.ts`.)
 * For them the analyzer reports output = provider output + reasoning, reasoning = the provider's reasoning count.
 * Costs stay per token type (`@agentsight/pricing` bills output − reasoning at the output price, reasoning at the
 * reasoning price). Rows stored before this rule are corrected by `REASONING_OUTPUT_DATA_MIGRATIONS` in
 * `@agentsight/clickhouse`.
 */
import type { Usage } from '@agentsight/contracts';
import { apiAdapter } from './apis';
import { REASONING_APART_PROVIDERS } from './providers';

/**
 * Whether the provider's output count (of API `api`, `gen_ai.provider.name` `provider`) leaves reasoning tokens out:
 * the API's adapter says so (`reasoningApart`) or the provider is in `REASONING_APART_PROVIDERS`.
 */
export function reportsReasoningApart(api: string, provider: string): boolean {
  return apiAdapter(api)?.reasoningApart === true || REASONING_APART_PROVIDERS.has(provider);
}

/**
 * `usage` (tokens) with reasoning included in `output_tokens` where the provider reported it apart (see the module
 * doc); unchanged otherwise or when no reasoning count was reported. Output stays null only when both are null.
 */
export function withReasoningInOutput(usage: Usage, api: string, provider: string): Usage {
  const r = usage.reasoning_output_tokens;
  if (r === null || !reportsReasoningApart(api, provider)) return usage;
  return { ...usage, output_tokens: (usage.output_tokens ?? 0) + r };
}
