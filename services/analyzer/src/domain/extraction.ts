/** What an API-specific extractor reads from a response: the part of an {@link LlmCall} that depends on the API. */
import type { LlmCall, ToolCall, Usage } from '@agentsight/contracts';

/** A parsed SSE event: the `event:` name and the JSON of its `data:` (events whose data is not JSON are left out). */
export interface JsonEvent {
  event: string;
  json: unknown;
}

/** The response as JSON: either one body document (`body`) or the stream's events (`events`), never both. */
export interface ResponseJson {
  /** Parsed non-streamed body; undefined when the body was empty or not JSON. */
  body?: unknown;
  /** Parsed SSE events of a streamed response, in order; undefined when not streamed. */
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
