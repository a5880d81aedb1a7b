/**
 * OpenAI Responses API (`POST …/responses`, streamed and not) as https://platform.openai.com/docs/api-reference/responses
 * describes it: `response.created` … `response.completed` events with `sequence_number`, `function_call` /
 * `local_shell_call` / `message` output items, usage with `input_tokens` (cached included),
 * `input_tokens_details.cached_tokens`, `output_tokens` (reasoning included), `output_tokens_details.reasoning_tokens`.
 */
import { decide, DeclaredTool, MockAnswer, MockRequest, pad, pieces, tokensFor } from './script';

/** Whether a Responses request's input carries a tool output item (`function_call_output`, `local_shell_call_output`, …). */
function hasToolResult(body: any): boolean {
  return Array.isArray(body?.input) && body.input.some((i: any) => typeof i?.type === 'string' && i.type.endsWith('_call_output'));
}

/** Declared tools: functions by name and schema; the built-in `local_shell` as a tool named `local_shell`. */
function declared(body: any): DeclaredTool[] {
  return (body?.tools ?? []).flatMap((t: any): DeclaredTool[] => {
    if (t?.type === 'local_shell') return [{ name: 'local_shell', localShell: true }];
    if (t?.type === 'function' && t.name) return [{ name: String(t.name), schema: t.parameters }];
    if (t?.type === 'custom' && t.name) return [{ name: String(t.name) }];
    return [];
  });
}

/** Answers one Responses request, or undefined when the path is not `…/responses`. */
export function openaiResponses(req: MockRequest): MockAnswer | undefined {
  if (req.method !== 'POST' || !req.pathname.endsWith('/responses')) return undefined;
  const body = req.body ?? {};
  const model = String(body.model ?? 'gpt-mock');
  const d = decide(declared(body).filter((t) => t.schema || t.localShell), hasToolResult(body), req.toolCommand, req.answer);
  const n = req.next();
  const tk = tokensFor(n);
  const id = `resp_mock${pad(n)}agentsight`;
  const itemId = `${d.kind === 'tool_call' ? 'fc' : 'msg'}_mock${pad(n)}agentsight`;
  const callId = `call_mock${pad(n)}agentsight`;
  const input = tk.uncached + tk.cache_read;
  const output = tk.visible_output + tk.reasoning;
  const usage = { input_tokens: input, input_tokens_details: { cached_tokens: tk.cache_read }, output_tokens: output,
    output_tokens_details: { reasoning_tokens: tk.reasoning }, total_tokens: input + output };
  const text = d.kind === 'tool_call' ? '' : d.text;
  let item: any;
  let logCall: { id: string; name: string; arguments: string } | undefined;
  if (d.kind === 'tool_call' && d.tool.localShell) {
    const action = { type: 'exec', command: ['bash', '-lc', req.toolCommand], env: {} };
    item = { type: 'local_shell_call', id: `lsh_mock${pad(n)}agentsight`, call_id: callId, status: 'completed', action };
    logCall = { id: callId, name: 'local_shell_call', arguments: JSON.stringify(action) };
  } else if (d.kind === 'tool_call') {
    const args = JSON.stringify(d.args);
    item = { type: 'function_call', id: itemId, call_id: callId, name: d.tool.name, arguments: args, status: 'completed' };
    logCall = { id: callId, name: d.tool.name, arguments: args };
  } else {
    item = { type: 'message', id: itemId, role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] };
  }
  const stream = body.stream === true;
  const log = {
    api: 'openai.responses' as const, path: req.path, stream, model, response_id: id,
    input_tokens: input, output_tokens: output, cache_read_tokens: tk.cache_read, cache_creation_tokens: 0, reasoning_tokens: tk.reasoning,
    finish_reason: 'completed', tool_calls: logCall ? [logCall] : [], text, turn: d.kind,
  };
  const created_at = 1764633600 + n;
  const base = { id, object: 'response', created_at, model, parallel_tool_calls: true, tool_choice: 'auto', tools: [], error: null, incomplete_details: null };
  const done = { ...base, status: 'completed', output: [item], usage };
  if (!stream) return { status: 200, json: done, log };

  let seq = 0;
  const ev = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`;
  const pending = { ...base, status: 'in_progress', output: [], usage: null };
  const events = [ev('response.created', { response: pending }), ev('response.in_progress', { response: pending })];
  if (item.type === 'message') {
    events.push(ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } }));
    events.push(ev('response.content_part.added', { item_id: itemId, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }));
    for (const t of pieces(text)) events.push(ev('response.output_text.delta', { item_id: itemId, output_index: 0, content_index: 0, delta: t, logprobs: [] }));
    events.push(ev('response.output_text.done', { item_id: itemId, output_index: 0, content_index: 0, text, logprobs: [] }));
    events.push(ev('response.content_part.done', { item_id: itemId, output_index: 0, content_index: 0, part: item.content[0] }));
  } else if (item.type === 'function_call') {
    events.push(ev('response.output_item.added', { output_index: 0, item: { ...item, arguments: '', status: 'in_progress' } }));
    for (const a of pieces(item.arguments)) events.push(ev('response.function_call_arguments.delta', { item_id: itemId, output_index: 0, delta: a }));
    events.push(ev('response.function_call_arguments.done', { item_id: itemId, output_index: 0, arguments: item.arguments }));
  } else {
    events.push(ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress' } }));
  }
  events.push(ev('response.output_item.done', { output_index: 0, item }));
  events.push(ev('response.completed', { response: done }));
  return { status: 200, sse: events, log };
}
