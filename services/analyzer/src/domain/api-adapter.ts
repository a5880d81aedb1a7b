/**
 * What the analyzer knows about one LLM API, in one object: how a request is recognised (path, request and response
 * shapes), how the response is framed and read, how its request history becomes semconv messages, and its quirks
 * (reasoning counted apart, tool calls keyed by turn, conversation fields). Each API's adapter lives in the API's own
 * file (`openai-chat.ts`, `anthropic-messages.ts`, …); `apis.ts` is the registry, in recognition order.
 */
import type { HeaderList } from '@agentsight/contracts';
import type { Extraction, ResponseJson } from './extraction';
import type { JsonObject } from './json';
import type { NormMessage } from './messages';

/** What {@link LlmApiAdapter.extract} is given besides the response. */
export interface ExtractContext {
  /** Response headers. */
  headers: HeaderList;
  /** The parsed request body, when it was a JSON object. */
  request: JsonObject | undefined;
  /** Records a part of the response that could not be read (`where` e.g. `response.chunk.bytes`): one dead letter. */
  fail(where: string, error: string): void;
}

/** A request's history list as the provider sent it, and its messages in semconv form (see `NormalizedRequest`). */
export interface History {
  /** The provider's history list (`messages`, `contents`, Responses `input` items); its length is `history_length`. */
  list: unknown[];
  messages: NormMessage[];
}

/**
 * One LLM API (`LlmCall.api`). `A` is the API's name, so the registry's names form the {@link LlmApi} union.
 * Only `api`, `provider`, `operation`, `matchesPath`, `extract` and `history` are required; an optional rule left out
 * means "no such quirk".
 */
export interface LlmApiAdapter<A extends string = string> {
  /** `LlmCall.api`, e.g. `chat.completions`. */
  api: A;
  /** `gen_ai.provider.name` when the server host names no provider (a self-hosted or proxied server). */
  provider: string;
  /** `LlmCall.operation` (OTel `gen_ai.operation.name`): `chat`, `generate_content`, `text_completion`. */
  operation: string;
  /** Whether a request path (no query, trailing slashes removed) names this API. */
  matchesPath(path: string): boolean;
  /**
   * For generic paths (Ollama's `/api/chat`): whether the request body has this API's shape; a path match without it
   * is not an LLM call.
   */
  acceptsRequest?(request: JsonObject | undefined): boolean;
  /** For generic paths: whether a successful (status < 400) response has this API's shape; else not an LLM call. */
  acceptsResponse?(response: ResponseJson): boolean;
  /** Recognition off-path: whether the first document of a response has this API's shape. */
  matchesResponse?(doc: JsonObject): boolean;
  /** Recognition off-path when the response is not JSON: whether its text has this API's marks. */
  matchesResponseText?(text: string): boolean;
  /**
   * A body framing this API uses that its Content-Type may not say: `eventstream` (AWS event-stream, taken when the
   * body starts with a valid prelude), `ndjson` (taken when the body holds several JSON lines).
   */
  framing?: 'eventstream' | 'ndjson';
  /** The model a request path names (URL-decoded), or null. */
  modelFromPath?(path: string): string | null;
  /** Whether a request path names a streaming method (the response is a stream whatever its framing). */
  streamingPath?(path: string): boolean;
  /** Reads the response: usage (semconv meanings, provider numbers), finish reasons, tool calls, text, error type. */
  extract(response: ResponseJson, ctx: ExtractContext): Extraction;
  /** `error_type` of a failed (status ≥ 400) call whose body named none, from headers; else the status is used. */
  errorType?(headers: HeaderList, body: unknown): string | null;
  /** The request's history in semconv form. */
  history(request: JsonObject): History;
  /**
   * Appends the reasoning/thinking text of one response document or stream event in this API's shape to `out`; every
   * adapter's reader is applied to every document (see `reasoningText` in `usage-detail.ts`).
   */
  reasoning?(doc: JsonObject, out: string[]): void;
  /** True when the output count leaves reasoning tokens out (semconv wants them in, see `reasoning.ts`). */
  reasoningApart?: boolean;
  /** True when tool calls are matched by turn position even when they carry ids (see `tools.ts` `keysByTurn`). */
  toolKeysByTurn?: boolean;
  /** The provider-side conversation id a request names (Responses `conversation`), or null. */
  conversation?(request: JsonObject): string | null;
  /** The previous response a request continues (Responses `previous_response_id`), or null. */
  previousResponseId?(request: JsonObject | undefined): string | null;
}

/** An adapter with its name kept as a literal type (so the registry can derive {@link LlmApi}). */
export function defineApi<A extends string>(adapter: LlmApiAdapter<A>): LlmApiAdapter<A> {
  return adapter;
}

/** Appends `v` to `out` when it is a non-empty string (reasoning readers). */
export function pushText(out: string[], v: unknown): void {
  if (typeof v === 'string' && v !== '') out.push(v);
}

/** A path segment URL-decoded; the raw segment when it is not valid percent-encoding; null when empty. */
export function decodeSegment(s: string): string | null {
  try {
    return decodeURIComponent(s) || null;
  } catch {
    return s;
  }
}
