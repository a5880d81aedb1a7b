/**
 * `LlmCall.usage_detail` (usage-detail.ts): the largest-remainder split, a small Chat Completions call whose numbers
 * were worked out by hand, and every call of the real traffic corpus (shares add up to the totals, the per-provider
 * reasoning rules, tool results inside user turns). The real tokenizers count; nothing is mocked.
 */
import { freeTokenizers, tokenizerFor } from '@agentsight/tokens';
import { exchangeFor, groundTruth, makeExchange } from '@agentsight/testkit';
import { analyzeExchange } from './analyze';
import { roleBucket, scaleShares } from './usage-detail';

afterAll(() => freeTokenizers());

describe('scaleShares (largest remainder)', () => {
  it('splits exactly, remainders to the largest fractions, ties to the earlier part', () => {
    expect(scaleShares([1, 1, 1], 10)).toEqual([4, 3, 3]);
    expect(scaleShares([2, 1], 7)).toEqual([5, 2]); // 4.67 / 2.33 → 4 + 2, the unit left goes to .67
    expect(scaleShares([3, 1], 0)).toEqual([0, 0]);
    expect(scaleShares([0, 0], 5)).toBeNull();
  });
  it('maps message roles', () => {
    expect(['system', 'developer', 'user', 'assistant', 'model', 'tool', 'function', 'other'].map(roleBucket))
      .toEqual(['system', 'system', 'user', 'assistant', 'assistant', 'tool', 'tool', 'user']);
  });
});

/**
 * gpt-4o (o200k_base, template overhead 3 per message). Weights = 3 + role + parts:
 * system 3+1("system")+3("Be brief.") = 7; user 3+1+4("Weather in Paris?") = 8;
 * assistant 3+1+2("get_weather")+5('{"city":"Paris"}') = 11; tool 3+1("tool")+3("18C sunny") = 7; Σ = 33.
 */
const request = {
  model: 'gpt-4o',
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Weather in Paris?' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
    { role: 'tool', tool_call_id: 'c1', content: '18C sunny' },
  ],
};
const message = { role: 'assistant', content: 'It is sunny.', tool_calls: [{ id: 'c2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] };

describe('a small Chat Completions call, worked out by hand', () => {
  it('reported usage: shares scaled to the reported totals, reported reasoning kept', () => {
    const body = { id: 'chatcmpl-1', object: 'chat.completion', model: 'gpt-4o-2024-08-06', choices: [{ index: 0, message, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: 50, completion_tokens: 20, completion_tokens_details: { reasoning_tokens: 3 } } };
    const call = analyzeExchange(makeExchange({ host: 'api.openai.com', target: '/v1/chat/completions', reqBody: JSON.stringify(request), respBody: JSON.stringify(body) })).call!;
    // Input 50 over 7/8/11/7 (Σ 33): 10.61, 12.12, 16.67, 10.61 → 10+12+16+10 = 48; the 2 left go to .67 (assistant)
    // and the first .61 (system).
    // Output 20 − 3 reasoning = 17 over text 4 ("It is sunny.") / tool calls 7 (2 + 5): 6.18, 10.82 → 6 + 10, +1 to
    // the tool calls.
    expect(call.usage_detail).toEqual({
      input: { system: 11, user: 12, assistant: 17, tool: 10 },
      output: { text: 6, reasoning: 3, tool_calls: 11 },
      tokenizer: 'o200k_base',
    });
  });

  it('estimated usage (stream without usage): shares scaled to the estimated totals', () => {
    const chunk = (delta: object, finish: string | null = null) => ({
      event: 'message', data: JSON.stringify({ id: 'chatcmpl-2', object: 'chat.completion.chunk', model: 'gpt-4o-2024-08-06', choices: [{ index: 0, delta, finish_reason: finish }] }),
    });
    const events = [
      chunk({ role: 'assistant', content: 'It is sunny.' }),
      chunk({ tool_calls: [{ index: 0, id: 'c2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] }),
      chunk({}, 'tool_calls'),
      { event: 'message', data: '[DONE]' },
    ];
    const call = analyzeExchange(makeExchange({ host: 'api.openai.com', target: '/v1/chat/completions', reqBody: JSON.stringify({ ...request, stream: true }), events })).call!;
    // Estimated input = 33 + 3 (reply priming) = 36 over 7/8/11/7: 7.64, 8.73, 12, 7.64 → 7+8+12+7 = 34, +1 to user
    // (.73) and +1 to system (first .64). Estimated output = 4 + 2 + 5 = 11 = the weights themselves.
    expect(call.usage).toMatchObject({ input_tokens: 36, output_tokens: 11 });
    expect(call.usage_source).toBe('estimated');
    expect(call.usage_detail).toEqual({
      input: { system: 8, user: 9, assistant: 12, tool: 7 },
      output: { text: 4, reasoning: 0, tool_calls: 7 },
      tokenizer: 'o200k_base',
    });
  });

  it('no totals (a rejected request): no detail', () => {
    const call = analyzeExchange(makeExchange({ host: 'api.openai.com', target: '/v1/chat/completions', reqBody: JSON.stringify(request), status: 400,
      respBody: '{"error":{"type":"invalid_request_error","message":"bad"}}' })).call!;
    expect(call.usage_detail).toBeNull();
  });
});

describe.each(groundTruth().map((g) => [`${g.file}${g.call !== undefined ? `#${g.call}` : ''}`, g] as const))('corpus %s', (_label, gt) => {
  const call = analyzeExchange(exchangeFor(gt)).call!;
  const d = call.usage_detail;
  const u = call.usage;

  it('input shares add up to input_tokens; output shares to output_tokens (reasoning rule per provider)', () => {
    if (u.input_tokens === null && u.output_tokens === null) {
      expect(d).toBeNull();
      return;
    }
    expect(d!.tokenizer).toBe(tokenizerFor(call.response_model ?? call.request_model).name);
    if (u.input_tokens === null) expect(d!.input).toBeNull();
    else expect(d!.input!.system + d!.input!.user + d!.input!.assistant + d!.input!.tool).toBe(u.input_tokens);
    if (u.output_tokens === null) {
      expect(d!.output).toBeNull();
      return;
    }
    const o = d!.output!;
    if (u.reasoning_output_tokens !== null) expect(o.reasoning).toBe(u.reasoning_output_tokens);
    // Reasoning is part of output_tokens for every provider (semconv; Gemini's and xAI's added by the analyzer).
    expect(o.text + o.tool_calls + o.reasoning).toBe(u.output_tokens);
    // Tool-call tokens exactly when the answer has tool calls.
    expect(o.tool_calls > 0).toBe(gt.tool_calls.length > 0 && u.output_tokens > o.reasoning);
  });
});

describe('corpus specifics', () => {
  const callOf = (file: string, call?: number) => analyzeExchange(exchangeFor(groundTruth().find((g) => g.file === file && g.call === call)!)).call!;

  it('Anthropic thinking (no reasoning count reported) is counted from the thinking text', () => {
    const c = callOf('vercel__anthropic-combined-context-editing.1.chunks.txt');
    expect(c.usage.reasoning_output_tokens).toBeNull();
    expect(c.usage_detail!.output!.reasoning).toBeGreaterThan(0);
    expect(c.usage_detail!.output!.text).toBeGreaterThan(0);
    expect(c.usage_detail!.output!.text + c.usage_detail!.output!.reasoning).toBe(485);
  });

  it('xAI and Gemini report reasoning apart from the output count', () => {
    expect(callOf('vercel__xai-tool-call.chunks.txt').usage_detail!.output).toEqual({ text: 0, reasoning: 227, tool_calls: 26 });
    expect(callOf('vercel__google-text.chunks.txt').usage_detail!.output).toEqual({ text: 23, reasoning: 185, tool_calls: 0 });
    expect(callOf('vercel__azure-model-router.1.chunks.txt').usage_detail!.output).toEqual({ text: 14, reasoning: 64, tool_calls: 0 });
  });

  it('Gemini functionResponse parts in a user turn count as the tool role; system instruction and tool definitions as system', () => {
    const i = callOf('jsgenai__Chats_Tests_sendMessage_multiple_messages_with_server_side_MCP_tools_stream.json', 1).usage_detail!.input!;
    expect(i.tool).toBeGreaterThan(i.user);
    expect(i.assistant).toBeGreaterThan(0);
    const cached = callOf('ddtrace__anthropic_completion_cache_read.yaml').usage_detail!.input!;
    expect(cached.system).toBeGreaterThan(cached.user); // the long cached system prompt
  });
});
