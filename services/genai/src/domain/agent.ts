/**
 * Tool uses → `execute_tool` events, and agent sessions → `invoke_agent` events (OTel GenAI semconv v1.41, agent and
 * tool spans in event form). Pure: the session totals are folded in Redis by the service (`session-store.ts`), this
 * module only shapes them.
 */
import { deriveId, GenAiAttr, type GenAiAgentEvent, type GenAiAttributeValue, type GenAiToolEvent, type ToolUse } from '@agentsight/contracts';

/** `error.type` of a tool use whose result says it failed. */
export const TOOL_ERROR_TYPE = 'tool_error';

/**
 * The `execute_tool {gen_ai.tool.name}` event of a tool use (id `deriveId('genai', 'execute_tool', tool use id)`,
 * version = the ToolUse version). Attributes: `gen_ai.operation.name` = `execute_tool`, `gen_ai.tool.name`,
 * `gen_ai.tool.call.id`, `gen_ai.tool.type`, `gen_ai.conversation.id`, `gen_ai.agent.name`, `error.type` =
 * {@link TOOL_ERROR_TYPE} when `success` is false; with `opts.captureContent` also `gen_ai.tool.call.arguments` and
 * (once known) `gen_ai.tool.call.result` (the ToolUse texts, already redacted by the analyzer).
 */
export function toToolEvent(t: ToolUse, opts: { captureContent?: boolean } = {}): GenAiToolEvent {
  const a: Record<string, GenAiAttributeValue> = {};
  const set = (k: string, v: GenAiAttributeValue | null | undefined) => {
    if (v !== null && v !== undefined && v !== '') a[k] = v;
  };
  set(GenAiAttr.operationName, 'execute_tool');
  set(GenAiAttr.toolName, t.name);
  set(GenAiAttr.toolCallId, t.call_id);
  set(GenAiAttr.toolType, t.tool_type);
  set(GenAiAttr.conversationId, t.conversation_id);
  set(GenAiAttr.agentName, t.agent_name);
  if (t.success === false) a[GenAiAttr.errorType] = TOOL_ERROR_TYPE;
  if (opts.captureContent) {
    set(GenAiAttr.toolCallArguments, t.arguments);
    if (t.result !== null) a[GenAiAttr.toolCallResult] = t.result;
  }
  return {
    v: 1,
    kind: 'execute_tool',
    id: deriveId('genai', 'execute_tool', t.id),
    version: t.version,
    tool_use_id: t.id,
    name: t.name ? `execute_tool ${t.name}` : 'execute_tool',
    host: t.host,
    start_ns: t.start_ns,
    end_ns: t.end_ns,
    pid: t.pid,
    process_name: t.comm,
    conversation_id: t.conversation_id,
    success: t.success,
    origin_llm_call_id: t.origin_llm_call_id,
    attributes: a,
  };
}

/** One contribution to an agent session, as folded by the session store. */
export interface SessionContribution {
  host: string;
  conversation_id: string;
  /** Distinct id of what is counted (`llm:<call id>` / `tool:<tool use id>`): counted once however often it is seen. */
  item: string;
  kind: 'llm' | 'tool';
  input_tokens: number;
  output_tokens: number;
  /** USD; null = unpriced (LLM calls only). */
  cost_usd: number | null;
  /** Wall-clock ns, null when unknown. */
  start_ns: bigint | null;
  end_ns: bigint | null;
  /** A tool use whose result failed (counted once in `tool_errors`). */
  failed: boolean;
  agent_name: string;
  pid: number;
  process_name: string;
  provider: string | null;
}

/** The folded totals of one session (what the store returns). */
export interface SessionState {
  version: number;
  agent_name: string;
  pid: number;
  process_name: string;
  provider: string | null;
  llm_calls: number;
  tool_uses: number;
  tool_errors: number;
  input_tokens: number;
  output_tokens: number;
  /** Sum of priced calls' cost in nano-USD (integer). */
  cost_nusd: number;
  unpriced_calls: number;
  start_ns: bigint;
  end_ns: bigint;
}

/** `deriveId('genai', 'invoke_agent', host, conversation id)`: the id of a session's event (also `gen_ai.agent.id`). */
export function agentEventId(host: string, conversationId: string): string {
  return deriveId('genai', 'invoke_agent', host, conversationId);
}

/**
 * The `invoke_agent {gen_ai.agent.name}` event of a session state. `cost_usd` = nano-USD sum / 1e9 (null when no call
 * was priced); attributes: `gen_ai.operation.name` = `invoke_agent`, `gen_ai.agent.name`, `gen_ai.agent.id`,
 * `gen_ai.conversation.id`, `gen_ai.provider.name` (first call's), `gen_ai.usage.input_tokens`/`output_tokens` (sums).
 */
export function toAgentEvent(host: string, conversationId: string, s: SessionState): GenAiAgentEvent {
  const id = agentEventId(host, conversationId);
  const priced = s.llm_calls - s.unpriced_calls;
  const a: Record<string, GenAiAttributeValue> = {
    [GenAiAttr.operationName]: 'invoke_agent',
    [GenAiAttr.agentName]: s.agent_name,
    [GenAiAttr.agentId]: id,
    [GenAiAttr.conversationId]: conversationId,
    [GenAiAttr.usageInputTokens]: s.input_tokens,
    [GenAiAttr.usageOutputTokens]: s.output_tokens,
  };
  if (s.provider) a[GenAiAttr.providerName] = s.provider;
  return {
    v: 1,
    kind: 'invoke_agent',
    id,
    version: s.version,
    name: `invoke_agent ${s.agent_name}`,
    agent_name: s.agent_name,
    conversation_id: conversationId,
    host,
    pid: s.pid,
    process_name: s.process_name,
    start_ns: s.start_ns,
    end_ns: s.end_ns,
    llm_calls: s.llm_calls,
    tool_uses: s.tool_uses,
    tool_errors: s.tool_errors,
    input_tokens: s.input_tokens,
    output_tokens: s.output_tokens,
    cost_usd: priced > 0 ? s.cost_nusd / 1e9 : null,
    unpriced_calls: s.unpriced_calls,
    attributes: a,
  };
}
