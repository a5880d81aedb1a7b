import { connKey, Direction, HttpEvent, HttpEventBatch, hostToken, normalizeNs, RawRecord, RawSslCloseRecord, RawSslRecord, rawMsgId, redactHttpEvent, Subjects } from '@agentsight/contracts';
import type { Input, StageRuntime } from '@agentsight/jetstream';
import { ClockedPartitionWorker } from './clocked-worker';
import { EventBatcher, eventBytes, eventPk, HttpStreamParser, ParseOutput, type H2DirSnapshot } from './domain';

/**
 * Redis hash of a connection's consumed offsets, fields `write`/`read` (bytes), and for HTTP/2 connections `h2:write`/
 * `h2:read`: JSON of the direction's state at that offset (HPACK dynamic table …, {@link HttpStreamParser.h2State}),
 * written in the same MULTI as the offset; `batches:write`/`batches:read`: sizes of the event batches published
 * since that offset ({@link EventBatcher.recorded}), written before they are published. Expires a day after last use.
 */
const offsetKey = (key: string) => `agentsight:parser:offset:${key}`;
const OFFSET_TTL_S = 24 * 3600;
/**
 * A closed connection's offsets (its process exited, so its key never comes back), and an idle-evicted HTTP/1
 * connection's, are kept only this long, s: enough to skip records redelivered after the end, as the aggregator keeps
 * an ended connection's state. Before, every short-lived connection held its hash for a day (bench/soak.bench.ts).
 */
const CLOSED_OFFSET_TTL_S = 600;
/**
 * Connections idle this long are dropped from memory (their unfinished message is finished as incomplete), ns:
 * `AGENTSIGHT_PARSER_IDLE_S`, default 600.
 */
const IDLE_NS = BigInt(Math.round(Number(process.env.AGENTSIGHT_PARSER_IDLE_S || 600) * 1e9));

/** An unacked raw record: where its bytes end in its connection direction, and how to ack it (no payload kept). */
interface Pending {
  end: number;
  subject: string;
  seq: number;
  msgId: string | null;
  ack(): void;
}

/**
 * Parser of one partition of `agentsight.raw.ssl.*.<p>`: feeds SSL fragments in stream order to the
 * {@link HttpStreamParser}, publishes the HTTP events it completes (in order) and its dead letters, records each
 * connection direction's consumed offset in Redis, and acks a raw record only when every one of its bytes is in a
 * published event (or deliberately discarded). After a restart the partition is replayed from its ack floor and the
 * Redis offsets skip what was already published; event ids are deterministic, so re-published events deduplicate.
 */
export class ParserWorker extends ClockedPartitionWorker {
  private readonly parser = new HttpStreamParser();
  private readonly batcher = new EventBatcher();
  /** Unacked inputs per `<connKey>|<dir>`, in stream-offset order. */
  private readonly pending = new Map<string, Pending[]>();
  private readonly resumed = new Set<string>();

  constructor(rt: StageRuntime) {
    super(rt, IDLE_NS, 'parser');
  }

  /** Records are still unacked (a silent partition then advances its clock to finish them). */
  protected holdsState(): boolean {
    return this.pending.size > 0;
  }

  protected release(): void {
    this.pending.clear();
    this.batcher.clear();
  }

  protected async process(batch: Input<RawRecord>[]): Promise<void> {
    // Each SSL record's connection key, computed once (null for other records).
    const keys = batch.map(({ value }) => (isSslRecord(value) ? connKey(value) : null));
    await this.loadOffsets(keys);
    const events: HttpEvent[] = [];
    // One collector for the whole batch: the parser appends each record's events to `events`.
    const out: ParseOutput = { events, deadLetters: [] };
    const touched = new Set<string>();
    const closedInputs: Input<RawRecord>[] = [];
    const closed = new Map<string, RawSslCloseRecord>();
    let newestNs = 0n;
    for (let i = 0; i < batch.length; i++) {
      const input = batch[i];
      const raw = input.value;
      if (raw?.kind === 'ssl_close') {
        const rec = raw;
        // Ends whatever each direction had in progress; every byte of the connection is then consumed.
        const ending = this.parser.close(rec);
        events.push(...ending.events);
        for (const d of ending.deadLetters) await this.rt.deadLetter({ ...d, input_subject: input.subject, input_seq: input.seq, input_id: d.input_id ?? rawMsgId(rec) });
        const key = connKey(rec);
        touched.add(`${key}|write`).add(`${key}|read`);
        this.resumed.delete(key);
        closed.set(key, rec);
        closedInputs.push(input);
        continue;
      }
      if (raw?.kind === 'ssl_handshake') {
        // SSL_do_handshake result and duration (informational): no plaintext, nothing to parse or publish.
        input.ack();
        continue;
      }
      const key = keys[i];
      if (key === null) {
        // Not a v1 SSL record (isSslRecord, checked once above).
        await this.rt.deadLetter({ reason: 'contract', error: 'not a v1 ssl record', input_subject: input.subject, input_seq: input.seq, input_id: input.msgId });
        input.ack();
        continue;
      }
      const rec = input.value as RawSslRecord;
      rec.ts_wall_ns = normalizeNs(rec.ts_wall_ns);
      rec.ts_boot_ns = normalizeNs(rec.ts_boot_ns);
      this.parser.pushInto(rec, out, key);
      if (out.deadLetters.length) {
        for (const d of out.deadLetters.splice(0)) await this.rt.deadLetter({ ...d, input_subject: input.subject, input_seq: input.seq, input_id: d.input_id ?? rawMsgId(rec) });
      }
      const pk = `${key}|${rec.dir}`;
      touched.add(pk);
      let list = this.pending.get(pk);
      if (!list) this.pending.set(pk, (list = []));
      list.push({ end: rec.stream_offset + rec.data.length, subject: input.subject, seq: input.seq, msgId: input.msgId, ack: input.ack });
      if (rec.ts_wall_ns > newestNs) newestNs = rec.ts_wall_ns;
    }
    await this.publishInOrder(events);
    await this.commit(touched, closed);
    for (const i of closedInputs) i.ack();
    if (newestNs > this.newestNs) this.newestNs = newestNs;
  }

  /**
   * Publishes events (redacted first when early redaction is on, {@link StageRuntime.redactEarly}) as
   * {@link HttpEventBatch}es of consecutive events of one connection and direction ({@link EventBatcher}), each
   * connection's in order: first the sizes the end of this input batch cut are stored with the offsets (so a next
   * owner cuts the same batches, with the same ids), then the batches go out pipelined, each PubAck awaited before
   * acking any input. `evicted`: connections dropped idle, whose held batches go out now ({@link EventBatcher.batch}).
   */
  private async publishInOrder(parsed: HttpEvent[], evicted?: ReadonlySet<string>): Promise<void> {
    if (!parsed.length && !evicted?.size) return;
    const batches = this.batcher.batch(this.rt.redactEarly ? parsed.map((e) => redactHttpEvent(e)) : parsed, evicted);
    let multi: ReturnType<StageRuntime['redis']['multi']> | null = null;
    const pks = new Set<string>();
    for (const b of batches) pks.add(eventPk(b.events[0]));
    for (const pk of pks) {
      const sizes = this.batcher.toStore(pk);
      if (sizes === null) continue;
      const [key, dir] = splitPk(pk);
      multi ??= this.rt.redis.multi();
      if (sizes) multi.hset(offsetKey(key), `batches:${dir}`, sizes).expire(offsetKey(key), OFFSET_TTL_S);
      else multi.hdel(offsetKey(key), `batches:${dir}`);
    }
    if (multi) await multi.exec();
    const acks: Promise<unknown>[] = [];
    for (const b of batches) {
      const { conn } = b.events[0];
      const p = this.rt.publisher.publish(Subjects.http(hostToken(conn.host), conn.partition), b.id, b);
      // A large batch goes by claim check (object store first): wait for it so later batches cannot overtake it.
      if (batchBytes(b) > 512 * 1024) {
        await Promise.all(acks.splice(0));
        await p;
      } else acks.push(p);
    }
    await Promise.all(acks);
  }

  /**
   * Stores consumed offsets of touched connection directions (for a closed connection: everything it sent), then
   * acks the inputs they cover.
   */
  private async commit(touched: Set<string>, closed: Map<string, RawSslCloseRecord>): Promise<void> {
    const multi = this.rt.redis.multi();
    const acks: Pending[] = [];
    for (const pk of touched) {
      const [key, dir] = splitPk(pk);
      const end = closed.get(key);
      const consumed = end ? (dir === 'write' ? end.write_offset : end.read_offset) : this.parser.consumedOffset(key, dir);
      multi.hset(offsetKey(key), dir, consumed).expire(offsetKey(key), end ? CLOSED_OFFSET_TTL_S : OFFSET_TTL_S);
      if (end) {
        this.batcher.forget(pk);
        multi.hdel(offsetKey(key), `batches:${dir}`);
      } else {
        this.batcher.committed(pk, consumed);
        const sizes = this.batcher.toStore(pk);
        if (sizes) multi.hset(offsetKey(key), `batches:${dir}`, sizes);
        else if (sizes === '') multi.hdel(offsetKey(key), `batches:${dir}`);
      }
      const h2 = end ? null : this.parser.h2State(key, dir);
      if (h2) multi.hset(offsetKey(key), `h2:${dir}`, JSON.stringify(h2));
      const list = this.pending.get(pk) ?? [];
      let i = 0;
      while (i < list.length && list[i].end <= consumed) acks.push(list[i++]);
      list.splice(0, i);
      if (!list.length) this.pending.delete(pk);
    }
    await multi.exec();
    for (const a of acks) a.ack();
  }

  /**
   * Before the first record of a connection direction: resume at the offset a previous owner committed. `batchKeys`:
   * the connection key of each record of the batch (null: not an SSL record).
   */
  private async loadOffsets(batchKeys: ReadonlyArray<string | null>): Promise<void> {
    const keys = new Set<string>();
    for (const key of batchKeys) if (key !== null && !this.resumed.has(key)) keys.add(key);
    if (!keys.size) return;
    const list = [...keys];
    const pipe = this.rt.redis.pipeline();
    for (const k of list) pipe.hmget(offsetKey(k), 'write', 'read', 'h2:write', 'h2:read', 'batches:write', 'batches:read');
    const res = (await pipe.exec()) ?? [];
    list.forEach((k, i) => {
      this.resumed.add(k);
      const [w, r, h2w, h2r, bw, br] = (res[i]?.[1] as Array<string | null>) ?? [];
      if (w) this.parser.resumeAt(k, 'write', Number(w), parseH2State(h2w));
      if (r) this.parser.resumeAt(k, 'read', Number(r), parseH2State(h2r));
      this.batcher.resume(`${k}|write`, bw);
      this.batcher.resume(`${k}|read`, br);
    });
  }

  /**
   * Drops connections idle for {@link IDLE_NS}: what they had in progress is finished as incomplete (a response
   * without a length ends here) and published; records still unacked after that are acked with a dead letter.
   */
  protected async evict(nowNs: bigint): Promise<void> {
    const out: ParseOutput = { events: [], deadLetters: [] };
    const keys = this.parser.evictIdle(nowNs - IDLE_NS, out);
    await this.publishInOrder(out.events, new Set(keys));
    for (const d of out.deadLetters) await this.rt.deadLetter(d);
    // An evicted HTTP/1 connection's offsets go with it after CLOSED_OFFSET_TTL_S: should it be used again, HTTP/1
    // resyncs at its next request line. An HTTP/2 one keeps them (its HPACK state) for OFFSET_TTL_S.
    if (keys.length) {
      const probe = this.rt.redis.pipeline();
      for (const k of keys) probe.hexists(offsetKey(k), 'h2:write');
      const isH2 = ((await probe.exec()) ?? []).map((r) => r[1] === 1);
      const multi = this.rt.redis.multi();
      keys.forEach((k, i) => isH2[i] || multi.expire(offsetKey(k), CLOSED_OFFSET_TTL_S));
      await multi.exec();
    }
    for (const key of keys) {
      this.resumed.delete(key);
      for (const dir of ['write', 'read'] as Direction[]) {
        this.batcher.forget(`${key}|${dir}`);
        const list = this.pending.get(`${key}|${dir}`);
        if (!list) continue;
        this.pending.delete(`${key}|${dir}`);
        await this.rt.deadLetter({ reason: 'incomplete_message', error: `connection idle for ${IDLE_NS / 1_000_000_000n} s with an unfinished ${dir} message; ${list.length} records dropped`, conn_key: key, input_subject: list[0].subject, input_seq: list[0].seq, input_id: list[0].msgId });
        for (const p of list) p.ack();
      }
    }
  }
}

/** A stored HTTP/2 direction state, or null when absent or unreadable (the direction then cannot resume as h2). */
function parseH2State(json: string | null | undefined): H2DirSnapshot | null {
  if (!json) return null;
  try {
    return JSON.parse(json) as H2DirSnapshot;
  } catch {
    return null;
  }
}

function splitPk(pk: string): [string, Direction] {
  const i = pk.lastIndexOf('|');
  return [pk.slice(0, i), pk.slice(i + 1) as Direction];
}

function batchBytes(b: HttpEventBatch): number {
  let n = 0;
  for (const ev of b.events) n += eventBytes(ev);
  return n;
}

/** Minimal shape check of a decoded raw SSL record (the producer is C; trust nothing). */
function isSslRecord(r: RawRecord): r is RawSslRecord {
  const x = r as RawSslRecord;
  return !!x && x.kind === 'ssl' && typeof x.pid === 'number' && typeof x.ssl === 'number' && x.data instanceof Uint8Array
    && typeof x.stream_offset === 'number' && (x.dir === 'write' || x.dir === 'read');
}
