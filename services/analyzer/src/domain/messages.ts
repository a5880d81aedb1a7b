/**
 * Request and response bodies → OpenTelemetry GenAI semconv v1.41 messages (`gen-ai-input-messages.json`,
 * `gen-ai-output-messages.json`, `gen-ai-system-instructions.json`, `gen_ai.tool.definitions`), for every API the
 * analyzer knows (each API's history reader is its adapter's `history`; shared block readers in `history.ts`). Also the basis of tool-use matching (`tools.ts`): each normalized message remembers its position in
 * the provider's history list.
 *
 * Part shapes (semconv): `{type:'text', content}`, `{type:'reasoning', content}`, `{type:'tool_call', id, name,
 * arguments}` (arguments parsed when they are JSON text), `{type:'tool_call_response', id, response}`,
 * `{type:'uri', modality, mime_type?, uri}`, `{type:'blob', modality, mime_type?, content}` (base64),
 * `{type:'file', modality, file_id}`. Roles: `system`, `user`, `assistant`, `tool`.
 */
import type { GenAiMessage, GenAiPart, LlmContent, ToolCall } from '@agentsight/contracts';
import { apiAdapter } from './apis';
import { geminiParts } from './gemini';
import { anyValue, contentParts, messagesHistory, text } from './history';
import { arr, obj, str, type JsonObject } from './json';

/**
 * A message of the request history as semconv parts, plus internal fields (removed by {@link toSemconvMessages}):
 * `index` = position of the item in the provider's list (`messages`, `contents`, Responses `input` items) it came from.
 * Tool-call-response parts may carry `_name` (Gemini `functionResponse.name`, Ollama `tool_name`, legacy `function`
 * role) and `_error` (true/false when the provider says whether the tool failed: Anthropic `is_error`, Bedrock
 * `status`).
 */
export interface NormMessage extends GenAiMessage {
  index: number;
}

/** A request body in semconv form: history, system instructions, tool definitions, and the history's raw length. */
export interface NormalizedRequest {
  messages: NormMessage[];
  system_instructions: GenAiPart[];
  tool_definitions: Array<Record<string, unknown>>;
  /** Number of items in the provider's history list (where the model's answer will be appended in the next request). */
  history_length: number;
}


/** Tool definitions in the semconv shape `{type, name, description, parameters}` (server tools: `{type, name?}`). */
function toolDefinitions(req: JsonObject): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  const fn = (name: unknown, description: unknown, parameters: unknown) => {
    const d: Record<string, unknown> = { type: 'function', name: str(name) ?? '' };
    if (typeof description === 'string') d.description = description;
    if (parameters !== undefined && parameters !== null) d.parameters = parameters;
    out.push(d);
  };
  for (const raw of [...arr(req.tools), ...arr(obj(req.parameters)?.tools)]) {
    const t = obj(raw);
    if (!t) continue;
    const f = obj(t.function);
    if (f) fn(f.name, f.description, f.parameters);
    else if (Array.isArray(t.functionDeclarations) || Array.isArray(t.function_declarations)) {
      for (const d of [...arr(t.functionDeclarations), ...arr(t.function_declarations)]) {
        const o = obj(d);
        if (o) fn(o.name, o.description, o.parameters ?? o.parametersJsonSchema);
      }
    } else if (t.input_schema !== undefined) fn(t.name, t.description, t.input_schema);
    else if (t.type === 'function' || (t.type === undefined && t.name !== undefined)) fn(t.name, t.description, t.parameters);
    else if (typeof t.type === 'string') out.push(str(t.name) ? { type: t.type, name: t.name } : { type: t.type });
    else {
      const key = Object.keys(t)[0];
      if (key) out.push({ type: key });
    }
  }
  for (const raw of arr(req.functions)) {
    const f = obj(raw);
    if (f) fn(f.name, f.description, f.parameters);
  }
  for (const raw of arr(obj(req.toolConfig)?.tools)) {
    const spec = obj(obj(raw)?.toolSpec);
    if (spec) fn(spec.name, spec.description, obj(spec.inputSchema)?.json);
  }
  return out;
}

/** System prompt parts: Anthropic `system` (string or blocks), Bedrock `system` `[{text}]`, Responses `instructions`, Gemini `systemInstruction`, Ollama `system`. */
function systemParts(req: JsonObject): GenAiPart[] {
  const out: GenAiPart[] = [];
  out.push(...contentParts(req.system));
  if (typeof req.instructions === 'string' && req.instructions) out.push(text(req.instructions));
  else out.push(...contentParts(req.instructions));
  const si = req.systemInstruction ?? req.system_instruction;
  if (typeof si === 'string') out.push(text(si));
  else if (obj(si)) out.push(...geminiParts(arr(obj(si)!.parts)));
  return out;
}


/**
 * A request body of `api` in semconv form: the history by the API's adapter (`history`; an unknown API is read as a
 * `messages` list, see `messagesHistory`), system instructions and tool definitions in every API's shape. Never throws.
 */
export function normalizeRequest(api: string, req: JsonObject | undefined): NormalizedRequest {
  if (!req) return { messages: [], system_instructions: [], tool_definitions: [], history_length: 0 };
  const { list, messages } = (apiAdapter(api)?.history ?? messagesHistory)(req);
  return { messages, system_instructions: systemParts(req), tool_definitions: toolDefinitions(req), history_length: list.length };
}

/**
 * Semconv finish reason of a provider finish reason: `stop` (OpenAI `stop`, Anthropic `end_turn`/`stop_sequence`,
 * Gemini `STOP`, Bedrock `end_turn`, Responses `completed`), `length` (`length`, `max_tokens`, `MAX_TOKENS`,
 * `incomplete:max_output_tokens`), `content_filter` (`content_filter`, `SAFETY`, `RECITATION`, `refusal`,
 * `guardrail_intervened`), `tool_call` (`tool_calls`, `function_call`, `tool_use`); anything else as given (lower-case).
 */
export function semconvFinishReason(reason: string): string {
  const r = reason.toLowerCase();
  if (['stop', 'end_turn', 'stop_sequence', 'completed', 'finish_reason_unspecified'].includes(r)) return 'stop';
  if (['length', 'max_tokens', 'incomplete:max_output_tokens', 'model_context_window_exceeded'].includes(r)) return 'length';
  if (['content_filter', 'safety', 'recitation', 'refusal', 'guardrail_intervened', 'blocklist', 'prohibited_content', 'spii', 'incomplete:content_filter'].includes(r)) return 'content_filter';
  if (['tool_calls', 'function_call', 'tool_use'].includes(r)) return 'tool_call';
  return r;
}

/**
 * The answer as output messages: one `assistant` message with the answer text then the tool calls (arguments parsed
 * when JSON), `finish_reason` = the first provider finish reason mapped by {@link semconvFinishReason} (`error` for a
 * failed call without one, `stop` when unknown). No message when the call produced nothing and failed.
 */
export function outputMessages(x: { output_text: string; tool_calls: ToolCall[]; finish_reasons: string[]; error_type: string | null }): GenAiMessage[] {
  const parts: GenAiPart[] = [];
  if (x.output_text) parts.push(text(x.output_text));
  for (const t of x.tool_calls) parts.push({ type: 'tool_call', id: t.id, name: t.name, arguments: anyValue(t.arguments) ?? {} });
  if (!parts.length && x.error_type) return [];
  const fr = x.finish_reasons[0];
  return [{ role: 'assistant', parts, finish_reason: fr ? semconvFinishReason(fr) : x.error_type ? 'error' : 'stop' }];
}

/** Removes the internal fields (`index`, parts' `_name`/`_error`) so messages match the semconv JSON schema. */
export function toSemconvMessages(messages: Array<GenAiMessage | NormMessage>): GenAiMessage[] {
  return messages.map((m) => {
    const out: GenAiMessage = { role: m.role, parts: m.parts.map(stripPart) };
    if (m.name) out.name = m.name;
    if (m.finish_reason) out.finish_reason = m.finish_reason;
    return out;
  });
}

function stripPart(p: GenAiPart): GenAiPart {
  const out: GenAiPart = { type: p.type };
  for (const [k, v] of Object.entries(p)) if (!k.startsWith('_')) out[k] = v;
  return out;
}

/** The {@link LlmContent} of a call (semconv messages, system instructions, tool definitions), not yet redacted. */
export function llmContent(req: NormalizedRequest, x: { output_text: string; tool_calls: ToolCall[]; finish_reasons: string[]; error_type: string | null }): LlmContent {
  return {
    input_messages: toSemconvMessages(req.messages),
    output_messages: outputMessages(x),
    system_instructions: req.system_instructions.map(stripPart),
    tool_definitions: req.tool_definitions,
  };
}
