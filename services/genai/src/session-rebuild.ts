/**
 * Rebuild of genai's session totals after Redis lost them (issue 10: Redis is a cache, never the only copy): the
 * totals are re-folded from what genai folded them from, the LLM calls (`AGENTSIGHT_LLM`) and tool uses
 * (`AGENTSIGHT_TOOL`) of the last {@link SESSION_TTL_S}, through the same pure contributions as the live stage
 * (derive.ts), so they come out equal (each item counted once, start/end min/max). Then every rebuilt session's
 * `version` is lifted above the highest `invoke_agent` version already published for it (`AGENTSIGHT_GENAI`, read
 * from the events' `Nats-Msg-Id` `<agent event id>:v<version>:<hash>` alone, no payload), so the next event
 * supersedes the ones stored before the loss. Publishes nothing, acks nothing.
 */
import { STREAM, TOPOLOGY, type LlmCall, type ToolUse } from '@agentsight/contracts';
import { readStreamMsgIds, readStreamRange, type Nats } from '@agentsight/jetstream';
import { inferenceOf, normalizedTool, toolContribution } from './derive';
import { agentEventId, type SessionContribution } from './domain';
import { SESSION_TTL_S, type SessionStore } from './session-store';

/**
 * What a rebuild did: contributions folded, sessions rebuilt, and `lifted`: sessions with a published `invoke_agent`
 * version whose version is now above it (raised by the lift, or already there from the re-fold).
 */
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

  // The sessions by their invoke_agent event id, whose published versions are in the msg ids.
  const byEvent = new Map([...sessions].map(([k, s]) => [agentEventId(s.host, s.conversation), k]));
  const published = new Map<string, number>();
  await readStreamMsgIds(nats, { stream: STREAM.genai, sinceNs }, async (b) => {
    for (const { msgId } of b) {
      const m = msgId ? VERSIONED_MSG_ID.exec(msgId) : null;
      const k = m ? byEvent.get(m[1]) : undefined;
      if (k) published.set(k, Math.max(published.get(k) ?? 0, Number(m![2])));
    }
  });
  let lifted = 0;
  for (const [k, v] of published) {
    const s = sessions.get(k)!;
    if ((await store.liftVersion(s.host, s.conversation, v + 1)) === v + 1) lifted++;
  }
  return { contributions, sessions: sessions.size, lifted };
}

/** `versionedMsgId`'s shape (libs/contracts ids.ts): `<id>:v<version>:<8 hex of the content>`. */
const VERSIONED_MSG_ID = /^(.+):v(\d+):[0-9a-f]{8}$/;

function sessionOf(host: string, conversationId: string): string {
  return `${host}\0${conversationId}`;
}
