/**
 * The analyzer's small Redis index (connection from the StageRuntime, as the aggregator's state):
 * - `agentsight:tool:<host>:<pid>:<call key>` (hash, TTL {@link TOOL_INDEX_TTL_S}): the two halves of a tool use
 *   (`request`, `result`: JSON of `ToolRequestHalf` / `ToolResultHalf`, see `domain/tools.ts`), so whichever half
 *   is processed second (on any TLS connection, in any order) publishes the complete ToolUse. When several halves of
 *   the same kind arrive (a retried request repeating a result), the one with the earliest time wins (ties: the
 *   smaller JSON), so replay and concurrency give the same final state.
 * - `agentsight:resp:<host>:<response id>` (string, TTL {@link RESPONSE_INDEX_TTL_S}): the conversation id of an
 *   OpenAI Responses response, to resolve `previous_response_id` chains.
 */
import type { Redis } from '@agentsight/jetstream';
import type { ToolRequestHalf, ToolResultHalf } from './domain';

/** TTL of a tool-use entry, s (24 h; `AGENTSIGHT_TOOL_INDEX_TTL_S`). */
export const TOOL_INDEX_TTL_S = Number(process.env.AGENTSIGHT_TOOL_INDEX_TTL_S || 86_400);
/** TTL of a response → conversation entry, s (7 days = the streams' retention). */
export const RESPONSE_INDEX_TTL_S = 7 * 86_400;

/** KEYS[1] = hash; ARGV = field, json, order (zero-padded ns), ttl. Keeps the earliest of each field; returns both fields. */
const PUT_HALF = `
local f = ARGV[1]
local cur = redis.call('HGET', KEYS[1], f .. '_order')
if (not cur) or ARGV[3] < cur or (ARGV[3] == cur and ARGV[2] < redis.call('HGET', KEYS[1], f)) then
  redis.call('HSET', KEYS[1], f, ARGV[2], f .. '_order', ARGV[3])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return {redis.call('HGET', KEYS[1], 'request'), redis.call('HGET', KEYS[1], 'result')}
`;

/** Both halves of one tool use as stored (null = not seen yet). */
export interface ToolHalves {
  request: ToolRequestHalf | null;
  result: ToolResultHalf | null;
}

function pad(ns: string): string {
  return ns.padStart(24, '0');
}

/** Redis-backed index of tool-use halves and Responses chains (see the module doc). */
export class ToolIndex {
  constructor(private readonly redis: Redis, private readonly ttlS = TOOL_INDEX_TTL_S) {}

  private key(host: string, pid: number, callKey: string): string {
    return `agentsight:tool:${host}:${pid}:${callKey}`;
  }

  /** Stores one half (atomically with reading both) and returns what is known of the tool use now. */
  async put(host: string, half: { kind: 'request'; value: ToolRequestHalf } | { kind: 'result'; value: ToolResultHalf }): Promise<ToolHalves> {
    const v = half.value;
    const order = pad(half.kind === 'request' ? (half.value as ToolRequestHalf).start_ns : (half.value as ToolResultHalf).end_ns);
    const r = (await this.redis.eval(PUT_HALF, 1, this.key(host, v.pid, v.key), half.kind, JSON.stringify(v), order, String(this.ttlS))) as [string | null, string | null];
    return { request: r[0] ? (JSON.parse(r[0]) as ToolRequestHalf) : null, result: r[1] ? (JSON.parse(r[1]) as ToolResultHalf) : null };
  }

  /** Conversation of a Responses response id, or null when unknown. */
  async conversationOfResponse(host: string, responseId: string): Promise<string | null> {
    return this.redis.get(`agentsight:resp:${host}:${responseId}`);
  }

  /** Records the conversation of a Responses response id (later chained calls inherit it). */
  async recordResponse(host: string, responseId: string, conversationId: string): Promise<void> {
    await this.redis.set(`agentsight:resp:${host}:${responseId}`, conversationId, 'EX', RESPONSE_INDEX_TTL_S);
  }
}
