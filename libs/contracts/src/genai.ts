/**
 * OpenTelemetry GenAI semantic events (subject `agentsight.genai.<host>`), contract v1, names per semconv v1.41
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/). All attribute names live in {@link GenAiAttr}.
 */
import type { ToolCall } from './llm';

/** Attribute names used by agentsight (semconv v1.41 `gen_ai.*`, plus `server.*`, `http.*`, `error.type`). */
export const GenAiAttr = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  responseFinishReasons: 'gen_ai.response.finish_reasons',
  usageInputTokens: 'gen_ai.usage.input_tokens',
  usageOutputTokens: 'gen_ai.usage.output_tokens',
  usageCacheReadInputTokens: 'gen_ai.usage.cache_read.input_tokens',
  usageCacheCreationInputTokens: 'gen_ai.usage.cache_creation.input_tokens',
  usageReasoningOutputTokens: 'gen_ai.usage.reasoning.output_tokens',
  serverAddress: 'server.address',
  httpResponseStatusCode: 'http.response.status_code',
  errorType: 'error.type',
  /**
   * agentsight extension (not semconv): `estimated` when the `gen_ai.usage.input_tokens`/`output_tokens` values were
   * counted by agentsight because the provider reported no usage (`LlmCall.usage_source`); absent when reported.
   */
  usageSource: 'agentsight.usage.source',
  /** agentsight extension: the tokenizer behind estimated counts (`LlmCall.usage_tokenizer`); absent when reported. */
  usageTokenizer: 'agentsight.usage.tokenizer',
} as const;

export type GenAiAttributeValue = string | number | boolean | string[];

/**
 * Cost of one call split by token type, in USD (each part = tokens of that type × its list price per 1M tokens / 1e6):
 * - `input`: uncached input tokens (semconv input minus cache reads minus cache writes);
 * - `cache_read`: input tokens read from the provider's prompt cache;
 * - `cache_write`: input tokens written to the prompt cache (Anthropic: 5-minute and 1-hour writes, each at its price);
 * - `output`: output tokens other than reasoning tokens;
 * - `reasoning`: reasoning/thinking output tokens (priced as output unless the price table says otherwise).
 */
export interface GenAiCostBreakdown {
  input: number;
  cache_read: number;
  cache_write: number;
  output: number;
  reasoning: number;
}

/** How a call was priced: the breakdown (USD) and the price-table entry used (`<entry id>@<as_of>[>threshold]`). */
export interface GenAiCost {
  breakdown: GenAiCostBreakdown;
  price_id: string;
}

/**
 * One semantic event per LLM call (an OTel "inference" span in event form). `name` is `<operation> <model>`,
 * e.g. `chat gpt-4.1`. `id` = deriveId('genai', llm call id).
 */
export interface GenAiEvent {
  v: 1;
  id: string;
  llm_call_id: string;
  exchange_id: string;
  name: string;
  host: string;
  /** Wall-clock ns. */
  start_ns: bigint;
  end_ns: bigint;
  pid: number;
  process_name: string;
  attributes: Record<string, GenAiAttributeValue>;
  tool_calls: ToolCall[];
  /** The provider's usage object as received, kept beside the semconv numbers. */
  raw_usage: Record<string, unknown> | null;
  output_text: string;
  /**
   * Estimated cost of the call in USD at list prices (`@agentsight/pricing`, built-in table merged with
   * `AGENTSIGHT_PRICES`); null = unpriced (unknown model, no price for a token type used, or no usage reported).
   * Never 0 for "unknown". Absent in events from before this field existed: read as null.
   */
  cost_usd: number | null;
  /** Breakdown and price id behind {@link cost_usd}; null exactly when `cost_usd` is null. */
  cost: GenAiCost | null;
}
