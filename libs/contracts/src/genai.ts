/**
 * OpenTelemetry GenAI semantic events (subject `agentsight.genai.<host>`), contract v1, names per semconv v1.41
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/). All attribute names live in {@link GenAiAttr}.
 */
import type { ToolCall, UsageDetail } from './llm';

/** Attribute names used by agentsight (semconv v1.41 `gen_ai.*`, plus `server.*`, `http.*`, `error.type`). */
export const GenAiAttr = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  /** Streamed calls: seconds from the request's first byte to the first SSE event (semconv, experimental). */
  responseTimeToFirstChunk: 'gen_ai.response.time_to_first_chunk',
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
  conversationId: 'gen_ai.conversation.id',
  agentName: 'gen_ai.agent.name',
  agentId: 'gen_ai.agent.id',
  toolName: 'gen_ai.tool.name',
  toolCallId: 'gen_ai.tool.call.id',
  toolType: 'gen_ai.tool.type',
  /** Opt-in content (see {@link captureContentEnabled}): JSON text of the arguments / the result of a tool call. */
  toolCallArguments: 'gen_ai.tool.call.arguments',
  toolCallResult: 'gen_ai.tool.call.result',
  /** Opt-in content: JSON text per the semconv JSON schemas (input/output messages, system instructions, tool definitions). */
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  systemInstructions: 'gen_ai.system_instructions',
  toolDefinitions: 'gen_ai.tool.definitions',
} as const;

/**
 * True when GenAI content capture is on: `AGENTSIGHT_CAPTURE_CONTENT` is `1`/`true`, or (when that is unset) OTel's
 * `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` is `true`/`1`. Default off: no message, instruction, tool
 * definition, tool argument or tool result text is put into events (the raw exchanges are stored redacted regardless).
 */
export function captureContentEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const own = env.AGENTSIGHT_CAPTURE_CONTENT;
  const v = (own !== undefined && own !== '' ? own : env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT ?? '').trim().toLowerCase();
  return v === '1' || v === 'true';
}

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
export interface GenAiInferenceEvent {
  v: 1;
  /** Absent (older events) or `inference`: one LLM call. See {@link GenAiToolEvent}, {@link GenAiAgentEvent}. */
  kind?: 'inference';
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
  /** `gen_ai.conversation.id` of the call (also in `attributes`); absent in older events. */
  conversation_id?: string | null;
  /** Input tokens by role, output tokens by type (`LlmCall.usage_detail`); absent when the call has none. */
  usage_detail?: UsageDetail | null;
}

/**
 * One `execute_tool {gen_ai.tool.name}` event per tool use (an OTel "execute tool" span in event form), re-published
 * as the tool use is completed: `id` = deriveId('genai', 'execute_tool', tool use id), `version` = the ToolUse's
 * version (Nats-Msg-Id `<id>:v<version>`; storage keeps the highest). Attributes: `gen_ai.operation.name`
 * (`execute_tool`), `gen_ai.tool.name`, `gen_ai.tool.call.id`, `gen_ai.tool.type`, `gen_ai.conversation.id`,
 * `gen_ai.agent.name`, `error.type` (`tool_error` when the result says it failed), and only with content capture on
 * `gen_ai.tool.call.arguments` / `gen_ai.tool.call.result`.
 */
export interface GenAiToolEvent {
  v: 1;
  kind: 'execute_tool';
  id: string;
  version: number;
  tool_use_id: string;
  /** `execute_tool <tool name>`. */
  name: string;
  host: string;
  /** Wall-clock ns; null when that half of the tool use is not known (see ToolUse). */
  start_ns: bigint | null;
  end_ns: bigint | null;
  pid: number;
  process_name: string;
  conversation_id: string | null;
  success: boolean | null;
  origin_llm_call_id: string | null;
  attributes: Record<string, GenAiAttributeValue>;
}

/**
 * One `invoke_agent {gen_ai.agent.name}` event per agent session (= `gen_ai.conversation.id`), totals over its LLM
 * calls and tool uses. Every update replaces the previous one: `id` = deriveId('genai', 'invoke_agent', host,
 * conversation id), `version` = number of distinct contributions folded in so far (LLM calls, tool uses, tool failures;
 * Nats-Msg-Id `<id>:v<version>`), storage keeps the highest. Attributes: `gen_ai.operation.name` (`invoke_agent`),
 * `gen_ai.agent.name`, `gen_ai.agent.id` (= `id`), `gen_ai.conversation.id`, `gen_ai.provider.name` (of the first call),
 * `gen_ai.usage.input_tokens` / `output_tokens` (sums).
 */
export interface GenAiAgentEvent {
  v: 1;
  kind: 'invoke_agent';
  id: string;
  version: number;
  /** `invoke_agent <agent name>`. */
  name: string;
  agent_name: string;
  conversation_id: string;
  host: string;
  pid: number;
  process_name: string;
  /** Wall-clock ns: first start and last end over the session's calls and tool uses. */
  start_ns: bigint;
  end_ns: bigint;
  llm_calls: number;
  tool_uses: number;
  tool_errors: number;
  /** Sums over the calls that reported (or estimated) them, tokens. */
  input_tokens: number;
  output_tokens: number;
  /** Sum of priced calls' cost, USD (nano-USD precision); null when no call was priced. */
  cost_usd: number | null;
  unpriced_calls: number;
  attributes: Record<string, GenAiAttributeValue>;
}

/** Anything published on `agentsight.genai.<host>`: an inference event (no `kind` or `inference`), a tool or an agent event. */
export type GenAiRecord = GenAiInferenceEvent | GenAiToolEvent | GenAiAgentEvent;
