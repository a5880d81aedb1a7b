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
} as const;

export type GenAiAttributeValue = string | number | boolean | string[];

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
}
