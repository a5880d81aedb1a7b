/**
 * Request and response bodies → OpenTelemetry GenAI semconv v1.41 messages (`gen-ai-input-messages.json`,
 * `gen-ai-output-messages.json`, `gen-ai-system-instructions.json`, `gen_ai.tool.definitions`), for every API the
 * analyzer knows. Also the basis of tool-use matching (`tools.ts`): each normalized message remembers its position in
 * the provider's history list.
 *
 * Part shapes (semconv): `{type:'text', content}`, `{type:'reasoning', content}`, `{type:'tool_call', id, name,
 * arguments}` (arguments parsed when they are JSON text), `{type:'tool_call_response', id, response}`,
 * `{type:'uri', modality, mime_type?, uri}`, `{type:'blob', modality, mime_type?, content}` (base64),
 * `{type:'file', modality, file_id}`. Roles: `system`, `user`, `assistant`, `tool`.
 */
import type { GenAiMessage, GenAiPart, LlmContent, ToolCall } from '@agentsight/contracts';
import { arr, obj, parseJson, str, type JsonObject } from './json';
import type { LlmApi } from './types';

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

/** A value as a semconv `arguments`/`response`: JSON text parsed when it parses, other text as is, objects as they are. */
function anyValue(v: unknown): unknown {
  if (typeof v === 'string') {
    const t = v.trim();
    if (t.startsWith('{') || t.startsWith('[')) {
      const r = parseJson(t);
      if (r.ok) return r.value;
    }
    return v;
  }
  return v ?? null;
}

function text(content: string): GenAiPart {
  return { type: 'text', content };
}

/** Media/file parts of the various APIs (images, audio, documents) → uri / blob / file parts; null when not media. */
function mediaPart(p: JsonObject): GenAiPart | null {
  const iu = p.image_url;
  if (iu !== undefined) {
    const url = typeof iu === 'string' ? iu : str(obj(iu)?.url);
    if (url) return url.startsWith('data:') ? dataUrl(url, 'image') : { type: 'uri', modality: 'image', uri: url };
  }
  if (p.type === 'input_image' && typeof p.image_url === 'string') return { type: 'uri', modality: 'image', uri: p.image_url };
  if (p.type === 'input_image' && str(p.file_id)) return { type: 'file', modality: 'image', file_id: p.file_id };
  const audio = obj(p.input_audio);
  if (audio) return { type: 'blob', modality: 'audio', mime_type: `audio/${str(audio.format) ?? 'wav'}`, content: str(audio.data) ?? '' };
  // Anthropic image/document blocks.
  if (p.type === 'image' || p.type === 'document') {
    const src = obj(p.source);
    const modality = p.type === 'image' ? 'image' : 'document';
    if (src?.type === 'base64') return { type: 'blob', modality, mime_type: str(src.media_type), content: str(src.data) ?? '' };
    if (src?.type === 'url') return { type: 'uri', modality, uri: str(src.url) ?? '' };
    if (src?.type === 'file') return { type: 'file', modality, file_id: str(src.file_id) ?? '' };
    if (src?.type === 'text' && typeof src.data === 'string') return text(src.data);
  }
  // Gemini inline/file data.
  const inline = obj(p.inlineData) ?? obj(p.inline_data);
  if (inline) {
    const mime = str(inline.mimeType) ?? str(inline.mime_type);
    return { type: 'blob', modality: modalityOf(mime), mime_type: mime, content: str(inline.data) ?? '' };
  }
  const file = obj(p.fileData) ?? obj(p.file_data);
  if (file) {
    const mime = str(file.mimeType) ?? str(file.mime_type);
    return { type: 'uri', modality: modalityOf(mime), mime_type: mime, uri: str(file.fileUri) ?? str(file.file_uri) ?? '' };
  }
  // Bedrock image/document.
  for (const k of ['image', 'document', 'video'] as const) {
    const m = obj(p[k]);
    if (m && (obj(m.source) || m.format)) {
      const bytes = obj(m.source)?.bytes;
      return { type: 'blob', modality: k === 'document' ? 'document' : k, mime_type: str(m.format) ? `${k}/${m.format}` : null, content: typeof bytes === 'string' ? bytes : '' };
    }
  }
  return null;
}

function modalityOf(mime: string | null): string {
  if (!mime) return 'document';
  if (mime.startsWith('image/')) return 'image';
  if (mime.startsWith('audio/')) return 'audio';
  if (mime.startsWith('video/')) return 'video';
  return 'document';
}

function dataUrl(url: string, modality: string): GenAiPart {
  const m = /^data:([^;,]+)?(?:;base64)?,(.*)$/s.exec(url);
  return { type: 'blob', modality, mime_type: m?.[1] ?? null, content: m?.[2] ?? '' };
}

/** Text of a tool result content (string, or text parts joined; other parts as JSON). */
function resultText(content: unknown): unknown {
  if (typeof content === 'string') return anyValue(content);
  if (Array.isArray(content)) {
    const texts = content.map((c) => {
      const o = obj(c);
      if (typeof c === 'string') return c;
      if (o && typeof o.text === 'string') return o.text;
      if (o && o.json !== undefined) return JSON.stringify(o.json);
      return JSON.stringify(c);
    });
    return anyValue(texts.join('\n'));
  }
  return content ?? null;
}

/**
 * Parts of an OpenAI-style / Anthropic / Bedrock message `content` (a string or an array of blocks). Tool blocks:
 * Anthropic `tool_use`/`server_tool_use`/`mcp_tool_use` → tool_call; `tool_result`/`*_tool_result` → tool_call_response
 * (with `_error` from `is_error`); Bedrock `toolUse`/`toolResult` likewise (`_error` from `status`); thinking /
 * `reasoningContent` → reasoning.
 */
function contentParts(content: unknown): GenAiPart[] {
  if (typeof content === 'string') return content === '' ? [] : [text(content)];
  const out: GenAiPart[] = [];
  for (const raw of arr(content)) {
    if (typeof raw === 'string') {
      out.push(text(raw));
      continue;
    }
    const p = obj(raw);
    if (!p) continue;
    const type = str(p.type) ?? '';
    if (type === 'tool_use' || type === 'server_tool_use' || type === 'mcp_tool_use') {
      out.push({ type: 'tool_call', id: str(p.id), name: str(p.name) ?? '', arguments: p.input ?? {} });
    } else if (type === 'tool_result' || type === 'mcp_tool_result' || (type.endsWith('_tool_result') && p.tool_use_id !== undefined)) {
      out.push({ type: 'tool_call_response', id: str(p.tool_use_id), response: resultText(p.content), ...(type === 'tool_result' || typeof p.is_error === 'boolean' ? { _error: p.is_error === true } : {}) });
    } else if (type === 'thinking' && typeof p.thinking === 'string') {
      out.push({ type: 'reasoning', content: p.thinking });
    } else if (type === 'redacted_thinking') {
      continue;
    } else if (obj(p.toolUse)) {
      const tu = obj(p.toolUse)!;
      out.push({ type: 'tool_call', id: str(tu.toolUseId), name: str(tu.name) ?? '', arguments: anyValue(tu.input) ?? {} });
    } else if (obj(p.toolResult)) {
      const tr = obj(p.toolResult)!;
      out.push({ type: 'tool_call_response', id: str(tr.toolUseId), response: resultText(tr.content), _error: str(tr.status) === 'error' });
    } else if (obj(p.reasoningContent)) {
      const rt = obj(obj(p.reasoningContent)!.reasoningText);
      if (typeof rt?.text === 'string') out.push({ type: 'reasoning', content: rt.text });
    } else if (typeof p.text === 'string' && (type === '' || type === 'text' || type === 'input_text' || type === 'output_text')) {
      out.push(text(p.text));
    } else if (typeof p.refusal === 'string') {
      out.push(text(p.refusal));
    } else {
      const m = mediaPart(p);
      if (m) out.push(m);
    }
  }
  return out;
}

/** Semconv role of a provider role (`model` → `assistant`, `developer` → `system`, `function` → `tool`). */
function role(r: unknown): string {
  const s = str(r) ?? 'user';
  if (s === 'model') return 'assistant';
  if (s === 'developer') return 'system';
  if (s === 'function') return 'tool';
  return s;
}

/** OpenAI Chat Completions / DashScope / Ollama / Bedrock-native message list → messages. */
function chatMessages(list: unknown[]): NormMessage[] {
  const out: NormMessage[] = [];
  list.forEach((raw, index) => {
    const m = obj(raw);
    if (!m) return;
    const r = role(m.role);
    const parts: GenAiPart[] = [];
    if (typeof m.reasoning_content === 'string' && m.reasoning_content) parts.push({ type: 'reasoning', content: m.reasoning_content });
    if (typeof m.thinking === 'string' && m.thinking) parts.push({ type: 'reasoning', content: m.thinking });
    if (r === 'tool') {
      const name = str(m.tool_name) ?? str(m.name);
      parts.push({ type: 'tool_call_response', id: str(m.tool_call_id), response: resultText(m.content), ...(name ? { _name: name } : {}) });
    } else {
      parts.push(...contentParts(m.content));
      for (const img of arr(m.images)) if (typeof img === 'string') parts.push({ type: 'blob', modality: 'image', content: img });
    }
    for (const rt of arr(m.tool_calls)) {
      const t = obj(rt);
      const fn = obj(t?.function);
      const custom = obj(t?.custom);
      if (fn) parts.push({ type: 'tool_call', id: str(t?.id), name: str(fn.name) ?? '', arguments: anyValue(fn.arguments) ?? {} });
      else if (custom) parts.push({ type: 'tool_call', id: str(t?.id), name: str(custom.name) ?? '', arguments: custom.input ?? '' });
    }
    const legacy = obj(m.function_call);
    if (legacy) parts.push({ type: 'tool_call', id: null, name: str(legacy.name) ?? '', arguments: anyValue(legacy.arguments) ?? {} });
    const msg: NormMessage = { role: r, parts, index };
    if (str(m.name) && r !== 'tool') msg.name = m.name as string;
    out.push(msg);
  });
  return out;
}

/** Item types of the Responses API that are tool calls made by the model (payload field), as in `openai-responses.ts`. */
const RESPONSES_CALL_ITEMS: Record<string, string> = {
  function_call: 'arguments',
  custom_tool_call: 'input',
  mcp_call: 'arguments',
  local_shell_call: 'action',
  shell_call: 'action',
  computer_call: 'action',
  apply_patch_call: 'operation',
  tool_search_call: 'arguments',
};

/** OpenAI Responses `input` (text or items) → messages. */
function responsesInput(input: unknown): NormMessage[] {
  if (typeof input === 'string') return input === '' ? [] : [{ role: 'user', parts: [text(input)], index: 0 }];
  const out: NormMessage[] = [];
  arr(input).forEach((raw, index) => {
    if (typeof raw === 'string') {
      out.push({ role: 'user', parts: [text(raw)], index });
      return;
    }
    const it = obj(raw);
    if (!it) return;
    const type = str(it.type) ?? 'message';
    if (type === 'message' || (it.role !== undefined && it.type === undefined)) {
      out.push({ role: role(it.role), parts: contentParts(it.content), index });
      return;
    }
    if (type === 'reasoning') {
      const summary = arr(it.summary).map((s) => str(obj(s)?.text)).filter((s): s is string => s !== null);
      if (summary.length) out.push({ role: 'assistant', parts: summary.map((s) => ({ type: 'reasoning', content: s })), index });
      return;
    }
    const field = RESPONSES_CALL_ITEMS[type];
    if (field) {
      const name = type === 'function_call' || type === 'custom_tool_call' || type === 'mcp_call' ? (str(it.name) ?? type) : type;
      out.push({ role: 'assistant', parts: [{ type: 'tool_call', id: str(it.call_id) ?? str(it.id), name, arguments: anyValue(it[field]) ?? {} }], index });
      return;
    }
    if (type.endsWith('_output')) {
      out.push({ role: 'tool', parts: [{ type: 'tool_call_response', id: str(it.call_id) ?? str(it.id), response: resultText(it.output) }], index });
    }
  });
  return out;
}

/** Gemini `contents` → messages (`model` → assistant; `functionResponse` parts keep their name in `_name`). */
function geminiContents(contents: unknown[]): NormMessage[] {
  const out: NormMessage[] = [];
  contents.forEach((raw, index) => {
    const c = obj(raw);
    if (!c) return;
    out.push({ role: role(c.role), parts: geminiParts(arr(c.parts)), index });
  });
  return out;
}

function geminiParts(parts: unknown[]): GenAiPart[] {
  const out: GenAiPart[] = [];
  for (const raw of parts) {
    const p = obj(raw);
    if (!p) continue;
    const fc = obj(p.functionCall);
    const fr = obj(p.functionResponse);
    if (fc) out.push({ type: 'tool_call', id: str(fc.id), name: str(fc.name) ?? '', arguments: fc.args ?? {} });
    else if (fr) out.push({ type: 'tool_call_response', id: str(fr.id), response: fr.response ?? null, _name: str(fr.name) ?? '' });
    else if (typeof p.text === 'string') out.push(p.thought === true ? { type: 'reasoning', content: p.text } : text(p.text));
    else {
      const m = mediaPart(p);
      if (m) out.push(m);
    }
  }
  return out;
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
 * A request body of `api` in semconv form. History by API: Chat Completions / DashScope (`input.messages`) / Ollama
 * chat / Bedrock InvokeModel (`messages`, native Anthropic or OpenAI shapes) → `messages`; Anthropic Messages and
 * Bedrock Converse → `messages` with content blocks; OpenAI Responses → `input` (text or items); Gemini → `contents`;
 * prompts (Ollama generate, DashScope `input.prompt`, Bedrock `inputText`/`prompt`) → one user message. Never throws.
 */
export function normalizeRequest(api: LlmApi, req: JsonObject | undefined): NormalizedRequest {
  if (!req) return { messages: [], system_instructions: [], tool_definitions: [], history_length: 0 };
  let list: unknown[] = [];
  let messages: NormMessage[];
  if (api === 'responses') {
    list = Array.isArray(req.input) ? req.input : [];
    messages = responsesInput(req.input);
  } else if (api === 'generate_content') {
    list = arr(req.contents);
    messages = geminiContents(list);
  } else {
    const dash = obj(req.input);
    list = Array.isArray(req.messages) ? req.messages : arr(dash?.messages);
    messages = chatMessages(list);
    const prompt = typeof req.prompt === 'string' ? req.prompt : typeof dash?.prompt === 'string' ? dash.prompt : typeof req.inputText === 'string' ? req.inputText : null;
    if (prompt !== null && list.length === 0) messages.push({ role: 'user', parts: [text(prompt)], index: 0 });
  }
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
