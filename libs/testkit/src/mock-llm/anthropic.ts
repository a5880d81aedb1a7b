/**
 * Anthropic Messages API (`POST /v1/messages`, streamed and not; `POST /v1/messages/count_tokens`; `GET /v1/models`)
 * as https://docs.anthropic.com/en/api/messages describes it: `message_start` … `message_stop` events, usage with
 * `input_tokens` (uncached only), `cache_read_input_tokens`, `cache_creation_input_tokens`, `output_tokens`.
 */
import { decide, DeclaredTool, MockAnswer, MockRequest, pad, pieces, sideLog, tokensFor } from './script';

const sse = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

/** Whether a Messages request's conversation carries a `tool_result` block. */
function hasToolResult(body: any): boolean {
  return (body?.messages ?? []).some((m: any) => Array.isArray(m?.content) && m.content.some((b: any) => b?.type === 'tool_result'));
}

/** Answers one Anthropic request, or undefined when the path is not Anthropic's. */
export function anthropic(req: MockRequest): MockAnswer | undefined {
  const p = req.pathname;
  if (req.method === 'GET' && /\/v1\/models$/.test(p) && req.headers['anthropic-version']) {
    const data = ['claude-sonnet-4-5', 'claude-haiku-4-5', 'claude-opus-4-1'].map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-01-01T00:00:00Z' }));
    return { status: 200, json: { data, has_more: false, first_id: data[0].id, last_id: data[data.length - 1].id }, log: sideLog('anthropic.messages', req) };
  }
  if (req.method !== 'POST' || !/\/v1\/messages(\/count_tokens)?$/.test(p)) return undefined;
  const body = req.body ?? {};
  const model = String(body.model ?? 'claude-mock');
  if (p.endsWith('/count_tokens')) return { status: 200, json: { input_tokens: 42 }, log: sideLog('anthropic.messages', req, model) };

  const tools: DeclaredTool[] = (body.tools ?? []).filter((t: any) => t?.name).map((t: any) => ({ name: String(t.name), schema: t.input_schema }));
  const d = decide(tools, hasToolResult(body), req.toolCommand, req.answer);
  const n = req.next();
  const tk = tokensFor(n);
  const id = `msg_mock${pad(n)}agentsight`;
  const toolId = `toolu_mock${pad(n)}agentsight`;
  const usage = { input_tokens: tk.uncached, cache_creation_input_tokens: tk.cache_creation, cache_read_input_tokens: tk.cache_read, output_tokens: tk.visible_output };
  const stopReason = d.kind === 'tool_call' ? 'tool_use' : 'end_turn';
  const text = d.kind === 'tool_call' ? '' : d.text;
  const args = d.kind === 'tool_call' ? JSON.stringify(d.args) : '';
  const content = d.kind === 'tool_call' ? [{ type: 'tool_use', id: toolId, name: d.tool.name, input: d.args }] : [{ type: 'text', text }];
  const stream = body.stream === true;
  const log = {
    api: 'anthropic.messages' as const, path: req.path, stream, model, response_id: id,
    input_tokens: tk.uncached + tk.cache_read + tk.cache_creation, output_tokens: tk.visible_output,
    cache_read_tokens: tk.cache_read, cache_creation_tokens: tk.cache_creation, reasoning_tokens: 0,
    finish_reason: stopReason, tool_calls: d.kind === 'tool_call' ? [{ id: toolId, name: d.tool.name, arguments: args }] : [],
    text, turn: d.kind,
  };
  const message = { id, type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: null, usage };
  if (!stream) return { status: 200, json: message, log };

  const events = [
    sse('message_start', { message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } } }),
    d.kind === 'tool_call'
      ? sse('content_block_start', { index: 0, content_block: { type: 'tool_use', id: toolId, name: d.tool.name, input: {} } })
      : sse('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    sse('ping', {}),
    ...(d.kind === 'tool_call'
      ? pieces(args).map((partial_json) => sse('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json } }))
      : pieces(text).map((t) => sse('content_block_delta', { index: 0, delta: { type: 'text_delta', text: t } }))),
    sse('content_block_stop', { index: 0 }),
    sse('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage }),
    sse('message_stop', {}),
  ];
  return { status: 200, sse: events, log };
}
