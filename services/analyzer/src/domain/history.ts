/**
 * Provider-neutral readers of request histories, shared by the API adapters (`api-adapter.ts`): content blocks of the
 * various APIs → semconv parts (text, reasoning, tool calls and results, media), provider roles → semconv roles, and
 * the `messages` list shape most APIs use (Chat Completions and compatibles, Anthropic Messages, Bedrock, Ollama,
 * DashScope). Part shapes: see `messages.ts`.
 */
import type { GenAiPart } from '@agentsight/contracts';
import type { History } from './api-adapter';
import { arr, obj, parseJson, str, type JsonObject } from './json';
import type { NormMessage } from './messages';

/** A value as a semconv `arguments`/`response`: JSON text parsed when it parses, other text as is, objects as they are. */
export function anyValue(v: unknown): unknown {
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

export function text(content: string): GenAiPart {
  return { type: 'text', content };
}

/** Media/file parts of the various APIs (images, audio, documents) → uri / blob / file parts; null when not media. */
export function mediaPart(p: JsonObject): GenAiPart | null {
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
export function resultText(content: unknown): unknown {
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
export function contentParts(content: unknown): GenAiPart[] {
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
export function role(r: unknown): string {
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


/**
 * The history of a `messages`-list request: Chat Completions / DashScope (`input.messages`) / Ollama chat / Bedrock
 * InvokeModel (`messages`, native Anthropic or OpenAI shapes), Anthropic Messages and Bedrock Converse (`messages` with
 * content blocks); a prompt (Ollama generate, DashScope `input.prompt`, Bedrock `inputText`/`prompt`) with no list is
 * one user message.
 */
export function messagesHistory(req: JsonObject): History {
  const dash = obj(req.input);
  const list = Array.isArray(req.messages) ? req.messages : arr(dash?.messages);
  const messages = chatMessages(list);
  const prompt = typeof req.prompt === 'string' ? req.prompt : typeof dash?.prompt === 'string' ? dash.prompt : typeof req.inputText === 'string' ? req.inputText : null;
  if (prompt !== null && list.length === 0) messages.push({ role: 'user', parts: [text(prompt)], index: 0 });
  return { list, messages };
}
