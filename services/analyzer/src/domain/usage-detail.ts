/**
 * `LlmCall.usage_detail`: input tokens by role (system, user, assistant, tool) and output tokens by type (text,
 * reasoning, tool calls). See `UsageDetail` in `@agentsight/contracts` for the meaning; in short, each share is
 * counted with the model's tokenizer (`@agentsight/tokens`) and the shares are then scaled to the call's totals with
 * the largest-remainder method, so they are integers that add up exactly to the reported (or estimated) counts.
 */
import type { ToolCall, Usage, UsageDetail } from '@agentsight/contracts';
import { countWith, templateOverhead, tokenizerFor } from '@agentsight/tokens';
import { LLM_APIS } from './apis';
import type { ResponseJson } from './extraction';
import { obj, type JsonObject } from './json';
import { promptByRole } from './usage-estimate';

/** Input roles of {@link UsageDetail}. */
export type InputRole = 'system' | 'user' | 'assistant' | 'tool';

/**
 * The {@link UsageDetail} role of a message role: `system`/`developer` → system, `assistant`/`model` (Gemini) →
 * assistant, `tool`/`function`/`ipython` → tool, anything else → user.
 */
export function roleBucket(role: string): InputRole {
  const r = role.toLowerCase();
  if (r === 'system' || r === 'developer') return 'system';
  if (r === 'assistant' || r === 'model') return 'assistant';
  if (r === 'tool' || r === 'function' || r === 'ipython') return 'tool';
  return 'user';
}

/**
 * Splits `total` (a non-negative integer) in proportion to `weights` (non-negative), as integers summing exactly to
 * `total`: each part is ⌊w·total/Σw⌋, and the units left go one each to the largest fractional remainders (ties: the
 * earlier part). Returns all zeros for `total` 0, and null when every weight is 0 but `total` is not.
 */
export function scaleShares(weights: number[], total: number): number[] | null {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (total === 0) return weights.map(() => 0);
  if (sum <= 0) return null;
  const exact = weights.map((w) => (w * total) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    out[i]++;
    left--;
  }
  return out;
}

/**
 * The reasoning/thinking text visible in a response (Anthropic thinking blocks, Chat `reasoning_content`, Gemini
 * `thought` parts, Bedrock `reasoningContent`, Responses reasoning summaries), concatenated; '' when none. Every
 * adapter's `reasoning` reader (`LLM_APIS` order) reads every document, whatever the call's API: a document is read in
 * every shape the analyzer knows.
 */
export function reasoningText(res: ResponseJson): string {
  const out: string[] = [];
  const each = (doc: unknown) => {
    const d = obj(doc);
    if (d) for (const a of LLM_APIS) a.reasoning?.(d, out);
  };
  if (res.body !== undefined) for (const d of Array.isArray(res.body) ? res.body : [res.body]) each(d);
  for (const e of res.events ?? []) each(e.json);
  return out.join('');
}

/** Inputs of {@link usageDetail}: the call as extracted (after usage estimation). */
export interface DetailInput {
  usage: Usage;
  api: string;
  /** `gen_ai.provider.name`. */
  provider: string;
  /** `response_model ?? request_model`: the model whose tokenizer counts. */
  model: string | null;
  /** Parsed request body, when it was a JSON object. */
  request: JsonObject | undefined;
  output_text: string;
  tool_calls: ToolCall[];
  /** Reasoning text seen in the response ({@link reasoningText}), used when the provider reports no reasoning count. */
  reasoning_text: string;
}

/**
 * Input tokens by role and output tokens by type of a call (see `UsageDetail`), or null when neither total is known.
 * Input weights: per message of {@link promptByRole}, its role name, participant name, text parts and the template's
 * per-message overhead ({@link templateOverhead}) go to its role, tool results inside it to `tool`; tool definitions
 * (JSON text) to `system`. Output weights: `output_text`, each tool call's name and arguments, and (only when the
 * provider reported no reasoning count) the visible reasoning text. A reported reasoning count is kept as is; it is
 * taken as part of `output_tokens` (semconv, see `reasoning.ts`) unless it exceeds `output_tokens`. Never throws: a failure gives null.
 */
export function usageDetail(c: DetailInput): UsageDetail | null {
  if (c.usage.input_tokens === null && c.usage.output_tokens === null) return null;
  try {
    let tokenizer = tokenizerFor(c.model).name;
    const count = (s: string | null | undefined): number => {
      if (!s) return 0;
      const r = countWith(tokenizer, s);
      tokenizer = r.tokenizer;
      return r.tokens;
    };
    let input: UsageDetail['input'] = null;
    if (c.usage.input_tokens !== null && c.request) {
      const o = templateOverhead(tokenizer);
      const w: Record<InputRole, number> = { system: 0, user: 0, assistant: 0, tool: 0 };
      const prompt = promptByRole(c.request);
      for (const m of prompt.messages) {
        const b = roleBucket(m.role);
        w[b] += o.perMessage + count(m.role) + m.parts.reduce((a, p) => a + count(p), 0);
        if (m.name && o.countsName) w[b] += o.perName + count(m.name);
        w.tool += (m.tool_parts ?? []).reduce((a, p) => a + count(p), 0);
      }
      w.system += prompt.tools.reduce((a, t) => a + count(t), 0);
      const s = scaleShares([w.system, w.user, w.assistant, w.tool], c.usage.input_tokens);
      if (s) input = { system: s[0], user: s[1], assistant: s[2], tool: s[3] };
    }
    let output: UsageDetail['output'] = null;
    const out = c.usage.output_tokens;
    if (out !== null) {
      const text = count(c.output_text);
      const calls = c.tool_calls.reduce((a, t) => a + count(t.name) + count(t.arguments), 0);
      const reported = c.usage.reasoning_output_tokens;
      if (reported !== null) {
        // output_tokens includes reasoning (semconv; the analyzer adds Gemini's and xAI's, see reasoning.ts); a count
        // smaller than the reasoning count can only have left it out.
        const apart = reported > out;
        const rest = apart ? out : out - reported;
        const s = scaleShares([text, calls], rest);
        if (s) output = { text: s[0], reasoning: reported, tool_calls: s[1] };
      } else {
        const s = scaleShares([text, count(c.reasoning_text), calls], out);
        if (s) output = { text: s[0], reasoning: s[1], tool_calls: s[2] };
      }
    }
    if (!input && !output) return null;
    return { input, output, tokenizer };
  } catch {
    return null;
  }
}
