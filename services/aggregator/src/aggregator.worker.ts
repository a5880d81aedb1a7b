import { decode, deriveId, encode, Exchange, HttpEvent, HttpEventBatch, httpEventsOf, normalizeNs, SseEvent, Subjects, hostToken } from '@agentsight/contracts';
import type { Input, PartitionWorker, StageRuntime, UndecodableInput } from '@agentsight/jetstream';
import { applyEvent, ConnState, emptyConnState, withProcess } from './domain/assembler';
import type { ProcessStore } from './process-store';

const TTL_S = 24 * 3600;
const stateKey = (k: string) => `agentsight:agg:conn:${k}`;
/** SSE events of the open HTTP/1.1 response of connection `k`, or of HTTP/2 stream `sid`'s open response. */
const eventsKey = (k: string, sid?: number) => (sid === undefined ? `agentsight:agg:events:${k}` : `agentsight:agg:events:${k}#${sid}`);
const connIndex = (p: number) => `agentsight:agg:conns:${p}`;
const outboxKey = (p: number) => `agentsight:agg:outbox:${p}`;
/** Most connections whose state one partition keeps; the least recently used beyond this are dropped. */
export const MAX_CONNECTIONS_PER_PARTITION = 20_000;

/**
 * Aggregator of one partition of `agentsight.http.*.<p>`: pairs requests with responses and gathers SSE events
 * per connection ({@link applyEvent}), keeping every connection's state in Redis so a new owner carries on. Each
 * input is an {@link HttpEventBatch} (contract v2) or a single v1 event (a stream written before v2), applied event by
 * event in order ({@link httpEventsOf}); an input of neither shape is dead-lettered (`contract`) and acked.
 * Per batch: state changes, the SSE events appended (one RPUSH per event list) and finished exchanges (into a Redis
 * outbox, encoded once: the outbox copy is the published message) are written in one MULTI; then the exchanges are
 * published (PubAck), removed from the outbox, and the inputs acked. The outbox is flushed again
 * when a partition is claimed, so a crash between the MULTI and the PubAck loses nothing.
 */
export class AggregatorWorker implements PartitionWorker<HttpEventBatch | HttpEvent> {
  private readonly states = new Map<string, ConnState>();

  constructor(
    private readonly rt: StageRuntime,
    private readonly partition: number,
    private readonly procs: ProcessStore,
  ) {}

  /** Publishes exchanges a previous owner stored but may not have published. */
  async init(): Promise<void> {
    const pending = await this.rt.redis.hgetallBuffer(outboxKey(this.partition));
    await this.publish(Object.values(pending).map((b) => [decode<Exchange>(b), b]));
  }

  async handle(batch: Input<HttpEventBatch | HttpEvent>[]): Promise<void> {
    // The batch is in hand: the exec records of the processes it finishes exchanges of were in the raw stream by now.
    const receivedBy = performance.now();
    // The events of each input, in input order (an input of neither contract shape is dead-lettered here).
    const inputs: Array<[Input<unknown>, HttpEvent[]]> = [];
    for (const input of batch) {
      const evs = httpEventsOf(input.value);
      if (!evs) {
        await this.rt.deadLetter({ reason: 'contract', error: 'not a v2 http event batch nor a v1 http event', input_subject: input.subject, input_seq: input.seq, input_id: input.msgId });
        continue;
      }
      inputs.push([input, evs]);
    }
    await this.load(inputs);
    const multi = this.rt.redis.multi();
    const dirty = new Set<string>();
    // Finished exchanges with their encoding: the outbox copy and the published message are the same bytes.
    const finished: Array<[Exchange, Uint8Array]> = [];
    const ended = new Set<string>();
    // SSE events this batch appends, per event list: one RPUSH (+ EXPIRE) per list after the loop instead of one
    // per event. Deleting a list (a response opened, an HTTP/2 stream closed) drops what the batch had appended to it
    // before; the MULTI is atomic, so the stored lists end as if each event had been written on its own.
    const appends = new Map<string, Uint8Array[]>();
    const drop = (k: string) => {
      appends.delete(k);
      multi.del(k);
    };
    for (const [input, evs] of inputs) {
      // The events of an input are one connection's (contract v2), so its state and event list key are looked up
      // once per input (again only should a batch mix connections), not once per event.
      let key = '';
      let s!: ConnState;
      let listSid: number | undefined | null = null; // the stream of `listKey` (null: none yet)
      let listKey = '';
      const listOf = (sid: number | undefined) => (sid === listSid ? listKey : ((listSid = sid), (listKey = eventsKey(key, sid))));
      for (const ev of evs) {
        if (ev.conn.key !== key) {
          key = ev.conn.key;
          s = this.states.get(key)!;
          listSid = null;
        }
        normalizeEvent(ev);
        const r = applyEvent(s, ev);
        if (r.orphan) {
          // One dead letter per event (a batch may carry several orphans): its id from the event's.
          const { subject, seq, msgId } = input;
          await this.rt.deadLetter({ id: deriveId('dlq', 'aggregator', ev.id, 'orphan_event', key), reason: 'orphan_event', error: r.orphan, conn_key: key, input_subject: subject, input_seq: seq, input_id: msgId ?? ev.id });
        }
        if (r.opened) drop(listOf(r.stream_id));
        if (r.appended) {
          const k = listOf(r.stream_id);
          let list = appends.get(k);
          if (!list) appends.set(k, (list = []));
          list.push(encode(r.appended));
        }
        for (const sid of r.closedStreams ?? []) drop(eventsKey(key, sid));
        if (r.changed) dirty.add(key);
        for (const raw of r.exchanges) {
          const ex = withProcess(raw, await this.procs.get(ev.conn.host, ev.conn.pid, receivedBy));
          const bytes = encode(ex);
          finished.push([ex, bytes]);
          multi.hset(outboxKey(this.partition), ex.id, bytes as Buffer);
        }
        if (r.ended) ended.add(key);
      }
    }
    for (const [k, list] of appends) multi.rpush(k, ...(list as Buffer[])).expire(k, TTL_S);
    const now = Date.now();
    for (const key of dirty) {
      const s = this.states.get(key)!;
      multi.set(stateKey(key), encode(persisted(s)), 'EX', TTL_S);
      if (!s.open) multi.del(eventsKey(key));
      multi.zadd(connIndex(this.partition), now, key);
    }
    // An ended connection keeps its state (the ids it finished, for replays) only until it expires from Redis.
    for (const key of ended) {
      multi.expire(stateKey(key), 600).del(eventsKey(key)).zrem(connIndex(this.partition), key);
      this.states.delete(key);
    }
    multi.zremrangebyrank(connIndex(this.partition), 0, -MAX_CONNECTIONS_PER_PARTITION - 1);
    await multi.exec();
    await this.publish(finished);
    for (const input of batch) input.ack();
  }

  /** Publishes exchanges (each with its encoding, published as is), then removes them from the outbox. */
  private async publish(exchanges: Array<[Exchange, Uint8Array]>): Promise<void> {
    if (!exchanges.length) return;
    await Promise.all(exchanges.map(([ex, bytes]) => this.rt.publisher.publishEncoded(Subjects.exchange(hostToken(ex.conn.host)), ex.id, bytes)));
    await this.rt.redis.hdel(outboxKey(this.partition), ...exchanges.map(([e]) => e.id));
  }

  /** Loads the state of the inputs' connections not in memory yet (open responses with their events). */
  private async load(inputs: ReadonlyArray<[unknown, HttpEvent[]]>): Promise<void> {
    const all = new Set<string>();
    for (const [, evs] of inputs) {
      let last = '';
      for (const ev of evs) if (ev.conn.key !== last) all.add((last = ev.conn.key));
    }
    const keys = [...all].filter((k) => !this.states.has(k));
    if (!keys.length) return;
    const pipe = this.rt.redis.pipeline();
    for (const k of keys) pipe.getBuffer(stateKey(k)).lrangeBuffer(eventsKey(k), 0, -1);
    const res = (await pipe.exec()) ?? [];
    const h2Open: Array<[string, number, NonNullable<ConnState['open']>]> = [];
    keys.forEach((k, i) => {
      const blob = res[2 * i]?.[1] as Buffer | null;
      const evs = (res[2 * i + 1]?.[1] as Buffer[] | null) ?? [];
      const s = blob ? restore(decode<ConnState>(blob)) : emptyConnState();
      if (s.open) s.open.events = evs.map((b) => decode<SseEvent>(b));
      for (const [sid, slot] of Object.entries(s.streams ?? {})) if (slot.open) h2Open.push([k, Number(sid), slot.open]);
      this.states.set(k, s);
    });
    // HTTP/2 streams with a streamed response in progress: their events, one list per stream.
    if (h2Open.length) {
      const p2 = this.rt.redis.pipeline();
      for (const [k, sid] of h2Open) p2.lrangeBuffer(eventsKey(k, sid), 0, -1);
      const lists = (await p2.exec()) ?? [];
      h2Open.forEach(([, , open], i) => (open.events = ((lists[i]?.[1] as Buffer[] | null) ?? []).map((b) => decode<SseEvent>(b))));
    }
    if (this.states.size > MAX_CONNECTIONS_PER_PARTITION) {
      for (const k of this.states.keys()) {
        if (this.states.size <= MAX_CONNECTIONS_PER_PARTITION / 2) break;
        if (!all.has(k)) this.states.delete(k); // not in this batch; still in Redis, reloaded on next use
      }
    }
  }

  undecodable(input: UndecodableInput): Promise<void> {
    return this.rt.undecodable(input);
  }

  async close(): Promise<void> {
    this.states.clear();
  }
}

/** The state as stored in Redis: open-response events live in their own list. */
function persisted(s: ConnState): ConnState {
  const out = s.open ? { ...s, open: { ...s.open, events: [] } } : { ...s };
  if (s.streams) {
    out.streams = {};
    for (const [sid, slot] of Object.entries(s.streams)) out.streams[sid] = slot.open ? { ...slot, open: { ...slot.open, events: [] } } : slot;
  }
  return out;
}

function restore(s: ConnState): ConnState {
  for (const r of s.pending) normalizeEvent(r);
  for (const open of [s.open, ...Object.values(s.streams ?? {}).map((x) => x.open)]) {
    if (!open) continue;
    normalizeEvent(open.head);
    if (open.request) normalizeEvent(open.request);
    open.last_ns = normalizeNs(open.last_ns);
  }
  for (const slot of Object.values(s.streams ?? {})) if (slot.request) normalizeEvent(slot.request);
  return s;
}

function normalizeEvent(ev: HttpEvent): void {
  ev.start_ns = normalizeNs(ev.start_ns);
  ev.end_ns = normalizeNs(ev.end_ns);
}
