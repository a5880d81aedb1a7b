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
  pid: number;
  tid: number;
  comm: string;
  process: ProcessInfo | null;
  conn_key: string;
  /** Host that captured the call (as in the raw records). */
  host: string;
}
