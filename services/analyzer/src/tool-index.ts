/**
 * The analyzer's small Redis index (connection from the StageRuntime, as the aggregator's state):
 * - `agentsight:tool:<host>:<tool use id>` (hash, TTL {@link TOOL_INDEX_TTL_S}): the two halves of a tool use
 *   (`request`, `result`: JSON of `ToolRequestHalf` / `ToolResultHalf`, see `domain/tools.ts`), so whichever half
 *   is processed second (on any TLS connection, in any order) publishes the complete ToolUse. When several halves of
 *   the same kind arrive (a retried request repeating a result), the one with the earliest time wins (ties: the
 *   smaller JSON), so replay and concurrency give the same final state.
 * - `agentsight:resp:<host>:<response id>` (string, TTL {@link RESPONSE_INDEX_TTL_S}): the conversation id of an
 *   OpenAI Responses response, to resolve `previous_response_id` chains.
 *
 * Redis is a cache (issue 10): with a `rebuild` (tool-rebuild.ts) the index has a "built" marker
 * {@link TOOLS_BUILT_KEY}, checked by the scripts that read it. One that finds it missing (Redis restarted empty, a
 * first start) reads and writes nothing; the index runs the rebuild (libs/jetstream RebuildGate: one at a time,
 * retried, given up after 60 s with the marker set) and tries again, so a half never meets an index that lost its
 * other half.
 */
import { RebuildGate, type Redis } from '@agentsight/jetstream';
import type { ToolRequestHalf, ToolResultHalf } from './domain';

/** TTL of a tool-use entry, s (24 h; `AGENTSIGHT_TOOL_INDEX_TTL_S`). */
export const TOOL_INDEX_TTL_S = Number(process.env.AGENTSIGHT_TOOL_INDEX_TTL_S || 86_400);
/** TTL of a response → conversation entry, s (7 days = the streams' retention). */
export const RESPONSE_INDEX_TTL_S = 7 * 86_400;
/** The marker of an index that holds what the streams say (see the module doc). */
export const TOOLS_BUILT_KEY = 'agentsight:tool:built';

/**
 * KEYS[1] = hash[, KEYS[2] = marker]; ARGV = field, json, order (zero-padded ns), ttl. Keeps the earliest of each
 * field; returns both fields. With a marker key that does not exist: writes nothing, returns {'unbuilt'}.
 */
const PUT_HALF = `
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 0 then return {'unbuilt'} end
local f = ARGV[1]
local cur = redis.call('HGET', KEYS[1], f .. '_order')
if (not cur) or ARGV[3] < cur or (ARGV[3] == cur and ARGV[2] < redis.call('HGET', KEYS[1], f)) then
  redis.call('HSET', KEYS[1], f, ARGV[2], f .. '_order', ARGV[3])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return {redis.call('HGET', KEYS[1], 'request'), redis.call('HGET', KEYS[1], 'result')}
`;

/** KEYS[1] = response entry[, KEYS[2] = marker]: {1, conversation or false}, or {0} when the marker is missing. */
const GET_RESPONSE = `
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 0 then return {0} end
return {1, redis.call('GET', KEYS[1])}
`;

/** Both halves of one tool use as stored (null = not seen yet). */
export interface ToolHalves {
  request: ToolRequestHalf | null;
  result: ToolResultHalf | null;
}

/** One half to put: its kind and value. */
export type ToolHalf = { kind: 'request'; value: ToolRequestHalf } | { kind: 'result'; value: ToolResultHalf };

function pad(ns: string): string {
  return ns.padStart(24, '0');
}

/** Redis-backed index of tool-use halves and Responses chains (see the module doc). */
export class ToolIndex {
  /** The marker and the single rebuild; null without a rebuild (a replay's fresh Redis prefix, specs). */
  private readonly gate: RebuildGate | null;

  /**
   * `rebuild` re-puts what the streams hold into this index ({@link putRebuilt}, {@link recordResponse}) and
   * resolves when done; without it the index has no marker.
   */
  constructor(private readonly redis: Redis, private readonly ttlS = TOOL_INDEX_TTL_S, rebuild?: () => Promise<void>) {
    this.gate = rebuild ? new RebuildGate(redis, rebuild, { builtKey: TOOLS_BUILT_KEY, label: '[analyzer] tool index' }) : null;
  }

  private key(host: string, toolUseId: string): string {
    return `agentsight:tool:${host}:${toolUseId}`;
  }

  /** Keys of a gated script: `key`, plus the marker when the index has one and `gated`. */
  private keys(key: string, gated: boolean): string[] {
    return gated && this.gate ? [key, TOOLS_BUILT_KEY] : [key];
  }

  /** `attempt` once the index is there (RebuildGate.whenBuilt; at once without a rebuild, where it never gives null). */
  private whenBuilt<T>(attempt: () => Promise<T | null>): Promise<T> {
    return this.gate ? this.gate.whenBuilt(attempt) : (attempt() as Promise<T>);
  }

  /** Rebuilds the index when its marker is missing (shared, never rejects); resolves once it is there. */
  ensureBuilt(): Promise<void> {
    return this.gate?.ensureBuilt() ?? Promise.resolve();
  }

  /**
   * Stores one half (atomically with reading both) and returns what is known of the tool use now. With a rebuild:
   * when the index is missing, first waits for its rebuild. Throws on Redis errors.
   */
  async put(host: string, half: ToolHalf): Promise<ToolHalves> {
    return this.whenBuilt(() => this.putHalf(host, half, true));
  }

  /** {@link put} without looking at the marker: the rebuild's own writes. */
  async putRebuilt(host: string, half: ToolHalf): Promise<void> {
    await this.putHalf(host, half, false);
  }

  private async putHalf(host: string, half: ToolHalf, gated: boolean): Promise<ToolHalves | null> {
    const order = pad(half.kind === 'request' ? half.value.start_ns : half.value.end_ns);
    const keys = this.keys(this.key(host, half.value.id), gated);
    const r = (await this.redis.eval(PUT_HALF, keys.length, ...keys, half.kind, JSON.stringify(half.value), order, String(this.ttlS))) as Array<string | null>;
    if (r[0] === 'unbuilt') return null;
    return { request: r[0] ? (JSON.parse(r[0]) as ToolRequestHalf) : null, result: r[1] ? (JSON.parse(r[1]) as ToolResultHalf) : null };
  }

  /** Conversation of a Responses response id, or null when unknown (with a rebuild: once the index is there). */
  async conversationOfResponse(host: string, responseId: string): Promise<string | null> {
    const keys = this.keys(`agentsight:resp:${host}:${responseId}`, true);
    const r = await this.whenBuilt(async () => {
      const [built, conversation] = (await this.redis.eval(GET_RESPONSE, keys.length, ...keys)) as [number, string | null];
      return built ? { conversation: conversation ?? null } : null;
    });
    return r.conversation;
  }

  /** Records the conversation of a Responses response id (later chained calls inherit it). */
  async recordResponse(host: string, responseId: string, conversationId: string): Promise<void> {
    await this.redis.set(`agentsight:resp:${host}:${responseId}`, conversationId, 'EX', RESPONSE_INDEX_TTL_S);
  }
}
