/**
 * Tool uses (contract `ToolUse`, subject `agentsight.tool.<host>`) from LLM calls. A tool use is seen in two halves,
 * possibly on different TLS connections and in any order:
 * - the **request half** ({@link ToolRequestHalf}): the model asks for the call in a response (`LlmCall.tool_calls`);
 * - the **result half** ({@link ToolResultHalf}): a later request carries the result after the model turn that asked.
 * Both halves compute the same **call key**: the provider's call id, or for providers without ids (Gemini, Ollama,
 * legacy `function_call`) `turn:<h>:<name>#<k>` where `h` = position of the model turn in the request history (the
 * requesting call's history length; the index of that assistant message in the later request) and `k` = occurrence
 * of that tool name within the turn (results are matched by name and order, Gemini's documented rule). Gemini is
 * always keyed by turn, ids or not: its `functionCall.id` is optional and clients assign their own (Gemini CLI puts
 * `run_shell_command_<ms>_<n>` on the history's functionCall/functionResponse that the response never carried), so an
 * id seen on one half only must not split one tool use in two ({@link keysByTurn}). Each half carries the tool use's
 * id ({@link toolUseId} of host, pid and key); the service keeps both halves in Redis under
 * `agentsight:tool:<host>:<tool use id>` and publishes {@link mergeToolUse} of what it has, so the highest version
 * (3 = both halves) is the same whatever the processing order. A published ToolUse gives back the halves it was
 * merged from ({@link toolHalvesOf}): what rebuilds the index after Redis lost it.
 *
 * Only the results answering the LAST model turn of a request are taken (the messages after its last assistant
 * message): earlier results are repeated history, already seen with the request that first carried them.
 */
import { deriveId, normalizeNs, redactText, type AuditRecord, type GenAiPart, type LlmCall, type ToolUse } from '@agentsight/contracts';
import { apiAdapter } from './apis';
import type { NormalizedRequest } from './messages';

/** The agent whose LLM call saw a half: `gen_ai.conversation.id`, `gen_ai.agent.name` (null = unknown), process. */
export type ToolHalfAgent = Pick<ToolUse, 'pid' | 'comm' | 'conversation_id'> & { agent_name: string | null };

/** What identifies the tool use a half belongs to. */
export interface ToolHalfKey {
  /** The ToolUse id: {@link toolUseId}(host, pid, key). */
  id: string;
  /** The call key (see the module doc); '' in a half given back by {@link toolHalvesOf} (a ToolUse does not carry it). */
  key: string;
}

/** What the LLM response tells about one requested tool call. */
export interface ToolRequestHalf extends ToolHalfAgent, ToolHalfKey {
  call_id: string | null;
  name: string;
  /** Arguments as the model produced them, redacted. */
  arguments: string;
  tool_type: string;
  /** Wall-clock ns: end of the response. */
  start_ns: string;
  origin_llm_call_id: string;
}

/** What a later request tells about one tool result. */
export interface ToolResultHalf extends ToolHalfAgent, ToolHalfKey {
  call_id: string | null;
  /** Name and arguments of the call as the request's history repeats them ('' when it does not), redacted. */
  name: string;
  arguments: string;
  /** Result text (JSON text for structured results), redacted. */
  result: string;
  success: boolean | null;
  /** Wall-clock ns: start of the request. */
  end_ns: string;
  result_llm_call_id: string;
}

/** The {@link ToolHalfAgent} of an LLM call. */
function agentOf(call: LlmCall): ToolHalfAgent {
  return { conversation_id: call.conversation_id ?? null, agent_name: call.agent_name ?? null, pid: call.pid, comm: call.comm };
}

/** A value as text: strings as they are, anything else compact JSON. */
function asText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return JSON.stringify(v);
}

/** Tool types: provider-executed tools (Anthropic `server_tool_use`/`mcp_tool_use`, Responses `mcp_call`/`tool_search_call`) are `extension`. */
function toolType(t: { id: string | null; name: string }): string {
  if (t.id && /^(srvtoolu_|mcptoolu_|mcp_)/.test(t.id)) return 'extension';
  if (t.name === 'tool_search_call' || t.name === 'mcp_call') return 'extension';
  return 'function';
}

/** Whether the call keys of an API are always turn keys, ids or not (the adapter's `toolKeysByTurn`: Gemini `generateContent`, see the module doc). */
export function keysByTurn(api: string): boolean {
  return apiAdapter(api)?.toolKeysByTurn === true;
}

/** Key of the k-th call named `name` in the model turn at history position `turn` (providers without call ids). */
export function turnKey(turn: number, name: string, k: number): string {
  return `turn:${turn}:${name}#${k}`;
}

/**
 * The request halves of a call's tool calls: key = call id, else {@link turnKey}(history length of the call's request,
 * name, occurrence). `start_ns` = the call's end (last response byte). Calls without a name are skipped.
 */
export function toolRequests(call: LlmCall, req: NormalizedRequest): ToolRequestHalf[] {
  const seen = new Map<string, number>();
  const out: ToolRequestHalf[] = [];
  for (const t of call.tool_calls) {
    if (!t.name && !t.id) continue;
    const k = seen.get(t.name) ?? 0;
    seen.set(t.name, k + 1);
    const key = t.id && !keysByTurn(call.api) ? t.id : turnKey(req.history_length, t.name, k);
    out.push({
      id: toolUseId(call.host, call.pid, key),
      key,
      call_id: t.id,
      name: t.name,
      arguments: redactText(t.arguments),
      tool_type: toolType(t),
      start_ns: call.end_ns.toString(),
      origin_llm_call_id: call.id,
      ...agentOf(call),
    });
  }
  return out;
}

/**
 * The result halves of a request: the `tool_call_response` parts after its last assistant message, matched to the
 * `tool_call` parts of the model turn before them (the run of assistant messages ending there): by call id; without
 * ids, by name and order (a response without a name takes the name of the call at the same position). Name and
 * arguments come from the matched call of the history ('' when absent, e.g. a Responses request chained with
 * `previous_response_id`). `success`: false when the provider flags an error (Anthropic `is_error`, Bedrock `status:
 * error`), true when it has such a flag and it is not set, null otherwise. `end_ns` = the request start.
 */
export function toolResults(call: LlmCall, req: NormalizedRequest): ToolResultHalf[] {
  const msgs = req.messages;
  let last = -1;
  for (let i = msgs.length - 1; i >= 0; i--) if (msgs[i].role === 'assistant') { last = i; break; }
  let first = last;
  while (first > 0 && msgs[first - 1].role === 'assistant') first--;
  const turnCalls: GenAiPart[] = last < 0 ? [] : msgs.slice(first, last + 1).flatMap((m) => m.parts.filter((p) => p.type === 'tool_call'));
  const turnIndex = last < 0 ? -1 : msgs[first].index;
  const results = msgs.slice(last + 1).flatMap((m) => m.parts.filter((p) => p.type === 'tool_call_response'));
  const byName = new Map<string, number>();
  const out: ToolResultHalf[] = [];
  results.forEach((r, pos) => {
    const id = typeof r.id === 'string' && r.id ? r.id : null;
    let match: GenAiPart | undefined;
    let key: string;
    if (id && !keysByTurn(call.api)) {
      match = turnCalls.find((c) => c.id === id);
      key = id;
    } else {
      const name = typeof r._name === 'string' && r._name ? r._name : typeof turnCalls[pos]?.name === 'string' ? (turnCalls[pos].name as string) : '';
      const k = byName.get(name) ?? 0;
      byName.set(name, k + 1);
      match = turnCalls.filter((c) => c.name === name)[k];
      key = turnKey(turnIndex < 0 ? 0 : turnIndex, name, k);
    }
    const name = typeof match?.name === 'string' ? match.name : typeof r._name === 'string' ? r._name : '';
    out.push({
      id: toolUseId(call.host, call.pid, key),
      key,
      call_id: id ?? (typeof match?.id === 'string' ? match.id : null),
      name,
      arguments: match ? redactText(asText(match.arguments)) : '',
      result: redactText(asText(r.response)),
      success: typeof r._error === 'boolean' ? !r._error : null,
      end_ns: call.start_ns.toString(),
      result_llm_call_id: call.id,
      ...agentOf(call),
    });
  });
  return out;
}

/** `deriveId('tool', host, pid, key)`: the ToolUse id of a call key (see the module doc). */
export function toolUseId(host: string, pid: number, key: string): string {
  return deriveId('tool', host, pid, key);
}

/**
 * The ToolUse of what is known: version 1 (request half only), 2 (result half only) or 3 (both). Name, arguments,
 * type, start, origin, conversation and agent come from the request half when there is one, result fields from the
 * result half. Throws when both halves are missing.
 */
export function mergeToolUse(host: string, request: ToolRequestHalf | null, result: ToolResultHalf | null): ToolUse {
  const any = request ?? result;
  if (!any) throw new Error('mergeToolUse: no half');
  return {
    v: 1,
    id: any.id,
    version: request && result ? 3 : request ? 1 : 2,
    source: 'llm',
    host,
    pid: any.pid,
    comm: request?.comm ?? result!.comm,
    agent_name: request?.agent_name ?? result?.agent_name ?? null,
    conversation_id: request?.conversation_id ?? result?.conversation_id ?? null,
    name: request?.name || result?.name || '',
    call_id: request?.call_id ?? result?.call_id ?? null,
    tool_type: request?.tool_type ?? 'function',
    arguments: request ? request.arguments : result!.arguments,
    result: result ? result.result : null,
    success: result ? result.success : null,
    start_ns: request ? BigInt(request.start_ns) : null,
    end_ns: result ? BigInt(result.end_ns) : null,
    origin_llm_call_id: request?.origin_llm_call_id ?? null,
    result_llm_call_id: result?.result_llm_call_id ?? null,
  };
}

/**
 * The halves a published ToolUse was merged from, as far as it tells them: version 1 → its request half, 2 → its
 * result half, 3 → both (the result half's name and arguments are the ToolUse's, i.e. the request's). Inverse of
 * {@link mergeToolUse}: merging them gives `t` back. MCP tool uses (`source: 'mcp'`, the parser's) and versions
 * without the times of their halves give none: they never go through the index. Pure.
 */
export function toolHalvesOf(t: ToolUse): { request: ToolRequestHalf | null; result: ToolResultHalf | null } {
  if (t.source !== 'llm') return { request: null, result: null };
  const common = { id: t.id, key: '', call_id: t.call_id, name: t.name, arguments: t.arguments, pid: t.pid, comm: t.comm, conversation_id: t.conversation_id, agent_name: t.agent_name ?? null };
  const hasRequest = (t.version === 1 || t.version === 3) && t.start_ns !== null && t.origin_llm_call_id !== null;
  const hasResult = (t.version === 2 || t.version === 3) && t.end_ns !== null && t.result !== null && t.result_llm_call_id !== null;
  return {
    request: hasRequest ? { ...common, tool_type: t.tool_type, start_ns: normalizeNs(t.start_ns!).toString(), origin_llm_call_id: t.origin_llm_call_id! } : null,
    result: hasResult ? { ...common, result: t.result!, success: t.success, end_ns: normalizeNs(t.end_ns!).toString(), result_llm_call_id: t.result_llm_call_id! } : null,
  };
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/**
 * One line for a tool use: `tool <name> <arguments, ≤ 200 chars> → ok | error | returned | pending`, e.g.
 * `tool Bash {"command":"ls -la"} → ok` (`returned`: a result without success flag; `pending`: no result yet).
 */
export function toolSummary(t: ToolUse): string {
  const outcome = t.result === null ? 'pending' : t.success === true ? 'ok' : t.success === false ? 'error' : 'returned';
  return `tool ${t.name || '?'} ${clip(t.arguments.replace(/\s+/g, ' '), 200)} → ${outcome}`;
}

/**
 * The audit record of a tool use: type `tool`, action `execute_tool`, `ts_ns` = start (end when only the result is
 * known), `details` = the ToolUse fields (ns as decimal strings), id `deriveId('audit', 'tool', tool use id)` (one
 * record per tool use; its versions replace each other in storage, see `details.version`).
 */
export function auditForTool(t: ToolUse, ppid = 0): AuditRecord {
  return {
    v: 1,
    id: deriveId('audit', 'tool', t.id),
    type: 'tool',
    action: 'execute_tool',
    host: t.host,
    ts_ns: t.start_ns ?? t.end_ns ?? 0n,
    pid: t.pid,
    ppid,
    comm: t.comm,
    summary: toolSummary(t),
    details: {
      tool_use_id: t.id,
      version: t.version,
      source: t.source,
      name: t.name,
      call_id: t.call_id,
      tool_type: t.tool_type,
      arguments: t.arguments,
      result: t.result,
      success: t.success,
      start_ns: t.start_ns === null ? null : t.start_ns.toString(),
      end_ns: t.end_ns === null ? null : t.end_ns.toString(),
      duration_ns: t.start_ns !== null && t.end_ns !== null ? Number(t.end_ns - t.start_ns) : null,
      origin_llm_call_id: t.origin_llm_call_id,
      result_llm_call_id: t.result_llm_call_id,
      conversation_id: t.conversation_id,
      agent_name: t.agent_name ?? null,
    },
  };
}
