/**
 * Batched, acknowledged inserts: the storage sink adds one row per input and acks the input in `onStored`, which
 * runs only after the INSERT holding the row succeeded (at-least-once; the tables deduplicate by id).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { chdbConnectionOf } from './client';
import { DEFAULT_DATABASE, qualified } from './schema';

/**
 * Inserts `rows` into `database`.`table` as JSONEachRow; resolves when the insert succeeded, rejects with the
 * ClickHouse error otherwise.
 *
 * On embedded chDB the rows are written into one Buffer (each row's `JSON.stringify` text and a newline) and handed to
 * chDB's raw insert, which parses it natively: the batch never exists as one V8 string. `client.insert` on chDB
 * joins the encoded rows into a string, prefixes the SQL and hands that over, so a 16 MiB batch of bodies became two
 * 16+ MiB strings in V8's large-object space (freed only by a full GC) besides its UTF-8 copy (bench/README.md, "api
 * RSS"). On a server, or for names chDB's raw insert does not take (it accepts `[A-Za-z0-9_]` only): `client.insert`.
 */
export async function insertRows(client: ClickHouseClient, database: string, table: string, rows: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  const connection = chdbConnectionOf(client);
  if (!connection || !PLAIN_NAME.test(database) || !PLAIN_NAME.test(table)) {
    await client.insert({ table: qualified(database, table), values: rows as Array<Record<string, unknown>>, format: 'JSONEachRow' });
    return;
  }
  if (!rows.length) return;
  const lines = rows.map((r) => JSON.stringify(r));
  let bytes = lines.length;
  for (const l of lines) bytes += Buffer.byteLength(l, 'utf8');
  const buf = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let i = 0; i < lines.length; i++) {
    at += buf.write(lines[i]!, at, 'utf8');
    buf[at++] = 0x0a;
    lines[i] = ''; // each row's text can go as soon as it is in the buffer
  }
  await connection.chdb.rawInsert({ table: `${database}.${table}`, values: buf, format: 'JSONEachRow' });
}

/** A name chDB's raw insert takes unquoted. */
const PLAIN_NAME = /^[A-Za-z0-9_]+$/;

export interface BatchWriterOptions {
  /** Database of the tables (default `agentsight`). */
  database?: string;
  /** Flush a table's batch when it holds this many rows (default 500). */
  maxRows?: number;
  /** …or this many bytes of string data, approximately (default 16 MiB; bodies can be large). */
  maxBytes?: number;
  /**
   * Least time between the starts of two inserts into one table, ms (default 50): the budget of the batch window.
   * An idle table (no insert in flight, none started within the last `minIntervalMs`) inserts a new row at once
   * (with the rows added in the same turn of the event loop); a busy one gathers rows while its insert runs and
   * inserts them when it finished and `minIntervalMs` have passed since it started. Bounds the inserts (parts) per
   * table to 1000 / `minIntervalMs` per second.
   */
  minIntervalMs?: number;
  /** Attempts per batch before giving up on it (default 8; Infinity = retry forever). */
  maxAttempts?: number;
  /** First retry delay in ms, doubled per attempt with ±25 % jitter (default 100). */
  retryInitialMs?: number;
  /** Cap of the retry delay in ms (default 5000). */
  retryMaxMs?: number;
  /** Told about every failed attempt (`final` = the batch was given up) and about throwing callbacks. */
  onError?: (err: unknown, info: { table: string; rows: number; attempt: number; final: boolean }) => void;
}

interface Pending {
  row: Record<string, unknown>;
  onStored: () => void;
  onFailed?: (err: unknown) => void;
  bytes: number;
}

interface TableState {
  queue: Pending[];
  bytes: number;
  timer: NodeJS.Timeout | null;
  inflight: Promise<void> | null;
  /** Date.now() when the last insert started (0: none yet). */
  lastStart: number;
}

/**
 * Collects rows per table and inserts them as JSONEachRow ({@link insertRows}: chDB's raw insert when embedded,
 * `client.insert` on a server).
 *
 * - A table's batch is flushed at `maxRows` rows or `maxBytes` bytes; otherwise at once when the table is idle, and
 *   when busy once its insert in flight finished and `minIntervalMs` passed since that insert started (a row waits
 *   at most about one insert plus `minIntervalMs`; no fixed window when idle).
 * - One insert per table is in flight at a time; rows added meanwhile form the next batch.
 * - A failed insert is retried with exponential backoff (`retryInitialMs` doubling up to `retryMaxMs`) up to
 *   `maxAttempts`; then the batch is dropped and each row's `onFailed` (if any) is called — its input stays unacked,
 *   so JetStream redelivers it later.
 * - `onStored` runs once per row, only after a successful insert; exceptions from it are reported to `onError` and
 *   do not affect other rows.
 *
 * The writer does not own the client: `close()` flushes and stops, the caller closes the client afterwards.
 */
export class BatchWriter {
  private readonly tables = new Map<string, TableState>();
  private readonly database: string;
  private readonly maxRows: number;
  private readonly maxBytes: number;
  private readonly minIntervalMs: number;
  private readonly maxAttempts: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private closed = false;

  constructor(private readonly client: ClickHouseClient, private readonly opts: BatchWriterOptions = {}) {
    this.database = opts.database ?? DEFAULT_DATABASE;
    this.maxRows = opts.maxRows ?? 500;
    this.maxBytes = opts.maxBytes ?? 16 << 20;
    this.minIntervalMs = opts.minIntervalMs ?? 50;
    this.maxAttempts = opts.maxAttempts ?? 8;
    this.retryInitialMs = opts.retryInitialMs ?? 100;
    this.retryMaxMs = opts.retryMaxMs ?? 5000;
  }

  /**
   * Queues `row` for `table` (a table name of the writer's database, e.g. `llm_calls`). `onStored` is called after
   * the insert containing the row succeeded; `onFailed` if the writer gave up on it. Throws when closed.
   */
  add(table: string, row: Record<string, unknown>, onStored: () => void, onFailed?: (err: unknown) => void): void {
    if (this.closed) throw new Error('BatchWriter is closed');
    let st = this.tables.get(table);
    if (!st) {
      st = { queue: [], bytes: 0, timer: null, inflight: null, lastStart: 0 };
      this.tables.set(table, st);
    }
    const bytes = approxBytes(row);
    st.queue.push({ row, onStored, onFailed, bytes });
    st.bytes += bytes;
    if (st.queue.length >= this.maxRows || st.bytes >= this.maxBytes) this.kick(table, st);
    else this.schedule(table, st);
  }

  /**
   * Arms the table's next insert unless one is armed or in flight (its end schedules again): at once (next timer
   * turn, so rows added in this turn join it) when the last insert started `minIntervalMs` ago or more, else then.
   */
  private schedule(table: string, st: TableState): void {
    if (st.timer || st.inflight || !st.queue.length) return;
    const wait = Math.max(0, st.lastStart + this.minIntervalMs - Date.now());
    st.timer = setTimeout(() => this.kick(table, st), wait);
  }

  /** Rows queued or in flight, over all tables. */
  get pending(): number {
    let n = 0;
    for (const st of this.tables.values()) n += st.queue.length;
    return n + this.inflightRows;
  }

  private inflightRows = 0;

  /**
   * Inserts everything queued now (and anything added while flushing); resolves when no row is queued or in
   * flight. Rows of batches given up on are not an error here (see `onFailed`).
   */
  async flush(): Promise<void> {
    for (;;) {
      const waits: Promise<void>[] = [];
      for (const [table, st] of this.tables) {
        if (st.queue.length && !st.inflight) this.kick(table, st);
        if (st.inflight) waits.push(st.inflight);
      }
      if (waits.length === 0) return;
      await Promise.all(waits);
    }
  }

  /** Flushes (waiting for retries; forever if `maxAttempts` is Infinity and inserts keep failing), then refuses
   * further rows. Does not close the client. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    for (const st of this.tables.values()) if (st.timer) clearTimeout(st.timer);
  }

  private kick(table: string, st: TableState): void {
    if (st.timer) {
      clearTimeout(st.timer);
      st.timer = null;
    }
    if (st.inflight || st.queue.length === 0) return;
    // Take up to maxRows rows / maxBytes bytes (at least one row).
    let n = 0;
    let bytes = 0;
    while (n < st.queue.length && n < this.maxRows && (n === 0 || bytes + st.queue[n]!.bytes <= this.maxBytes)) bytes += st.queue[n++]!.bytes;
    const batch = st.queue.splice(0, n);
    st.bytes -= bytes;
    this.inflightRows += batch.length;
    st.lastStart = Date.now();
    st.inflight = this.insert(table, batch).finally(() => {
      this.inflightRows -= batch.length;
      st.inflight = null;
      if (st.queue.length >= this.maxRows || st.bytes >= this.maxBytes || this.closed) this.kick(table, st);
      else this.schedule(table, st);
    });
  }

  private async insert(table: string, batch: Pending[]): Promise<void> {
    const values = batch.map((p) => p.row);
    for (let attempt = 1; ; attempt++) {
      try {
        await insertRows(this.client, this.database, table, values);
        break;
      } catch (err) {
        const final = attempt >= this.maxAttempts;
        this.report(err, { table, rows: batch.length, attempt, final });
        if (final) {
          for (const p of batch) this.safe(() => p.onFailed?.(err), table);
          return;
        }
        const base = Math.min(this.retryInitialMs * 2 ** (attempt - 1), this.retryMaxMs);
        await sleep(base * (0.75 + Math.random() * 0.5));
      }
    }
    for (const p of batch) this.safe(p.onStored, table);
  }

  private safe(fn: () => void, table: string): void {
    try {
      fn();
    } catch (err) {
      this.report(err, { table, rows: 1, attempt: 0, final: false });
    }
  }

  private report(err: unknown, info: { table: string; rows: number; attempt: number; final: boolean }): void {
    if (this.opts.onError) {
      try {
        this.opts.onError(err, info);
      } catch {
        /* ignore */
      }
    } else {
      console.error(`[BatchWriter] ${info.table}: insert of ${info.rows} rows failed (attempt ${info.attempt}${info.final ? ', giving up' : ''}): ${(err as Error)?.message ?? err}`);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Rough size of a row: total length of its strings (bodies dominate), plus a little per field. */
function approxBytes(row: Record<string, unknown>): number {
  let n = 0;
  for (const v of Object.values(row)) {
    if (typeof v === 'string') n += v.length + 8;
    else if (Array.isArray(v)) for (const x of v) n += typeof x === 'string' ? x.length + 4 : Array.isArray(x) ? String(x).length + 8 : 16;
    else n += 16;
  }
  return n;
}
