/**
 * Types of the analyzer's domain layer (pure functions, no NATS). The service layer turns these into contract
 * messages: {@link LlmCall} on `agentsight.llm.<host>`, {@link AuditRecord} on `agentsight.audit.<host>` and, from a
 * {@link AnalyzerDeadLetter}, a `DeadLetter` on `agentsight.dlq.analyzer.<host>`.
 */
import type { AuditRecord, DeadLetterDraft, LlmCall } from '@agentsight/contracts';
import type { LLM_APIS } from './apis';
import type { ConversationRef } from './conversation';
import type { NormalizedRequest } from './messages';

/**
 * An analyzer dead letter: a contract {@link DeadLetterDraft} with what went wrong with which input. The service layer
 * completes it into a contract `DeadLetter` (adds `input_subject`, `input_seq`; the stage runtime `v`, `stage`,
 * `host`, `ts_ns` and the id, see `DeadLetterDraft`). At most one draft per (exchange, reason) is produced so that id
 * stays unique.
 */
export interface AnalyzerDeadLetter extends DeadLetterDraft {
  /**
   * Machine-readable cause: `json_parse_error` (a recognised LLM call's request body, response body, SSE `data:`,
   * NDJSON line or event-stream payload is not valid JSON), `json_depth_limit` (one of them nests deeper than
   * `MAX_JSON_DEPTH`), `eventstream_error` (an AWS event-stream body whose prelude
   * or message CRC32 does not match, or whose framing is broken/truncated), `analyzer_error` (an internal failure; the
   * exchange produced no call).
   */
  reason: 'json_parse_error' | 'json_depth_limit' | 'eventstream_error' | 'analyzer_error';
  /** Human-readable message, e.g. `response.body: Unexpected end of JSON input`; several failures are joined by `; `. */
  error: string;
  /** The exchange id (`Exchange.id`). */
  input_id: string;
  /** The exchange's connection (`Exchange.conn.key`), null when unknown. */
  conn_key: string | null;
  /**
   * Where the (first) failure was: `request.body`, `response.body`, `response.events[<n>]`, `response.lines[<n>]`
   * (NDJSON), `response.frames[<n>]` (event-stream frame n, or `@<byte offset>` for framing) or `exchange`.
   */
  where: string;
  /** First bytes (at most DEAD_LETTER_SAMPLE_BYTES, contract `dlq.ts`) of the first offending body or SSE `data:` text. */
  sample: Uint8Array;
}


/** Result of {@link analyzeExchange}: the LLM call (null when the exchange is not one), its audit, dead letters. */
export interface AnalyzeResult {
  call: LlmCall | null;
  /** `[auditForCall(call)]` when `call` is set, else empty. */
  audit: AuditRecord[];
  deadLetters: AnalyzerDeadLetter[];
  /** The request in semconv form (tool-use matching, content), when `call` is set. */
  request?: NormalizedRequest;
  /** Where `call.conversation_id` came from (the service resolves Responses `previous_response_id` chains). */
  conversation?: ConversationRef;
}

/**
 * An LLM API family the analyzer understands (`LlmCall.api`): OpenAI Chat Completions and compatibles, OpenAI
 * Responses, Anthropic Messages, Gemini generateContent/streamGenerateContent (Gemini API and Vertex AI), Bedrock
 * Converse/ConverseStream and InvokeModel[WithResponseStream], Ollama's native `/api/chat` and `/api/generate`, and
 * DashScope's native text generation. Streaming or not is `LlmCall.streaming`, not part of the API name.
 */
export type LlmApi = (typeof LLM_APIS)[number]['api'];
