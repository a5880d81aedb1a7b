/**
 * Usage estimation for calls whose response carried no token counts (a Chat Completions stream without
 * `stream_options.include_usage`, a compatible server that never reports usage, a stream cut before its usage chunk):
 * the input is counted from the request body and the output from the answer, with the model's tokenizer
 * (`@agentsight/tokens`).
 */
import type { LlmCall, ToolCall, Usage } from '@agentsight/contracts';
import { countPromptTokens, countTokens, FALLBACK_TOKENIZER, type Prompt, type PromptMessage } from '@agentsight/tokens';
import { arr, obj, str, type JsonObject } from './json';

/** A value as text: strings as they are, anything else as compact JSON (tool arguments given as objects). */
function asText(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function push(out: string[], s: string): void {
  if (s !== '') out.push(s);
}

/** Pushes a tool call's name and arguments (arguments as text; an object becomes its JSON). */
function pushCall(out: string[], name: unknown, args: unknown): void {
  push(out, typeof name === 'string' ? name : '');
  push(out, asText(args));
}

/**
 * The text parts of a message `content` (or Gemini `parts`, a system prompt, a tool result) in every API shape: a
 * string; `{text}` parts (OpenAI `text`/`input_text`/`output_text`, Anthropic, Gemini, Bedrock, DashScope), `refusal`;
 * tool calls as name + arguments (Anthropic `tool_use`, Bedrock `toolUse`, Gemini `functionCall`); tool results
 * (Anthropic `tool_result`, Bedrock `toolResult` incl. `{json}`, Gemini `functionResponse` as name + JSON). Images,
 * audio, files, documents and thinking/reasoning blocks are left out. With `toolOut`, tool results go there instead of
 * `out` (so {@link promptByRole} can count them as the `tool` role even inside a `user` message).
 */
export function contentTexts(content: unknown, out: string[] = [], toolOut?: string[]): string[] {
  const results = toolOut ?? out;
  if (typeof content === 'string') {
    push(out, content);
    return out;
  }
  if (Array.isArray(content)) {
    for (const p of content) contentTexts(p, out, toolOut);
    return out;
  }
  const o = obj(content);
  if (!o) return out;
  if (typeof o.text === 'string') push(out, o.text);
  if (typeof o.refusal === 'string') push(out, o.refusal);
  if (o.type === 'tool_use' || o.type === 'server_tool_use') pushCall(out, o.name, o.input);
  const toolUse = obj(o.toolUse);
  if (toolUse) pushCall(out, toolUse.name, toolUse.input);
  const fc = obj(o.functionCall);
  if (fc) pushCall(out, fc.name, fc.args);
  const fr = obj(o.functionResponse);
  if (fr) pushCall(results, fr.name, fr.response);
  if (o.type === 'tool_result') contentTexts(o.content, results);
  const toolResult = obj(o.toolResult);
  if (toolResult) contentTexts(toolResult.content, results);
  if (o.json !== undefined && o.type === undefined) push(out, asText(o.json));
  return out;
}

/** A prompt message whose tool results may be kept apart (`tool_parts`, see {@link contentTexts}'s `toolOut`). */
type RoleMessage = PromptMessage & { tool_parts?: string[] };

/**
 * One message or input item → a prompt message (null for items that carry no prompt text, e.g. `reasoning`). With
 * `splitTools`, tool results inside the message's content go to `tool_parts` instead of `parts`.
 */
function messageOf(item: unknown, splitTools = false): RoleMessage | null {
  if (typeof item === 'string') return { role: 'user', parts: [item] };
  const m = obj(item);
  if (!m) return null;
  const parts: string[] = [];
  switch (m.type) {
    case 'function_call':
      pushCall(parts, m.name, m.arguments);
      return { role: 'assistant', parts };
    case 'custom_tool_call':
      pushCall(parts, m.name, m.input);
      return { role: 'assistant', parts };
    case 'function_call_output':
    case 'custom_tool_call_output':
      return { role: 'tool', parts: contentTexts(m.output) };
    case 'reasoning':
    case 'item_reference':
      return null;
  }
  const toolParts: string[] | undefined = splitTools ? [] : undefined;
  contentTexts(m.content ?? m.parts, parts, toolParts);
  for (const tc of arr(m.tool_calls)) {
    const fn = obj(obj(tc)?.function);
    if (fn) pushCall(parts, fn.name, fn.arguments);
  }
  const legacy = obj(m.function_call);
  if (legacy) pushCall(parts, legacy.name, legacy.arguments);
  return { role: str(m.role) ?? 'user', name: str(m.name), parts, ...(toolParts?.length ? { tool_parts: toolParts } : {}) };
}

/**
 * The prompt of a request body, in any API the analyzer knows (see `@agentsight/tokens` `countPromptTokens` for how it
 * is counted). Messages, in this order:
 * - one `system` message with the system prompt: `system` (Anthropic string or blocks, Bedrock `[{text}]`, Ollama),
 *   `instructions` (Responses), `systemInstruction`/`system_instruction` (Gemini), when any;
 * - `messages` (Chat Completions, Anthropic, Bedrock, Ollama; roles, `name`, text parts, `tool_calls` names and
 *   arguments, legacy `function_call`), `contents` (Gemini), `input.messages` (DashScope), `input` items (Responses:
 *   messages, `function_call`, `function_call_output`; `reasoning` items skipped) or `input` text;
 * - `prompt` (Ollama generate, legacy completions), `input.prompt` (DashScope), `inputText` (Bedrock Titan) as a user
 *   message.
 * Tools: each element of `tools`, `functions` (legacy), `toolConfig.tools` (Bedrock), `parameters.tools` (DashScope),
 * as its JSON text.
 */
export function promptFromRequest(req: JsonObject): Prompt {
  return promptWalk(req, false);
}

/**
 * {@link promptFromRequest} with tool results kept apart: each message may carry `tool_parts`, the texts of the tool
 * results in its content (Anthropic `tool_result` blocks and Gemini `functionResponse` parts inside `user` turns,
 * Bedrock `toolResult`), which belong to the `tool` role although the message's role says otherwise.
 */
export function promptByRole(req: JsonObject): { messages: RoleMessage[]; tools: string[] } {
  return promptWalk(req, true);
}

function promptWalk(req: JsonObject, splitTools: boolean): { messages: RoleMessage[]; tools: string[] } {
  const messages: RoleMessage[] = [];
  const system: string[] = [];
  contentTexts(req.system, system);
  contentTexts(req.instructions, system);
  const si = req.systemInstruction ?? req.system_instruction;
  contentTexts(obj(si)?.parts ?? si, system);
  if (system.length) messages.push({ role: 'system', parts: system });
  const dash = obj(req.input);
  for (const item of [...arr(req.messages), ...arr(req.contents), ...arr(dash?.messages), ...arr(req.input)]) {
    const m = messageOf(item, splitTools);
    if (m) messages.push(m);
  }
  for (const p of [typeof req.input === 'string' ? req.input : undefined, req.prompt, dash?.prompt, req.inputText]) {
    const parts = typeof p === 'string' || Array.isArray(p) ? contentTexts(p) : [];
    if (parts.length) messages.push({ role: 'user', parts });
  }
  const tools = [...arr(req.tools), ...arr(req.functions), ...arr(obj(req.toolConfig)?.tools), ...arr(obj(req.parameters)?.tools)]
    .filter((t) => t !== null && t !== undefined)
    .map((t) => asText(t));
  return { messages, tools };
}

/** Output tokens of an answer (tokens): its text plus each tool call's name and arguments, with `model`'s tokenizer. */
export function countOutputTokens(model: string, outputText: string, toolCalls: ToolCall[]): { tokens: number; tokenizer: string } {
  const parts = [outputText, ...toolCalls.flatMap((t) => [t.name, t.arguments])];
  let tokens = 0;
  let tokenizer = countTokens(model, '').tokenizer;
  for (const p of parts) {
    const c = countTokens(model, p);
    tokens += c.tokens;
    if (c.tokenizer === FALLBACK_TOKENIZER) tokenizer = FALLBACK_TOKENIZER;
  }
  return { tokens, tokenizer };
}

/** What {@link estimateUsage} decides: the usage and where its counts come from (see `LlmCall.usage_source`). */
export type UsageWithSource = Pick<LlmCall, 'usage' | 'usage_source' | 'usage_tokenizer'>;

/** Inputs of {@link estimateUsage}: the call as extracted so far. */
export interface EstimateInput {
  usage: Usage;
  /** HTTP status of the response; null when there was no response. */
  status: number | null;
  error_type: string | null;
  /** `response_model ?? request_model`: the model whose tokenizer counts. */
  model: string | null;
  /** Parsed request body (JSON object), when it was one. */
  request: JsonObject | undefined;
  output_text: string;
  tool_calls: ToolCall[];
  /** False when the (non-streamed) response body could not be parsed at all: the output is then unknown, not empty. */
  response_readable: boolean;
}

/**
 * Fills the token counts of a call whose provider reported none (policy of `LlmCall.usage_source`):
 * - the provider reported an input or an output count → unchanged, `reported` (a partial report is kept as is: the
 *   missing counts stay null, never mixed with estimates);
 * - no response, HTTP ≥ 400, or a failed call (`error_type`) that produced no output → unchanged, `reported` (nothing
 *   was generated, and providers do not bill rejected requests);
 * - a non-streamed body that is not valid JSON (e.g. truncated) → unchanged, `reported`: its output is unknown, and
 *   counting it as 0 would mislead;
 * - otherwise → `estimated`: `input_tokens` = {@link promptFromRequest} counted by `countPromptTokens` (null when the
 *   request body was not JSON), `output_tokens` = {@link countOutputTokens}; cache and reasoning counts stay null;
 *   `usage_tokenizer` = the tokenizer used (`o200k_base`, `cl100k_base`, `qwen3`, `estimate:o200k_base`,
 *   `estimate:chars/4`).
 * Never throws: a failure while counting leaves the call `reported`.
 */
export function estimateUsage(c: EstimateInput): UsageWithSource {
  const reported: UsageWithSource = { usage: c.usage, usage_source: 'reported', usage_tokenizer: null };
  if (c.usage.input_tokens !== null || c.usage.output_tokens !== null) return reported;
  if (c.status === null || c.status >= 400 || !c.response_readable) return reported;
  if (c.error_type !== null && c.output_text === '' && c.tool_calls.length === 0) return reported;
  try {
    const model = c.model ?? '';
    const out = countOutputTokens(model, c.output_text, c.tool_calls);
    const input = c.request ? countPromptTokens(model, promptFromRequest(c.request)) : null;
    const tokenizer = input?.tokenizer === FALLBACK_TOKENIZER ? FALLBACK_TOKENIZER : out.tokenizer;
    return {
      usage: { ...c.usage, input_tokens: input ? input.tokens : null, output_tokens: out.tokens },
      usage_source: 'estimated',
      usage_tokenizer: tokenizer,
    };
  } catch {
    return reported;
  }
}
