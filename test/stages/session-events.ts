/**
 * Test helper (not a test: `.test.ts`): real GenAI events of one agent session (corpus → analyzer domain → genai
 * domain) and deliveries that record their fate, for the export engine's specs.
 */
import type { GenAiRecord } from '@agentsight/contracts';
import { groundTruthFor, exchangeFor } from '@agentsight/testkit';
import { analyzeExchange, mergeToolUse, toolRequests, type ToolResultHalf } from '../../services/analyzer/src/domain';
import { toAgentEvent, toInferenceEvent, toToolEvent } from '../../services/genai/src/domain';
import type { Delivery } from '../../services/exporter/src/engine';

/** Real events of one agent session: two inference events, a tool use in versions 1..3, and session updates 1..3. */
export function events(conversation = 'conv-e') {
  const calls = ['ddtrace__completion_stream_with_tools.yaml', 'ddtrace__chat_completion_tool_call_streamed.yaml'].map((f) => {
    const r = analyzeExchange(exchangeFor(groundTruthFor(f)));
    return { call: { ...r.call!, pid: 4242, conversation_id: conversation }, req: r.request! };
  });
  const host = calls[0]!.call.host;
  const inference = calls.map(({ call }) => toInferenceEvent(call));
  const half = { ...toolRequests(calls[0]!.call, calls[0]!.req)[0]! };
  const result: ToolResultHalf = {
    id: half.id, key: half.key, call_id: half.call_id, name: half.name, arguments: half.arguments, result: 'ok', success: true,
    end_ns: (BigInt(half.start_ns) + 500_000_000n).toString(), result_llm_call_id: inference[1]!.llm_call_id,
    conversation_id: half.conversation_id, agent_name: half.agent_name, pid: half.pid, comm: half.comm,
  };
  const tool = [mergeToolUse(host, half, null), mergeToolUse(host, null, result), mergeToolUse(host, half, result)].map((t) => toToolEvent(t));
  const session = [1, 2, 3].map((version) => toAgentEvent(host, conversation, {
    version, agent_name: 'agent', pid: 4242, process_name: 'node', provider: 'openai', llm_calls: Math.min(version, 2), tool_uses: version > 2 ? 1 : 0,
    tool_errors: 0, input_tokens: 100 * version, output_tokens: 10 * version, cost_nusd: 0, unpriced_calls: 0,
    start_ns: inference[0]!.start_ns, end_ns: inference[1]!.end_ns,
  }));
  return { inference, tool, session };
}

let seq = 0;
/** A delivery that records its fate. */
export function delivery(value: GenAiRecord, onAck?: () => void): Delivery & { acked: number; naked: number } {
  const d = {
    value, subject: 'agentsight.genai.test', seq: ++seq, msgId: `${value.id}:${seq}`, acked: 0, naked: 0,
    ack: () => { d.acked++; onAck?.(); },
    working: () => undefined,
    nak: () => { d.naked++; },
  };
  return d;
}

