import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import type { Consumer, ConsumerConfig, JsMsg, ConsumerMessages } from '@nats-io/jetstream';
import type { Status } from '@nats-io/nats-core';
import { decode } from '@agentsight/contracts';
import type { Nats } from './nats';
import { payloadOf } from './large';
import type { ReplayScope } from './replay';
import { batchMetrics } from './batch-metrics';
import { AckLedger } from './ack-ledger';

/** A decoded input message handed to a stage. The stage acks it (`ack()`) once its outputs are durable. */
export interface Input<T> {
  subject: string;
  /** Stream sequence. */
  seq: number;
  /** The message's `Nats-Msg-Id`, when it has one. */
  msgId: string | null;
  redelivered: boolean;
  value: T;
  ack(): void;
  /** Resets the ack wait timer (JetStream `+WPI`): the input is still being worked on, do not redeliver it yet. */
  working?(): void;
  /** Negative ack (JetStream `-NAK`): redeliver the input now instead of after the ack wait. */
  nak?(): void;
}

/** An input that could not be decoded (bad msgpack, missing claim-check object). */
export interface UndecodableInput {
  subject: string;
  seq: number;
  msgId: string | null;
  data: Uint8Array;
  error: Error;
  ack(): void;
}

/** Receives micro-batches: everything that arrived while the previous batch was being handled (≤ `maxBatch`). */
export interface BatchHandler<T> {
  handle(batch: Input<T>[]): Promise<void>;
  /** Called for inputs that do not decode; must dead-letter and ack them. */
  undecodable(input: UndecodableInput): Promise<void>;
}

/** Options of one pull consumer. */
export interface ConsumeSpec {
  stream: string;
  durable: string;
  filterSubject: string;
  /** Ack wait, ms: redelivery delay of unacked inputs within a running consumer. */
  ackWaitMs: number;
  maxAckPending: number;
  /**
   * `ack_floor`: before consuming, delete the durable and recreate it at its ack floor + 1, so every input not
   * yet acked is delivered again, in stream order, before anything newer. Stateful, ordered stages use this on
   * every (re)claim of a partition; inputs acked out of order beyond the floor come again and are deduplicated
   * downstream by their deterministic ids. `keep`: plain durable (stateless stages).
   */
  start: 'ack_floor' | 'keep';
  maxBatch?: number;
  /**
   * Bound of the inputs held in this client, fetched and not yet handled (queued, or in the batch in hand), messages.
   * A pull request asks JetStream only for the room left under it ({@link ConsumerLoop}), so a slow stage holds at
   * most this much of its backlog in memory instead of everything up to `maxAckPending`. Default `2 × maxBatch`.
   */
  maxInFlight?: number;
  /** The same bound in payload bytes (inline payloads; claim checks count as their small message). Default 8 MiB. */
  maxInFlightBytes?: number;
  /**
   * When the handler throws (e.g. NATS or Redis unreachable past the publisher's retries) the loop stops consuming;
   * its unacked inputs stay pending. Then `onFailure` is called (the owner restarts it, see {@link PartitionGroup}),
   * or, without one, the loop starts again after `restartAfterMs` (default 1000).
   */
  onFailure?: (err: Error) => void;
  restartAfterMs?: number;
  /**
   * On {@link ConsumerLoop.stop}, negatively ack the inputs already fetched but not yet handed to the handler, so
   * they are redelivered at once (to the next instance) instead of after the ack wait. Default false.
   */
  nakOnStop?: boolean;
  /**
   * Where a durable created for the first time starts (default: the stream's first message): a stream sequence or
   * a time (ns since the epoch). Set by {@link ReplayScope.consume}.
   */
  first?: { seq: number } | { timeNs: bigint };
  /** Messages stored after this time (ns since the epoch) are acked unseen. Set by {@link ReplayScope.consume}. */
  untilNs?: bigint;
}

/** Expiry of one pull request, ms: an idle consumer re-issues its pull this often (heartbeats at half of it). */
const FETCH_EXPIRES_MS = 10_000;

/**
 * Runs one JetStream pull consumer until {@link ConsumerLoop.stop}: micro-batches inputs to `handler`, one batch
 * at a time (so a partition is processed strictly in order). When `nats.scope` is set (a replay) the consumer is
 * the replay's ({@link ReplayScope.consume}) and inputs carry their live subject and msg id.
 *
 * Fetches on room: one pull request at a time (`fetch`, JetStream `CONSUMER.MSG.NEXT` with `batch` = room), for
 * the room left under {@link ConsumeSpec.maxInFlight} / `maxInFlightBytes` (messages estimated at the mean size of
 * those fetched so far), re-issued when at least half of the bound is free (or nothing is held). nats.js `consume()`
 * refills its pull as messages *arrive*, whatever the consumer has handled, so a stage slower than its input held
 * its whole backlog (up to `max_ack_pending`) in memory. A failed pull (missed heartbeats while NATS restarts, the
 * durable briefly gone while a partition changes hands) is re-issued after a backoff (0.1 → 2 s) until stopped.
 *
 * A shared durable (`start: 'keep'`, outside a replay) starts again from its ack floor when the NATS connection
 * reconnects, as a partition group re-claims its partitions (partitions.ts): nats-server 2.9.10 loses acks received
 * shortly before a SIGKILL and keeps its delivered state, so those inputs (and deliveries lost on the way) otherwise
 * stay ack-pending for the whole ack wait (60 s for storage) before they come again. The run's acks not yet known
 * to be under the floor are sent again first (the floor moves past them), then the run ends, the durable is made
 * again at its ack floor + 1 and the loop consumes from there; what comes twice is deduplicated downstream by its
 * deterministic ids (storage: ReplacingMergeTree). Counted in {@link reclaims}.
 */
export class ConsumerLoop<T> {
  private messages: ConsumerMessages | null = null;
  private stopped = false;
  private done: Promise<void> | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  /** Wake the reader while it waits for room / in a pull's backoff (set while it waits). */
  private wakeReader: (() => void) | null = null;
  private wakeBackoff: (() => void) | null = null;
  /** Incremented by each {@link start}: a reader of an earlier run (stopped after a failure) never fetches again. */
  private generation = 0;
  private readonly spec: ConsumeSpec;
  private readonly scope: ReplayScope | null;
  /** The connection's status events, watched by a shared durable's loop (see the class comment). */
  private status: (AsyncIterable<Status> & { stop?(): void }) | null = null;
  /** The next {@link start} makes a `keep` durable again at its ack floor (set by a reconnect). */
  private fromAckFloor = false;
  /** {@link stop} was called: no restart after a failure or reconnect. */
  private halted = false;
  /** The current run: its ledger, and how to end it to start again. */
  private current: { ledger: AckLedger; restart(err: Error): void } | null = null;
  /** Runs of a shared durable started again from its ack floor after a NATS reconnect, since construction. */
  reclaims = 0;

  constructor(
    private readonly nats: Nats,
    spec: ConsumeSpec,
    private readonly handler: BatchHandler<T>,
  ) {
    this.scope = nats.scope ?? null;
    this.spec = this.scope ? this.scope.consume(spec) : spec;
  }

  /** Creates (or resets) the durable and starts consuming; resolves once consuming has begun. */
  async start(): Promise<void> {
    this.stopped = false;
    this.halted = false;
    if (this.spec.start === 'keep' && !this.scope && !this.status) this.watchReconnects();
    await prepareDurable(this.nats, this.spec, this.spec.start === 'ack_floor' || this.fromAckFloor);
    this.fromAckFloor = false;
    const consumer = await this.nats.js.consumers.get(this.spec.stream, this.spec.durable);
    this.done = this.run(consumer);
  }

  /** On each `reconnect` of the connection: the run's unconfirmed acks again, then a start from the ack floor. */
  private watchReconnects(): void {
    const status = (this.status = this.nats.nc.status() as AsyncIterable<Status> & { stop?(): void });
    void (async () => {
      for await (const s of status) {
        if (s.type !== 'reconnect' || this.halted) continue;
        this.reclaims++;
        this.fromAckFloor = true; // (a run failed meanwhile starts so, too)
        if (!this.current) continue;
        for (const reply of this.current.ledger.unconfirmed()) this.nats.nc.publish(reply, ACK);
        this.current.restart(new Error('NATS reconnected: acks and deliveries lost with the server come again only after the ack wait; starting again from the ack floor'));
      }
    })().catch(() => undefined);
  }

  private async run(consumer: Consumer): Promise<void> {
    const queue: JsMsg[] = [];
    const arrived: number[] = []; // performance.now() of each queued message (batch latency, batch-metrics.ts)
    const signal: { wake: (() => void) | null } = { wake: null };
    const max = this.spec.maxBatch ?? 500;
    const maxMsgs = Math.max(1, this.spec.maxInFlight ?? 2 * max);
    const maxBytes = Math.max(1, this.spec.maxInFlightBytes ?? 8 * 1024 * 1024);
    const generation = ++this.generation;
    const live = () => !this.stopped && this.generation === generation;
    const ledger = new AckLedger();
    // An ack_floor durable is this run's alone and new (consumer sequences 1, 2, 3, ...): a delivery missing from
    // that sequence, or messages pending at the server that re-sent acks do not clear, were deliveries lost with a
    // durable's leader (they would come again only after the ack wait): the run ends and is started again from the
    // ack floor, which delivers them again in order before anything newer.
    const exclusive = this.spec.start === 'ack_floor';
    let lost: Error | null = null;
    const restart = (err: Error) => {
      if (lost || !live()) return;
      lost = err;
      this.messages?.stop();
      this.wakeReader?.();
      this.wakeBackoff?.();
    };
    // A shared durable (`keep`, several instances) counts every instance's pending: no comparison there; its lost
    // acks and deliveries come again after its (short) ack wait.
    const stopAckCheck = exclusive ? checkAcks(this.nats, this.spec.stream, this.spec.durable, ledger, restart) : () => undefined;
    this.current = { ledger, restart };
    let lastDelivery = 0;
    const held = { msgs: 0, bytes: 0 };
    const seen = { msgs: 0, bytes: 0 };
    let ended = false;
    const reader = (async () => {
      try {
        let failures = 0;
        while (live() && !lost) {
          const freeMsgs = maxMsgs - held.msgs;
          const freeBytes = maxBytes - held.bytes;
          if (held.msgs > 0 && (freeMsgs < maxMsgs / 2 || freeBytes < maxBytes / 2)) {
            await new Promise<void>((r) => (this.wakeReader = r));
            this.wakeReader = null;
            continue;
          }
          // The first pull asks for one message: its size is the first estimate (a backlog of large payloads must
          // not come in one pull of the whole message room).
          const mean = seen.msgs ? Math.max(1, seen.bytes / seen.msgs) : Infinity;
          const batch = Math.max(1, Math.min(freeMsgs, Math.floor(Math.max(0, freeBytes) / mean)));
          try {
            const messages = await consumer.fetch({ max_messages: batch, expires: FETCH_EXPIRES_MS });
            this.messages = messages;
            if (!live()) messages.stop();
            for await (const m of messages) {
              const dseq = m.info.deliverySequence;
              if (exclusive && dseq !== lastDelivery + 1) {
                restart(new Error(`deliveries ${lastDelivery + 1}..${dseq - 1} of ${this.spec.durable} never arrived (a durable leader lost?): starting again from the ack floor`));
                break;
              }
              lastDelivery = dseq;
              queue.push(m);
              ledger.delivered(m.seq);
              arrived.push(performance.now());
              held.msgs++;
              held.bytes += m.data.length;
              seen.msgs++;
              seen.bytes += m.data.length;
              signal.wake?.();
            }
            failures = 0;
          } catch (err) {
            if (!live() || lost || this.nats.nc.isClosed()) break;
            const ms = Math.min(2000, 100 * 2 ** failures++);
            if (failures === 4) console.error(`[${this.spec.durable}] pull failing, retrying every ≤ 2 s: ${(err as Error)?.message ?? err}`);
            await new Promise<void>((r) => {
              const t = setTimeout(r, ms);
              this.wakeBackoff = () => (clearTimeout(t), r());
            });
            this.wakeBackoff = null;
          }
        }
      } finally {
        ended = true;
        signal.wake?.();
      }
    })();
    const release = (raw: JsMsg[]) => {
      held.msgs -= raw.length;
      for (const m of raw) held.bytes -= m.data.length;
      this.wakeReader?.();
    };
    while (!this.stopped) {
      if (queue.length === 0) {
        if (ended) break;
        await new Promise<void>((r) => (signal.wake = r));
        signal.wake = null;
        continue;
      }
      const raw = queue.splice(0, max);
      const fetchedAt = arrived.splice(0, raw.length)[0]!;
      const batch: Input<T>[] = [];
      const until = this.spec.untilNs;
      try {
        for (const m of raw) {
          if (until !== undefined && m.info.timestampNanos > until) {
            ackOf(this.nats, m, ledger)(); // a replay's bound: stored after its --until
            continue;
          }
          const rawId = m.headers?.get('Nats-Msg-Id') || null;
          const subject = this.scope ? this.scope.liveSubject(m.subject) : m.subject;
          const msgId = this.scope ? this.scope.liveMsgId(rawId) : rawId;
          const ack = ackOf(this.nats, m, ledger);
          try {
            const value = decode<T>(await payloadOf(m, this.nats.large));
            batch.push(new JsInput<T>(subject, m.seq, msgId, m.redelivered, value, ack, m, ledger));
          } catch (error) {
            await this.handler.undecodable({ subject, seq: m.seq, msgId, ack, data: m.data, error: error as Error });
          }
        }
        if (!batch.length) continue;
        await this.handler.handle(batch);
        batchMetrics.record(this.nats, this.spec.durable, (performance.now() - fetchedAt) / 1000, batch.length);
      } catch (err) {
        console.error(`[${this.spec.durable}] batch failed, consumer stopped: ${(err as Error)?.stack ?? err}`);
        this.fail(err as Error);
      } finally {
        release(raw);
      }
    }
    if (this.current?.ledger === ledger) this.current = null;
    if (lost && !this.stopped) {
      console.error(`[${this.spec.durable}] ${(lost as Error).message}`);
      this.fail(lost);
    }
    if (this.spec.nakOnStop) for (const m of queue.splice(0)) m.nak();
    stopAckCheck();
    batchMetrics.flush();
    await reader.catch(() => undefined);
  }

  /** Stops consuming after a failure; `onFailure`, or a restart after `restartAfterMs`. */
  private fail(err: Error): void {
    this.stopped = true;
    this.messages?.stop();
    this.wakeReader?.();
    if (this.spec.onFailure) {
      this.spec.onFailure(err);
      return;
    }
    // Again until it starts (JetStream may still be recovering its streams after a restart) or the loop is stopped.
    const again = (ms: number) => {
      this.restartTimer = setTimeout(() => {
        if (this.halted) return;
        this.start().catch((e) => {
          if (this.halted) return;
          console.error(`[${this.spec.durable}] restart failed, again in ${Math.min(2 * ms, 10_000)} ms:`, (e as Error)?.message ?? e);
          this.stopped = true;
          again(Math.min(2 * ms, 10_000));
        });
      }, ms);
    };
    again(this.spec.restartAfterMs ?? 1000);
  }

  /** Stops fetching, lets the batch in hand finish, and closes the subscription (unacked inputs stay pending). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.halted = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.status?.stop?.();
    this.status = null;
    this.messages?.stop();
    this.wakeReader?.();
    this.wakeBackoff?.();
    await this.done?.catch(() => undefined);
  }

  /** The last sequence of this loop's stream now (0 when empty), the target of {@link ackedThrough}; throws when JetStream does not answer. */
  async streamLastSeq(): Promise<number> {
    return (await this.nats.jsm.streams.info(this.spec.stream)).state.last_seq;
  }

  /**
   * Whether every message of this loop's durable (its filter) stored in the stream up to sequence `seq` has been
   * acked, by this loop or by any instance sharing the durable: its ack floor is at or past `seq`, or nothing is
   * pending nor awaiting an ack. False while the durable is missing (being made again at its ack floor, or rebuilt)
   * or JetStream does not answer. One JetStream API request.
   */
  async ackedThrough(seq: number): Promise<boolean> {
    const ci = await this.nats.jsm.consumers.info(this.spec.stream, this.spec.durable).catch(() => null);
    return !!ci && (ci.ack_floor.stream_seq >= seq || (ci.num_pending === 0 && ci.num_ack_pending === 0));
  }
}

/**
 * An {@link Input} of a JetStream message: one object of one shape per message (an object spread and two closures per
 * message were the loop's largest cost in the parser's and aggregator's profiles). `ack` keeps only the reply subject
 * ({@link ackOf}); `working`/`nak` are methods over the message.
 */
class JsInput<T> implements Input<T> {
  constructor(
    readonly subject: string,
    readonly seq: number,
    readonly msgId: string | null,
    readonly redelivered: boolean,
    readonly value: T,
    readonly ack: () => void,
    private readonly m: JsMsg,
    private readonly ledger: AckLedger,
  ) {}

  working(): void {
    this.m.working();
  }

  nak(): void {
    this.ledger.released(this.seq);
    this.m.nak();
  }
}

const ACK = Uint8Array.of(43, 65, 67, 75); // "+ACK"

/**
 * The ack of `m` (JetStream `+ACK` on its reply subject, at most once) as a closure that keeps only the reply
 * subject: stages hold acks of unfinished inputs for a long time (the parser until a response ends), and
 * `JsMsg.ack` would keep the whole message, payload included, alive until then. The closure is made in
 * {@link replyAck}, whose scope holds no `m`: V8 gives all closures of one function a shared context, so a closure
 * made here next to one that uses `m` kept every acked-later message (and the socket buffer its payload is a view
 * of) alive — 40,893 `JsMsg` in a heap snapshot of the parser under the pipeline bench.
 */
function ackOf(nats: Nats, m: JsMsg, ledger: AckLedger): () => void {
  const reply = (m as unknown as { reply?: string }).reply;
  return reply ? replyAck(nats, reply, m.seq, ledger) : () => m.ack();
}

function replyAck(nats: Nats, reply: string, seq: number, ledger: AckLedger): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    nats.nc.publish(reply, ACK);
    ledger.acked(seq, reply);
  };
}

/** How often (ms) a consumer run with acks awaiting confirmation compares its {@link AckLedger} with its durable. */
export const ACK_CHECK_MS = 5_000;

/**
 * For a run's own durable (`ack_floor`), every {@link ACK_CHECK_MS} while `ledger` has acks above the floor or
 * deliveries came: reads the durable and sends lost acks again ({@link AckLedger.reconcile}). When the next read
 * still counts more pending than held at the same floor, nothing delivered since, the missing ones were deliveries,
 * not acks: `stuck` is called. A failed read (the durable's leader being elected) waits for the next tick. Returns
 * the stop function.
 */
function checkAcks(nats: Nats, stream: string, durable: string, ledger: AckLedger, stuck: (err: Error) => void): () => void {
  let busy = false;
  let resentAtFloor = -1;
  let resentDeliveries = -1;
  let checkedAt = 0;
  const timer = setInterval(() => {
    // Acks above the floor, new deliveries (the last ones may be the lost ones), or an excess to follow up.
    if (busy || (ledger.settled && ledger.deliveries === checkedAt && resentAtFloor < 0)) return;
    busy = true;
    checkedAt = ledger.deliveries;
    nats.jsm.consumers.info(stream, durable).then((ci) => {
      const floor = ci.ack_floor.stream_seq;
      const excess = ci.num_ack_pending > ledger.held;
      // Only when nothing came since: while deliveries flow, a lost one shows as a gap in the consumer sequence.
      if (excess && resentAtFloor === floor && resentDeliveries === ledger.deliveries) {
        stuck(new Error(`${ci.num_ack_pending - ledger.held} message(s) of ${durable} pending at the server but never arrived (a durable leader lost?): starting again from the ack floor`));
        return;
      }
      const again = ledger.reconcile(floor, ci.num_ack_pending);
      for (const reply of again) nats.nc.publish(reply, ACK);
      resentAtFloor = excess ? floor : -1;
      resentDeliveries = ledger.deliveries;
    }, () => undefined).finally(() => (busy = false));
  }, ACK_CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Makes the durable of `spec`: created when missing; with `fromAckFloor` deleted and made again at its ack floor + 1
 * (every input not acked comes again, in order). Another instance doing the same at once (a shared durable after a
 * reconnect) may have made it again first: that one is used.
 */
async function prepareDurable(nats: Nats, spec: ConsumeSpec, fromAckFloor: boolean): Promise<void> {
  const config: Partial<ConsumerConfig> = {
    durable_name: spec.durable,
    filter_subject: spec.filterSubject,
    ack_policy: AckPolicy.Explicit,
    ack_wait: spec.ackWaitMs * 1e6,
    max_ack_pending: spec.maxAckPending,
    max_deliver: -1,
  };
  let info = null;
  try {
    info = await nats.jsm.consumers.info(spec.stream, spec.durable);
  } catch {
    info = null;
  }
  const first = firstDelivery(spec.first);
  if (!fromAckFloor) {
    if (!info) await nats.jsm.consumers.add(spec.stream, { ...config, ...first });
    return;
  }
  if (info) await nats.jsm.consumers.delete(spec.stream, spec.durable).catch((err) => {
    if (spec.start === 'ack_floor') throw err; // a shared durable may have been deleted by another instance just now
  });
  const floor = info ? info.ack_floor.stream_seq : 0;
  // Nothing acked yet (floor 0): where the durable first started (a replay's start may be past an ack floor of 0).
  const start = floor > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: floor + 1 }
    : info?.config.opt_start_seq ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: info.config.opt_start_seq }
    : info?.config.opt_start_time ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: info.config.opt_start_time }
    : first;
  try {
    await nats.jsm.consumers.add(spec.stream, { ...config, ...start });
  } catch (err) {
    if (spec.start === 'ack_floor' || !(await nats.jsm.consumers.info(spec.stream, spec.durable).catch(() => null))) throw err;
  }
}

/**
 * The delivery policy of a consumer starting at `first`: a stream sequence, a time (ns since the epoch, sent as an
 * RFC 3339 `opt_start_time` with all 9 digits of ns), or the stream's first message when undefined.
 */
export function firstDelivery(first: ConsumeSpec['first']): Pick<ConsumerConfig, 'deliver_policy'> & Partial<Pick<ConsumerConfig, 'opt_start_seq' | 'opt_start_time'>> {
  if (!first) return { deliver_policy: DeliverPolicy.All };
  if ('seq' in first) return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: first.seq };
  const ms = first.timeNs / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString().replace(/\.\d{3}Z$/, `.${String(first.timeNs % 1_000_000_000n).padStart(9, '0')}Z`);
  return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: iso };
}
