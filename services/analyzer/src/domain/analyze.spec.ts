/**
 * analyzeExchange beyond the ground truth: broken JSON (dead letters + best-effort call), non-LLM traffic from the
 * real capture, error events, recognition by body shape and host, and totality. Inputs are corpus bytes, cut or
 * spliced where a case needs it.
 */
import { countTokens } from '@agentsight/tokens';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEAD_LETTER_SAMPLE_BYTES, deriveId, MAX_JSON_DEPTH, type Exchange } from '@agentsight/contracts';
import { CORPUS, claudeCodeExchange, httpFromRecords, makeExchange, recordNs } from '@agentsight/testkit';
import { analyzeExchange, NO_RESPONSE_ERROR } from './analyze';
import { providerFor } from './providers';

const corpus = (f: string) => readFileSync(join(CORPUS, f), 'utf8');
const OPENAI_JSON = corpus('vercel__openai-text.json');
const ANTHROPIC_CHUNKS = corpus('vercel__anthropic-text.chunks.txt').trim().split('\n');
const CHAT_REQ = JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Invent a holiday' }] });
const MSG_REQ = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'Hi' }] });
const anthropicEvents = (lines: string[]) => lines.map((l) => ({ event: (JSON.parse(l) as { type: string }).type, data: l }));

describe(`JSON nested deeper than MAX_JSON_DEPTH → json_depth_limit dead letter`, () => {
  const deep = (n: number) => `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":${'['.repeat(n)}${']'.repeat(n)}}]}`;

  test('a request body: one json_depth_limit dead letter naming the limit, the call still comes from the response', () => {
    const ex = makeExchange({ id: 'ex-deep', host: 'api.anthropic.com', target: '/v1/messages', reqBody: deep(100_000), events: anthropicEvents(ANTHROPIC_CHUNKS) });
    const r = analyzeExchange(ex);
    expect(r.deadLetters.map((d) => [d.reason, d.where, d.error])).toEqual([['json_depth_limit', 'request.body', `request.body: JSON nested deeper than ${MAX_JSON_DEPTH} levels`]]);
    expect(r.call?.response_id).toBeTruthy();
  });

  test(`an SSE data line; ${MAX_JSON_DEPTH} levels are accepted`, () => {
    const evs = anthropicEvents(ANTHROPIC_CHUNKS);
    evs.splice(1, 0, { event: 'ping', data: `{"type":"ping","x":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}` });
    const r = analyzeExchange(makeExchange({ id: 'ex-deep-sse', host: 'api.anthropic.com', target: '/v1/messages', reqBody: deep(MAX_JSON_DEPTH - 4), events: evs }));
    expect(r.deadLetters.map((d) => [d.reason, d.where])).toEqual([['json_depth_limit', 'response.events[1]']]);
    expect(r.call?.output_text).toBeTruthy();
  });
});

describe('broken JSON → json_parse_error dead letter and a best-effort call', () => {
  test('truncated non-streamed response body', () => {
    const cut = OPENAI_JSON.slice(0, Math.floor(OPENAI_JSON.length / 2));
    const ex = makeExchange({ id: 'ex-trunc', host: 'api.openai.com', target: '/v1/chat/completions', reqBody: CHAT_REQ, respBody: cut });
    const r = analyzeExchange(ex);
    expect(r.deadLetters).toHaveLength(1);
    const d = r.deadLetters[0];
    expect(d.reason).toBe('json_parse_error');
    expect(d.where).toBe('response.body');
    expect(d.error).toMatch(/^response\.body: /);
    expect(d.input_id).toBe('ex-trunc');
    expect(d.conn_key).toBe(ex.conn.key);
    expect(Buffer.from(d.sample).toString('utf8')).toBe(cut);
    // Still the call, best effort: request model from the request, response model salvaged from the text.
    expect(r.call).not.toBeNull();
    expect(r.call!.provider).toBe('openai');
    expect(r.call!.request_model).toBe('gpt-4.1-nano');
    expect(r.call!.response_model).toBe('gpt-4.1-nano-2025-04-14');
    expect(r.call!.usage.input_tokens).toBeNull();
    expect(r.call!).toMatchObject({ usage_source: 'reported', usage_tokenizer: null }); // unreadable body: output unknown, not estimated
    expect(r.call!.error_type).toBeNull();
    expect(r.audit).toHaveLength(1);
  });

  test('the sample is capped at 4 KiB', () => {
    const big = `{"model":"gpt-4.1","choices":[{"message":{"content":"${'x'.repeat(10_000)}`;
    const r = analyzeExchange(makeExchange({ host: 'api.openai.com', target: '/v1/chat/completions', reqBody: CHAT_REQ, respBody: big }));
    expect(r.deadLetters[0].sample.length).toBe(DEAD_LETTER_SAMPLE_BYTES);
    expect(r.call!.response_model).toBe('gpt-4.1');
  });

  test('one bad SSE data line is skipped, the rest of the stream still counts', () => {
    const lines = [...ANTHROPIC_CHUNKS];
    const bad = lines.findIndex((l) => l.includes('text_delta'));
    const events = anthropicEvents(lines);
    events[bad] = { event: 'content_block_delta', data: lines[bad].slice(0, 30) };
    const r = analyzeExchange(makeExchange({ host: 'api.anthropic.com', target: '/v1/messages', reqBody: MSG_REQ, events }));
    expect(r.deadLetters).toHaveLength(1);
    expect(r.deadLetters[0].where).toBe(`response.events[${bad}]`);
    expect(Buffer.from(r.deadLetters[0].sample).toString()).toBe(lines[bad].slice(0, 30));
    const c = r.call!;
    expect(c.response_id).toBe('msg_01QC4g3HwBThD4BaNtBckFDJ');
    expect(c.usage.output_tokens).toBe(30);
    expect(c.finish_reasons).toEqual(['end_turn']);
    expect(c.output_text.length).toBeGreaterThan(0);
  });

  test('truncated request body: dead letter, model salvaged, response still read', () => {
    const r = analyzeExchange(
      makeExchange({ host: 'api.openai.com', target: '/v1/chat/completions', reqBody: CHAT_REQ.slice(0, 40), reqIncomplete: 'short', respBody: OPENAI_JSON }),
    );
    expect(r.deadLetters.map((d) => d.where)).toEqual(['request.body']);
    expect(r.call!.request_model).toBe('gpt-4.1-nano');
    expect(r.call!.response_id).toBe('chatcmpl-D8Z5f52zQqikDBEKQMQoYcWMcWPeU');
    expect(r.call!.usage.output_tokens).toBe(363);
  });

  test('request and response both broken: a single draft (one dlq id per exchange and reason) naming both', () => {
    const r = analyzeExchange(
      makeExchange({ host: 'api.openai.com', target: '/v1/chat/completions', reqBody: '{"model":', respBody: OPENAI_JSON.slice(0, 50) }),
    );
    expect(r.deadLetters).toHaveLength(1);
    expect(r.deadLetters[0].where).toBe('request.body');
    expect(r.deadLetters[0].error).toContain('response.body');
    expect(r.call).not.toBeNull();
  });
});

describe('non-LLM traffic of the real capture (agentsight__claude-code-raw.jsonl)', () => {
  const cases: Array<[string, number[], number[]]> = [
    ['GET /v1/mcp_servers', [0], [4, 5]],
    ['POST /api/event_logging/v2/batch', [86, 87], [89, 90]],
    ['POST /api/v2/logs (Datadog intake)', [88], [91]],
  ];
  test.each(cases)('%s → no call, no audit, no dead letter', (_name, reqIdx, respIdx) => {
    const req = httpFromRecords(reqIdx);
    const res = httpFromRecords(respIdx);
    const [method, target] = req.startLine.split(' ');
    const host = req.headers.find(([k]) => k.toLowerCase() === 'host')?.[1] ?? 'api.anthropic.com';
    const ex = makeExchange({ host, method, target, reqHeaders: req.headers, reqBody: req.body, status: Number(res.startLine.split(' ')[1]), respHeaders: res.headers, respBody: res.body });
    expect(req.body.length + res.body.length).toBeGreaterThan(0);
    expect(analyzeExchange(ex)).toEqual({ call: null, audit: [], deadLetters: [] });
  });

  test('the event_logging response decodes to the README value (sanity of the helper)', () => {
    expect(Buffer.from(httpFromRecords([89, 90]).body).toString()).toBe('{"accepted_count":37,"rejected_count":0}');
  });

  test('the LLM call: ids, timing, process fields, short (redacted) request body accepted', () => {
    const ex = claudeCodeExchange();
    expect(ex.request.body_incomplete).toBe('short');
    const r = analyzeExchange(ex);
    const c = r.call!;
    expect(c.id).toBe(deriveId('llm', ex.id));
    expect(c.exchange_id).toBe(ex.id);
    expect(c.start_ns).toBe(recordNs(19));
    expect(c.end_ns).toBe(recordNs(85));
    expect([c.pid, c.tid, c.comm]).toEqual([60228, 60244, 'HTTP Client']);
    expect(c.conn_key).toBe(ex.conn.key);
    expect(c.server_address).toBe('api.anthropic.com');
    expect(c.raw_usage).toMatchObject({ service_tier: 'standard', input_tokens: 10, cache_read_input_tokens: 25241, output_tokens: 222 });
    expect(r.audit[0].summary).toBe('anthropic claude-haiku-4-5-20251001 in=25251 out=222 end_turn');
    // Deterministic: the same exchange gives the same ids.
    expect(analyzeExchange(claudeCodeExchange()).audit[0].id).toBe(r.audit[0].id);
  });
});

describe('errors', () => {
  test('Anthropic `error` SSE event mid-stream sets error_type (overloaded_error)', () => {
    const start = anthropicEvents(ANTHROPIC_CHUNKS.slice(0, 3));
    const events = [
      ...start,
      { event: 'error', data: '{"type":"error","error":{"details":null,"type":"overloaded_error","message":"Overloaded"}}' },
    ];
    const r = analyzeExchange(makeExchange({ host: 'api.anthropic.com', target: '/v1/messages', reqBody: MSG_REQ, events }));
    expect(r.deadLetters).toEqual([]);
    expect(r.call!.error_type).toBe('overloaded_error');
    expect(r.call!.http_status).toBe(200);
    expect(r.call!.response_id).toBe('msg_01QC4g3HwBThD4BaNtBckFDJ');
    expect(r.call!.finish_reasons).toEqual([]);
    expect(r.audit[0].summary).toContain('error=overloaded_error');
  });

  test('HTTP 429 with a non-JSON body: error_type is the status, no dead letter', () => {
    const r = analyzeExchange(
      makeExchange({ host: 'api.openai.com', target: '/v1/chat/completions', reqBody: CHAT_REQ, status: 429, respHeaders: [['Content-Type', 'text/html']], respBody: '<html>Too Many Requests</html>' }),
    );
    expect(r.deadLetters).toEqual([]);
    expect(r.call!.error_type).toBe('429');
    expect(r.call!.http_status).toBe(429);
  });

  test('no response (connection ended first)', () => {
    const ex = makeExchange({ host: 'api.anthropic.com', target: '/v1/messages', reqBody: MSG_REQ, noResponse: true });
    const c = analyzeExchange(ex).call!;
    expect(c.error_type).toBe(NO_RESPONSE_ERROR);
    expect(c.http_status).toBeNull();
    expect(c.end_ns).toBe(ex.request.end_ns);
    expect(c.request_model).toBe('claude-sonnet-4-5');
  });
});

describe('recognition', () => {
  test('OpenAI-compatible server on an unknown path and host, by body shape; provider falls back to openai', () => {
    const r = analyzeExchange(makeExchange({ host: 'llm-gateway.internal:8443', target: '/api/v2/generate', reqBody: CHAT_REQ, respBody: OPENAI_JSON }));
    expect(r.call!.api).toBe('chat.completions');
    expect(r.call!.provider).toBe('openai');
    expect(r.call!.server_address).toBe('llm-gateway.internal');
    expect(r.call!.response_model).toBe('gpt-4.1-nano-2025-04-14');
  });

  test('Qwen via DashScope compatible mode', () => {
    const r = analyzeExchange(makeExchange({ host: 'dashscope-intl.aliyuncs.com', target: '/compatible-mode/v1/chat/completions', reqBody: CHAT_REQ, respBody: OPENAI_JSON }));
    expect(r.call!.provider).toBe('alibaba.dashscope');
  });

  test('a POST with `messages` whose response is not an LLM shape is not a call', () => {
    const r = analyzeExchange(makeExchange({ host: 'slack.example', target: '/api/send', reqBody: '{"messages":[{"text":"hi"}]}', respBody: '{"ok":true}' }));
    expect(r).toEqual({ call: null, audit: [], deadLetters: [] });
  });

  test.each([
    ['GET', '/v1/chat/completions'],
    ['POST', '/v1/threads/thread_abc/messages'],
    ['POST', '/v1/messages/count_tokens'],
    ['POST', '/v1/embeddings'],
  ])('%s %s is not an LLM call', (method, target) => {
    const r = analyzeExchange(makeExchange({ host: 'api.openai.com', method, target, reqBody: '{"model":"x","input":"y"}', respBody: '{"input_tokens":3}' }));
    expect(r.call).toBeNull();
  });

  test('Anthropic Messages on a proxy-form target with a query string', () => {
    const events = anthropicEvents(ANTHROPIC_CHUNKS);
    const r = analyzeExchange(makeExchange({ host: '', target: 'https://api.anthropic.com/v1/messages?beta=true', reqBody: MSG_REQ, events }));
    expect(r.call!.api).toBe('messages');
    expect(r.call!.server_address).toBe('api.anthropic.com');
  });

  test.each([
    ['api.openai.com', 'chat.completions', 'openai'],
    ['myres.openai.azure.com:443', 'chat.completions', 'azure.ai.openai'],
    ['api.deepseek.com', 'chat.completions', 'deepseek'],
    ['api.deepseek.com', 'messages', 'deepseek'],
    ['api.x.ai', 'chat.completions', 'x_ai'],
    ['api.groq.com', 'chat.completions', 'groq'],
    ['api.mistral.ai', 'chat.completions', 'mistral_ai'],
    ['localhost:11434', 'chat.completions', 'openai'],
    ['localhost:8080', 'messages', 'anthropic'],
    ['api.anthropic.com', 'messages', 'anthropic'],
  ] as const)('providerFor(%s, %s) = %s', (host, api, expected) => {
    expect(providerFor(host, api)).toBe(expected);
  });
});

describe('OpenAI stream tool-call grouping', () => {
  test('interleaved fragments of two choices and two tool indexes are grouped by (choice, index)', () => {
    const chunk = (choices: unknown[]) => ({ event: 'message', data: JSON.stringify({ id: 'chatcmpl-x', object: 'chat.completion.chunk', model: 'gpt-4o', choices }) });
    const tc = (index: number, fn: Record<string, string>, id?: string) => ({ index, ...(id ? { id, type: 'function' } : {}), function: fn });
    const events = [
      chunk([{ index: 0, delta: { tool_calls: [tc(0, { name: 'a', arguments: '' }, 'call_a'), tc(1, { name: 'b', arguments: '{"y"' }, 'call_b')] } }]),
      chunk([{ index: 1, delta: { tool_calls: [tc(0, { name: 'c', arguments: '{"z":' }, 'call_c')] } }]),
      chunk([{ index: 0, delta: { tool_calls: [tc(1, { arguments: ':2}' }), tc(0, { arguments: '{"x":1}' })] } }]),
      chunk([{ index: 1, delta: { tool_calls: [tc(0, { arguments: '3}' })] } }, { index: 0, delta: {}, finish_reason: 'tool_calls' }]),
      chunk([{ index: 1, delta: {}, finish_reason: 'tool_calls' }]),
      { event: 'message', data: '[DONE]' },
    ];
    const c = analyzeExchange(makeExchange({ host: 'api.openai.com', target: '/v1/chat/completions', reqBody: CHAT_REQ, events })).call!;
    expect(c.tool_calls).toEqual([
      { id: 'call_a', name: 'a', arguments: '{"x":1}' },
      { id: 'call_b', name: 'b', arguments: '{"y":2}' },
      { id: 'call_c', name: 'c', arguments: '{"z":3}' },
    ]);
    expect(c.finish_reasons).toEqual(['tool_calls', 'tool_calls']);
    expect(c.raw_usage).toBeNull();
    // No usage chunk: estimated (gpt-4o → o200k_base); the output is the tool calls' names and arguments.
    expect(c).toMatchObject({ usage_source: 'estimated', usage_tokenizer: 'o200k_base' });
    expect(c.usage.output_tokens).toBe(c.tool_calls.reduce((n, t) => n + countTokens('gpt-4o', t.name).tokens + countTokens('gpt-4o', t.arguments).tokens, 0));
    expect(c.usage.input_tokens).toBeGreaterThan(0);
  });
});

describe('totality', () => {
  test('never throws, even on a malformed exchange', () => {
    const broken = { id: 'x', request: { method: 'POST', target: '/v1/messages', body: null }, response: { events: null } } as unknown as Exchange;
    expect(() => analyzeExchange(broken)).not.toThrow();
    const r = analyzeExchange(broken);
    expect(r.call).toBeNull();
    expect(r.deadLetters[0].reason).toBe('analyzer_error');
  });
});
