import { httpBatchId, type HttpEvent, type HttpEventBatch } from '@agentsight/contracts';

/** Most events in one batch. */
export const MAX_BATCH_EVENTS = 64;
/**
 * Most body/data bytes in one batch, bytes (an event larger than this goes alone): well below the claim-check threshold
 * (768 KiB), so a batch of small events stays one inline message.
 */
export const MAX_BATCH_BYTES = 256 * 1024;

/** Events that end an HTTP message (or a connection): a batch ends with them. */
const FINAL = new Set<HttpEvent['type']>(['request', 'response', 'response_end', 'stream_reset', 'connection_end']);

/** A batch of a connection direction published since its consumed offset. */
interface Sent {
  /** Events in it. */
  n: number;
  /** `span.end_offset` of its last event. */
  end: number;
  /** Cut by the end of an input batch (or by recorded sizes), not by a rule re-parsing would apply again. */
  forced: boolean;
}

/** A batch being filled. */
interface Open {
  pk: string;
  batch: HttpEventBatch;
  bytes: number;
  /** Size recorded by a previous owner that this batch must have (0: none). */
  target: number;
}

/** `<conn key>|<dir>` of an event. */
export const eventPk = (ev: HttpEvent): string => `${ev.conn.key}|${ev.span.dir}`;

/**
 * Splits the events of one parser input batch into {@link HttpEventBatch}es — runs of consecutive events of one
 * connection and direction, at most {@link MAX_BATCH_EVENTS} events and {@link MAX_BATCH_BYTES} bytes, each ending
 * where an HTTP message ends — and keeps their boundaries deterministic across a restart.
 *
 * A direction's events are re-emitted after a restart from its consumed offset (the start of the message in progress),
 * in input batches cut wherever the redelivery's fetches fall. Every cut except the end of an input batch follows from
 * the events alone; those (`forced`) are recorded: {@link recorded} gives the sizes of the batches published since the
 * consumed offset, which the parser stores with the offset before publishing, and {@link resume} hands back to the next
 * owner, whose batches then have the same sizes — the same events, the same {@link httpBatchId}, so JetStream's
 * duplicate window drops what the previous owner had published. When a redelivery's input batch ends before a
 * recorded batch is complete, that one is held until the next call completes it. Should re-parsing go another way
 * (a batch ends by rule short of its recorded size), the recorded sizes are dropped and the batches from there get
 * new ids; the aggregator drops events it already applied (by id and ordinal). Plain state, no I/O.
 */
export class EventBatcher {
  /** Sizes recorded by a previous owner still to be reproduced, per `<conn key>|<dir>`. */
  private readonly replay = new Map<string, number[]>();
  /** Batches published since the consumed offset, per `<conn key>|<dir>`. */
  private readonly sent = new Map<string, Sent[]>();
  /** Re-emitted batches short of their recorded size at the end of the last call, per connection key. */
  private readonly held = new Map<string, Open>();
  /** {@link recorded} as last handed out by {@link toStore} (or loaded by {@link resume}), per `<conn key>|<dir>`. */
  private readonly stored = new Map<string, string>();

  /**
   * Before the first events of a direction after a resume: `recorded` is {@link recorded} as stored by the previous
   * owner (comma-separated sizes), or null/empty for none.
   */
  resume(pk: string, recorded: string | null | undefined): void {
    const sizes = (recorded ?? '').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
    if (sizes.length) this.replay.set(pk, sizes);
    else this.replay.delete(pk);
    this.sent.delete(pk);
    this.stored.set(pk, recorded ?? '');
  }

  /**
   * Batches of `events` (in their order), to publish in this order; each connection's events stay in order. A batch
   * re-emitted after a resume whose recorded size is not reached yet is held for the next call (its events come from
   * records redelivered right behind, which stay unacked meanwhile: they are mid-message) unless its connection is in
   * `flush` (evicted idle: nothing more will come).
   */
  batch(events: readonly HttpEvent[], flush?: ReadonlySet<string>): HttpEventBatch[] {
    const order: Open[] = [...this.held.values()];
    const open = new Map(this.held); // per connection key
    this.held.clear();
    const closed = new Set<Open>();
    const close = (o: Open, forced: boolean) => {
      open.delete(o.batch.events[0].conn.key);
      closed.add(o);
      const evs = o.batch.events;
      o.batch.id = httpBatchId(evs);
      if (o.target) {
        const replay = this.replay.get(o.pk)!;
        if (evs.length === o.target) replay.shift();
        else replay.length = 0; // re-parsing went another way (or flushed early): nothing more to line up with
        if (!replay.length) this.replay.delete(o.pk);
        forced = true;
      }
      let list = this.sent.get(o.pk);
      if (!list) this.sent.set(o.pk, (list = []));
      list.push({ n: evs.length, end: evs[evs.length - 1].span.end_offset, forced });
    };
    for (const ev of events) {
      const pk = eventPk(ev);
      const b = eventBytes(ev);
      let o = open.get(ev.conn.key);
      if (o && (o.pk !== pk || o.batch.events.length >= MAX_BATCH_EVENTS || o.bytes + b > MAX_BATCH_BYTES)) {
        close(o, false);
        o = undefined;
      }
      if (!o) {
        o = { pk, batch: { v: 2, id: '', events: [] }, bytes: 0, target: this.replay.get(pk)?.[0] ?? 0 };
        open.set(ev.conn.key, o);
        order.push(o);
      }
      o.batch.events.push(ev);
      o.bytes += b;
      if (FINAL.has(ev.type) || o.batch.events.length === o.target) close(o, false);
    }
    for (const [key, o] of open) {
      if (o.target && !flush?.has(key)) this.held.set(key, o);
      else close(o, true);
    }
    return order.filter((o) => closed.has(o)).map((o) => o.batch);
  }

  /**
   * Sizes of the batches of `pk` published since its consumed offset, comma-separated, to store before publishing
   * them; '' when every one of them would be cut the same way again (nothing to record).
   */
  recorded(pk: string): string {
    const list = this.sent.get(pk) ?? [];
    const replay = this.replay.get(pk) ?? [];
    if (!replay.length && !list.some((s) => s.forced)) return '';
    return [...list.map((s) => s.n), ...replay].join(',');
  }

  /**
   * {@link recorded} of `pk` when it differs from what was last stored (then taken as stored: '' = delete the stored
   * sizes), or null when the store already holds it.
   */
  toStore(pk: string): string | null {
    const now = this.recorded(pk);
    if (now === (this.stored.get(pk) ?? '')) return null;
    if (now) this.stored.set(pk, now);
    else this.stored.delete(pk);
    return now;
  }

  /** The consumed offset of `pk` moved to `consumed`: batches ending there or before are no longer re-emitted. */
  committed(pk: string, consumed: number): void {
    const list = this.sent.get(pk);
    if (!list) return;
    let i = 0;
    while (i < list.length && list[i].end <= consumed) i++;
    if (i === list.length) this.sent.delete(pk);
    else list.splice(0, i);
  }

  /** Forgets a direction (its connection closed or was evicted). */
  forget(pk: string): void {
    const held = this.held.get(pk.slice(0, pk.lastIndexOf('|')));
    if (held?.pk === pk) this.held.delete(pk.slice(0, pk.lastIndexOf('|')));
    this.sent.delete(pk);
    this.replay.delete(pk);
    this.stored.delete(pk);
  }

  /** Forgets everything (the partition was released). */
  clear(): void {
    this.sent.clear();
    this.held.clear();
    this.replay.clear();
    this.stored.clear();
  }
}

/** Body or data bytes an event carries (its bulk on the wire). */
export function eventBytes(ev: HttpEvent): number {
  return 'body' in ev ? ev.body.length : 'data' in ev ? ev.data.length : 0;
}
