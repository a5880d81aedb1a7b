/**
 * The messages of a stored LLM request body as text, for the session page (each call's new input messages) and the
 * sessions list (a conversation's first prompt). Pure: no SQL here.
 */

/** One message of a request body, as text: `role` as the API names it, text parts joined, tool calls/results summarised. */
export interface RequestMessage {
  role: string;
  text: string;
  /** Tool results: the id of the tool call answered. */
  tool_call_id?: string;
}

function partText(p: unknown): string {
  if (typeof p === 'string') return p;
  if (!p || typeof p !== 'object') return '';
  const o = p as Record<string, unknown>;
  if (typeof o.text === 'string') return o.text;
  if (o.type === 'tool_result') return typeof o.content === 'string' ? o.content : Array.isArray(o.content) ? o.content.map(partText).join('\n') : '';
  if (o.type === 'tool_use') return `[tool call ${String(o.name)} ${JSON.stringify(o.input)}]`;
  if (Array.isArray(o.parts)) return o.parts.map(partText).join('\n');
  return '';
}

/**
 * The messages of an LLM request body (OpenAI chat `messages` and Responses `input`, Anthropic `system` + `messages`,
 * Gemini `contents`), in order, as text; [] when the body is not JSON or has none of these.
 */
export function requestMessages(body: string): RequestMessage[] {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(body);
  } catch {
    return [];
  }
  if (!j || typeof j !== 'object') return [];
  const out: RequestMessage[] = [];
  if (typeof j.system === 'string') out.push({ role: 'system', text: j.system });
  else if (Array.isArray(j.system)) out.push({ role: 'system', text: j.system.map(partText).join('\n') });
  if (typeof j.instructions === 'string') out.push({ role: 'system', text: j.instructions });
  const list = Array.isArray(j.messages) ? j.messages : Array.isArray(j.contents) ? j.contents : Array.isArray(j.input) ? j.input : typeof j.input === 'string' ? [{ role: 'user', content: j.input }] : [];
  for (const m of list as Array<Record<string, unknown>>) {
    if (!m || typeof m !== 'object') continue;
    const role = String(m.role ?? m.type ?? '?');
    let text = typeof m.content === 'string' ? m.content : Array.isArray(m.content) ? m.content.map(partText).join('\n') : Array.isArray(m.parts) ? m.parts.map(partText).join('\n') : typeof m.output === 'string' ? m.output : '';
    if (Array.isArray(m.tool_calls)) {
      text += (m.tool_calls as Array<{ function?: { name?: string; arguments?: string } }>).map((t) => `[tool call ${t.function?.name} ${t.function?.arguments ?? ''}]`).join('\n');
    }
    const isToolResult = role === 'tool' || (Array.isArray(m.content) && (m.content as Array<{ type?: string }>).some((p) => p?.type === 'tool_result'));
    out.push({ role: isToolResult ? 'tool' : role === 'model' ? 'assistant' : role, text, ...(typeof m.tool_call_id === 'string' ? { tool_call_id: m.tool_call_id } : {}) });
  }
  return out;
}
