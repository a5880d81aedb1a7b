/**
 * Rebuild of the analyzer's Redis index after Redis lost it (issue 10: Redis is a cache, never the only copy): the
 * tool-use halves are given back by the ToolUses the analyzer published (`AGENTSIGHT_TOOL`, the last
 * {@link TOOL_INDEX_TTL_S}; `toolHalvesOf`: version 1 → request half, 2 → result half, 3 → both) and put again
 * (earliest half wins, as live), and the Responses chains by the Responses calls it published (`AGENTSIGHT_LLM`, the
 * last {@link RESPONSE_INDEX_TTL_S}: response id → the call's resolved conversation). Publishes nothing, acks nothing.
 */
import { STREAM, type LlmCall, type ToolUse } from '@agentsight/contracts';
import { readStreamRange, type Nats } from '@agentsight/jetstream';
import { toolHalvesOf } from './domain';
import { RESPONSE_INDEX_TTL_S, TOOL_INDEX_TTL_S, type ToolHalf, type ToolIndex } from './tool-index';

/** What a rebuild put back: tool-use halves and Responses chain entries. */
export interface ToolRebuildReport {
  halves: number;
  responses: number;
}

const sinceNs = (ttlS: number) => BigInt(Date.now() - ttlS * 1000) * 1_000_000n;

/**
 * Re-puts the index's entries from the streams (see the module doc). Idempotent. Resolves with what it put; throws
 * when JetStream or Redis does not answer (the index's gate retries, then gives up).
 */
export async function rebuildToolIndex(nats: Nats, index: ToolIndex, ttlS = TOOL_INDEX_TTL_S): Promise<ToolRebuildReport> {
  const report: ToolRebuildReport = { halves: 0, responses: 0 };
  await readStreamRange<ToolUse>(nats, { stream: STREAM.tool, sinceNs: sinceNs(ttlS) }, async (batch) => {
    const halves: Array<[string, ToolHalf]> = [];
    for (const { value: t } of batch) {
      const { request, result } = toolHalvesOf(t);
      if (request) halves.push([t.host, { kind: 'request', value: request }]);
      if (result) halves.push([t.host, { kind: 'result', value: result }]);
    }
    // One connection: the scripts run in this order, pipelined.
    await Promise.all(halves.map(([host, h]) => index.putRebuilt(host, h)));
    report.halves += halves.length;
  });
  await readStreamRange<LlmCall>(nats, { stream: STREAM.llm, sinceNs: sinceNs(RESPONSE_INDEX_TTL_S) }, async (batch) => {
    const chained = batch.map((m) => m.value).filter((c) => c.api === 'responses' && c.response_id && c.conversation_id);
    await Promise.all(chained.map((c) => index.recordResponse(c.host, c.response_id!, c.conversation_id!)));
    report.responses += chained.length;
  });
  return report;
}
