/**
 * OpenAI Responses API (`POST /v1/responses`, Azure `/openai/responses`), streamed (SSE `response.created` …
 * `response.completed|incomplete|failed`) and not (one `response` object).
 *
 * API reference: https://platform.openai.com/docs/api-reference/responses and
 * https://platform.openai.com/docs/api-reference/responses-streaming ; usage mapping per OTel GenAI semconv v1.41
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/): `input_tokens` already includes
 * `input_tokens_details.cached_tokens`, so it maps to `gen_ai.usage.input_tokens` unchanged.
 */
import type { ToolCall, Usage } from '@agentsight/contracts';
import { arr, num, obj, str, type JsonObject } from './json';
import { defineApi, pushText } from './api-adapter';
import { emptyExtraction, type Extraction, type JsonEvent, type ResponseJson } from './extraction';
import { anyValue, contentParts, resultText, role, text } from './history';
import type { NormMessage } from './messages';
import { openAiErrorType } from './openai-chat';

/** Terminal stream events: their `response` carries the final id, model, status, usage and output. */
const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/** Hosted/built-in tool items that carry a payload, and the field holding it (rule B: named by item type). */
const PAYLOAD_ITEMS: Record<string, string> = {
  local_shell_call: 'action',
  shell_call: 'action',
  computer_call: 'action',
  apply_patch_call: 'operation',
  tool_search_call: 'arguments',
};

/**
 * Maps a Responses usage object to OTel meanings (token counts): input = `input_tokens` (includes cached),
 * output = `output_tokens` (includes reasoning), cache_read = `input_tokens_details.cached_tokens`,
 * reasoning = `output_tokens_details.reasoning_tokens`, cache_creation = null (OpenAI reports none).
 */
export function responsesUsage(u: JsonObject | undefined): Usage {
  return {
    input_tokens: num(u?.input_tokens),
    output_tokens: num(u?.output_tokens),
    cache_read_input_tokens: num(obj(u?.input_tokens_details)?.cached_tokens),
    cache_creation_input_tokens: null,
    reasoning_output_tokens: num(obj(u?.output_tokens_details)?.reasoning_tokens),
  };
}

/**
 * The finish reason of a response `status` (rule B): `completed`, `incomplete:<incomplete_details.reason>`,
 * `failed:<error.code>`; `in_progress`/`queued` (no terminal event seen) and a missing status give null.
 */
export function responsesFinish(r: JsonObject): string | null {
  const status = str(r.status);
  if (status === 'incomplete') {
    const reason = str(obj(r.incomplete_details)?.reason);
    return reason ? `incomplete:${reason}` : 'incomplete';
  }
  if (status === 'failed') {
    const code = str(obj(r.error)?.code);
    return code ? `failed:${code}` : 'failed';
  }
  if (status === 'in_progress' || status === 'queued') return null;
  return status;
}

/** The tool call an output item stands for (rule B), or null for messages, reasoning and argument-less built-ins. */
function itemToolCall(item: JsonObject): ToolCall | null {
  const type = str(item.type) ?? '';
  const id = str(item.call_id) ?? str(item.id);
  if (type === 'function_call') return { id, name: str(item.name) ?? '', arguments: typeof item.arguments === 'string' ? item.arguments : '' };
  if (type === 'custom_tool_call') return { id, name: str(item.name) ?? '', arguments: typeof item.input === 'string' ? item.input : '' };
  if (type === 'mcp_call') return { id, name: str(item.name) ?? type, arguments: typeof item.arguments === 'string' ? item.arguments : '' };
  const field = PAYLOAD_ITEMS[type];
  if (field && item[field] !== undefined && item[field] !== null) {
    const payload = item[field];
    return { id, name: type, arguments: typeof payload === 'string' ? payload : JSON.stringify(payload) };
  }
  return null;
}

/** Answer text of output items: `output_text` parts of `message` items (reasoning summaries excluded). */
function itemsText(items: unknown[]): string {
  let s = '';
  for (const it of items) {
    const o = obj(it);
    if (o?.type !== 'message') continue;
    for (const p of arr(o.content)) {
      const po = obj(p);
      if (po?.type === 'output_text' && typeof po.text === 'string') s += po.text;
    }
  }
  return s;
}

/** Fills id, model, usage, finish, error and (when given) tool calls and text from one `response` object. */
function fromResponseObject(x: Extraction, r: JsonObject, withOutput: boolean): void {
  x.response_id = str(r.id) ?? x.response_id;
  x.response_model = str(r.model) ?? x.response_model;
  const usage = obj(r.usage);
  if (usage) {
    x.usage = responsesUsage(usage);
    x.raw_usage = usage;
  }
  const finish = responsesFinish(r);
  if (finish) x.finish_reasons = [finish];
  const err = obj(r.error);
  if (err) x.error_type = str(err.code) ?? str(err.type) ?? 'error';
  if (withOutput) {
    const items = arr(r.output).map((i) => obj(i)).filter((i): i is JsonObject => i !== undefined);
    x.tool_calls = items.map(itemToolCall).filter((t): t is ToolCall => t !== null);
    x.output_text = itemsText(items);
  }
}

/**
 * Extracts a Responses call (rule B of the corpus README). Non-streamed: the `response` object (`id`, `model`,
 * `status`, `usage`, `output[]`) or an OpenAI error body. Streamed: id/model/usage/status from the terminal event
 * (`response.completed` | `response.incomplete` | `response.failed`; `response.created`/`in_progress` as fallback);
 * text = concatenated `response.output_text.delta`; tool calls = the terminal `response.output` items, else the
 * `response.output_item.done` items (else, for a cut stream, the `added` items with their argument deltas), by
 * `output_index`: `function_call` (name + arguments), `custom_tool_call` (name + raw input), `mcp_call`, and hosted
 * items with a payload (`local_shell_call`/`shell_call`/`computer_call` action, `apply_patch_call` operation,
 * `tool_search_call` arguments; named by item type; objects as JSON text). An `error` event or a failed response sets
 * `error_type` (its `code`).
 */
export function extractOpenAiResponses(res: ResponseJson): Extraction {
  const x = emptyExtraction();
  if (res.events) return extractStream(res.events, x);
  const body = obj(res.body);
  if (!body) return x;
  if (body.error !== undefined && body.error !== null && body.object !== 'response') {
    x.error_type = openAiErrorType(body);
    return x;
  }
  fromResponseObject(x, body, true);
  return x;
}

interface StreamItem {
  item: JsonObject;
  args: string;
  done: boolean;
}

function extractStream(events: JsonEvent[], x: Extraction): Extraction {
  const items = new Map<number, StreamItem>();
  let terminal: JsonObject | undefined;
  let deltaText = '';
  let sawDelta = false;
  for (const ev of events) {
    const d = obj(ev.json);
    if (!d) continue;
    const type = str(d.type) ?? ev.event;
    const r = obj(d.response);
    if (r && (type === 'response.created' || type === 'response.in_progress' || TERMINAL.has(type))) {
      fromResponseObject(x, r, false);
      if (TERMINAL.has(type)) terminal = r;
      continue;
    }
    const index = num(d.output_index) ?? -1;
    switch (type) {
      case 'response.output_text.delta':
        if (typeof d.delta === 'string') {
          deltaText += d.delta;
          sawDelta = true;
        }
        break;
      case 'response.output_item.added':
      case 'response.output_item.done': {
        const item = obj(d.item);
        if (!item) break;
        const prev = items.get(index);
        if (type === 'response.output_item.done' || !prev) items.set(index, { item, args: prev?.args ?? '', done: type === 'response.output_item.done' });
        break;
      }
      case 'response.function_call_arguments.delta':
      case 'response.custom_tool_call_input.delta':
      case 'response.mcp_call_arguments.delta': {
        const it = items.get(index);
        if (it && typeof d.delta === 'string') it.args += d.delta;
        break;
      }
      case 'error':
        x.error_type = str(d.code) ?? str(obj(d.error)?.code) ?? str(obj(d.error)?.type) ?? 'error';
        break;
      default:
        break;
    }
  }
  const termItems = arr(terminal?.output).map((i) => obj(i)).filter((i): i is JsonObject => i !== undefined);
  let final: JsonObject[];
  if (termItems.length) final = termItems;
  else {
    final = [...items.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([, s]) => {
        if (s.done || s.args === '') return s.item;
        const field = s.item.type === 'custom_tool_call' ? 'input' : 'arguments';
        return { ...s.item, [field]: s.args };
      });
  }
  x.tool_calls = final.map(itemToolCall).filter((t): t is ToolCall => t !== null);
  x.output_text = sawDelta ? deltaText : itemsText(final);
  return x;
}

/** Item types of the Responses API that are tool calls made by the model, and the field holding their payload. */
const CALL_ITEMS: Record<string, string> = { function_call: 'arguments', custom_tool_call: 'input', mcp_call: 'arguments', ...PAYLOAD_ITEMS };

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
    const field = CALL_ITEMS[type];
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


/**
 * OpenAI Responses: `…/v1/responses`, Azure `/openai/responses` (not `/v1/responses/<id>/cancel`, not
 * `/v1/responses/input_tokens`); off-path, a `response` document or a `response.*` event carrying one. History =
 * `input` (text or items); the conversation is `conversation` (a string or `{id}`), else a `previous_response_id`
 * chain.
 */
export const openAiResponsesApi = defineApi({
  api: 'responses',
  provider: 'openai',
  operation: 'chat',
  matchesPath: (p) => /(^|\/)(v1|openai)\/responses$/.test(p),
  matchesResponse: (d) => str(d.object) === 'response' || (typeof d.type === 'string' && d.type.startsWith('response.') && obj(d.response) !== undefined),
  matchesResponseText: (t) => /"object"\s*:\s*"response"/.test(t),
  extract: (res) => extractOpenAiResponses(res),
  history: (req) => ({ list: Array.isArray(req.input) ? req.input : [], messages: responsesInput(req.input) }),
  reasoning: (d, out) => {
    if (d.type === 'response.reasoning_summary_text.delta' || d.type === 'response.reasoning_text.delta') pushText(out, d.delta);
  },
  conversation: (req) => (typeof req.conversation === 'string' ? req.conversation : str(obj(req.conversation)?.id)),
  previousResponseId: (req) => str(req?.previous_response_id),
});
