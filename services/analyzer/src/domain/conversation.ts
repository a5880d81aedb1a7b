/**
 * Agent sessions: `gen_ai.conversation.id` and `gen_ai.agent.name` of an LLM call (semconv v1.41).
 */
import { deriveId, type Exchange } from '@agentsight/contracts';
import { obj, parseJson, str, type JsonObject } from './json';
import { apiAdapter } from './apis';

/** Where a call's conversation id came from (see {@link conversationOf}). */
export interface ConversationRef {
  /** The conversation id: the provider's, or the per-process default. */
  id: string;
  source: 'provider' | 'process';
  /**
   * OpenAI Responses `previous_response_id` of the request (only when the request names no `conversation`): the
   * service resolves it to the conversation of the chain's first call (Redis index of response ids), else keeps `id`
   * = this previous response id.
   */
  previous_response_id: string | null;
}

/** Session id inside an Anthropic `metadata.user_id`: `user_<h>_account_<uuid>_session_<uuid>` (Claude Code), or a JSON text with `session_id`. */
function anthropicSession(userId: string): string | null {
  const m = /(?:^|_)session_(.+)$/.exec(userId);
  if (m) return m[1];
  const r = userId.trim().startsWith('{') ? parseJson(userId) : null;
  return r?.ok ? (str(obj(r.value)?.session_id) ?? str(obj(r.value)?.sessionId)) : null;
}

/** The first `conversation_id` / `session_id` (or camelCase) string at the top level or inside `metadata`. */
function explicitId(req: JsonObject): string | null {
  for (const o of [req, obj(req.metadata)]) {
    if (!o) continue;
    for (const k of ['conversation_id', 'conversationId', 'session_id', 'sessionId']) {
      const v = o[k];
      if (typeof v === 'string' && v) return v;
      if (typeof v === 'number') return String(v);
    }
  }
  return null;
}

/**
 * The per-process default conversation: `deriveId('conversation', host, boot_id, pid, process start_ns)` (start 0
 * when the process is unknown) = one conversation per agent process.
 */
export function processConversationId(ex: Pick<Exchange, 'conn' | 'process'>): string {
  return deriveId('conversation', ex.conn.host, ex.conn.boot_id, ex.conn.pid, ex.process?.start_ns ?? 0n);
}

/**
 * The conversation of a call, first match wins:
 * 1. the API's own conversation field (adapter `conversation`: OpenAI Responses `conversation`, a string or `{id}`);
 * 2. Anthropic `metadata.user_id` carrying `session_<id>` (Claude Code) or a JSON `session_id`;
 * 3. any `conversation_id` / `session_id` (also camelCase) field at the top level or in `metadata`;
 * 4. the per-process default ({@link processConversationId}), with the previous response the request continues
 *    (adapter `previousResponseId`: Responses `previous_response_id`) handed to the service for chain resolution.
 */
export function conversationOf(api: string, ex: Pick<Exchange, 'conn' | 'process'>, req: JsonObject | undefined): ConversationRef {
  const provider = (id: string): ConversationRef => ({ id, source: 'provider', previous_response_id: null });
  const adapter = apiAdapter(api);
  if (req) {
    const c = adapter?.conversation?.(req);
    if (c) return provider(c);
    const userId = str(obj(req.metadata)?.user_id);
    if (userId) {
      const s = anthropicSession(userId);
      if (s) return provider(s);
    }
    const e = explicitId(req);
    if (e) return provider(e);
  }
  const prev = adapter?.previousResponseId?.(req) ?? null;
  return { id: processConversationId(ex), source: 'process', previous_response_id: prev };
}

