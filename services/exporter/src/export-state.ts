/**
 * An export target's state in Redis (its only state), so a restart neither loses nor re-exports an item. Keys under
 * the target's prefix (`agentsight:export` for OTLP spans, see {@link EXPORT_KEY_PREFIX}; each target its own):
 * - `<prefix>:done:<event id>` (string: the exported version, TTL {@link DONE_TTL_S}): the item of this
 *   event was accepted by the receiver; later copies and versions of the event are dropped (items are immutable);
 * - `<prefix>:pending` (hash event id → msgpack of the newest version seen), `<prefix>:version`
 *   (hash event id → that version) and `<prefix>:due` (sorted set event id → due time, ms since the epoch):
 *   versioned events (`execute_tool` below version 3, `invoke_agent`, tool audit records) waiting to settle. A newer version replaces the
 *   payload and moves the due time to its arrival + settle time; a redelivered copy of the same version changes
 *   nothing; an older one is ignored.
 * Each change is one Lua script, so concurrent instances and redeliveries cannot interleave.
 */
import { decode, encode } from '@agentsight/contracts';
import type { Redis } from '@agentsight/jetstream';

/** TTL of the done markers, s: 7 days, the streams' retention (nothing older can be redelivered or replayed). */
export const DONE_TTL_S = 7 * 86_400;

/** Prefix of every key of the OTLP target's state (other targets: `agentsight:export:<target>`). */
export const EXPORT_KEY_PREFIX = 'agentsight:export';

// KEYS: pending, version, due, done key. ARGV: id, version, payload, due ms.
const OFFER = `
if redis.call('EXISTS', KEYS[4]) == 1 then return 'done' end
local cur = redis.call('HGET', KEYS[2], ARGV[1])
local v = tonumber(ARGV[2])
if cur and tonumber(cur) > v then return 'stale' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if cur and tonumber(cur) == v then
  redis.call('ZADD', KEYS[3], 'NX', ARGV[4], ARGV[1])
else
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
end
return 'pending'
`;

// KEYS: due. ARGV: now ms, lease ms, limit. Takes due ids and moves them to now + lease (in flight).
const CLAIM = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), id) end
return ids
`;

// KEYS: pending, version, due. ARGV: ttl, done key prefix, then (id, version) pairs; 'dead' = forget without a marker.
const FINISH = `
for i = 3, #ARGV, 2 do
  local id, v = ARGV[i], ARGV[i + 1]
  if v ~= 'dead' then redis.call('SET', ARGV[2] .. id, v, 'EX', tonumber(ARGV[1])) end
  redis.call('HDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
end
return 1
`;

// KEYS: due. ARGV: now ms. Every event due later becomes due now.
const EXPEDITE = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], tonumber(ARGV[1]), id) end
return #ids
`;

/** Result of {@link ExportState.offer}. */
export type OfferResult = 'pending' | 'done' | 'stale';

/** A versioned event whose settle time has passed, claimed for export. */
export interface DueEvent {
  id: string;
  /** The newest version seen (as it was offered); null when its payload is missing or does not decode (then forget it). */
  event: unknown;
}

/** See the module doc. */
export class ExportState {
  private readonly pending: string;
  private readonly versions: string;
  private readonly due: string;
  private readonly donePrefix: string;

  /** `prefix`: key prefix (default {@link EXPORT_KEY_PREFIX}; tests use their own). */
  constructor(private readonly redis: Redis, private readonly doneTtlS = DONE_TTL_S, prefix = EXPORT_KEY_PREFIX) {
    this.pending = `${prefix}:pending`;
    this.versions = `${prefix}:version`;
    this.due = `${prefix}:due`;
    this.donePrefix = `${prefix}:done:`;
  }

  /**
   * Records version `version` of event `id` (payload `ev`, msgpack) to export once it settles (`dueMs`, ms since the epoch). `done`: already exported
   * (drop it); `stale`: a newer version is pending (drop it); `pending`: stored.
   */
  async offer(id: string, version: number, ev: unknown, dueMs: number): Promise<OfferResult> {
    return (await this.redis.eval(OFFER, 4, this.pending, this.versions, this.due, this.donePrefix + id, id, String(version), encode(ev), String(Math.round(dueMs)))) as OfferResult;
  }

  /** Which of `ids` were exported already (done markers). */
  async doneOf(ids: string[]): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const v = await this.redis.mget(...ids.map((id) => this.donePrefix + id));
    return new Set(ids.filter((_, i) => v[i] !== null));
  }

  /**
   * Claims up to `limit` pending events due at `nowMs`: they are moved to `nowMs + leaseMs`, so another instance (or
   * this one after a crash) takes them only once that lease has passed without {@link finish}.
   */
  async claimDue(nowMs: number, leaseMs: number, limit: number): Promise<DueEvent[]> {
    const ids = (await this.redis.eval(CLAIM, 1, this.due, String(nowMs), String(leaseMs), String(limit))) as string[];
    if (!ids.length) return [];
    const payloads = await this.redis.hmgetBuffer(this.pending, ...ids);
    return ids.map((id, i) => {
      const p = payloads[i];
      let event: unknown = null;
      try {
        event = p ? decode<unknown>(p) : null;
      } catch {
        event = null;
      }
      return { id, event };
    });
  }

  /**
   * Marks events exported (`version` = the exported version, a done marker is set) or given up (`version` null:
   * dead-lettered or unreadable, no marker), and removes them from the pending set.
   */
  async finish(items: Array<{ id: string; version: number | null }>): Promise<void> {
    if (!items.length) return;
    const args = items.flatMap((it) => [it.id, it.version === null ? 'dead' : String(it.version)]);
    await this.redis.eval(FINISH, 3, this.pending, this.versions, this.due, String(this.doneTtlS), this.donePrefix, ...args);
  }

  /** Number of versioned events waiting to settle. */
  async pendingCount(): Promise<number> {
    return this.redis.zcard(this.due);
  }

  /**
   * Makes every pending event due now (`agentsight exec` at its end: the run's sessions are over, so their newest
   * versions are final); the next flush exports them. An event claimed by a flush in flight is made due too (its claim
   * cannot be told from a due time): a second flush skips it once the first one marked it done. Resolves with how many
   * were moved.
   */
  async expedite(nowMs: number): Promise<number> {
    return (await this.redis.eval(EXPEDITE, 1, this.due, String(nowMs))) as number;
  }
}
