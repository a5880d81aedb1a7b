/** LLM calls recognised by the analyzer (subject `agentsight.llm.<host>`), contract v1. */
import type { ProcessInfo } from './exchange';

export type LlmProvider = 'openai' | 'anthropic' | 'azure.ai.openai' | 'gcp.gemini' | 'aws.bedrock' | 'deepseek' | 'x_ai' | 'groq' | string;

/** A tool call requested by the model. */
export interface ToolCall {
  /** Provider's call id (`call_…`, `toolu_…`), when given. */
  id: string | null;
  name: string;
  /** Arguments exactly as the model produced them (a JSON text for function tools). */
  arguments: string;
}

/**
 * Token usage as the provider reported it, mapped to OTel meanings (counts of tokens):
 * `input_tokens` includes cached input (semconv rule: for Anthropic input + cache_read + cache_creation).
 */
export interface Usage {
  input_tokens: number | null;
  output_tokens: number | null;
  cache_read_input_tokens: number | null;
  cache_creation_input_tokens: number | null;
  reasoning_output_tokens: number | null;
}

/**
 * Where the tokens of one call went, in tokens (`LlmCall.usage_detail`, computed by the analyzer's `usage-detail.ts`):
 * - `input` by the role of the prompt text they come from: `system` (system prompt / instructions / developer messages,
 *   and tool definitions), `user`, `assistant` (earlier answers and their tool calls), `tool` (tool results, also when
 *   the API carries them inside a user turn); each message's chat-template overhead counts with its role;
 * - `output` by type: `text` (answer text), `reasoning` (thinking/reasoning), `tool_calls` (tool names + arguments).
 * Shares are counted with the model's tokenizer (`tokenizer`, as `@agentsight/tokens` picks it) and then scaled (largest
 * remainder, integers) so they sum to the call's totals: `input` sums to `usage.input_tokens`; `output` sums to
 * `usage.output_tokens`, except that a reasoning count the provider reports (`usage.reasoning_output_tokens`) is taken
 * as is and only the rest is shared between text and tool calls; Gemini and xAI report reasoning apart from their output
 * count, so there `text + tool_calls` = `output_tokens` and `reasoning` = the reported reasoning count. A half is null when its total is
 * unknown (null) or there was nothing to count it from (e.g. a request body that is not JSON).
 */
export interface UsageDetail {
  input: { system: number; user: number; assistant: number; tool: number } | null;
  output: { text: number; reasoning: number; tool_calls: number } | null;
  /** Tokenizer that counted the shares (`o200k_base`, `cl100k_base`, `qwen3`, `estimate:o200k_base`, …). */
  tokenizer: string;
}

/** One LLM call. `id` = deriveId('llm', exchange id). */
export interface LlmCall {
  v: 1;
  id: string;
  exchange_id: string;
  /** OTel `gen_ai.provider.name`. */
  provider: LlmProvider;
  /** API family: `chat.completions` | `messages` | … */
  api: string;
  /** OTel `gen_ai.operation.name`: `chat` | `text_completion` | `generate_content`. */
  operation: string;
  streaming: boolean;
  request_model: string | null;
  response_model: string | null;
  response_id: string | null;
  usage: Usage;
  /**
   * Where {@link usage}'s input/output token counts come from:
   * - `reported`: from the provider's usage (also when it reported none and nothing could be counted: the counts are
   *   then null; and when it reported only some counts: the missing ones stay null, the provider's accounting is
   *   authoritative, e.g. Gemini omits `candidatesTokenCount` when a reply is only thoughts);
   * - `estimated`: the response (HTTP < 400) carried neither an input nor an output count (a stream without
   *   `stream_options.include_usage`, a server that never reports usage, a stream cut before its usage chunk), so the
   *   analyzer counted them with {@link usage_tokenizer}: `input_tokens` from the request body (message texts, roles,
   *   names, system/instructions, tool calls and results, tool definitions as JSON text, plus the chat template's
   *   per-message overhead), `output_tokens` from `output_text` plus each tool call's name and arguments. Cache and
   *   reasoning counts stay null. Reasoning/thinking output is not visible in `output_text` and is not counted.
   * Calls written before this field existed read as `reported`.
   */
  usage_source: 'reported' | 'estimated';
  /**
   * Tokenizer that produced estimated counts (`@agentsight/tokens`): `o200k_base` / `cl100k_base` (tiktoken, OpenAI
   * models), `qwen3` (Qwen models), `estimate:o200k_base` (any other model: o200k_base as a proxy) or
   * `estimate:chars/4` (no tokenizer could be loaded). Null when `usage_source` is `reported`.
   */
  usage_tokenizer: string | null;
  /**
   * Input tokens by role and output tokens by type ({@link UsageDetail}); null when neither total is known. Absent in
   * calls from before this field existed (read as null).
   */
  usage_detail?: UsageDetail | null;
  /** The provider's usage object(s) as received (merged for streams), for audit and re-derivation. */
  raw_usage: Record<string, unknown> | null;
  /** Provider finish/stop reasons, one per choice. */
  finish_reasons: string[];
  tool_calls: ToolCall[];
  /** Concatenated answer text (reasoning/thinking excluded). */
  output_text: string;
  /** Set when the call failed (HTTP ≥ 400 or an error event): e.g. `overloaded_error`, `429`. */
  error_type: string | null;
  server_address: string;
  http_status: number | null;
  /** Wall-clock ns: first request byte, last response byte. */
  start_ns: bigint;
  end_ns: bigint;
  /**
   * Streamed calls: wall-clock ns of the first SSE event (the exchange's `response.first_event_ns`); absent otherwise
   * and in calls of versions before this field.
   */
  first_chunk_ns?: bigint;
  pid: number;
  tid: number;
  comm: string;
  process: ProcessInfo | null;
  conn_key: string;
  /** Host that captured the call (as in the raw records). */
  host: string;
  /**
   * OTel `gen_ai.conversation.id` (the agent session the call belongs to), see the analyzer's `conversation.ts`: the
   * provider's own id when the request carries one (OpenAI Responses `conversation`, the first response id of a
   * `previous_response_id` chain, Anthropic `metadata.user_id` with `session_<uuid>` as Claude Code sends, any
   * `conversation_id`/`session_id` field), else one per agent process: `deriveId('conversation', host, boot_id, pid,
   * process start_ns)`. Absent in calls from before this field existed (read as null).
   */
  conversation_id?: string | null;
  /** OTel `gen_ai.agent.name`: the agent behind the process (`claude-code`, `gemini-cli`, `codex`, … or the script / comm), see `agentName`. */
  agent_name?: string | null;
  /**
   * Prompt and answer as OTel GenAI semconv v1.41 JSON values, only when content capture is on
   * (`AGENTSIGHT_CAPTURE_CONTENT=1` or `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`), secrets redacted;
   * null/absent otherwise.
   */
  content?: LlmContent | null;
}

/**
 * The messages of one call in the shapes of semconv v1.41 (`gen-ai-input-messages.json`, `gen-ai-output-messages.json`,
 * `gen-ai-system-instructions.json`, `gen_ai.tool.definitions`). Parts: `{type:'text', content}`,
 * `{type:'tool_call', id, name, arguments}`, `{type:'tool_call_response', id, response}`, `{type:'reasoning', content}`,
 * `{type:'uri'|'blob', modality, mime_type?, uri|content}`, `{type:'server_tool_call'…}`.
 */
export interface LlmContent {
  input_messages: GenAiMessage[];
  output_messages: GenAiMessage[];
  system_instructions: GenAiPart[];
  tool_definitions: Array<Record<string, unknown>>;
}

/** One semconv message part (`type` plus its fields). */
export type GenAiPart = { type: string } & Record<string, unknown>;

/** One semconv message: role (`system` | `user` | `assistant` | `tool`), parts, and for output messages `finish_reason`. */
export interface GenAiMessage {
  role: string;
  parts: GenAiPart[];
  name?: string;
  finish_reason?: string;
}
