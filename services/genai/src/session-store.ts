/**
 * Agent-session totals in Redis (genai's only state): `agentsight:session:<host>:<conversation id>` (hash of totals)
 * and `…:items` (set of the contributions already counted), TTL {@link SESSION_TTL_S}. One Lua script folds a
 * contribution atomically: each item is counted once (redelivery and replay add nothing), start/end move to the min/max,
 * and `version` increases by one whenever the state changed, so the latest `invoke_agent` event always has the
 * highest version.
 */
import type { Redis } from '@agentsight/jetstream';
import type { SessionContribution, SessionState } from './domain';

/** TTL of a session's totals, s (7 days = the streams' retention; `AGENTSIGHT_SESSION_TTL_S`). */
export const SESSION_TTL_S = Number(process.env.AGENTSIGHT_SESSION_TTL_S || 7 * 86_400);

const FOLD = `
local h, s = KEYS[1], KEYS[2]
local item, kind, inp, out, cost, st, en, erritem = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local ttl = tonumber(ARGV[9])
local changed = false
for i = 10, #ARGV, 2 do
  if ARGV[i + 1] ~= '' and redis.call('HSETNX', h, ARGV[i], ARGV[i + 1]) == 1 then changed = true end
end
if redis.call('SADD', s, item) == 1 then
  changed = true
  if kind == 'llm' then
    redis.call('HINCRBY', h, 'llm_calls', 1)
    redis.call('HINCRBY', h, 'input_tokens', inp)
    redis.call('HINCRBY', h, 'output_tokens', out)
    if cost == '' then redis.call('HINCRBY', h, 'unpriced_calls', 1) else redis.call('HINCRBY', h, 'cost_nusd', cost) end
  else
    redis.call('HINCRBY', h, 'tool_uses', 1)
  end
end
if erritem ~= '' and redis.call('SADD', s, erritem) == 1 then
  changed = true
  redis.call('HINCRBY', h, 'tool_errors', 1)
end
if st ~= '' then
  local cur = redis.call('HGET', h, 'start')
  if (not cur) or st < cur then redis.call('HSET', h, 'start', st); changed = true end
end
if en ~= '' then
  local cur = redis.call('HGET', h, 'end')
  if (not cur) or en > cur then redis.call('HSET', h, 'end', en); changed = true end
end
if changed then redis.call('HINCRBY', h, 'version', 1) end
redis.call('EXPIRE', h, ttl)
redis.call('EXPIRE', s, ttl)
return redis.call('HGETALL', h)
`;

/** Sets a session's `version` to `ARGV[1]` when that is higher; returns the version after it. */
const LIFT = `
local cur = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
local v = tonumber(ARGV[1])
if v <= cur then return cur end
redis.call('HSET', KEYS[1], 'version', v)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return v
`;

/** Redis key of a session's totals hash (its items set is `…:items`). */
function sessionKey(host: string, conversationId: string): string {
  return `agentsight:session:${host}:${conversationId}`;
}

function pad(ns: bigint): string {
  return ns.toString().padStart(24, '0');
}

/** Folds contributions into session totals (see the module doc). */
export class SessionStore {
  constructor(private readonly redis: Redis, private readonly ttlS = SESSION_TTL_S) {}

  /** Adds `c` to its session (idempotent per item) and returns the session's state after it. */
  async fold(c: SessionContribution): Promise<SessionState> {
    const key = sessionKey(c.host, c.conversation_id);
    const nusd = c.cost_usd === null ? '' : String(Math.round(c.cost_usd * 1e9));
    const flat = (await this.redis.eval(
      FOLD, 2, key, `${key}:items`,
      c.item, c.kind, String(Math.trunc(c.input_tokens)), String(Math.trunc(c.output_tokens)), c.kind === 'llm' ? nusd : '',
      c.start_ns === null ? '' : pad(c.start_ns), c.end_ns === null ? '' : pad(c.end_ns),
      c.failed ? `toolerr:${c.item}` : '', String(this.ttlS),
      'agent_name', c.agent_name, 'pid', String(c.pid), 'process_name', c.process_name, 'provider', c.provider ?? '',
    )) as string[];
    const h: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) h[flat[i]] = flat[i + 1];
    const n = (k: string) => Number(h[k] ?? 0);
    const ns = (k: string, d: bigint) => (h[k] ? BigInt(h[k]) : d);
    const start = ns('start', ns('end', 0n));
    return {
      version: n('version'),
      agent_name: h.agent_name ?? c.agent_name,
      pid: n('pid'),
      process_name: h.process_name ?? c.process_name,
      provider: h.provider || null,
      llm_calls: n('llm_calls'),
      tool_uses: n('tool_uses'),
      tool_errors: n('tool_errors'),
      input_tokens: n('input_tokens'),
      output_tokens: n('output_tokens'),
      cost_nusd: n('cost_nusd'),
      unpriced_calls: n('unpriced_calls'),
      start_ns: start,
      end_ns: ns('end', start),
    };
  }

  /**
   * Raises the session's `version` to at least `version` (an `invoke_agent` version already published, so the next
   * fold's event supersedes it in storage); never lowers it. Resolves with the version after it (0 = no session and
   * `version` ≤ 0). A lifted session's hash gets the store's TTL.
   */
  async liftVersion(host: string, conversationId: string, version: number): Promise<number> {
    return Number(await this.redis.eval(LIFT, 1, sessionKey(host, conversationId), String(Math.trunc(version)), String(this.ttlS)));
  }
}
