/**
 * The mock LLM provider against the official SDK clients (openai, @anthropic-ai/sdk, @google/genai) over real TLS
 * (the SDKs' own fetch, trusting the mock's test CA through undici's global dispatcher): each SDK parses what the mock
 * sends, and the mock's log (the ground truth of the e2e tests) says exactly what the SDK saw.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { isLlmCall, startMockLlm, tokensFor, type MockLlm } from './mock-llm';

const CMD = 'echo agentsight-tool-ok';
const ANSWER = 'The tool said agentsight-tool-ok.';
/** What the script sends to a tool with `command` and an optional `description` (the latter filled with a short text). */
const BASH_ARGS = { command: CMD, description: 'Run the agentsight test command' };
const bash = { name: 'Bash', description: 'Run a shell command', input_schema: { type: 'object' as const,
  properties: { command: { type: 'string' }, description: { type: 'string' }, timeout: { type: 'number' } }, required: ['command'] } };

let mock: MockLlm;
let tmp: string;
let prev: Dispatcher;
let agent: Agent;
/** undici's fetch with the mock's CA (the openai and Anthropic SDKs take a `fetch`; @google/genai uses the global one). */
const caFetch = ((u: any, i: any) => undiciFetch(u, { ...i, dispatcher: agent })) as any;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-mock-llm-'));
  mock = await startMockLlm({ dir: tmp, toolCommand: CMD, answer: ANSWER });
  prev = getGlobalDispatcher();
  agent = new Agent({ connect: { ca: fs.readFileSync(mock.caPath) } });
  setGlobalDispatcher(agent);
});
afterAll(async () => {
  setGlobalDispatcher(prev);
  await mock?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const last = () => mock.log()[mock.log().length - 1];

describe('Anthropic Messages', () => {
  const client = () => new Anthropic({ apiKey: 'sk-ant-test', baseURL: mock.baseUrl, maxRetries: 0, fetch: caFetch });

  test('no tool result yet: a Bash tool_use with the command; usage reports cache apart; the log holds semconv totals', async () => {
    const m = await client().messages.create({ model: 'claude-test', max_tokens: 100, tools: [bash], messages: [{ role: 'user', content: 'list' }] });
    const e = last();
    expect(m.stop_reason).toBe('tool_use');
    expect(m.content).toEqual([{ type: 'tool_use', id: e.tool_calls[0].id, name: 'Bash', input: BASH_ARGS }]);
    expect(e).toMatchObject({ api: 'anthropic.messages', stream: false, model: 'claude-test', response_id: m.id, turn: 'tool_call',
      finish_reason: 'tool_use', tool_calls: [{ name: 'Bash', arguments: JSON.stringify(BASH_ARGS) }], reasoning_tokens: 0 });
    expect(e.input_tokens).toBe(m.usage.input_tokens + m.usage.cache_read_input_tokens! + m.usage.cache_creation_input_tokens!);
    expect([e.output_tokens, e.cache_read_tokens, e.cache_creation_tokens]).toEqual([m.usage.output_tokens, m.usage.cache_read_input_tokens, m.usage.cache_creation_input_tokens]);
    expect(Math.min(m.usage.input_tokens, m.usage.output_tokens, e.cache_read_tokens, e.cache_creation_tokens)).toBeGreaterThan(0);
  });

  test('streamed, with a tool result: the SDK assembles the answer and the final usage', async () => {
    const s = client().messages.stream({ model: 'claude-test', max_tokens: 100, tools: [bash], messages: [
      { role: 'user', content: 'list' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'Bash', input: { command: CMD } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'agentsight-tool-ok' }] }] });
    const m = await s.finalMessage();
    const e = last();
    expect(m.content).toEqual([{ type: 'text', text: ANSWER, citations: null }].map(({ citations: _c, ...b }) => expect.objectContaining(b)));
    expect(m.stop_reason).toBe('end_turn');
    expect(e).toMatchObject({ stream: true, response_id: m.id, turn: 'answer', text: ANSWER, finish_reason: 'end_turn', tool_calls: [] });
    expect(e.output_tokens).toBe(m.usage.output_tokens);
    expect(e.input_tokens).toBe(m.usage.input_tokens + m.usage.cache_read_input_tokens! + m.usage.cache_creation_input_tokens!);
  });

  test('streamed tool_use: the SDK joins the input_json_delta pieces', async () => {
    const m = await client().messages.stream({ model: 'claude-test', max_tokens: 100, tools: [bash], messages: [{ role: 'user', content: 'x' }] }).finalMessage();
    expect(m.content).toEqual([expect.objectContaining({ type: 'tool_use', name: 'Bash', input: BASH_ARGS })]);
    expect(last()).toMatchObject({ stream: true, response_id: m.id, turn: 'tool_call' });
  });

  test('no tools: side text (turn other); count_tokens answered and logged as a side endpoint', async () => {
    const m = await client().messages.create({ model: 'claude-haiku', max_tokens: 10, messages: [{ role: 'user', content: 'title?' }] });
    expect(last()).toMatchObject({ turn: 'other', response_id: m.id, text: (m.content[0] as { text: string }).text });
    const c = await client().messages.countTokens({ model: 'claude-test', messages: [{ role: 'user', content: 'x' }] });
    expect(c.input_tokens).toBeGreaterThan(0);
    expect(last()).toMatchObject({ turn: 'other', response_id: '', path: '/v1/messages/count_tokens' });
    expect(isLlmCall(last())).toBe(false);
  });
});

describe('OpenAI Responses', () => {
  const client = () => new OpenAI({ apiKey: 'sk-test', baseURL: `${mock.baseUrl}/v1`, maxRetries: 0, fetch: caFetch });
  const shell = { type: 'function' as const, name: 'shell', strict: false, description: 'run',
    parameters: { type: 'object', properties: { command: { type: 'array', items: { type: 'string' } }, workdir: { type: 'string' } }, required: ['command'] } };

  test('a function_call to shell with the command as an array; reasoning and cached tokens in the details', async () => {
    const r = await client().responses.create({ model: 'gpt-test', input: 'list', tools: [shell] });
    const e = last();
    const call = r.output[0] as OpenAI.Responses.ResponseFunctionToolCall;
    expect(call).toMatchObject({ type: 'function_call', name: 'shell' });
    expect(JSON.parse(call.arguments)).toEqual({ command: ['bash', '-lc', CMD] });
    expect(e).toMatchObject({ api: 'openai.responses', response_id: r.id, finish_reason: 'completed', turn: 'tool_call',
      tool_calls: [{ id: call.call_id, name: 'shell', arguments: call.arguments }], stream: false });
    expect(r.usage).toMatchObject({ input_tokens: e.input_tokens, output_tokens: e.output_tokens,
      input_tokens_details: { cached_tokens: e.cache_read_tokens }, output_tokens_details: { reasoning_tokens: e.reasoning_tokens } });
    expect(e.reasoning_tokens).toBeGreaterThan(0);
  });

  test('streamed after a function_call_output: the SDK\'s final response is the answer', async () => {
    const s = client().responses.stream({ model: 'gpt-test', tools: [shell], input: [
      { role: 'user', content: 'list' },
      { type: 'function_call', call_id: 'call_1', name: 'shell', arguments: '{"command":["ls"]}' },
      { type: 'function_call_output', call_id: 'call_1', output: 'agentsight-tool-ok' }] });
    let deltas = '';
    s.on('response.output_text.delta', (d) => (deltas += d.delta));
    const r = await s.finalResponse();
    const e = last();
    expect(r.output_text).toBe(ANSWER);
    expect(deltas).toBe(ANSWER);
    expect(e).toMatchObject({ stream: true, response_id: r.id, turn: 'answer', text: ANSWER });
    expect(r.usage?.output_tokens_details.reasoning_tokens).toBe(e.reasoning_tokens);
  });
});

describe('OpenAI Chat Completions', () => {
  const client = () => new OpenAI({ apiKey: 'sk-test', baseURL: `${mock.baseUrl}/v1`, maxRetries: 0, fetch: caFetch });
  const tools = [{ type: 'function' as const, function: { name: 'run_shell_command', parameters: { type: 'object', properties: { command: { type: 'string' }, description: { type: 'string' } }, required: ['command'] } } }];

  test('streamed with include_usage: tool call deltas join into the command; the usage chunk has the details', async () => {
    const s = client().chat.completions.stream({ model: 'gpt-test', tools, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'x' }] });
    const c = await s.finalChatCompletion();
    const e = last();
    const tc = c.choices[0].message.tool_calls![0] as OpenAI.Chat.ChatCompletionMessageFunctionToolCall;
    expect(c.choices[0].finish_reason).toBe('tool_calls');
    expect(JSON.parse(tc.function.arguments)).toEqual({ command: CMD, description: 'Run the agentsight test command' });
    expect(e).toMatchObject({ api: 'openai.chat_completions', stream: true, response_id: c.id, turn: 'tool_call', finish_reason: 'tool_calls',
      tool_calls: [{ id: tc.id, name: 'run_shell_command', arguments: tc.function.arguments }] });
    expect(c.usage).toMatchObject({ prompt_tokens: e.input_tokens, completion_tokens: e.output_tokens,
      prompt_tokens_details: { cached_tokens: e.cache_read_tokens }, completion_tokens_details: { reasoning_tokens: e.reasoning_tokens } });
  });

  test('not streamed, after a tool message: the answer', async () => {
    const c = await client().chat.completions.create({ model: 'gpt-test', tools, messages: [{ role: 'user', content: 'x' },
      { role: 'assistant', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'run_shell_command', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'ok' }] });
    expect(c.choices[0].message.content).toBe(ANSWER);
    expect(last()).toMatchObject({ stream: false, response_id: c.id, turn: 'answer', finish_reason: 'stop', input_tokens: c.usage!.prompt_tokens });
  });

  test('GET /v1/models lists models', async () => {
    const ids: string[] = [];
    for await (const m of client().models.list()) ids.push(m.id);
    expect(ids.length).toBeGreaterThan(0);
    expect(last()).toMatchObject({ turn: 'other', response_id: '' });
  });
});

describe('Gemini generateContent', () => {
  const ai = () => new GoogleGenAI({ apiKey: 'test-key', httpOptions: { baseUrl: mock.baseUrl } });
  const tools = [{ functionDeclarations: [{ name: 'run_shell_command', parametersJsonSchema: { type: 'object', properties: { command: { type: 'string' }, directory: { type: 'string' } }, required: ['command'] } }] }];

  test('a functionCall with the command; usageMetadata has thoughts and cached counts, the log adds thoughts to output', async () => {
    const r = await ai().models.generateContent({ model: 'gemini-test', contents: 'x', config: { tools } });
    const e = last();
    expect(r.functionCalls).toEqual([{ name: 'run_shell_command', args: { command: CMD } }]);
    expect(r.responseId).toBe(e.response_id);
    expect(e).toMatchObject({ api: 'gemini.generate_content', stream: false, model: 'gemini-test', turn: 'tool_call', finish_reason: 'STOP' });
    const u = r.usageMetadata!;
    expect([u.promptTokenCount, u.cachedContentTokenCount, u.thoughtsTokenCount]).toEqual([e.input_tokens, e.cache_read_tokens, e.reasoning_tokens]);
    expect(u.candidatesTokenCount! + u.thoughtsTokenCount!).toBe(e.output_tokens);
  });

  test('streamed (alt=sse) after a functionResponse: the chunks join into the answer', async () => {
    let text = '';
    let id = '';
    for await (const c of await ai().models.generateContentStream({ model: 'gemini-test', config: { tools }, contents: [
      { role: 'user', parts: [{ text: 'x' }] },
      { role: 'model', parts: [{ functionCall: { name: 'run_shell_command', args: { command: CMD } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'run_shell_command', response: { output: 'ok' } } }] }] })) {
      text += c.text ?? '';
      id = c.responseId ?? id;
    }
    expect(text).toBe(ANSWER);
    expect(last()).toMatchObject({ stream: true, response_id: id, turn: 'answer', text: ANSWER });
    expect(last().path).toContain(':streamGenerateContent?alt=sse');
  });
});

test('every LLM response has a distinct id and its own non-zero token numbers', () => {
  const calls = mock.log().filter(isLlmCall);
  expect(new Set(calls.map((c) => c.response_id)).size).toBe(calls.length);
  expect(new Set(calls.map((c) => c.input_tokens)).size).toBe(calls.length);
  expect(calls.every((c) => c.input_tokens > 0 && c.output_tokens > 0 && c.cache_read_tokens > 0)).toBe(true);
  expect(tokensFor(1)).not.toEqual(tokensFor(2));
});
