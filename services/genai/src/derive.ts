/**
 * What genai publishes per input (no NATS here; the session store is Redis): an LLM call → its inference event and
 * its session's `invoke_agent` event; a tool use → its `execute_tool` event and its session's `invoke_agent` event.
 * Versioned events go out with `Nats-Msg-Id` `<id>:v<version>:<hash>` (storage keeps the highest version).
 */
import {
  hostToken, normalizeNs, Subjects, versionedMsgId, type GenAiAgentEvent, type GenAiInferenceEvent, type LlmCall, type ToolUse,
} from '@agentsight/contracts';
import type { Derived, Output } from '@agentsight/jetstream';
import { toAgentEvent, toInferenceEvent, toToolEvent, type SessionContribution } from './domain';
import type { SessionStore } from './session-store';

/** Options of the derivations: content capture (see `captureContentEnabled`). */
export interface GenAiDeriveOptions {
  captureContent?: boolean;
}

function agentOutput(ev: GenAiAgentEvent): Output {
  return { subject: Subjects.genai(hostToken(ev.host)), id: versionedMsgId(ev.id, ev.version, ev), value: ev };
}

/**
 * What an LLM call adds to its session (item `llm:<call id>`): its input/output tokens (0 when not reported), its
 * cost (USD, null = unpriced, as priced for its inference event), times (ns, normalized by the caller) and process.
 * Null when the call has no conversation id (no session). Pure; shared by the live fold and a rebuild.
 */
export function callContribution(call: LlmCall, costUsd: number | null, processName: string): SessionContribution | null {
  if (!call.conversation_id) return null;
  return {
    host: call.host, conversation_id: call.conversation_id, item: `llm:${call.id}`, kind: 'llm',
    input_tokens: call.usage.input_tokens ?? 0,
    output_tokens: call.usage.output_tokens ?? 0,
    cost_usd: costUsd,
    start_ns: call.start_ns,
    end_ns: call.end_ns,
    failed: false,
    agent_name: call.agent_name ?? processName,
    pid: call.pid,
    process_name: processName,
    provider: call.provider,
  };
}

/** A tool use's share of a session's usage: none (tokens and cost come from the calls). */
const NO_USAGE = { input_tokens: 0, output_tokens: 0, cost_usd: null } as const;

/**
 * What a tool use adds to its session (item `tool:<tool use id>`; `failed` when its result says so), or null when it
 * has no conversation id. Pure; shared by the live fold and a rebuild.
 */
export function toolContribution(t: ToolUse): SessionContribution | null {
  if (!t.conversation_id) return null;
  return {
    host: t.host, conversation_id: t.conversation_id, item: `tool:${t.id}`, kind: 'tool',
    ...NO_USAGE,
    start_ns: t.start_ns, end_ns: t.end_ns, failed: t.success === false,
    agent_name: t.agent_name ?? t.comm, pid: t.pid, process_name: t.comm, provider: null,
  };
}

/**
 * An LLM call's inference event and what it adds to its session (null without a conversation id); normalizes the
 * call's times (ns) in place first. Pure; the one derivation of both, for the live stage and a rebuild.
 */
export function inferenceOf(call: LlmCall, opts: GenAiDeriveOptions = {}): { ev: GenAiInferenceEvent; contribution: SessionContribution | null } {
  call.start_ns = normalizeNs(call.start_ns);
  call.end_ns = normalizeNs(call.end_ns);
  const ev = toInferenceEvent(call, { captureContent: opts.captureContent });
  return { ev, contribution: callContribution(call, ev.cost_usd, ev.process_name) };
}

/** A tool use with its times (ns) normalized in place (null stays null): what both the live stage and a rebuild fold. */
export function normalizedTool(t: ToolUse): ToolUse {
  t.start_ns = t.start_ns === null || t.start_ns === undefined ? null : normalizeNs(t.start_ns);
  t.end_ns = t.end_ns === null || t.end_ns === undefined ? null : normalizeNs(t.end_ns);
  return t;
}

/** An LLM call → inference event, plus the `invoke_agent` update of its session (when it has a conversation id). */
export async function deriveCall(call: LlmCall, sessions: SessionStore, opts: GenAiDeriveOptions = {}): Promise<Derived> {
  const { ev, contribution: c } = inferenceOf(call, opts);
  const outputs: Output[] = [{ subject: Subjects.genai(hostToken(ev.host)), id: ev.id, value: ev }];
  if (c) {
    const state = await sessions.fold(c);
    outputs.push(agentOutput(toAgentEvent(c.host, c.conversation_id, state)));
  }
  return { outputs };
}

/** A tool use → `execute_tool` event, plus the `invoke_agent` update of its session (when it has a conversation id). */
export async function deriveTool(t: ToolUse, sessions: SessionStore, opts: GenAiDeriveOptions = {}): Promise<Derived> {
  const ev = toToolEvent(normalizedTool(t), opts);
  const outputs: Output[] = [{ subject: Subjects.genai(hostToken(ev.host)), id: versionedMsgId(ev.id, ev.version, ev), value: ev }];
  const c = toolContribution(t);
  if (c) {
    const state = await sessions.fold(c);
    outputs.push(agentOutput(toAgentEvent(c.host, c.conversation_id, state)));
  }
  return { outputs };
}
