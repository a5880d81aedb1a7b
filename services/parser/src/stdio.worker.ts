import type Redis from 'ioredis';
import { Direction, hostToken, normalizeNs, RawRecord, RawStdioRecord, stdioKey, Subjects, ToolUse, versionedMsgId } from '@agentsight/contracts';
import type { Input, StageRuntime } from '@agentsight/jetstream';
import { ClockedPartitionWorker } from './clocked-worker';
import { FramerPosition, FramerStats, JsonRpcFramer, JsonRpcReject, McpStateStore, McpToolCalls, StdioMeta } from './domain';

/** Redis state of the stdio stage, all expiring a day after last use. */
const TTL_S = 24 * 3600;
/** Hash of a stdio fd's consumed positions: field `write`/`read` = `<offset>` or `<offset>:skip` (inside a skipped line). */
const offsetKey = (key: string) => `agentsight:stdio:offset:${key}`;
/** Hash of a stdio fd's framing counters: fields `<dir>:frames|skipped_lines|skipped_bytes|rejected|gaps|gap_bytes`. */
const statsKey = (key: string) => `agentsight:stdio:stats:${key}`;
const claimKey = (toolId: string) => `agentsight:mcp:claim:${toolId}`;
const callKey = (pair: string) => `agentsight:mcp:call:${pair}`;
/**
 * Streams idle this long are dropped from memory (a message in progress is dead-lettered as incomplete), ns:
 * `AGENTSIGHT_STDIO_IDLE_S`, default 600.
 */
const IDLE_NS = BigInt(Math.round(Number(process.env.AGENTSIGHT_STDIO_IDLE_S || 600) * 1e9));

/** {@link McpStateStore} in Redis: claims and pending `tools/call` requests survive restarts and are shared. */
export class RedisMcpStateStore implements McpStateStore {
  constructor(private readonly redis: Redis) {}

  async claim(toolId: string, observer: string): Promise<boolean> {
    if ((await this.redis.set(claimKey(toolId), observer, 'EX', TTL_S, 'NX')) === 'OK') return true;
    return (await this.redis.get(claimKey(toolId))) === observer;
  }

  async putCall(pair: string, tool: ToolUse): Promise<void> {
    await this.redis.set(callKey(pair), JSON.stringify(tool, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)), 'EX', TTL_S);
  }

  async getCall(pair: string): Promise<ToolUse | null> {
    const s = await this.redis.get(callKey(pair));
    if (!s) return null;
    return JSON.parse(s, (_k, v) => (typeof v === 'string' && /^\d+n$/.test(v) ? BigInt(v.slice(0, -1)) : v)) as ToolUse;
  }
}

/** An unacked raw record: where its bytes end in its stream, and how to ack it. */
interface Pending {
  end: number;
  ack(): void;
}

/** One (process, fd, direction) byte stream in memory. */
interface Stream {
  key: string;
  dir: Direction;
  framer: JsonRpcFramer<StdioMeta>;
  pending: Pending[];
  lastNs: bigint;
  /** Counters already added to Redis. */
  reported: FramerStats;
}

const encodePos = (p: FramerPosition) => (p.inSkippedLine ? `${p.offset}:skip` : String(p.offset));
function decodePos(s: string | null): FramerPosition | null {
  const m = s ? /^(\d+)(:skip)?$/.exec(s) : null;
  return m ? { offset: Number(m[1]), inSkippedLine: !!m[2] } : null;
}

/**
 * Stdio stage of one partition of `agentsight.raw.stdio.*.<p>`: reassembles each (process, fd, direction) byte
 * stream, frames JSON-RPC messages ({@link JsonRpcFramer}), turns MCP `tools/call` requests and responses into
 * {@link ToolUse} records on `agentsight.tool.<host>` ({@link McpToolCalls}; `Nats-Msg-Id` by `versionedMsgId`, the scheme of the analyzer's tool uses on the same subject), and
 * dead-letters broken JSON-RPC frames. A raw record is acked once every byte of it is consumed (framed, skipped or
 * rejected) and the stream's consumed position is in Redis; after a restart the partition is replayed from its ack
 * floor and the positions skip what was already consumed, so nothing is lost or published twice.
 */
export class StdioWorker extends ClockedPartitionWorker {
  private readonly streams = new Map<string, Stream>();
  private readonly mcp: McpToolCalls;

  constructor(rt: StageRuntime) {
    super(rt, IDLE_NS, 'parser-stdio');
    this.mcp = new McpToolCalls(new RedisMcpStateStore(rt.redis));
  }

  /** Streams are open (a silent partition then advances its clock to finish and ack them). */
  protected holdsState(): boolean {
    return this.streams.size > 0;
  }

  protected release(): void {
    this.streams.clear();
  }

  protected async process(batch: Input<RawRecord>[]): Promise<void> {
    await this.openStreams(batch);
    const tools: ToolUse[] = [];
    const touched = new Set<Stream>();
    for (const input of batch) {
      const rec = input.value;
      if (!isStdioRecord(rec)) {
        await this.rt.deadLetter({ reason: 'contract', error: 'not a v1 stdio record', input_subject: input.subject, input_seq: input.seq, input_id: input.msgId });
        input.ack();
        continue;
      }
      rec.ts_wall_ns = normalizeNs(rec.ts_wall_ns);
      const st = this.streams.get(`${stdioKey(rec)}|${rec.dir}`)!;
      const meta: StdioMeta = {
        stream: { host: rec.host, boot_id: rec.boot_id, run: rec.run, pid: rec.pid, ppid: rec.ppid, comm: rec.comm, fd: rec.fd, dir: rec.dir, ftype: rec.ftype, ino: rec.ino, dev: rec.dev },
        ts_wall_ns: rec.ts_wall_ns,
      };
      const out = st.framer.push(rec.data, rec.stream_offset, meta);
      for (const f of out.frames) tools.push(...(await this.mcp.onFrame(f)));
      for (const r of out.rejects) await this.reject(st, r, input);
      st.pending.push({ end: rec.stream_offset + rec.data.length, ack: input.ack });
      if (rec.ts_wall_ns > st.lastNs) st.lastNs = rec.ts_wall_ns;
      if (rec.ts_wall_ns > this.newestNs) this.newestNs = rec.ts_wall_ns;
      touched.add(st);
    }
    await this.publish(tools);
    await this.commit(touched);
  }

  /** Publishes tool uses in order and waits for every PubAck. */
  private async publish(tools: ToolUse[]): Promise<void> {
    await Promise.all(tools.map((t) => this.rt.publisher.publish(Subjects.tool(hostToken(t.host)), versionedMsgId(t.id, t.version, t), t)));
  }

  private async reject(st: Stream, r: JsonRpcReject<StdioMeta>, input?: Input<RawRecord>): Promise<void> {
    await this.rt.deadLetter({
      reason: r.reason,
      error: r.error,
      host: r.meta.stream.host,
      conn_key: `${st.key}|${st.dir}`,
      input_subject: input?.subject ?? Subjects.rawStdio(hostToken(r.meta.stream.host), 0),
      input_seq: input?.seq ?? 0,
      input_id: `${st.key}|${st.dir}@${r.offset}`,
      sample: r.sample,
      ts_ns: r.meta.ts_wall_ns,
    });
  }

  /** Stores the consumed positions (and counter increments) of `touched` streams, then acks what they cover. */
  private async commit(touched: Iterable<Stream>): Promise<void> {
    const multi = this.rt.redis.multi();
    const acks: Pending[] = [];
    for (const st of touched) {
      const pos = st.framer.position();
      multi.hset(offsetKey(st.key), st.dir, encodePos(pos)).expire(offsetKey(st.key), TTL_S);
      const s = st.framer.stats;
      const r = st.reported;
      const deltas: Array<[string, number]> = [
        ['frames', s.frames - r.frames], ['skipped_lines', s.skippedLines - r.skippedLines], ['skipped_bytes', s.skippedBytes - r.skippedBytes],
        ['rejected', s.rejected - r.rejected], ['gaps', s.gaps - r.gaps], ['gap_bytes', s.gapBytes - r.gapBytes],
      ];
      for (const [f, d] of deltas) if (d) multi.hincrby(statsKey(st.key), `${st.dir}:${f}`, d);
      multi.expire(statsKey(st.key), TTL_S);
      st.reported = { ...s };
      let i = 0;
      while (i < st.pending.length && st.pending[i].end <= pos.offset) acks.push(st.pending[i++]);
      st.pending.splice(0, i);
    }
    await multi.exec();
    for (const a of acks) a.ack();
  }

  /** Creates the streams first seen in `batch`, resuming at the positions a previous owner committed. */
  private async openStreams(batch: Input<RawRecord>[]): Promise<void> {
    const fresh = new Map<string, { key: string; dir: Direction }>();
    for (const { value } of batch) {
      if (!isStdioRecord(value)) continue;
      const key = stdioKey(value);
      if (!this.streams.has(`${key}|${value.dir}`)) fresh.set(`${key}|${value.dir}`, { key, dir: value.dir });
    }
    if (!fresh.size) return;
    const list = [...fresh.values()];
    const pipe = this.rt.redis.pipeline();
    for (const s of list) pipe.hget(offsetKey(s.key), s.dir);
    const res = (await pipe.exec()) ?? [];
    list.forEach((s, i) => {
      const framer = new JsonRpcFramer<StdioMeta>();
      const pos = decodePos((res[i]?.[1] as string | null) ?? null);
      if (pos) framer.resumeAt(pos);
      this.streams.set(`${s.key}|${s.dir}`, { key: s.key, dir: s.dir, framer, pending: [], lastNs: 0n, reported: { ...framer.stats } });
    });
  }

  /**
   * Drops streams idle for {@link IDLE_NS} (by record time): a message in progress is dead-lettered as incomplete,
   * the position committed and every record acked.
   */
  protected async evict(nowNs: bigint): Promise<void> {
    const idle = [...this.streams.values()].filter((st) => st.lastNs + IDLE_NS < nowNs);
    if (!idle.length) return;
    for (const st of idle) for (const r of st.framer.finish().rejects) await this.reject(st, r);
    await this.commit(idle);
    for (const st of idle) {
      for (const p of st.pending.splice(0)) p.ack(); // bytes below a gap never come
      this.streams.delete(`${st.key}|${st.dir}`);
    }
  }
}

/** Minimal shape check of a decoded raw stdio record (the producer is C; trust nothing). */
function isStdioRecord(r: RawRecord): r is RawStdioRecord {
  const x = r as RawStdioRecord;
  return !!x && x.kind === 'stdio' && typeof x.pid === 'number' && typeof x.fd === 'number' && x.data instanceof Uint8Array
    && typeof x.stream_offset === 'number' && x.stream_offset >= 0 && (x.dir === 'write' || x.dir === 'read')
    && typeof x.host === 'string' && typeof x.ino === 'number';
}
