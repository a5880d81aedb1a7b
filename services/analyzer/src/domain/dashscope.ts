/**
 * Alibaba Cloud Model Studio (DashScope) native text generation:
 * `POST /api/v1/services/aigc/text-generation/generation` (and `multimodal-generation`), streamed as SSE when the
 * request carries `X-DashScope-SSE: enable` (`event:result` events) and not. The OpenAI-compatible mode
 * (`/compatible-mode/v1/chat/completions`) goes through the Chat Completions path instead.
 *
 * API reference: https://www.alibabacloud.com/help/en/model-studio/use-qwen-by-calling-api ; usage per OTel GenAI
 * semconv v1.41: `input_tokens` includes `prompt_tokens_details.cached_tokens` (OpenAI-style), so it maps unchanged.
 */
import type { ToolCall, Usage } from '@agentsight/contracts';
import { defineApi } from './api-adapter';
import { emptyExtraction, type Extraction, type ResponseJson } from './extraction';
import { messagesHistory } from './history';
import { arr, num, obj, str, type JsonObject } from './json';

/**
 * Maps a DashScope usage object to OTel meanings (tokens): input = `input_tokens`, output = `output_tokens`,
 * cache_read = `prompt_tokens_details.cached_tokens`, cache_creation = `prompt_tokens_details.cache_creation_input_tokens`,
 * reasoning = `output_tokens_details.reasoning_tokens`.
 */
export function dashscopeUsage(u: JsonObject | undefined): Usage {
  const ptd = obj(u?.prompt_tokens_details);
  return {
    input_tokens: num(u?.input_tokens),
    output_tokens: num(u?.output_tokens),
    cache_read_input_tokens: num(ptd?.cached_tokens),
    cache_creation_input_tokens: num(ptd?.cache_creation_input_tokens),
    reasoning_output_tokens: num(obj(u?.output_tokens_details)?.reasoning_tokens),
  };
}

/** Text, finish reason and tool calls of one DashScope `output` (`text` format or `message` format with `choices`). */
function readOutput(o: JsonObject | undefined): { text: string; finish: string | null; tools: unknown[] } {
  const c0 = obj(arr(o?.choices)[0]);
  const msg = obj(c0?.message);
  const content = msg?.content;
  let text = typeof o?.text === 'string' ? o.text : '';
  if (typeof content === 'string') text += content;
  else for (const p of arr(content)) if (typeof obj(p)?.text === 'string') text += obj(p)!.text as string;
  const f = str(c0?.finish_reason) ?? str(o?.finish_reason);
  return { text, finish: f && f !== 'null' ? f : null, tools: arr(msg?.tool_calls) };
}

/**
 * Extracts a DashScope native call: response id = `request_id` (DashScope returns no model, the request names it);
 * usage = last `usage` ({@link dashscopeUsage}); finish = last `finish_reason` other than the string `"null"`; text
 * and tool calls: with `incremental` (request `parameters.incremental_output: true`) chunks are deltas and
 * concatenate (tool-call `function.arguments` grouped by `index`), otherwise each chunk repeats the whole output so
 * far and the last one wins. An error document (`{code, message}`) sets `error_type` = `code`.
 */
export function extractDashscope(res: ResponseJson, incremental: boolean): Extraction {
  const x = emptyExtraction();
  const all = (res.events ? res.events.map((e) => e.json) : res.body === undefined ? [] : [res.body]).map((d) => obj(d)).filter((d): d is JsonObject => !!d);
  let usage: JsonObject | undefined;
  const tools = new Map<number, ToolCall>();
  for (const d of all) {
    if (str(d.code) && d.output === undefined) {
      x.error_type = str(d.code);
      continue;
    }
    x.response_id ??= str(d.request_id);
    usage = obj(d.usage) ?? usage;
    const { text, finish, tools: tcs } = readOutput(obj(d.output));
    if (finish) x.finish_reasons = [finish];
    if (incremental) x.output_text += text;
    else if (text) x.output_text = text;
    if (!incremental && tcs.length) tools.clear();
    tcs.forEach((rt, pos) => {
      const t = obj(rt);
      const fn = obj(t?.function);
      const i = num(t?.index) ?? pos;
      const prev = tools.get(i) ?? { id: null, name: '', arguments: '' };
      tools.set(i, {
        id: prev.id ?? str(t?.id),
        name: prev.name || (str(fn?.name) ?? ''),
        arguments: incremental ? prev.arguments + (typeof fn?.arguments === 'string' ? fn.arguments : '') : typeof fn?.arguments === 'string' ? fn.arguments : '',
      });
    });
  }
  x.usage = dashscopeUsage(usage);
  x.raw_usage = usage ?? null;
  x.tool_calls = [...tools.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t);
  return x;
}

/**
 * DashScope native text generation: `/api/v1/services/aigc/(text|multimodal)-generation/generation` (history in
 * `input.messages` or a prompt in `input.prompt`; deltas when `parameters.incremental_output` is true).
 */
export const dashscopeApi = defineApi({
  api: 'dashscope.generation',
  provider: 'alibaba.dashscope',
  operation: 'chat',
  matchesPath: (p) => /\/api\/v1\/services\/aigc\/(text|multimodal)-generation\/generation$/.test(p),
  extract: (res, ctx) => extractDashscope(res, obj(ctx.request?.parameters)?.incremental_output === true),
  history: messagesHistory,
});
