/**
 * What the analyzer publishes for one exchange (no NATS here: the service publishes the {@link Derived} outputs, the
 * index is Redis): the LLM call with its resolved conversation, its audit record, and for each tool call requested by
 * its response or answered by its request the current ToolUse and its `tool` audit record.
 */
import { hostToken, Subjects, versionedMsgId, type Exchange, type ToolUse } from '@agentsight/contracts';
import type { Derived } from '@agentsight/jetstream';
import { analyzeExchange, auditForTool, mergeToolUse, toolRequests, toolResults } from './domain';
import type { ToolIndex } from './tool-index';

/** Options of {@link deriveExchange}. */
export interface DeriveOptions {
  /** `LlmCall.content` on (see `captureContentEnabled`). */
  captureContent?: boolean;
}

/**
 * Analyzes `ex` and builds every output: `agentsight.llm.<host>` (the call, Nats-Msg-Id = call id),
 * `agentsight.audit.<host>` (its `llm` audit record), and per tool half `agentsight.tool.<host>` (the merged ToolUse,
 * Nats-Msg-Id `<id>:v<version>:<hash>`) plus its `tool` audit record (same scheme). Responses chains: a request with
 * `previous_response_id` takes the conversation recorded for that response (else the previous response id itself);
 * every Responses call records its response id → conversation. Throws only when Redis fails (the input is then
 * redelivered).
 */
export async function deriveExchange(ex: Exchange, index: ToolIndex, opts: DeriveOptions = {}): Promise<Derived & { tools: ToolUse[] }> {
  const r = analyzeExchange(ex, { captureContent: opts.captureContent });
  const d: Derived & { tools: ToolUse[] } = { outputs: [], deadLetters: r.deadLetters, tools: [] };
  const call = r.call;
  if (!call) return d;
  const host = call.host;
  const token = hostToken(host);
  const prev = r.conversation?.previous_response_id;
  if (prev) call.conversation_id = (await index.conversationOfResponse(host, prev)) ?? prev;
  if (call.api === 'responses' && call.response_id && call.conversation_id) await index.recordResponse(host, call.response_id, call.conversation_id);
  d.outputs.push({ subject: Subjects.llm(token), id: call.id, value: call });
  for (const a of r.audit) d.outputs.push({ subject: Subjects.audit(token), id: a.id, value: a });
  if (!r.request) return d;
  const halves = [
    ...toolRequests(call, r.request).map((value) => ({ kind: 'request' as const, value })),
    ...toolResults(call, r.request).map((value) => ({ kind: 'result' as const, value })),
  ];
  for (const h of halves) {
    const known = await index.put(host, h);
    const t = mergeToolUse(host, known.request, known.result);
    const a = auditForTool(t, call.process?.ppid ?? 0);
    d.tools.push(t);
    d.outputs.push({ subject: Subjects.tool(token), id: versionedMsgId(t.id, t.version, t), value: t });
    d.outputs.push({ subject: Subjects.audit(token), id: versionedMsgId(a.id, t.version, a), value: a });
  }
  return d;
}
