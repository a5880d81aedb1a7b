/**
 * LLM call → OpenTelemetry GenAI semantic event (semconv v1.41, https://opentelemetry.io/docs/specs/semconv/gen-ai/;
 * attributes: https://opentelemetry.io/docs/specs/semconv/registry/attributes/gen-ai/).
 */
import { deriveId, GenAiAttr, redactValue, type GenAiAttributeValue, type GenAiCost, type GenAiInferenceEvent, type LlmCall } from '@agentsight/contracts';
import { defaultPriceTable, priceCall, type PriceTable } from '@agentsight/pricing';

/**
 * The semconv attributes of a call, by {@link GenAiAttr} name; attributes whose value is null (unknown) are omitted,
 * and so is an empty `gen_ai.response.finish_reasons`.
 * - `gen_ai.operation.name` (`chat`), `gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.response.model`,
 *   `gen_ai.response.id`, `gen_ai.response.finish_reasons` (string[]);
 * - streamed calls: `gen_ai.response.time_to_first_chunk`, seconds from the request's first byte (its issuance, as
 *   captured) to the record carrying the first SSE event;
 * - token counts: `gen_ai.usage.input_tokens` (includes cached input, as the semconv requires; for Anthropic
 *   input + cache_read + cache_creation), `gen_ai.usage.output_tokens`, `gen_ai.usage.cache_read.input_tokens`,
 *   `gen_ai.usage.cache_creation.input_tokens`, `gen_ai.usage.reasoning.output_tokens`;
 * - when the analyzer counted the tokens itself (`usage_source` `estimated`): `agentsight.usage.source` = `estimated`
 *   and `agentsight.usage.tokenizer` (absent for provider-reported usage, the default);
 * - `server.address`, `http.response.status_code`, `error.type` (only when the call failed);
 * - `gen_ai.conversation.id`, `gen_ai.agent.name` (when known);
 * - only with `opts.captureContent` and `call.content` set: `gen_ai.input.messages`, `gen_ai.output.messages`,
 *   `gen_ai.system_instructions`, `gen_ai.tool.definitions` as JSON text (semconv JSON schemas; redacted again here).
 */
export function genAiAttributes(call: LlmCall, opts: { captureContent?: boolean } = {}): Record<string, GenAiAttributeValue> {
  const a: Record<string, GenAiAttributeValue> = {};
  const set = (k: string, v: GenAiAttributeValue | null | undefined) => {
    if (v !== null && v !== undefined && v !== '') a[k] = v;
  };
  set(GenAiAttr.operationName, call.operation);
  set(GenAiAttr.providerName, call.provider);
  set(GenAiAttr.requestModel, call.request_model);
  set(GenAiAttr.responseModel, call.response_model);
  set(GenAiAttr.responseId, call.response_id);
  if (call.finish_reasons.length) a[GenAiAttr.responseFinishReasons] = [...call.finish_reasons];
  if (call.first_chunk_ns !== undefined && call.first_chunk_ns >= call.start_ns) {
    a[GenAiAttr.responseTimeToFirstChunk] = Number(call.first_chunk_ns - call.start_ns) / 1e9;
  }
  set(GenAiAttr.usageInputTokens, call.usage.input_tokens);
  set(GenAiAttr.usageOutputTokens, call.usage.output_tokens);
  set(GenAiAttr.usageCacheReadInputTokens, call.usage.cache_read_input_tokens);
  set(GenAiAttr.usageCacheCreationInputTokens, call.usage.cache_creation_input_tokens);
  set(GenAiAttr.usageReasoningOutputTokens, call.usage.reasoning_output_tokens);
  if (call.usage_source === 'estimated') {
    a[GenAiAttr.usageSource] = 'estimated';
    set(GenAiAttr.usageTokenizer, call.usage_tokenizer);
  }
  set(GenAiAttr.serverAddress, call.server_address);
  set(GenAiAttr.httpResponseStatusCode, call.http_status);
  set(GenAiAttr.errorType, call.error_type);
  set(GenAiAttr.conversationId, call.conversation_id);
  set(GenAiAttr.agentName, call.agent_name);
  if (opts.captureContent && call.content) {
    const c = redactValue(call.content);
    a[GenAiAttr.inputMessages] = JSON.stringify(c.input_messages);
    a[GenAiAttr.outputMessages] = JSON.stringify(c.output_messages);
    if (c.system_instructions.length) a[GenAiAttr.systemInstructions] = JSON.stringify(c.system_instructions);
    if (c.tool_definitions.length) a[GenAiAttr.toolDefinitions] = JSON.stringify(c.tool_definitions);
  }
  return a;
}

let priceWarned = false;

/**
 * Cost of a call at list prices (`@agentsight/pricing`: priced by the response model, else the request model, of its
 * provider; USD). Null = unpriced (unknown model, a token type without a price, no usage). Never throws: if the price
 * table cannot be loaded at all, a warning goes to stderr once and every call is unpriced.
 */
export function callCost(call: LlmCall, prices?: PriceTable): { cost_usd: number | null; cost: GenAiCost | null } {
  let priced: ReturnType<typeof priceCall> = null;
  try {
    priced = priceCall(
      { provider: call.provider, model: call.response_model, request_model: call.request_model, usage: call.usage, raw_usage: call.raw_usage },
      prices ?? defaultPriceTable(),
    );
  } catch (err) {
    if (!priceWarned) process.stderr.write(`[agentsight-genai] pricing unavailable, calls stay unpriced: ${(err as Error).message}\n`);
    priceWarned = true;
  }
  return priced ? { cost_usd: priced.cost_usd, cost: { breakdown: priced.breakdown, price_id: priced.price_id } } : { cost_usd: null, cost: null };
}

/**
 * The GenAI event of an LLM call: `name` = `<operation> <request model, else response model>` (just the operation
 * when neither is known), e.g. `chat gpt-4.1`; `attributes` = {@link genAiAttributes}; `tool_calls`, `raw_usage`
 * (the provider's usage object as received) and `output_text` kept beside; `host` from the connection key;
 * `start_ns`/`end_ns` wall-clock ns; `process_name` = the process' comm, else the thread's; `cost_usd`/`cost` =
 * {@link callCost} (with `opts.prices`, default: the built-in table merged with `AGENTSIGHT_PRICES`); `conversation_id`
 * and `usage_detail` when the call has them; content attributes only with `opts.captureContent`. No `kind` (= inference). Id
 * `deriveId('genai', call.id)`.
 */
export function toInferenceEvent(call: LlmCall, opts: { prices?: PriceTable; captureContent?: boolean } = {}): GenAiInferenceEvent {
  const model = call.request_model ?? call.response_model;
  const ev: GenAiInferenceEvent = {
    v: 1,
    id: deriveId('genai', call.id),
    llm_call_id: call.id,
    exchange_id: call.exchange_id,
    name: model ? `${call.operation} ${model}` : call.operation,
    host: call.host,
    start_ns: call.start_ns,
    end_ns: call.end_ns,
    pid: call.pid,
    process_name: call.process?.comm || call.comm,
    attributes: genAiAttributes(call, { captureContent: opts.captureContent }),
    tool_calls: call.tool_calls.map((t) => ({ ...t })),
    raw_usage: call.raw_usage,
    output_text: call.output_text,
    ...callCost(call, opts.prices),
  };
  if (call.conversation_id) ev.conversation_id = call.conversation_id;
  if (call.usage_detail) ev.usage_detail = call.usage_detail; // token breakdown (agentsight token --detail)
  return ev;
}
