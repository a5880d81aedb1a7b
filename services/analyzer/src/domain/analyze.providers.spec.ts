/**
 * analyzeExchange for OpenAI Responses, Gemini, Bedrock, Ollama and DashScope beyond the ground truth: event-stream
 * CRC/framing errors, exceptions and errors mid-stream (rule F), cut streams, Vertex AI, Gemini's JSON-array stream,
 * InvokeModel, Ollama NDJSON and DashScope native. Inputs are corpus bytes (re-framed, cut or corrupted where a case
 * needs it); the Ollama, DashScope and Converse (non-streamed) bodies, absent from the corpus, follow the shapes of
 * their public API references.
 */
import { countTokens, tokenizerFor } from '@agentsight/tokens';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { encodeEventStreamFrame, groundTruthFor, CORPUS, ddtraceExchange, fixtureExchange, makeExchange, sseEvents } from '@agentsight/testkit';
import { analyzeExchange } from './analyze';
import { crc32, decodeEventStream } from './eventstream';
import { apiFromPath, modelFromPath, providerFor } from './providers';

const corpus = (f: string) => readFileSync(join(CORPUS, f), 'utf8');
const lines = (f: string) => corpus(f).trim().split('\n');

/** An AWS event-stream frame with string headers, CRCs by Node's zlib (independent of the analyzer's table CRC). */
const frame = encodeEventStreamFrame;

const BEDROCK_GT = groundTruthFor('ddtrace__bedrock_converse_stream_prompt_caching.yaml', 0);
const bedrockEx = () => ddtraceExchange(BEDROCK_GT);
const BEDROCK_HOST = 'bedrock-runtime.us-east-1.amazonaws.com';

describe('AWS event-stream (Bedrock ConverseStream, real cassette bytes)', () => {
  test('the table CRC32 equals zlib.crc32 on every frame of the cassette, and all 103 frames decode', () => {
    const body = bedrockEx().response!.body;
    const { messages, problems } = decodeEventStream(body);
    expect(problems).toEqual([]);
    expect(messages).toHaveLength(103);
    expect(messages.map((m) => m.headers[':event-type'])).toEqual(expect.arrayContaining(['messageStart', 'contentBlockDelta', 'messageStop', 'metadata']));
    for (const m of messages.slice(0, 5)) {
      const len = new DataView(body.buffer, body.byteOffset + m.offset).getUint32(0);
      const whole = body.subarray(m.offset, m.offset + len - 4);
      expect(crc32(whole)).toBe(zlib.crc32(whole));
    }
  });

  test('a flipped payload byte → eventstream_error dead letter naming the frame; the rest still counts', () => {
    const ex = bedrockEx();
    const body = Buffer.from(ex.response!.body);
    const { messages } = decodeEventStream(body);
    const i = 7;
    const at = messages[i].offset + 12 + 60; // inside frame 7's headers/payload, after the prelude
    body[at] ^= 0x01;
    ex.response!.body = new Uint8Array(body);
    const r = analyzeExchange(ex);
    const eventstream = r.deadLetters.filter((d) => d.reason === 'eventstream_error');
    expect(eventstream).toHaveLength(1);
    expect(eventstream[0].where).toBe(`response.frames[${i}]@${messages[i].offset}`);
    expect(eventstream[0].error).toContain('message CRC32 mismatch');
    expect(r.call!.usage.output_tokens).toBe(236);
    expect(r.call!.finish_reasons).toEqual(['end_turn']);
  });

  test('a corrupted prelude length stops decoding there (best effort: text before it kept)', () => {
    const ex = bedrockEx();
    const body = Buffer.from(ex.response!.body);
    const { messages } = decodeEventStream(body);
    body.writeUInt32BE(5, messages[3].offset); // total length 5: impossible
    ex.response!.body = new Uint8Array(body);
    const r = analyzeExchange(ex);
    expect(r.deadLetters.map((d) => d.reason)).toEqual(['eventstream_error']);
    expect(r.deadLetters[0].error).toMatch(/prelude CRC32 mismatch.*\(\+1 more/);
    // The metadata frame with the usage was lost: counts estimated (Claude: o200k_base as a proxy).
    expect(r.call!).toMatchObject({ usage_source: 'estimated', usage_tokenizer: 'estimate:o200k_base', raw_usage: null });
    expect(r.call!.usage.input_tokens).toBeGreaterThan(0);
    expect(r.call!.output_text.length).toBeGreaterThan(0);
    expect(BEDROCK_GT.text_prefix!.startsWith(r.call!.output_text)).toBe(true);
  });

  test('a truncated body (connection cut mid-frame) → eventstream_error, usage estimated', () => {
    const ex = bedrockEx();
    ex.response!.body = ex.response!.body.subarray(0, ex.response!.body.length - 30);
    const r = analyzeExchange(ex);
    expect(r.deadLetters[0].reason).toBe('eventstream_error');
    expect(r.deadLetters[0].error).toContain('truncated message');
    expect(r.call!.finish_reasons).toEqual(['end_turn']);
    // No usage reached us (the metadata frame was cut): the output is counted from the text, never the provider's.
    expect(r.call!).toMatchObject({ usage_source: 'estimated', usage_tokenizer: 'estimate:o200k_base', raw_usage: null });
    expect(r.call!.usage.output_tokens).toBe(countTokens(r.call!.request_model!, r.call!.output_text).tokens);
    expect(r.call!.usage.output_tokens).toBeGreaterThan(0);
  });

  test('an exception message mid-stream sets error_type from :exception-type', () => {
    const ex = bedrockEx();
    const { messages } = decodeEventStream(ex.response!.body);
    const cut = ex.response!.body.subarray(0, messages[20].offset);
    const exc = frame({ ':exception-type': 'throttlingException', ':content-type': 'application/json', ':message-type': 'exception' }, '{"message":"Too many requests"}');
    ex.response!.body = new Uint8Array(Buffer.concat([cut, exc]));
    const r = analyzeExchange(ex);
    expect(r.deadLetters).toEqual([]);
    expect(r.call!.error_type).toBe('throttlingException');
    expect(r.call!.http_status).toBe(200);
    expect(r.audit[0].summary).toContain('error=throttlingException');
  });

  test('HTTP 400 with x-amzn-ErrorType → error_type ValidationException', () => {
    const ex = makeExchange({
      host: BEDROCK_HOST,
      target: '/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream',
      reqBody: '{"messages":[]}',
      status: 400,
      respHeaders: [['Content-Type', 'application/json'], ['x-amzn-ErrorType', 'ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/']],
      respBody: '{"message":"A conversation must start with a user message."}',
    });
    const c = analyzeExchange(ex).call!;
    expect(c.error_type).toBe('ValidationException');
    expect(c.provider).toBe('aws.bedrock');
    expect(c.request_model).toBe('us.anthropic.claude-3-7-sonnet-20250219-v1:0');
  });

  test('InvokeModelWithResponseStream: the real Anthropic stream wrapped as base64 `chunk` events', () => {
    const gt = groundTruthFor('vercel__anthropic-text.chunks.txt');
    const chunks = lines('vercel__anthropic-text.chunks.txt');
    const frames = chunks.map((l) => frame({ ':event-type': 'chunk', ':content-type': 'application/json', ':message-type': 'event' }, JSON.stringify({ bytes: Buffer.from(l).toString('base64') })));
    const ex = makeExchange({
      host: BEDROCK_HOST,
      target: '/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream',
      reqBody: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] }),
      respHeaders: [['Content-Type', 'application/vnd.amazon.eventstream']],
      respBody: new Uint8Array(Buffer.concat(frames)),
    });
    const r = analyzeExchange(ex);
    const c = r.call!;
    expect(r.deadLetters).toEqual([]);
    expect([c.provider, c.api, c.streaming, c.request_model]).toEqual(['aws.bedrock', 'invoke_model', true, 'anthropic.claude-sonnet-4-5-20250929-v1:0']);
    expect(c.response_id).toBe(gt.response_id);
    expect(c.usage.output_tokens).toBe(gt.output_tokens);
    expect(c.usage.input_tokens).toBe(gt.input_tokens);
    expect(c.finish_reasons).toEqual([gt.finish_reason]);
    expect(c.output_text.startsWith(gt.text_prefix!)).toBe(true);
  });

  test('InvokeModel (not streamed, Llama body): usage from the x-amzn-bedrock-*-token-count headers', () => {
    const c = analyzeExchange(
      makeExchange({
        host: BEDROCK_HOST,
        target: '/model/meta.llama3-8b-instruct-v1:0/invoke',
        reqBody: '{"prompt":"Hi","max_gen_len":50}',
        respHeaders: [['Content-Type', 'application/json'], ['X-Amzn-Bedrock-Input-Token-Count', '12'], ['X-Amzn-Bedrock-Output-Token-Count', '7']],
        respBody: '{"generation":"Hello there!","stop_reason":"stop"}',
      }),
    ).call!;
    expect(c.usage).toMatchObject({ input_tokens: 12, output_tokens: 7 });
    expect(c.output_text).toBe('Hello there!');
    expect(c.finish_reasons).toEqual(['stop']);
    expect(c.streaming).toBe(false);
  });

  test('Converse (not streamed): text, toolUse (object input → JSON text), stopReason, Anthropic-style input', () => {
    const body = {
      output: { message: { role: 'assistant', content: [{ text: 'Let me check.' }, { toolUse: { toolUseId: 'tooluse_1', name: 'get_weather', input: { city: 'Paris' } } }] } },
      stopReason: 'tool_use',
      usage: { inputTokens: 20, outputTokens: 15, totalTokens: 135, cacheReadInputTokens: 100 },
    };
    const c = analyzeExchange(makeExchange({ host: BEDROCK_HOST, target: '/model/amazon.nova-pro-v1:0/converse', reqBody: '{"messages":[]}', respBody: JSON.stringify(body) })).call!;
    expect(c.api).toBe('converse');
    expect(c.tool_calls).toEqual([{ id: 'tooluse_1', name: 'get_weather', arguments: '{"city":"Paris"}' }]);
    expect(c.usage).toEqual({ input_tokens: 120, output_tokens: 15, cache_read_input_tokens: 100, cache_creation_input_tokens: null, reasoning_output_tokens: null });
    expect(c.finish_reasons).toEqual(['tool_use']);
    expect(c.output_text).toBe('Let me check.');
  });
});

describe('OpenAI Responses beyond the ground truth', () => {
  const gt = groundTruthFor('ddtrace__response_function_call_streamed.yaml');
  const base = () => ddtraceExchange(gt);

  test('a stream cut before output_item.done/response.completed: tool call assembled from the argument deltas', () => {
    const ex = base();
    const evs = ex.response!.events;
    const done = evs.findIndex((e) => e.event === 'response.output_item.done');
    ex.response!.events = evs.slice(0, done);
    const c = analyzeExchange(ex).call!;
    expect(c.tool_calls).toHaveLength(1);
    expect(c.tool_calls[0].name).toBe(gt.tool_calls[0].name);
    expect(JSON.parse(c.tool_calls[0].arguments)).toEqual(JSON.parse(gt.tool_calls[0].arguments));
    expect(c.finish_reasons).toEqual([]); // no terminal event: still in progress
    // No response.completed, hence no usage: estimated with the model's tokenizer, the tool call's name and arguments as output.
    expect(c).toMatchObject({ usage_source: 'estimated', raw_usage: null });
    const model = c.response_model ?? c.request_model ?? '';
    expect(c.usage_tokenizer).toBe(tokenizerFor(model).name);
    const n = (s: string) => countTokens(model, s).tokens;
    expect(c.usage.output_tokens).toBe(n(c.output_text) + n(c.tool_calls[0].name) + n(c.tool_calls[0].arguments));
    expect(c.usage.output_tokens).toBeGreaterThan(0);
    expect(c.response_id).toBe(gt.response_id);
  });

  test('response.failed → finish failed:<code>, error_type <code>', () => {
    const ex = base();
    const evs = ex.response!.events;
    const last = evs[evs.length - 1];
    const resp = (JSON.parse(last.data) as { response: Record<string, unknown> }).response;
    const failed = { type: 'response.failed', response: { ...resp, status: 'failed', error: { code: 'server_error', message: 'boom' } } };
    ex.response!.events = [...evs.slice(0, -1), { event: 'response.failed', data: JSON.stringify(failed) }];
    const c = analyzeExchange(ex).call!;
    expect(c.finish_reasons).toEqual(['failed:server_error']);
    expect(c.error_type).toBe('server_error');
  });

  test('an `error` event mid-stream sets error_type', () => {
    const ex = base();
    ex.response!.events = [...ex.response!.events.slice(0, 3), { event: 'error', data: '{"type":"error","code":"rate_limit_exceeded","message":"slow down","param":null}' }];
    expect(analyzeExchange(ex).call!.error_type).toBe('rate_limit_exceeded');
  });

  test('HTTP 429 OpenAI error body → error_type from error.type', () => {
    const c = analyzeExchange(
      makeExchange({ host: 'api.openai.com', target: '/v1/responses', reqBody: '{"model":"gpt-4.1","input":"hi"}', status: 429, respBody: '{"error":{"message":"Rate limit","type":"rate_limit_error","code":"rate_limit_exceeded"}}' }),
    ).call!;
    expect([c.api, c.error_type, c.finish_reasons]).toEqual(['responses', 'rate_limit_error', []]);
  });

  test('recognised by shape on an unknown path (a gateway): object "response"', () => {
    const body = corpus('vercel__openai-reasoning-encrypted-content.1.json');
    const c = analyzeExchange(makeExchange({ host: 'gw.internal', target: '/proxy/llm', reqBody: '{"model":"gpt-5-mini","input":"hi"}', respBody: body })).call!;
    expect(c.api).toBe('responses');
    expect(c.usage.reasoning_output_tokens).toBe(128);
  });

  test.each([
    ['/v1/responses', 'responses'],
    ['/openai/responses', 'responses'],
    ['/openai/v1/responses', 'responses'],
    ['/v1/responses/resp_123/cancel', null],
    ['/v1/responses/input_tokens', null],
  ])('apiFromPath(%s) = %s', (path, api) => {
    expect(apiFromPath(path)).toBe(api);
  });
});

describe('Gemini beyond the ground truth', () => {
  const gt = groundTruthFor('vercel__google-stream-tool-call-arguments.chunks.txt');

  test('Vertex AI host and path → gcp.vertex_ai, model from the publishers path', () => {
    const ex = fixtureExchange(gt);
    ex.server_address = 'us-central1-aiplatform.googleapis.com';
    ex.request.target = '/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-3.1-pro-preview:streamGenerateContent?alt=sse';
    const c = analyzeExchange(ex).call!;
    expect([c.provider, c.api, c.operation, c.request_model]).toEqual(['gcp.vertex_ai', 'generate_content', 'generate_content', 'gemini-3.1-pro-preview']);
    expect(c.tool_calls.map((t) => t.arguments)).toEqual(['{"location":"Boston"}', '{"location":"San Francisco"}']);
  });

  test('streamGenerateContent without alt=sse: one JSON array of chunks gives the same call', () => {
    const sse = analyzeExchange(fixtureExchange(gt)).call!;
    const body = `[${lines(gt.file).join(',\n')}]`;
    const c = analyzeExchange(
      makeExchange({ host: 'generativelanguage.googleapis.com', target: '/v1beta/models/gemini-3.1-pro-preview:streamGenerateContent', reqBody: '{"contents":[]}', respBody: body }),
    ).call!;
    expect(c.streaming).toBe(true);
    for (const k of ['response_id', 'response_model', 'usage', 'finish_reasons', 'tool_calls', 'output_text'] as const) expect(c[k]).toEqual(sse[k]);
  });

  test('partialArgs: nested paths, numbers, booleans, string continuation', () => {
    const fc = (functionCall: unknown, finishReason?: string) =>
      ({ event: 'message', data: JSON.stringify({ candidates: [{ content: { role: 'model', parts: [{ functionCall }] }, ...(finishReason ? { finishReason } : {}) }], responseId: 'r1', modelVersion: 'gemini-3.1-pro-preview' }) });
    const events = [
      fc({ name: 'book', willContinue: true }),
      fc({ partialArgs: [{ jsonPath: '$.trip.city', stringValue: 'San ', willContinue: true }], willContinue: true }),
      fc({ partialArgs: [{ jsonPath: '$.trip.city', stringValue: 'Francisco' }, { jsonPath: '$.trip.nights', numberValue: 3 }, { jsonPath: '$.rooms[0].smoking', boolValue: false }], willContinue: true }),
      fc({}, 'STOP'),
    ];
    const c = analyzeExchange(makeExchange({ host: 'generativelanguage.googleapis.com', target: '/v1beta/models/x:streamGenerateContent?alt=sse', reqBody: '{"contents":[]}', events })).call!;
    expect(c.tool_calls).toHaveLength(1);
    expect(JSON.parse(c.tool_calls[0].arguments)).toEqual({ trip: { city: 'San Francisco', nights: 3 }, rooms: [{ smoking: false }] });
  });

  test('an error chunk mid-stream sets error_type = error.status', () => {
    const ex = fixtureExchange(groundTruthFor('vercel__google-text.chunks.txt'));
    ex.response!.events = [ex.response!.events[0], { event: 'message', data: '{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}' }];
    const c = analyzeExchange(ex).call!;
    expect(c.error_type).toBe('UNAVAILABLE');
    expect(c.response_id).toBe('bH6LaZW8Fp_3nsEPqtaSwQ4');
  });

  test('modelFromPath', () => {
    expect(modelFromPath('/v1beta/models/gemini-2.5-pro:generateContent')).toBe('gemini-2.5-pro');
    expect(modelFromPath('/v1beta/tunedModels/my-model:generateContent')).toBe('my-model');
    expect(modelFromPath('/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.x/converse')).toBe('arn:aws:bedrock:us-east-1:1:inference-profile/us.x');
    expect(modelFromPath('/v1/chat/completions')).toBeNull();
  });
});

describe('Ollama native API (/api/chat, /api/generate)', () => {
  const chatReq = JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'Why is the sky blue?' }] });
  const ndjson = [
    { model: 'llama3.2', created_at: '2023-08-04T08:52:19.385406455-07:00', message: { role: 'assistant', content: 'The', thinking: 'hmm' }, done: false },
    { model: 'llama3.2', created_at: '2023-08-04T08:52:19.4Z', message: { role: 'assistant', content: ' sky' }, done: false },
    { model: 'llama3.2', created_at: '2023-08-04T08:52:19.5Z', message: { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }] }, done: false },
    { model: 'llama3.2', created_at: '2023-08-04T19:22:45.499127Z', message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', total_duration: 4883583458, load_duration: 1334875, prompt_eval_count: 26, prompt_eval_duration: 342546000, eval_count: 282, eval_duration: 4535599000 },
  ]
    .map((o) => JSON.stringify(o))
    .join('\n');

  test('streamed chat (NDJSON body, not split by the parser)', () => {
    const r = analyzeExchange(makeExchange({ host: 'localhost:11434', target: '/api/chat', reqBody: chatReq, respHeaders: [['Content-Type', 'application/x-ndjson']], respBody: `${ndjson}\n` }));
    const c = r.call!;
    expect(r.deadLetters).toEqual([]);
    expect([c.provider, c.api, c.operation, c.streaming, c.request_model, c.response_model]).toEqual(['ollama', 'ollama.chat', 'chat', true, 'llama3.2', 'llama3.2']);
    expect(c.usage).toMatchObject({ input_tokens: 26, output_tokens: 282 });
    expect(c.raw_usage).toMatchObject({ prompt_eval_count: 26, eval_count: 282, total_duration: 4883583458 });
    expect(c.finish_reasons).toEqual(['stop']);
    expect(c.output_text).toBe('The sky');
    expect(c.tool_calls).toEqual([{ id: null, name: 'get_weather', arguments: '{"city":"Paris"}' }]);
  });

  test('a broken NDJSON line → json_parse_error naming the line, the rest still counts', () => {
    const broken = ndjson.split('\n');
    broken[1] = broken[1].slice(0, 20);
    const r = analyzeExchange(makeExchange({ host: 'localhost:11434', target: '/api/chat', reqBody: chatReq, respHeaders: [['Content-Type', 'application/x-ndjson']], respBody: broken.join('\n') }));
    expect(r.deadLetters.map((d) => [d.reason, d.where])).toEqual([['json_parse_error', 'response.lines[1]']]);
    expect(r.call!.usage.output_tokens).toBe(282);
  });

  test('generate, not streamed → text_completion', () => {
    const body = { model: 'llama3.2', created_at: '2023-08-04T19:22:45Z', response: 'The sky is blue because…', thinking: 'Rayleigh', done: true, done_reason: 'stop', prompt_eval_count: 10, eval_count: 20 };
    const c = analyzeExchange(makeExchange({ host: 'localhost:11434', target: '/api/generate', reqBody: '{"model":"llama3.2","prompt":"Why?","stream":false}', respBody: JSON.stringify(body) })).call!;
    expect([c.api, c.operation, c.streaming, c.output_text]).toEqual(['ollama.generate', 'text_completion', false, 'The sky is blue because…']);
  });

  test('HTTP 404 {error} → error_type 404; an unrelated /api/chat is not a call', () => {
    const c = analyzeExchange(makeExchange({ host: 'localhost:11434', target: '/api/chat', reqBody: chatReq, status: 404, respBody: '{"error":"model \\"llama3.2\\" not found, try pulling it first"}' })).call!;
    expect([c.error_type, c.provider]).toEqual(['404', 'ollama']);
    const other = analyzeExchange(makeExchange({ host: 'chat.example', target: '/api/chat', reqBody: '{"model":"x","messages":[]}', respBody: '{"ok":true,"messages":[]}' }));
    expect(other.call).toBeNull();
    expect(analyzeExchange(makeExchange({ host: 'chat.example', target: '/api/chat', reqBody: '{"text":"hi"}', respBody: '{"done":true}' })).call).toBeNull();
  });
});

describe('DashScope native text generation', () => {
  const host = 'dashscope-intl.aliyuncs.com';
  const target = '/api/v1/services/aigc/text-generation/generation';

  test('not streamed, message format', () => {
    const body = {
      output: { choices: [{ finish_reason: 'stop', message: { role: 'assistant', content: 'I am Qwen.' } }] },
      usage: { input_tokens: 22, output_tokens: 5, total_tokens: 27, prompt_tokens_details: { cached_tokens: 16 } },
      request_id: '2a6e9d6f-0a9a-9f0b-8d2b-6b4f1c3c0000',
    };
    const c = analyzeExchange(makeExchange({ host, target, reqBody: '{"model":"qwen-plus","input":{"messages":[]},"parameters":{"result_format":"message"}}', respBody: JSON.stringify(body) })).call!;
    expect([c.provider, c.api, c.request_model, c.response_id, c.output_text, c.finish_reasons]).toEqual(['alibaba.dashscope', 'dashscope.generation', 'qwen-plus', body.request_id, 'I am Qwen.', ['stop']]);
    expect(c.usage).toMatchObject({ input_tokens: 22, output_tokens: 5, cache_read_input_tokens: 16 });
  });

  test('SSE, cumulative (default) vs incremental output', () => {
    const ev = (text: string, fr: string) => ({ output: { choices: [{ finish_reason: fr, message: { role: 'assistant', content: text } }] }, usage: { input_tokens: 5, output_tokens: text.length }, request_id: 'req-1' });
    const sse = (docs: unknown[]) => docs.map((d, i) => `id:${i + 1}\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify(d)}\n\n`).join('');
    const cumulative = analyzeExchange(makeExchange({ host, target, reqBody: '{"model":"qwen-plus","input":{"messages":[]}}', events: sseEvents(sse([ev('Hel', 'null'), ev('Hello', 'null'), ev('Hello!', 'stop')])) })).call!;
    expect([cumulative.output_text, cumulative.finish_reasons, cumulative.streaming]).toEqual(['Hello!', ['stop'], true]);
    const incremental = analyzeExchange(
      makeExchange({ host, target, reqBody: '{"model":"qwen-plus","input":{"messages":[]},"parameters":{"incremental_output":true}}', events: sseEvents(sse([ev('Hel', 'null'), ev('lo', 'null'), ev('!', 'stop')])) }),
    ).call!;
    expect(incremental.output_text).toBe('Hello!');
  });

  test('error body {code, message} → error_type = code', () => {
    const c = analyzeExchange(makeExchange({ host, target, reqBody: '{"model":"qwen-plus","input":{}}', status: 400, respBody: '{"code":"InvalidParameter","message":"Input should be a valid dictionary","request_id":"r"}' })).call!;
    expect(c.error_type).toBe('InvalidParameter');
  });
});

describe('providers', () => {
  test.each([
    ['generativelanguage.googleapis.com', 'generate_content', 'gcp.gemini'],
    ['europe-west4-aiplatform.googleapis.com', 'generate_content', 'gcp.vertex_ai'],
    ['localhost:8080', 'generate_content', 'gcp.gemini'],
    ['bedrock-runtime.eu-west-1.amazonaws.com', 'converse', 'aws.bedrock'],
    ['localhost:11434', 'ollama.chat', 'ollama'],
    ['my-res.openai.azure.com', 'responses', 'azure.ai.openai'],
    ['api.openai.com', 'responses', 'openai'],
  ] as const)('providerFor(%s, %s) = %s', (h, api, want) => {
    expect(providerFor(h, api)).toBe(want);
  });
});
