/** Test helper of the parser specs (not a spec itself): feeds records to an HttpStreamParser and gathers what it emits. */
import type { Direction, HttpEvent, RawSslRecord } from '@agentsight/contracts';
import type { HttpStreamParser } from './http-stream-parser';
import type { ParserDeadLetter } from './types';

/** Pushes `recs` in order; every event and dead-letter draft the parser emitted, in order. */
export function run(p: HttpStreamParser, recs: RawSslRecord[]): { events: HttpEvent[]; deadLetters: ParserDeadLetter[] } {
  const events: HttpEvent[] = [];
  const deadLetters: ParserDeadLetter[] = [];
  for (const r of recs) {
    const o = p.push(r);
    events.push(...o.events);
    deadLetters.push(...o.deadLetters);
  }
  return { events, deadLetters };
}

/** Records of one test connection (`ssl`), stream offsets per direction. */
export class Conn {
  constructor(readonly ssl = 0xabc) {}

  private offs: Record<Direction, number> = { write: 0, read: 0 };
  private seq = 0;
  rec(dir: Direction, data: Uint8Array | string): RawSslRecord {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    const off = this.offs[dir];
    this.offs[dir] += bytes.length;
    const ts = BigInt(1000 + this.seq * 10);
    return {
      v: 1, kind: 'ssl', host: 'h', boot_id: 'b', run: 7, seq: this.seq++, ts_boot_ns: ts, ts_wall_ns: ts, pid: 42, tid: 43, uid: 1000,
      comm: 'node', ssl: this.ssl, fn: dir === 'write' ? 'SSL_write' : 'SSL_read', dir, len: bytes.length, frag_offset: 0,
      frag_total: bytes.length, stream_offset: off, partition: 3, data: bytes,
    };
  }
  /** `bytes` as records of at most 16 KiB (TLS record size). */
  recs(dir: Direction, bytes: Uint8Array): RawSslRecord[] {
    const out: RawSslRecord[] = [];
    for (let i = 0; i < bytes.length; i += 16384) out.push(this.rec(dir, bytes.subarray(i, i + 16384)));
    return out;
  }
  /** The connection's `ssl_close` input, at the offsets sent so far. */
  close() {
    return { host: 'h', boot_id: 'b', run: 7, pid: 42, tid: 43, uid: 1000, comm: 'node', ssl: this.ssl, partition: 3, write_offset: this.offs.write, read_offset: this.offs.read, ts_wall_ns: 1n << 40n };
  }
}
