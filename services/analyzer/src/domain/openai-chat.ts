/**
 * OpenAI Chat Completions (`POST /v1/chat/completions`) and OpenAI-compatible servers (Azure OpenAI, DeepSeek, xAI,
 * Groq, Qwen/DashScope compatible mode, …): streamed (`chat.completion.chunk` SSE events, `data: [DONE]`) and not.
 *
 * API reference: https://platform.openai.com/docs/api-reference/chat ; usage mapping per OTel GenAI semconv v1.41
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/): `prompt_tokens` already includes cached tokens,
 * so it maps to `gen_ai.usage.input_tokens` unchanged.
 */
import type { ToolCall, Usage } from '@agentsight/contracts';
import { arr, num, obj, str, type JsonObject } from './json';
import { defineApi, pushText } from './api-adapter';
import { emptyExtraction, type Extraction, type ResponseJson } from './extraction';
import { messagesHistory } from './history';

/**
 * Maps an OpenAI-style usage object to OTel meanings (token counts):
 * input = `prompt_tokens` (includes cached), output = `completion_tokens` (includes reasoning),
 * cache_read = `prompt_tokens_details.cached_tokens` (DeepSeek: else `prompt_cache_hit_tokens`),
 * reasoning = `completion_tokens_details.reasoning_tokens`,
 * cache_creation = `prompt_tokens_details.cache_creation_input_tokens` when a compatible server reports it
 * (DashScope explicit cache), else null (OpenAI reports none).
 */
export function openAiUsage(u: JsonObject | undefined): Usage {
  const ptd = obj(u?.prompt_tokens_details);
  const ctd = obj(u?.completion_tokens_details);
  return {
    input_tokens: num(u?.prompt_tokens),
    output_tokens: num(u?.completion_tokens),
    cache_read_input_tokens: num(ptd?.cached_tokens) ?? num(u?.prompt_cache_hit_tokens),
    cache_creation_input_tokens: num(ptd?.cache_creation_input_tokens),
    reasoning_output_tokens: num(ctd?.reasoning_tokens),
  };
}

/** The error type of an OpenAI-style error object (`{error: {type, code, message}}`), or null. */
export function openAiErrorType(doc: unknown): string | null {
  const o = obj(doc);
  if (!o) return null;
  const e = o.error;
  if (typeof e === 'string') return e || null;
  const eo = obj(e);
  if (!eo) return null;
  return str(eo.type) ?? (eo.code != null && eo.code !== '' ? String(eo.code) : null) ?? 'error';
}

/** Text of a message `content`: a string, or an array of `{type:'text', text}` parts. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  let s = '';
  for (const p of arr(content)) {
    const po = obj(p);
    if (po && typeof po.text === 'string' && (po.type === undefined || po.type === 'text' || po.type === 'output_text')) s += po.text;
  }
  return s;
}

interface ToolAcc {
  choice: number;
  index: number;
  order: number;
  id: string | null;
  name: string | null;
  args: string;
}

/**
 * Extracts a Chat Completions response (rules A of the corpus README):
 * id/model = first chunk carrying a non-empty value (Azure's leading `prompt_filter_results` chunk has empty ones);
 * usage = last chunk with a non-null `usage` (Groq: else `x_groq.usage`); finish reasons = last non-null
 * `finish_reason` per choice, ordered by choice index; tool calls = `delta.tool_calls` grouped by
 * (choice index, `tool_calls[].index`), id/name from the first fragment carrying them, `function.arguments`
 * concatenated; text = `delta.content` of choice 0 (`reasoning_content` excluded).
 */
export function extractOpenAiChat(res: ResponseJson): Extraction {
  const x = emptyExtraction();
  if (res.events) return extractStream(res.events.map((e) => e.json), x);
  const body = obj(res.body);
  if (!body) return x;
  x.error_type = openAiErrorType(body);
  x.response_id = str(body.id);
  x.response_model = str(body.model);
  const usage = obj(body.usage) ?? obj(obj(body.x_groq)?.usage);
  x.usage = openAiUsage(usage);
  x.raw_usage = usage ?? null;
  const choices = arr(body.choices)
    .map((c, i) => ({ c: obj(c) ?? {}, i }))
    .sort((a, b) => (num(a.c.index) ?? a.i) - (num(b.c.index) ?? b.i));
  for (const { c } of choices) {
    const fr = str(c.finish_reason);
    if (fr) x.finish_reasons.push(fr);
    const msg = obj(c.message);
    if (!msg) continue;
    for (const tc of arr(msg.tool_calls)) {
      const t = obj(tc);
      const fn = obj(t?.function);
      const custom = obj(t?.custom);
      x.tool_calls.push({
        id: str(t?.id),
        name: str(fn?.name) ?? str(custom?.name) ?? '',
        arguments: typeof fn?.arguments === 'string' ? fn.arguments : typeof custom?.input === 'string' ? custom.input : '',
      });
    }
    const legacy = obj(msg.function_call);
    if (legacy) x.tool_calls.push({ id: null, name: str(legacy.name) ?? '', arguments: typeof legacy.arguments === 'string' ? legacy.arguments : '' });
  }
  const first = choices.find(({ c, i }) => (num(c.index) ?? i) === 0)?.c;
  x.output_text = contentText(obj(first?.message)?.content);
  return x;
}

function extractStream(chunks: unknown[], x: Extraction): Extraction {
  let usage: JsonObject | undefined;
  let groqUsage: JsonObject | undefined;
  const finish = new Map<number, string>();
  const tools = new Map<string, ToolAcc>();
  const lastToolKey = new Map<number, string>();
  let order = 0;
  let anon = 0;
  for (const raw of chunks) {
    const chunk = obj(raw);
    if (!chunk) continue;
    const err = chunk.error !== undefined || chunk.type === 'error' ? openAiErrorType(chunk.error !== undefined ? chunk : { error: chunk }) : null;
    if (err) x.error_type = err;
    x.response_id ??= str(chunk.id);
    x.response_model ??= str(chunk.model);
    const u = obj(chunk.usage);
    if (u) usage = u;
    const gu = obj(obj(chunk.x_groq)?.usage);
    if (gu) groqUsage = gu;
    for (const [pos, rc] of arr(chunk.choices).entries()) {
      const c = obj(rc);
      if (!c) continue;
      const ci = num(c.index) ?? pos;
      const fr = str(c.finish_reason);
      if (fr) finish.set(ci, fr);
      const delta = obj(c.delta) ?? obj(c.message);
      if (!delta) continue;
      if (ci === 0) x.output_text += contentText(delta.content);
      for (const rt of arr(delta.tool_calls)) {
        const t = obj(rt);
        if (!t) continue;
        const fn = obj(t.function);
        const ti = num(t.index);
        let key: string;
        if (ti !== null) key = `${ci}:${ti}`;
        else if (str(t.id) || str(fn?.name) || !lastToolKey.has(ci)) key = `${ci}:anon${anon++}`;
        else key = lastToolKey.get(ci)!;
        let acc = tools.get(key);
        if (!acc) {
          acc = { choice: ci, index: ti ?? Number.MAX_SAFE_INTEGER, order: order++, id: null, name: null, args: '' };
          tools.set(key, acc);
        }
        lastToolKey.set(ci, key);
        acc.id ??= str(t.id);
        acc.name ??= str(fn?.name);
        if (typeof fn?.arguments === 'string') acc.args += fn.arguments;
      }
    }
  }
  const chosen = usage ?? groqUsage;
  x.usage = openAiUsage(chosen);
  x.raw_usage = chosen ?? null;
  x.finish_reasons = [...finish.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  x.tool_calls = [...tools.values()]
    .sort((a, b) => a.choice - b.choice || a.index - b.index || a.order - b.order)
    .map((t): ToolCall => ({ id: t.id, name: t.name ?? '', arguments: t.args }));
  return x;
}

/** Reasoning text of a Chat Completions document (DeepSeek, xAI, Groq, Qwen, Ollama): choice 0's `reasoning_content` / `reasoning`. */
function chatReasoning(d: JsonObject, out: string[]): void {
  const choice = obj(arr(d.choices)[0]);
  for (const m of [obj(choice?.delta), obj(choice?.message)]) {
    pushText(out, m?.reasoning_content);
    pushText(out, m?.reasoning);
  }
}

/**
 * OpenAI Chat Completions and compatibles: `…/chat/completions` (OpenAI, Azure `/openai/deployments/<d>/chat/completions`,
 * DeepSeek `/chat/completions`, Groq `/openai/v1/chat/completions`, DashScope `/compatible-mode/v1/chat/completions`, …);
 * off-path, a `chat.completion[.chunk]` document.
 */
export const openAiChatApi = defineApi({
  api: 'chat.completions',
  provider: 'openai',
  operation: 'chat',
  matchesPath: (p) => /\/chat\/completions$/.test(p),
  matchesResponse: (d) => {
    const object = str(d.object) ?? '';
    return object.startsWith('chat.completion') || (Array.isArray(d.choices) && (str(d.model) !== null || str(d.id) !== null) && object !== 'text_completion');
  },
  matchesResponseText: (t) => /"object"\s*:\s*"chat\.completion/.test(t),
  extract: (res) => extractOpenAiChat(res),
  history: messagesHistory,
  reasoning: chatReasoning,
});
