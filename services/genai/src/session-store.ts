/**
 * Agent-session totals in Redis (genai's only state): `agentsight:session:<host>:<conversation id>` (hash of totals)
 * and `…:items` (set of the contributions already counted), TTL {@link SESSION_TTL_S}. One Lua script folds a
 * contribution atomically: each item is counted once (redelivery and replay add nothing), start/end move to the min/max,
 * and `version` increases by one whenever the state changed, so the latest `invoke_agent` event always has the
 * highest version.
 *
 * Redis is a cache (issue 10): with a `rebuild` (session-rebuild.ts) the store has a "built" marker
 * {@link SESSIONS_BUILT_KEY}, checked by the fold script itself. A fold that finds it missing (Redis restarted empty,
 * a first start) folds nothing; the store runs the rebuild (libs/jetstream RebuildGate: one at a time, retried, given
 * up after 60 s with the marker set) and folds again, so no `invoke_agent` event goes out with totals that lack what
 * was folded before the loss, or with a version below one already published.
 */
import { RebuildGate, type Redis } from '@agentsight/jetstream';
import type { SessionContribution, SessionState } from './domain';

/** TTL of a session's totals, s (7 days = the streams' retention; `AGENTSIGHT_SESSION_TTL_S`). */
export const SESSION_TTL_S = Number(process.env.AGENTSIGHT_SESSION_TTL_S || 7 * 86_400);

/** The marker of session totals that hold what the streams say (see the module doc). */
export const SESSIONS_BUILT_KEY = 'agentsight:session:built';

/**
 * KEYS = hash, items set[, marker]; ARGV = item, kind, input, output, nano-USD, start, end, error item, ttl, then
 * field/value pairs set once. With a marker key that does not exist: folds nothing, returns false (nil to the client).
 */
const FOLD = `
local h, s = KEYS[1], KEYS[2]
if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 0 then return false end
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
  /** The marker and the single rebuild; null without a rebuild (a replay's fresh Redis prefix, specs). */
  private readonly gate: RebuildGate | null;

  /**
   * `rebuild` re-folds what the streams hold into this store ({@link foldRebuilt}, {@link liftVersion}) and resolves
   * when done; without it the store has no marker and folds at once.
   */
  constructor(private readonly redis: Redis, private readonly ttlS = SESSION_TTL_S, rebuild?: () => Promise<void>) {
    this.gate = rebuild ? new RebuildGate(redis, rebuild, { builtKey: SESSIONS_BUILT_KEY, label: '[genai] session totals' }) : null;
  }

  /**
   * Adds `c` to its session (idempotent per item) and returns the session's state after it. With a rebuild: when the
   * totals are missing, first waits for their rebuild (up to its 60 s give-up). Throws on Redis errors.
   */
  async fold(c: SessionContribution): Promise<SessionState> {
    if (!this.gate) return (await this.eval(c, false))!;
    return this.gate.whenBuilt(() => this.eval(c, true));
  }

  /** {@link fold} without looking at the marker: the rebuild's own folds. */
  async foldRebuilt(c: SessionContribution): Promise<SessionState> {
    return (await this.eval(c, false))!;
  }

  /** Rebuilds the totals when their marker is missing (shared, never rejects); resolves once they are there. */
  ensureBuilt(): Promise<void> {
    return this.gate?.ensureBuilt() ?? Promise.resolve();
  }

  /** One run of the fold script; null when `gated` and the marker is missing (nothing folded). */
  private async eval(c: SessionContribution, gated: boolean): Promise<SessionState | null> {
    const key = sessionKey(c.host, c.conversation_id);
    const nusd = c.cost_usd === null ? '' : String(Math.round(c.cost_usd * 1e9));
    const keys = gated ? [key, `${key}:items`, SESSIONS_BUILT_KEY] : [key, `${key}:items`];
    const flat = (await this.redis.eval(
      FOLD, keys.length, ...keys,
      c.item, c.kind, String(Math.trunc(c.input_tokens)), String(Math.trunc(c.output_tokens)), c.kind === 'llm' ? nusd : '',
      c.start_ns === null ? '' : pad(c.start_ns), c.end_ns === null ? '' : pad(c.end_ns),
      c.failed ? `toolerr:${c.item}` : '', String(this.ttlS),
      'agent_name', c.agent_name, 'pid', String(c.pid), 'process_name', c.process_name, 'provider', c.provider ?? '',
    )) as string[] | null;
    if (flat === null) return null;
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
