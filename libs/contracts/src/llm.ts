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
