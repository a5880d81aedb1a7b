/** What an API-specific extractor reads from a response: the part of an {@link LlmCall} that depends on the API. */
import type { LlmCall, ToolCall, Usage } from '@agentsight/contracts';

/**
 * A parsed stream event: an SSE event (`event:` name, JSON of its `data:`), an NDJSON line (event `message`) or an
 * AWS event-stream message (event = `:event-type`, or `:exception-type`/`:error-code` for an exception/error message;
 * JSON of its payload). Events whose data is not JSON are left out.
 */
export interface JsonEvent {
  event: string;
  json: unknown;
  /** AWS event-stream `:message-type` (`event` | `exception` | `error`); absent for SSE and NDJSON. */
  message_type?: string;
}

/** The response as JSON: either one body document (`body`) or the stream's events (`events`), never both. */
export interface ResponseJson {
  /** Parsed non-streamed body; undefined when the body was empty or not JSON. */
  body?: unknown;
  /** Parsed events of a streamed response (SSE, NDJSON lines or event-stream messages), in order; undefined when not streamed. */
  events?: JsonEvent[];
}

/** The API-dependent fields of an {@link LlmCall} (see there for meanings and units). */
export type Extraction = Pick<
  LlmCall,
  'response_model' | 'response_id' | 'usage' | 'raw_usage' | 'finish_reasons' | 'tool_calls' | 'output_text' | 'error_type'
>;

/** An extraction with nothing found (all null/empty). */
export function emptyExtraction(): Extraction {
  return {
    response_model: null,
    response_id: null,
    usage: emptyUsage(),
    raw_usage: null,
    finish_reasons: [],
    tool_calls: [] as ToolCall[],
    output_text: '',
    error_type: null,
  };
}

/** A {@link Usage} with every count unknown (null). */
export function emptyUsage(): Usage {
  return {
    input_tokens: null,
    output_tokens: null,
    cache_read_input_tokens: null,
    cache_creation_input_tokens: null,
    reasoning_output_tokens: null,
  };
}
