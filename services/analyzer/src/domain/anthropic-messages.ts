/**
 * Anthropic Messages (`POST /v1/messages`), streamed (SSE `message_start` … `message_stop`) and not.
 *
 * API reference: https://docs.anthropic.com/en/api/messages-streaming ; usage mapping per OTel GenAI semconv v1.41
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/): Anthropic's `input_tokens` excludes cache reads
 * and writes, so `gen_ai.usage.input_tokens` = input_tokens + cache_read_input_tokens + cache_creation_input_tokens.
 */
import type { ToolCall, Usage } from '@agentsight/contracts';
import { arr, num, obj, str, type JsonObject } from './json';
import { defineApi, pushText } from './api-adapter';
import { emptyExtraction, type Extraction, type ResponseJson } from './extraction';
import { messagesHistory } from './history';

/** Content block types whose `input` is a tool call requested by the model. */
const TOOL_BLOCKS = new Set(['tool_use', 'server_tool_use', 'mcp_tool_use']);

/**
 * Maps an Anthropic usage object to OTel meanings (token counts): input = input_tokens + cache_read + cache_creation
 * (null when none is reported), output = output_tokens, cache_read = cache_read_input_tokens,
 * cache_creation = cache_creation_input_tokens, reasoning = null (Anthropic does not report thinking tokens apart).
 */
export function anthropicUsage(u: JsonObject | undefined): Usage {
  const input = num(u?.input_tokens);
  const cacheRead = num(u?.cache_read_input_tokens);
  const cacheCreation = num(u?.cache_creation_input_tokens);
  const total = input === null && cacheRead === null && cacheCreation === null ? null : (input ?? 0) + (cacheRead ?? 0) + (cacheCreation ?? 0);
  return {
    input_tokens: total,
    output_tokens: num(u?.output_tokens),
    cache_read_input_tokens: cacheRead,
    cache_creation_input_tokens: cacheCreation,
    reasoning_output_tokens: null,
  };
}

/** The error type of an Anthropic error document (`{type:'error', error:{type, message}}`), or null. */
export function anthropicErrorType(doc: unknown): string | null {
  const o = obj(doc);
  if (!o) return null;
  const e = obj(o.error);
  if (e) return str(e.type) ?? 'error';
  if (typeof o.error === 'string' && o.error) return o.error;
  return o.type === 'error' ? 'error' : null;
}

interface Block {
  index: number;
  type: string;
  id: string | null;
  name: string | null;
  text: string;
  json: string;
  input: unknown;
}

function toolArguments(b: Pick<Block, 'json' | 'input'>): string {
  if (b.json !== '') return b.json;
  const input = obj(b.input);
  return input && Object.keys(input).length > 0 ? JSON.stringify(input) : '{}';
}

/**
 * Extracts a Messages response (rules C of the corpus README): id/model = `message_start.message`; usage =
 * `message_start.message.usage` overridden field by field by the numbers `message_delta.usage` repeats, output tokens
 * from `message_delta.usage.output_tokens` (cumulative, final); finish = `message_delta.delta.stop_reason`; tool calls =
 * `tool_use`/`server_tool_use`/`mcp_tool_use` blocks in index order with `input_json_delta.partial_json` concatenated
 * (empty → `{}`); text = text blocks (`text_delta`), thinking excluded; `error` events set the error type
 * (e.g. `overloaded_error`). `raw_usage` = `{...message_start.message.usage, ...message_delta.usage}`.
 */
export function extractAnthropicMessages(res: ResponseJson): Extraction {
  if (res.events) return extractStream(res.events);
  const x = emptyExtraction();
  const body = obj(res.body);
  if (!body) return x;
  x.error_type = anthropicErrorType(body);
  x.response_id = str(body.id);
  x.response_model = str(body.model);
  const usage = obj(body.usage);
  x.usage = anthropicUsage(usage);
  x.raw_usage = usage ?? null;
  const stop = str(body.stop_reason);
  if (stop) x.finish_reasons.push(stop);
  for (const rb of arr(body.content)) {
    const b = obj(rb);
    if (!b) continue;
    if (b.type === 'text' && typeof b.text === 'string') x.output_text += b.text;
    else if (typeof b.type === 'string' && TOOL_BLOCKS.has(b.type)) {
      x.tool_calls.push({ id: str(b.id), name: str(b.name) ?? '', arguments: toolArguments({ json: '', input: b.input }) });
    }
  }
  return x;
}

function extractStream(events: Array<{ event: string; json: unknown }>): Extraction {
  const x = emptyExtraction();
  let startUsage: JsonObject | undefined;
  let deltaUsage: JsonObject | undefined;
  const blocks = new Map<number, Block>();
  for (const ev of events) {
    const d = obj(ev.json);
    if (!d) continue;
    const type = str(d.type) ?? ev.event;
    switch (type) {
      case 'message_start': {
        const m = obj(d.message);
        x.response_id ??= str(m?.id);
        x.response_model ??= str(m?.model);
        startUsage = obj(m?.usage) ?? startUsage;
        break;
      }
      case 'content_block_start': {
        const index = num(d.index) ?? blocks.size;
        const cb = obj(d.content_block) ?? {};
        blocks.set(index, {
          index,
          type: str(cb.type) ?? '',
          id: str(cb.id),
          name: str(cb.name),
          text: typeof cb.text === 'string' ? cb.text : '',
          json: '',
          input: cb.input,
        });
        break;
      }
      case 'content_block_delta': {
        const index = num(d.index) ?? -1;
        const delta = obj(d.delta) ?? {};
        let b = blocks.get(index);
        if (!b) {
          // A delta without its block start (e.g. a capture that began mid-stream): infer the block type.
          b = { index, type: delta.type === 'input_json_delta' ? 'tool_use' : delta.type === 'text_delta' ? 'text' : String(delta.type), id: null, name: null, text: '', json: '', input: undefined };
          blocks.set(index, b);
        }
        if (delta.type === 'text_delta' && typeof delta.text === 'string') b.text += delta.text;
        else if (delta.type === 'input_json_delta' && typeof delta.partial_json === 'string') b.json += delta.partial_json;
        break;
      }
      case 'message_delta': {
        const stop = str(obj(d.delta)?.stop_reason);
        if (stop) x.finish_reasons = [stop];
        const u = obj(d.usage);
        if (u) deltaUsage = { ...deltaUsage, ...u };
        break;
      }
      case 'error':
        x.error_type = anthropicErrorType(d) ?? 'error';
        break;
      default:
        break;
    }
  }
  x.raw_usage = startUsage || deltaUsage ? { ...startUsage, ...deltaUsage } : null;
  // Numbers from message_delta override message_start's; a repeated field that is null does not erase a number.
  const merged: JsonObject = { ...startUsage };
  for (const [k, v] of Object.entries(deltaUsage ?? {})) if (num(v) !== null || !(k in merged)) merged[k] = v;
  x.usage = startUsage || deltaUsage ? anthropicUsage(merged) : x.usage;
  const ordered = [...blocks.values()].sort((a, b) => a.index - b.index);
  x.output_text = ordered.filter((b) => b.type === 'text').map((b) => b.text).join('');
  x.tool_calls = ordered
    .filter((b) => TOOL_BLOCKS.has(b.type))
    .map((b): ToolCall => ({ id: b.id, name: b.name ?? '', arguments: toolArguments(b) }));
  return x;
}

/** Reasoning text of an Anthropic document: stream `thinking_delta`s and thinking `content_block_start`s, body thinking blocks. */
function anthropicReasoning(d: JsonObject, out: string[]): void {
  const delta = obj(d.delta);
  if (delta?.type === 'thinking_delta') pushText(out, delta.thinking);
  const block = obj(d.content_block);
  if (block?.type === 'thinking') pushText(out, block.thinking);
  for (const c of arr(d.content)) {
    const o = obj(c);
    if (o?.type === 'thinking') pushText(out, o.thinking);
  }
}

/**
 * Anthropic Messages: `…/v1/messages` (also DeepSeek's `/anthropic/v1/messages`; not OpenAI Assistants'
 * `/threads/<id>/messages`, not `/v1/messages/count_tokens` or `/v1/messages/batches`); off-path, a `message` /
 * `message_start` document.
 */
export const anthropicMessagesApi = defineApi({
  api: 'messages',
  provider: 'anthropic',
  operation: 'chat',
  matchesPath: (p) => /(^|\/)v1\/messages$/.test(p),
  matchesResponse: (d) => d.type === 'message_start' || (d.type === 'message' && Array.isArray(d.content)),
  matchesResponseText: (t) => /"type"\s*:\s*"message_start"/.test(t),
  extract: (res) => extractAnthropicMessages(res),
  history: messagesHistory,
  reasoning: anthropicReasoning,
});
