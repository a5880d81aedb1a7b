/**
 * What genai publishes per input (no NATS here; the session store is Redis): an LLM call → its inference event and
 * its session's `invoke_agent` event; a tool use → its `execute_tool` event and its session's `invoke_agent` event.
 * Versioned events go out with `Nats-Msg-Id` `<id>:v<version>:<hash>` (storage keeps the highest version).
 */
import { hostToken, normalizeNs, Subjects, versionedMsgId, type GenAiAgentEvent, type LlmCall, type ToolUse } from '@agentsight/contracts';
import type { Derived, Output } from '@agentsight/jetstream';
import { toAgentEvent, toInferenceEvent, toToolEvent } from './domain';
import type { SessionStore } from './session-store';

/** Options of the derivations: content capture (see `captureContentEnabled`). */
export interface GenAiDeriveOptions {
  captureContent?: boolean;
}

function agentOutput(ev: GenAiAgentEvent): Output {
  return { subject: Subjects.genai(hostToken(ev.host)), id: versionedMsgId(ev.id, ev.version, ev), value: ev };
}

/** An LLM call → inference event, plus the `invoke_agent` update of its session (when it has a conversation id). */
export async function deriveCall(call: LlmCall, sessions: SessionStore, opts: GenAiDeriveOptions = {}): Promise<Derived> {
  call.start_ns = normalizeNs(call.start_ns);
  call.end_ns = normalizeNs(call.end_ns);
  const ev = toInferenceEvent(call, { captureContent: opts.captureContent });
  const outputs: Output[] = [{ subject: Subjects.genai(hostToken(ev.host)), id: ev.id, value: ev }];
  if (call.conversation_id) {
    const state = await sessions.fold({
      host: call.host,
      conversation_id: call.conversation_id,
      item: `llm:${call.id}`,
      kind: 'llm',
      input_tokens: call.usage.input_tokens ?? 0,
      output_tokens: call.usage.output_tokens ?? 0,
      cost_usd: ev.cost_usd,
      start_ns: call.start_ns,
      end_ns: call.end_ns,
      failed: false,
      agent_name: call.agent_name ?? ev.process_name,
      pid: call.pid,
      process_name: ev.process_name,
      provider: call.provider,
    });
    outputs.push(agentOutput(toAgentEvent(call.host, call.conversation_id, state)));
  }
  return { outputs };
}

/** A tool use → `execute_tool` event, plus the `invoke_agent` update of its session (when it has a conversation id). */
export async function deriveTool(t: ToolUse, sessions: SessionStore, opts: GenAiDeriveOptions = {}): Promise<Derived> {
  t.start_ns = t.start_ns === null || t.start_ns === undefined ? null : normalizeNs(t.start_ns);
  t.end_ns = t.end_ns === null || t.end_ns === undefined ? null : normalizeNs(t.end_ns);
  const ev = toToolEvent(t, opts);
  const outputs: Output[] = [{ subject: Subjects.genai(hostToken(ev.host)), id: versionedMsgId(ev.id, ev.version, ev), value: ev }];
  if (t.conversation_id) {
    const state = await sessions.fold({
      host: t.host,
      conversation_id: t.conversation_id,
      item: `tool:${t.id}`,
      kind: 'tool',
      input_tokens: 0,
      output_tokens: 0,
      cost_usd: null,
      start_ns: t.start_ns,
      end_ns: t.end_ns,
      failed: t.success === false,
      agent_name: t.agent_name ?? t.comm,
      pid: t.pid,
      process_name: t.comm,
      provider: null,
    });
    outputs.push(agentOutput(toAgentEvent(t.host, t.conversation_id, state)));
  }
  return { outputs };
}
