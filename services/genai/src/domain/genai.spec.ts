/**
 * toInferenceEvent: semconv v1.41 attribute names and values, null omission, naming and ids. The corpus-wide check
 * (analyzer + genai over every Chat Completions / Messages fixture) is test/stages/analyze-genai.corpus.spec.ts.
 */
import { connKey, deriveId, GenAiAttr, type LlmCall } from '@agentsight/contracts';
import { builtinPriceTable, mergePriceTables } from '@agentsight/pricing';
import { callCost, genAiAttributes, toInferenceEvent } from './genai';

/** The built-in price table only (independent of AGENTSIGHT_PRICES in the environment). */
const prices = builtinPriceTable();

/** An Anthropic call with the numbers of the real capture (corpus row 1), as the analyzer emits it. */
function call(over: Partial<LlmCall> = {}): LlmCall {
  return {
    v: 1,
    id: deriveId('llm', 'ex-1'),
    exchange_id: 'ex-1',
    provider: 'anthropic',
    api: 'messages',
    operation: 'chat',
    streaming: true,
    request_model: 'claude-haiku-4-5-20251001',
    response_model: 'claude-haiku-4-5-20251001',
    response_id: 'msg_014DDKVf4AE8b2x3UG7g6zer',
    usage: { input_tokens: 25251, output_tokens: 222, cache_read_input_tokens: 25241, cache_creation_input_tokens: 0, reasoning_output_tokens: null },
    usage_source: 'reported',
    usage_tokenizer: null,
    raw_usage: { input_tokens: 10, cache_read_input_tokens: 25241, cache_creation_input_tokens: 0, output_tokens: 222 },
    finish_reasons: ['end_turn'],
    tool_calls: [{ id: 'toolu_1', name: 'Bash', arguments: '{"command":"ls"}' }],
    output_text: '1. **Bubble Sort**',
    error_type: null,
    server_address: 'api.anthropic.com',
    http_status: 200,
    start_ns: 1_773_710_000_000_000_000n,
    end_ns: 1_773_710_001_500_000_000n,
    pid: 60228,
    tid: 60244,
    comm: 'HTTP Client',
    process: null,
    conn_key: connKey({ host: 'dev-box', boot_id: 'b', run: 1, pid: 60228, ssl: 0xabc }),
    host: 'dev-box',
    ...over,
  };
}

test('full event for a successful call', () => {
  const c = call();
  const ev = toInferenceEvent(c, { prices });
  expect(ev).toEqual({
    v: 1,
    id: deriveId('genai', c.id),
    llm_call_id: c.id,
    exchange_id: 'ex-1',
    name: 'chat claude-haiku-4-5-20251001',
    host: 'dev-box',
    start_ns: c.start_ns,
    end_ns: c.end_ns,
    pid: 60228,
    process_name: 'HTTP Client',
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-haiku-4-5-20251001',
      'gen_ai.response.model': 'claude-haiku-4-5-20251001',
      'gen_ai.response.id': 'msg_014DDKVf4AE8b2x3UG7g6zer',
      'gen_ai.response.finish_reasons': ['end_turn'],
      'gen_ai.usage.input_tokens': 25251,
      'gen_ai.usage.output_tokens': 222,
      'gen_ai.usage.cache_read.input_tokens': 25241,
      'gen_ai.usage.cache_creation.input_tokens': 0,
      'server.address': 'api.anthropic.com',
      'http.response.status_code': 200,
    },
    tool_calls: [{ id: 'toolu_1', name: 'Bash', arguments: '{"command":"ls"}' }],
    raw_usage: { input_tokens: 10, cache_read_input_tokens: 25241, cache_creation_input_tokens: 0, output_tokens: 222 },
    output_text: '1. **Bubble Sort**',
    // claude-haiku-4-5: input $1, cache read $0.10, output $5 per 1M tokens:
    // 10 × 1 / 1e6 + 25 241 × 0.1 / 1e6 + 222 × 5 / 1e6 = 0.00001 + 0.0025241 + 0.00111 = 0.0036441
    cost_usd: 0.0036441,
    cost: {
      breakdown: { input: 0.00001, cache_read: 0.0025241, cache_write: 0, output: 0.00111, reasoning: 0 },
      price_id: 'anthropic/claude-haiku-4.5@2026-10-10',
    },
  });
  // Null reasoning tokens are omitted, zero cache writes are kept.
  expect(GenAiAttr.usageReasoningOutputTokens in ev.attributes).toBe(false);
});

test('error call: error.type set, empty finish reasons and unknown numbers omitted', () => {
  const a = genAiAttributes(
    call({
      response_model: null,
      response_id: null,
      usage: { input_tokens: null, output_tokens: null, cache_read_input_tokens: null, cache_creation_input_tokens: null, reasoning_output_tokens: null },
      raw_usage: null,
      finish_reasons: [],
      error_type: 'invalid_request_error',
      http_status: 400,
    }),
  );
  expect(a).toEqual({
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'anthropic',
    'gen_ai.request.model': 'claude-haiku-4-5-20251001',
    'server.address': 'api.anthropic.com',
    'http.response.status_code': 400,
    'error.type': 'invalid_request_error',
  });
});

test('OpenAI reasoning tokens map to gen_ai.usage.reasoning.output_tokens', () => {
  const a = genAiAttributes(
    call({
      provider: 'azure.ai.openai',
      usage: { input_tokens: 15, output_tokens: 78, cache_read_input_tokens: 0, cache_creation_input_tokens: null, reasoning_output_tokens: 64 },
    }),
  );
  expect(a[GenAiAttr.usageReasoningOutputTokens]).toBe(64);
  expect(a[GenAiAttr.usageCacheReadInputTokens]).toBe(0);
  expect(GenAiAttr.usageCacheCreationInputTokens in a).toBe(false);
  expect(a[GenAiAttr.providerName]).toBe('azure.ai.openai');
});

test('a streamed call carries gen_ai.response.time_to_first_chunk in seconds from its first request byte', () => {
  const c = call();
  expect(genAiAttributes({ ...c, first_chunk_ns: c.start_ns + 412_500_000n })[GenAiAttr.responseTimeToFirstChunk]).toBe(0.4125);
  expect(GenAiAttr.responseTimeToFirstChunk in genAiAttributes(c)).toBe(false); // not streamed: absent, not 0
});

test('name falls back to the response model, then to the operation alone', () => {
  expect(toInferenceEvent(call({ request_model: null })).name).toBe('chat claude-haiku-4-5-20251001');
  expect(toInferenceEvent(call({ request_model: null, response_model: null })).name).toBe('chat');
});

test('process name prefers the process comm over the thread comm', () => {
  const process = { pid: 60228, ppid: 1, uid: 1000, comm: 'claude', exe: '/usr/bin/node', argv: ['claude'], start_ns: 1n };
  expect(toInferenceEvent(call({ process })).process_name).toBe('claude');
});

test('ids are deterministic and differ per call', () => {
  expect(toInferenceEvent(call()).id).toBe(toInferenceEvent(call()).id);
  expect(toInferenceEvent(call({ id: deriveId('llm', 'ex-2') })).id).not.toBe(toInferenceEvent(call()).id);
});

describe('cost', () => {
  test('Anthropic call with a cache read and a 1-hour cache write', () => {
    // claude-sonnet-4-5: input $3, 5m write $3.75, 1h write $6, cache read $0.30, output $15 per 1M tokens.
    // raw: input 1 000, cache read 20 000, writes 10 000 (2 000 5m + 8 000 1h), output 500 → semconv input 31 000.
    // 0.003 + 0.006 + (0.0075 + 0.048) + 0.0075 = 0.072
    const ev = toInferenceEvent(
      call({
        request_model: 'claude-sonnet-4-5',
        response_model: 'claude-sonnet-4-5-20250929',
        usage: { input_tokens: 31_000, output_tokens: 500, cache_read_input_tokens: 20_000, cache_creation_input_tokens: 10_000, reasoning_output_tokens: null },
        raw_usage: {
          input_tokens: 1_000, cache_read_input_tokens: 20_000, cache_creation_input_tokens: 10_000, output_tokens: 500,
          cache_creation: { ephemeral_5m_input_tokens: 2_000, ephemeral_1h_input_tokens: 8_000 },
        },
      }),
      { prices },
    );
    expect(ev.cost_usd).toBe(0.072);
    expect(ev.cost).toEqual({ breakdown: { input: 0.003, cache_read: 0.006, cache_write: 0.0555, output: 0.0075, reasoning: 0 }, price_id: 'anthropic/claude-sonnet-4-4.5@2026-10-10' });
  });

  test('OpenAI call with cached tokens and reasoning tokens', () => {
    // o4-mini: input $1.10, cached $0.275, output $4.40 per 1M. 2 000 input (1 000 cached), 1 000 output (600 reasoning):
    // 1 000 × 1.1 + 1 000 × 0.275 + 400 × 4.4 + 600 × 4.4 = (1 100 + 275 + 1 760 + 2 640) / 1e6 = 0.005775
    const c = call({
      provider: 'openai', api: 'chat.completions', request_model: 'o4-mini', response_model: 'o4-mini-2025-04-16',
      usage: { input_tokens: 2_000, output_tokens: 1_000, cache_read_input_tokens: 1_000, cache_creation_input_tokens: null, reasoning_output_tokens: 600 },
      raw_usage: { prompt_tokens: 2_000, completion_tokens: 1_000 },
    });
    expect(callCost(c, prices)).toEqual({
      cost_usd: 0.005775,
      cost: { breakdown: { input: 0.0011, cache_read: 0.000275, cache_write: 0, output: 0.00176, reasoning: 0.00264 }, price_id: 'openai/o4-mini@2026-06-30' },
    });
  });

  test('unpriced calls carry null, never 0: unknown model, failed call without usage', () => {
    const unknown = toInferenceEvent(call({ request_model: 'claude-nonexistent', response_model: 'claude-nonexistent-1' }), { prices });
    expect(unknown.cost_usd).toBeNull();
    expect(unknown.cost).toBeNull();
    const failed = toInferenceEvent(
      call({
        response_model: null, http_status: 529, error_type: 'overloaded_error', raw_usage: null,
        usage: { input_tokens: null, output_tokens: null, cache_read_input_tokens: null, cache_creation_input_tokens: null, reasoning_output_tokens: null },
      }),
      { prices },
    );
    expect(failed).toMatchObject({ cost_usd: null, cost: null });
  });

  test('falls back to the request model; a user price table is used when given', () => {
    const c = call({ response_model: 'some-gateway-alias' }); // request model claude-haiku-4-5-20251001
    expect(callCost(c, prices).cost?.price_id).toBe('anthropic/claude-haiku-4.5@2026-10-10');
    const mine = mergePriceTables(prices, {
      as_of: '2026-12-01',
      models: [{ id: 'anthropic/claude-haiku-4.5', provider: 'anthropic', match: ['claude-haiku-4-5*'], prices: { input: 2, cache_read: 0.2, output: 10 }, as_of: '2026-12-01' }],
    });
    // Twice the built-in prices → twice the cost: 2 × 0.0036441.
    expect(toInferenceEvent(c, { prices: mine })).toMatchObject({ cost_usd: 0.0072882, cost: { price_id: 'anthropic/claude-haiku-4.5@2026-12-01' } });
  });
});
