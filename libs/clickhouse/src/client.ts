/**
 * Opening ClickHouse: a server over HTTP (`CLICKHOUSE_URL`) or embedded chDB on a local data directory, both as a
 * `@clickhouse/client` {@link ClickHouseClient}, so the rest of the code does not care which.
 *
 * Embedded chDB: only ONE process can open a data directory (a second gets ClickHouse `Code: 76 … Cannot lock file
 * <dir>/status`), and one process can have only one data directory open at a time. {@link openClickHouse} turns
 * that into a {@link ChdbLockedError} naming the owning process (from `<dir>/owner.pid`, which the owner writes,
 * else from the `PID:` line ClickHouse writes into `<dir>/status`).
 */
import { createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client';
import type { createChdbConnection as CreateChdbConnection } from 'chdb/dist/connection';
import * as fs from 'node:fs';
import * as path from 'node:path';

export type { ClickHouseClient } from '@clickhouse/client';

/**
 * Settings applied to every query:
 * - `output_format_json_quote_64bit_integers`: UInt64/Int64 come back as JSON strings (exact) instead of lossy numbers.
 * - `do_not_merge_across_partitions_select_final`: `FINAL` deduplicates each partition on its own instead of merging
 *   all parts of the table together (10–20× faster reads at 100k calls, bench/README.md). Exact because every copy of
 *   a row lands in the same partition: partition keys are the row's own deterministic event time (schema.ts), and a
 *   `tool` audit record whose ts moves between versions is already a different sorting key, which readers resolve by
 *   version.
 */
export const DEFAULT_SETTINGS: ClickHouseSettings = {
  output_format_json_quote_64bit_integers: 1,
  do_not_merge_across_partitions_select_final: 1,
};

export interface OpenClickHouseOptions {
  /**
   * ClickHouse server URL (`http://user:pass@host:8123`, optional `/database` path). Default: `CLICKHOUSE_URL` from
   * the environment, used only when `dataDir` is not given either.
   */
  url?: string;
  /** Embedded chDB data directory (created when missing). Used when `url` is not given. */
  dataDir?: string;
  /** Extra ClickHouse settings merged over {@link DEFAULT_SETTINGS}. */
  settings?: ClickHouseSettings;
  /**
   * chDB only: write `<dataDir>/owner.pid` after opening, so a second process is told who holds the directory; it
   * is removed again by `client.close()`. Default true. The value is the owner's description (default: argv).
   */
  ownerName?: string | false;
  /** Server only: request timeout in ms (default 30 000). */
  requestTimeoutMs?: number;
}

/** Thrown when an embedded chDB directory is held by another process (ClickHouse error Code 76). */
export class ChdbLockedError extends Error {
  readonly code = 'CHDB_LOCKED';
  constructor(
    message: string,
    readonly dataDir: string,
    /** Pid of the owning process when known. */
    readonly ownerPid: number | null,
    /** What the owner said about itself (`owner.pid` second line) or its command line. */
    readonly owner: string | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ChdbLockedError';
  }
}

/**
 * Opens ClickHouse. `url` (or, when neither option is given, `CLICKHOUSE_URL`) → a server client; `dataDir` →
 * embedded chDB (the directory is created; opening takes ~100 ms and a few hundred MB of RAM, so open once per
 * process and share the client). Every query runs with {@link DEFAULT_SETTINGS}.
 *
 * Errors: {@link ChdbLockedError} when another process holds `dataDir` (its pid/command when known); an Error when
 * this process already has a different chDB directory open, or when neither a url nor a dataDir is available.
 * A server URL is not contacted here: the first query fails if it is unreachable (use `client.ping()` to check).
 */
export async function openClickHouse(opts: OpenClickHouseOptions = {}): Promise<ClickHouseClient> {
  const settings = { ...DEFAULT_SETTINGS, ...opts.settings };
  const url = opts.url ?? (opts.dataDir === undefined ? process.env.CLICKHOUSE_URL : undefined);
  if (url) {
    return createClient({ url, clickhouse_settings: settings, request_timeout: opts.requestTimeoutMs ?? 30_000 });
  }
  if (!opts.dataDir) {
    throw new Error('openClickHouse: no ClickHouse configured: pass url (or set CLICKHOUSE_URL) or dataDir for embedded chDB');
  }
  const dataDir = path.resolve(opts.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  setChdbMallocConf();
  // Loaded lazily: server users never load chDB's native library.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createChdbConnection } = require('chdb/connection') as { createChdbConnection: typeof CreateChdbConnection };
  let connection: ReturnType<typeof CreateChdbConnection>;
  try {
    connection = createChdbConnection({ path: dataDir });
  } catch (err) {
    throw explainOpenError(err, dataDir);
  }
  const client = createClient({ connection, clickhouse_settings: settings } as Parameters<typeof createClient>[0]);
  chdbConnections.set(client, connection);
  if (opts.ownerName !== false) {
    writeOwnerPid(dataDir, process.pid, opts.ownerName);
    const close = client.close.bind(client);
    client.close = async () => {
      try {
        await close();
      } finally {
        removeOwnerPid(dataDir);
      }
    };
  }
  return client;
}

/** The chDB connection under each embedded client {@link openClickHouse} made (for {@link insertRows}' raw path). */
const chdbConnections = new WeakMap<ClickHouseClient, ReturnType<typeof CreateChdbConnection>>();

/**
 * The chDB connection under `client` when {@link openClickHouse} opened it on embedded chDB (its `.chdb` has chDB's raw
 * insert, used by writer.ts `insertRows`), else null (a server client, or a client made elsewhere).
 */
export function chdbConnectionOf(client: ClickHouseClient): ReturnType<typeof CreateChdbConnection> | null {
  return chdbConnections.get(client) ?? null;
}

/**
 * jemalloc options for chDB's allocator (the engine in libchdb.so has its own jemalloc; node's heap and buffers use
 * glibc's malloc and are not affected): freed pages go back to the system after about a second (`dirty_decay_ms:1000`,
 * `muzzy_decay_ms:0`, purged by jemalloc's `background_thread`). chDB's default kept them: after a burst of inserts the
 * embedded engine held ~90 MB of freed memory (its own tracker said 24 MB in use) until the process ended
 * (bench/README.md, "api RSS").
 */
export const CHDB_MALLOC_CONF = 'background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0';

/**
 * Sets `MALLOC_CONF` to {@link CHDB_MALLOC_CONF} unless the environment already has one (the operator's choice wins).
 * jemalloc reads it once, when chDB's library is loaded, so this runs before the first `require` of chDB; a process
 * that loaded chDB before keeps the options it started with.
 */
function setChdbMallocConf(): void {
  if (process.env.MALLOC_CONF === undefined) process.env.MALLOC_CONF = CHDB_MALLOC_CONF;
}

function explainOpenError(err: unknown, dataDir: string): Error {
  const msg = errorText(err);
  const m = /only one active data directory per process; close the current session \(path='([^']*)'\)/.exec(msg);
  if (m) {
    return new Error(
      `cannot open chDB directory ${dataDir}: this process already has ${m[1]} open (chDB allows one data directory per process); close that client first`,
      { cause: err },
    );
  }
  const status = readStatusPid(dataDir);
  const owner = readOwnerPid(dataDir);
  const locked = /Code: 76|Cannot lock file|already running/.test(msg) || (status !== null && status !== process.pid && isAlive(status));
  if (!locked) return err instanceof Error ? err : new Error(msg);
  const pid = owner?.alive ? owner.pid : status ?? owner?.pid ?? null;
  const who = owner?.alive && owner.name ? owner.name : pid !== null ? cmdline(pid) : null;
  const what = pid !== null ? `process ${pid}${who ? ` (${who})` : ''}` : 'another process';
  return new ChdbLockedError(
    `ClickHouse data directory ${dataDir} is locked by ${what} (ClickHouse Code 76: only one process can open an ` +
      `embedded chDB directory). Stop that process, or run against a ClickHouse server (CLICKHOUSE_URL), or use another data directory.`,
    dataDir,
    pid,
    who,
    { cause: err },
  );
}

function errorText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    parts.push(e instanceof Error ? e.message : String(e));
  }
  return parts.join(' | ');
}

/** The `PID:` line ClickHouse writes into `<dataDir>/status` while the directory is open. */
function readStatusPid(dataDir: string): number | null {
  try {
    const m = /^PID:\s*(\d+)/m.exec(fs.readFileSync(path.join(dataDir, 'status'), 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function cmdline(pid: number): string | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return s ? s.slice(0, 200) : null;
  } catch {
    return null;
  }
}

const OWNER_FILE = 'owner.pid';

/** Contents of `<dataDir>/owner.pid`. */
export interface OwnerPid {
  pid: number;
  /** Free-text description the owner wrote (e.g. `agentsight-api`), or null. */
  name: string | null;
  /** Whether a process with that pid exists now (a stale file from a crashed owner reads `alive: false`). */
  alive: boolean;
}

/**
 * Records `pid` (default: this process) as the owner of `dataDir`: writes `<dataDir>/owner.pid` =
 * `<pid>\n<name>\n` atomically (name optional; default: this process's argv when pid is ours).
 * {@link openClickHouse} already does this for chDB directories unless `ownerName: false`.
 */
export function writeOwnerPid(dataDir: string, pid: number = process.pid, name?: string): void {
  if (name === undefined && pid === process.pid) name = process.argv.map((a) => path.basename(a)).join(' ');
  const file = path.join(dataDir, OWNER_FILE);
  const tmp = `${file}.${pid}.tmp`;
  fs.writeFileSync(tmp, `${pid}\n${(name ?? '').replace(/\n/g, ' ')}\n`);
  fs.renameSync(tmp, file);
}

/** Reads `<dataDir>/owner.pid`; null when missing or unreadable. */
export function readOwnerPid(dataDir: string): OwnerPid | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, OWNER_FILE), 'utf8');
  } catch {
    return null;
  }
  const [first, second] = text.split('\n');
  const pid = Number(first);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return { pid, name: second?.trim() || null, alive: isAlive(pid) };
}

/** Removes `<dataDir>/owner.pid` if it names `pid` (default: this process). */
export function removeOwnerPid(dataDir: string, pid: number = process.pid): void {
  const cur = readOwnerPid(dataDir);
  if (cur && cur.pid === pid) {
    try {
      fs.unlinkSync(path.join(dataDir, OWNER_FILE));
    } catch {
      /* already gone */
    }
  }
}
