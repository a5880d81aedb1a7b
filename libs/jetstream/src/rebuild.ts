import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { nuid } from '@nats-io/nats-core';
import { decode } from '@agentsight/contracts';
import type { Nats } from './nats';
import type { Redis } from './redis';
import { countStageEvent } from './batch-metrics';
import { firstDelivery } from './consumer';
import { MissingClaimCheckError, payloadOf } from './large';

/**
 * Rebuilding a Redis cache from JetStream (issue 10): Redis is a cache, never
 * the only copy of anything, so a stage whose cache is gone (Redis restarted empty, a first start) re-derives it
 * from the stream(s) it came from. {@link RebuildGate} is the "built" marker and the single rebuild of one cache;
 * {@link readStreamRange} reads what a rebuild re-folds. Replays (`nats.scope` set) skip rebuilding: the replay's
 * own streams are fresh. A rebuild publishes nothing and acks nothing; it only re-puts/re-folds idempotently.
 */

/** Options of a RebuildGate. */
export interface RebuildGateOptions {
  /** Redis key present while the cache holds what the stream says (e.g. 'agentsight:tool:built'). */
  builtKey: string;
  /** Log prefix, e.g. '[analyzer] tool index'. */
  label: string;
  /** How long a failing rebuild is retried before giving up, ms (default 60_000). */
  retryForMs?: number;
}

/** First pause after a failed rebuild, ms; doubled after each further failure up to {@link RETRY_MAX_MS}. */
const RETRY_FIRST_MS = 100;
/** Longest pause between two attempts of a failing rebuild, ms. */
const RETRY_MAX_MS = 5_000;

/**
 * One cache's "built" marker and its single rebuild (the pattern of the aggregator's process table, b25d93e):
 * - ensureBuilt(): if the marker is missing, runs `rebuild` (at most one at a time per gate; concurrent callers
 *   share it), then sets the marker (value: Date.now(), ms). Never rejects: a failing rebuild is retried with backoff
 *   (0.1 s doubling to 5 s) for retryForMs, then logged (`${label}: rebuild gave up after N s: <reason>`) and the
 *   marker set anyway, so the stage goes on (counted in `gaveUp` and the stage event counter
 *   `agentsight_cache_rebuilds_given_up_total{cache}`, cache = the marker's name without `agentsight:` and `:built`).
 *   Each attempt first looks at the marker again, so a caller that found it missing just before another's rebuild
 *   set it does not rebuild a second time.
 * - ready(): resolves when no rebuild runs and the marker is there (awaits a running one; starts one if the marker
 *   is missing). Callers that read or write the cache `await gate.ready()` first.
 * - rebuilding: true while a rebuild runs.
 * - whenBuilt(attempt): for caches whose scripts check the marker themselves (one round trip): retries an attempt
 *   that found it missing once the rebuild is done.
 * `rebuild` must be idempotent (re-put / re-fold what the stream says): it may run again after a partial attempt.
 */
export class RebuildGate {
  private running: Promise<void> | null = null;
  private gaveUpCount = 0;
  private readonly retryForMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly rebuild: () => Promise<void>,
    private readonly opts: RebuildGateOptions,
  ) {
    this.retryForMs = opts.retryForMs ?? 60_000;
    countStageEvent('agentsight_cache_rebuilds_given_up_total', { cache: this.cache }, 0);
  }

  /** The cache's name for the counter's `cache` label: 'agentsight:tool:built' → 'tool'. */
  private get cache(): string {
    return this.opts.builtKey.replace(/^agentsight:/, '').replace(/:built$/, '');
  }

  /** True while a rebuild runs (its attempts and the pauses between them). */
  get rebuilding(): boolean {
    return this.running !== null;
  }

  /** How many rebuilds of this gate gave up. */
  get gaveUp(): number {
    return this.gaveUpCount;
  }

  /** Rebuilds the cache when its marker is missing (one rebuild at a time, shared); never rejects. */
  async ensureBuilt(): Promise<void> {
    if (this.running) return this.running;
    // A Redis error here: the run's attempts look again (and retry).
    if (await this.marked().catch(() => false)) return;
    this.running ??= this.run().finally(() => (this.running = null));
    return this.running;
  }

  /** Resolves once no rebuild runs and the marker is there (awaits a running rebuild; starts one when it is missing). */
  async ready(): Promise<void> {
    while (this.running) await this.running;
    await this.ensureBuilt();
  }

  /**
   * Runs `attempt` (a cache script that checks the marker itself and resolves null, having done nothing, when it is
   * missing) until it finds the marker: after a null, and before each attempt while a rebuild runs, it awaits
   * {@link ready}. Resolves with the attempt's result; rejects with what an attempt throws.
   */
  async whenBuilt<T>(attempt: () => Promise<T | null>): Promise<T> {
    for (;;) {
      if (this.running) await this.ready();
      const r = await attempt();
      if (r !== null) return r;
      await this.ready();
    }
  }

  private async marked(): Promise<boolean> {
    return (await this.redis.exists(this.opts.builtKey)) > 0;
  }

  /** Attempts until one succeeds or {@link retryForMs} has passed; sets the marker either way. */
  private async run(): Promise<void> {
    const started = Date.now();
    let pause = RETRY_FIRST_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        if (await this.marked()) return;
        await this.rebuild();
        await this.redis.set(this.opts.builtKey, String(Date.now()));
        return;
      } catch (err) {
        const reason = (err as Error)?.message ?? String(err);
        if (Date.now() - started + pause > this.retryForMs) {
          this.gaveUpCount++;
          countStageEvent('agentsight_cache_rebuilds_given_up_total', { cache: this.cache });
          console.error(`${this.opts.label}: rebuild gave up after ${Math.round((Date.now() - started) / 100) / 10} s: ${reason}`);
          await this.redis.set(this.opts.builtKey, String(Date.now())).catch((e) => {
            console.error(`${this.opts.label}: could not set ${this.opts.builtKey} after giving up: ${(e as Error)?.message ?? e}`);
          });
          return;
        }
        if (attempt === 1) console.error(`${this.opts.label}: rebuild failed, retrying for up to ${this.retryForMs / 1000} s: ${reason}`);
        await new Promise((r) => setTimeout(r, pause));
        pause = Math.min(RETRY_MAX_MS, 2 * pause);
      }
    }
  }
}

/**
 * The `rebuild` a stage gives its cache's RebuildGate: none in a replay (`nats.scope` set: its Redis prefix starts
 * empty and its consumers read its own streams from their start), else `run` timed and logged as
 * `<label> rebuilt from the streams in <ms> ms: <what run resolved with>`. Rejects with what `run` throws.
 */
export function stageRebuild(nats: Nats, label: string, run: () => Promise<string>): (() => Promise<void>) | undefined {
  if (nats.scope) return undefined;
  return async () => {
    const t0 = Date.now();
    const what = await run();
    console.log(`${label} rebuilt from the streams in ${Date.now() - t0} ms: ${what}`);
  };
}

/** One message read by readStreamRange. */
export interface RangeMessage<T> {
  /** Stream sequence. */
  seq: number;
  subject: string;
  /** When the stream stored it, ns since the epoch. */
  timeNs: bigint;
  value: T;
}

/** Expiry of one pull of {@link readStreamRange}, ms (a pull asks only for messages known to be pending, see there). */
const RANGE_FETCH_EXPIRES_MS = 5_000;
/** Pulls in a row that bring nothing while messages are pending before {@link readStreamRange} throws. */
const RANGE_EMPTY_PULLS = 3;
/** Inactivity after which JetStream deletes a range consumer left behind (its process died mid-read), ms. */
const RANGE_INACTIVE_MS = 60_000;

/**
 * Reads a stream's messages from the first one at or after `sinceNs` (wall clock, ns) up to the stream's last
 * sequence at the moment of the call, in stream order, with an ordered (ephemeral, durable-less) consumer: no
 * durable is created or changed, nothing is acked. Decodes payloads with the same codec as ConsumerLoop
 * (msgpackr; large payloads as ConsumerLoop handles them: {@link payloadOf}). `each` gets batches of ≤ `batch`
 * (default 256) messages and is awaited before more are read.
 * Resolves with { read (messages handed to `each`), lastSeq (the stream's last sequence at the call) }. Throws when
 * JetStream does not answer, or what `each` throws (the gate retries). An empty stream or nothing after sinceNs
 * resolves { read: 0, lastSeq }.
 *
 * `filter`: one subject (wildcards allowed) or several. nats-server 2.9 has no multi-filter consumers, so each filter
 * subject gets its own ordered consumer and their messages are merged by stream sequence (filters should not
 * overlap: a message matching two of them comes twice). Messages that do not decode, or whose claim-check object
 * expired, are skipped (the live consumer dead-lettered them) and counted in the log. Every consumer made is deleted
 * before this returns or throws (and JetStream drops one left by a dead process after {@link RANGE_INACTIVE_MS}).
 */
export async function readStreamRange<T>(
  nats: Nats,
  opts: RangeOptions,
  each: (batch: RangeMessage<T>[]) => Promise<void>,
): Promise<{ read: number; lastSeq: number }> {
  let skipped = 0;
  const r = await readRange<RangeMessage<T>>(nats, opts, false, async (m) => {
    let bytes: Uint8Array;
    try {
      bytes = await payloadOf(m, nats.large);
    } catch (err) {
      if (!(err instanceof MissingClaimCheckError)) throw err;
      skipped++;
      return null;
    }
    try {
      return { seq: m.seq, subject: m.subject, timeNs: m.timestampNanos, value: decode<T>(bytes) };
    } catch {
      skipped++; // (decode is pure: a throw is a bad payload)
      return null;
    }
  }, each);
  if (skipped) console.error(`[${opts.stream}] range read from ${opts.sinceNs} ns: ${skipped} message(s) skipped (undecodable or claim check expired)`);
  return r;
}

/** One message's identity read by {@link readStreamMsgIds}: its `Nats-Msg-Id` (null when published without). */
export interface RangeMsgId {
  seq: number;
  subject: string;
  /** When the stream stored it, ns since the epoch. */
  timeNs: bigint;
  msgId: string | null;
}

/**
 * {@link readStreamRange} of the messages' `Nats-Msg-Id` headers only: the consumer is `headers_only`, so JetStream
 * sends no payload and nothing is decoded (a rebuild that needs only ids and versions, e.g. genai's highest
 * published `invoke_agent` version per session, reads a stream of large events at the cost of its headers). Same
 * bounds, order, batches, errors and clean-up as {@link readStreamRange}.
 */
export async function readStreamMsgIds(
  nats: Nats,
  opts: RangeOptions,
  each: (batch: RangeMsgId[]) => Promise<void>,
): Promise<{ read: number; lastSeq: number }> {
  return readRange<RangeMsgId>(nats, opts, true, async (m) => ({ seq: m.seq, subject: m.subject, timeNs: m.timestampNanos, msgId: m.headers?.get('Nats-Msg-Id') || null }), each);
}

/** What {@link readStreamRange} and {@link readStreamMsgIds} read: `stream` from `sinceNs`, `filter`, batch size. */
export interface RangeOptions {
  stream: string;
  filter?: string | string[];
  sinceNs: bigint;
  /** Messages per `each` call (default 256). */
  batch?: number;
}

/** The merge of both readers: every source's messages in stream order, `item` of each (null: skipped), batched. */
async function readRange<R>(
  nats: Nats,
  opts: RangeOptions,
  headersOnly: boolean,
  item: (m: JsMsg) => Promise<R | null>,
  each: (batch: R[]) => Promise<void>,
): Promise<{ read: number; lastSeq: number }> {
  const batch = Math.max(1, opts.batch ?? 256);
  const lastSeq = (await nats.jsm.streams.info(opts.stream)).state.last_seq;
  const filters = opts.filter === undefined ? [undefined] : [...new Set(Array.isArray(opts.filter) ? opts.filter : [opts.filter])];
  if (!filters.length || lastSeq === 0) return { read: 0, lastSeq };
  const sources: RangeSource[] = [];
  let read = 0;
  try {
    for (const f of filters) sources.push(await RangeSource.open(nats, opts.stream, f, opts.sinceNs, lastSeq, batch, headersOnly));
    let out: R[] = [];
    for (;;) {
      // The next message in stream order: the smallest head of the sources not exhausted.
      let next: { source: RangeSource; m: JsMsg } | null = null;
      for (const source of sources) {
        const m = await source.head();
        if (m && (!next || m.seq < next.m.seq)) next = { source, m };
      }
      if (!next) break;
      const r = await item(next.source.shift());
      if (r !== null) out.push(r);
      if (out.length >= batch) {
        await each(out);
        read += out.length;
        out = [];
      }
    }
    if (out.length) {
      await each(out);
      read += out.length;
    }
  } finally {
    await Promise.all(sources.map((s) => s.close()));
  }
  return { read, lastSeq };
}

/**
 * One ordered consumer of {@link readStreamRange}: the stream's messages of one filter from `sinceNs` up to
 * `lastSeq`, pulled a batch at a time. A pull asks for at most the messages JetStream said were pending (the
 * consumer's `num_pending`, then each message's `pending`), all stored already, so it returns at once instead of
 * waiting for its expiry at the end of the range.
 */
class RangeSource {
  private buf: JsMsg[] = [];
  private done = false;
  private pending: number;
  private messages: ConsumerMessages | null = null;

  private constructor(
    private readonly consumer: Consumer,
    private readonly lastSeq: number,
    private readonly batch: number,
    pending: number,
  ) {
    this.pending = pending;
    if (pending === 0) this.done = true;
  }

  static async open(
    nats: Nats, stream: string, filter: string | undefined, sinceNs: bigint, lastSeq: number, batch: number, headersOnly: boolean,
  ): Promise<RangeSource> {
    const consumer = await nats.js.consumers.get(stream, {
      name_prefix: `range_${nuid.next()}`,
      ...(headersOnly ? { headers_only: true } : {}),
      ...(filter !== undefined ? { filter_subjects: filter } : {}),
      ...firstDelivery({ timeNs: sinceNs }),
      inactive_threshold: RANGE_INACTIVE_MS,
    });
    const ci = await consumer.info(true);
    return new RangeSource(consumer, lastSeq, batch, ci.num_pending);
  }

  /** The next message of the range, pulling when the buffer is empty; null once the range is read. */
  async head(): Promise<JsMsg | null> {
    let empty = 0;
    while (!this.buf.length && !this.done) {
      const got = await this.pull();
      if (got) empty = 0;
      else if (++empty >= RANGE_EMPTY_PULLS) throw new Error(`range read: ${RANGE_EMPTY_PULLS} pulls brought nothing while ${this.pending} message(s) were pending`);
    }
    return this.buf[0] ?? null;
  }

  shift(): JsMsg {
    return this.buf.shift()!;
  }

  /** One pull; how many messages it brought (those past `lastSeq` end the range). */
  private async pull(): Promise<number> {
    const messages = (this.messages = await this.consumer.fetch({ max_messages: Math.min(this.batch, this.pending), expires: RANGE_FETCH_EXPIRES_MS }));
    let got = 0;
    for await (const m of messages) {
      got++;
      if (m.seq > this.lastSeq) {
        this.done = true;
        break;
      }
      this.buf.push(m);
      this.pending = m.info.pending;
      if (this.pending === 0) {
        this.done = true;
        break;
      }
    }
    if (this.done) messages.stop();
    this.messages = null;
    return got;
  }

  /** Stops a pull in progress and deletes the consumer (errors ignored: it expires on its own). */
  async close(): Promise<void> {
    this.messages?.stop();
    const name = (await this.consumer.info(true).catch(() => null))?.name;
    if (name) await this.consumer.delete().catch(() => undefined);
  }
}
