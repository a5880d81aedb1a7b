/**
 * OpenAI Chat Completions (`POST …/chat/completions`, streamed and not) as
 * https://platform.openai.com/docs/api-reference/chat describes it: `chat.completion` / `chat.completion.chunk`
 * objects, `data: [DONE]`, usage (final chunk with `choices: []` when `stream_options.include_usage`) with
 * `prompt_tokens` (cached included), `prompt_tokens_details.cached_tokens`, `completion_tokens` (reasoning included),
 * `completion_tokens_details.reasoning_tokens`.
 */
import { decide, DeclaredTool, MockAnswer, MockRequest, pad, pieces, tokensFor } from './script';

/** Whether a Chat request's conversation carries a `tool` message. */
function hasToolResult(body: any): boolean {
  return (body?.messages ?? []).some((m: any) => m?.role === 'tool' || m?.role === 'function');
}

/** Answers one Chat Completions request, or undefined when the path is not `…/chat/completions`. */
export function openaiChat(req: MockRequest): MockAnswer | undefined {
  if (req.method !== 'POST' || !req.pathname.endsWith('/chat/completions')) return undefined;
  const body = req.body ?? {};
  const model = String(body.model ?? 'gpt-mock');
  const tools: DeclaredTool[] = (body.tools ?? []).filter((t: any) => t?.function?.name)
    .map((t: any) => ({ name: String(t.function.name), schema: t.function.parameters }));
  const d = decide(tools, hasToolResult(body), req.toolCommand, req.answer);
  const n = req.next();
  const tk = tokensFor(n);
  const id = `chatcmpl-mock${pad(n)}agentsight`;
  const callId = `call_mock${pad(n)}agentsight`;
  const created = 1764633600 + n;
  const input = tk.uncached + tk.cache_read;
  const output = tk.visible_output + tk.reasoning;
  const usage = { prompt_tokens: input, completion_tokens: output, total_tokens: input + output,
    prompt_tokens_details: { cached_tokens: tk.cache_read, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: tk.reasoning, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } };
  const finish = d.kind === 'tool_call' ? 'tool_calls' : 'stop';
  const text = d.kind === 'tool_call' ? '' : d.text;
  const args = d.kind === 'tool_call' ? JSON.stringify(d.args) : '';
  const stream = body.stream === true;
  const log = {
    api: 'openai.chat_completions' as const, path: req.path, stream, model, response_id: id,
    input_tokens: input, output_tokens: output, cache_read_tokens: tk.cache_read, cache_creation_tokens: 0, reasoning_tokens: tk.reasoning,
    finish_reason: finish, tool_calls: d.kind === 'tool_call' ? [{ id: callId, name: d.tool.name, arguments: args }] : [],
    text, turn: d.kind,
  };
  const toolCalls = d.kind === 'tool_call' ? [{ id: callId, type: 'function', function: { name: d.tool.name, arguments: args } }] : undefined;
  if (!stream) {
    return { status: 200, log, json: {
      id, object: 'chat.completion', created, model, system_fingerprint: 'fp_agentsight',
      choices: [{ index: 0, message: { role: 'assistant', content: d.kind === 'tool_call' ? null : text, refusal: null, ...(toolCalls ? { tool_calls: toolCalls } : {}) },
        logprobs: null, finish_reason: finish }],
      usage,
    } };
  }
  const includeUsage = body.stream_options?.include_usage === true;
  const chunk = (choices: unknown[], extra: object = {}) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_agentsight', choices, ...extra })}\n\n`;
  const events = [chunk([{ index: 0, delta: { role: 'assistant', content: d.kind === 'tool_call' ? null : '', refusal: null }, logprobs: null, finish_reason: null }])];
  if (d.kind === 'tool_call') {
    events.push(chunk([{ index: 0, delta: { tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: d.tool.name, arguments: '' } }] }, logprobs: null, finish_reason: null }]));
    for (const a of pieces(args)) events.push(chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: a } }] }, logprobs: null, finish_reason: null }]));
  } else {
    for (const t of pieces(text)) events.push(chunk([{ index: 0, delta: { content: t }, logprobs: null, finish_reason: null }]));
  }
  events.push(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: finish }], includeUsage ? { usage: null } : {}));
  if (includeUsage) events.push(chunk([], { usage }));
  events.push('data: [DONE]\n\n');
  if (!includeUsage) { log.input_tokens = 0; log.output_tokens = 0; log.cache_read_tokens = 0; log.reasoning_tokens = 0; }
  return { status: 200, sse: events, log };
}
