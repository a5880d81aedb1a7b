/**
 * toGenAiEvent: semconv v1.41 attribute names and values, null omission, naming and ids. The corpus-wide check
 * (analyzer + genai over every Chat Completions / Messages fixture) is services/analyzer/src/domain/analyze.corpus.spec.ts.
 */
import { connKey, deriveId, GenAiAttr, type LlmCall } from '@agentsight/contracts';
import { genAiAttributes, toGenAiEvent } from './genai';

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
  const ev = toGenAiEvent(c);
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

test('name falls back to the response model, then to the operation alone', () => {
  expect(toGenAiEvent(call({ request_model: null })).name).toBe('chat claude-haiku-4-5-20251001');
  expect(toGenAiEvent(call({ request_model: null, response_model: null })).name).toBe('chat');
});

test('process name prefers the process comm over the thread comm', () => {
  const process = { pid: 60228, ppid: 1, uid: 1000, comm: 'claude', exe: '/usr/bin/node', argv: ['claude'], start_ns: 1n };
  expect(toGenAiEvent(call({ process })).process_name).toBe('claude');
});

test('ids are deterministic and differ per call', () => {
  expect(toGenAiEvent(call()).id).toBe(toGenAiEvent(call()).id);
  expect(toGenAiEvent(call({ id: deriveId('llm', 'ex-2') })).id).not.toBe(toGenAiEvent(call()).id);
});
