/**
 * Rebuild of genai's session totals after Redis lost them (issue 10: Redis is a cache, never the only copy): the
 * totals are re-folded from what genai folded them from, the LLM calls (`AGENTSIGHT_LLM`) and tool uses
 * (`AGENTSIGHT_TOOL`) of the last {@link SESSION_TTL_S}, through the same pure contributions as the live stage
 * (derive.ts), so they come out equal (each item counted once, start/end min/max). Then every rebuilt session's
 * `version` is lifted above the highest `invoke_agent` version already published for it (`AGENTSIGHT_GENAI`), so the
 * next event supersedes the ones stored before the loss. Publishes nothing, acks nothing.
 */
import { STREAM, TOPOLOGY, type GenAiRecord, type LlmCall, type ToolUse } from '@agentsight/contracts';
import { readStreamRange, type Nats, type RangeMessage } from '@agentsight/jetstream';
import { inferenceOf, normalizedTool, toolContribution } from './derive';
import type { SessionContribution } from './domain';
import { SESSION_TTL_S, type SessionStore } from './session-store';

/** What a rebuild did: contributions folded, sessions rebuilt, sessions whose version was lifted. */
export interface SessionRebuildReport {
  contributions: number;
  sessions: number;
  lifted: number;
}

/**
 * Re-folds the session totals of the last `ttlS` seconds (default {@link SESSION_TTL_S}) into `store` from the streams
 * (see the module doc) and lifts their versions. Idempotent: a second run folds nothing new. Resolves with what it
 * did; throws when JetStream or Redis does not answer (the store's gate retries, then gives up).
 */
export async function rebuildSessions(nats: Nats, store: SessionStore, ttlS = SESSION_TTL_S): Promise<SessionRebuildReport> {
  const sinceNs = BigInt(Date.now() - ttlS * 1000) * 1_000_000n;
  const sessions = new Map<string, { host: string; conversation: string }>();
  let contributions = 0;
  const fold = async (cs: Array<SessionContribution | null>) => {
    const live = cs.filter((c): c is SessionContribution => c !== null);
    // One connection: the scripts run in this order, pipelined.
    await Promise.all(live.map((c) => store.foldRebuilt(c)));
    for (const c of live) sessions.set(sessionOf(c.host, c.conversation_id), { host: c.host, conversation: c.conversation_id });
    contributions += live.length;
  };
  const { llm, tool } = TOPOLOGY.genai.consumes;
  await readStreamRange<LlmCall>(nats, { stream: llm.stream, filter: llm.filterSubject, sinceNs }, (b) => fold(b.map((m) => inferenceOf(m.value).contribution)));
  await readStreamRange<ToolUse>(nats, { stream: tool.stream, filter: tool.filterSubject, sinceNs }, (b) => fold(b.map((m) => toolContribution(normalizedTool(m.value)))));

  const published = new Map<string, number>();
  await readStreamRange<GenAiRecord>(nats, { stream: STREAM.genai, sinceNs }, async (b: RangeMessage<GenAiRecord>[]) => {
    for (const { value: e } of b) {
      if (e?.kind !== 'invoke_agent') continue;
      const k = sessionOf(e.host, e.conversation_id);
      if (sessions.has(k)) published.set(k, Math.max(published.get(k) ?? 0, e.version));
    }
  });
  let lifted = 0;
  for (const [k, v] of published) {
    const s = sessions.get(k)!;
    if ((await store.liftVersion(s.host, s.conversation, v + 1)) === v + 1) lifted++;
  }
  return { contributions, sessions: sessions.size, lifted };
}

function sessionOf(host: string, conversationId: string): string {
  return `${host}\0${conversationId}`;
}
