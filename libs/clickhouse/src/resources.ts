/**
 * Resource samples in ClickHouse (`resource_samples`, issue 15) and what they say about agent sessions and tool uses.
 *
 * Storage: one row per process per {@link RawResourceSample}, with the process' own figures and those of its
 * subtree (itself and its live descendants at that instant), so "what did the tree under pid P use" is a read of P's
 * rows. `ReplacingMergeTree(ingested_at)` ordered by (host, root_pid, ts, pid, boot_id) — host, agent, time — which
 * is also the row's identity (a republished sample gives the same keys), partitioned by day of `ts`, TTL on `ts`.
 *
 * Attribution ({@link windowUsage}): a window [from, to] of an agent process P (a tool use: from the response that
 * asked for the tool to the request that carried its result; a session: its first start to its last end) is given
 * the CPU time of P's subtree between the last sample of P at or before `from` and the first one at or after `to`
 * (cumulative counters, so CPU of processes that started and exited in between is kept as long as P's tree reaped
 * them), and the peak subtree RSS among the samples from the first to the second; network bytes the same way as the
 * CPU (cumulative subtree counters that keep exited descendants' bytes). CPU and bytes the agent itself used in those
 * sampling margins (at most one interval each side) are included: the figures are upper bounds of the tool's own.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { redactText, type ProcResourceSample, type RawResourceSample } from '@agentsight/contracts';
import { n, queryRows } from './repositories/sql';
import { nsToDateTime64, toNs } from './rows';
import type { ColumnMigration } from './schema';

/** The table name. */
export const RESOURCE_SAMPLES_TABLE = 'resource_samples';

/** Partition key of `resource_samples` (one partition per day of the sample's time). */
export const RESOURCE_SAMPLES_PARTITION = 'toYYYYMMDD(ts)';

/**
 * Network columns of `resource_samples` (contract v2, issue 15), added to tables made before them
 * (`COLUMN_MIGRATIONS`): each process' own inet bytes sent/received (the probe's eBPF counters), those of its exited
 * descendants, its subtree's sums, and the age of the reading. Null = not counted (v1 samples, no probe, a kernel
 * without the tracepoints: the reason is in `not_captured`).
 */
export const RESOURCE_SAMPLES_NET_COLUMNS: ColumnMigration[] = [
  { table: 'resource_samples', name: 'net_sent_bytes', type: "Nullable(UInt64) COMMENT 'inet payload bytes sent (eBPF sock_send_length); null = not counted'", after: 'fds' },
  { table: 'resource_samples', name: 'net_recv_bytes', type: "Nullable(UInt64) COMMENT 'inet payload bytes received (eBPF sock_recv_length, MSG_PEEK excluded)'", after: 'net_sent_bytes' },
  { table: 'resource_samples', name: 'children_net_sent_bytes', type: "Nullable(UInt64) COMMENT 'bytes sent by its descendants that exited while sampled'", after: 'net_recv_bytes' },
  { table: 'resource_samples', name: 'children_net_recv_bytes', type: "Nullable(UInt64) COMMENT 'bytes received by its descendants that exited while sampled'", after: 'children_net_sent_bytes' },
  { table: 'resource_samples', name: 'subtree_net_sent_bytes', type: "Nullable(UInt64) COMMENT 'Σ net_sent_bytes + children_net_sent_bytes over the subtree; null when any is'", after: 'subtree_rss_bytes' },
  { table: 'resource_samples', name: 'subtree_net_recv_bytes', type: "Nullable(UInt64) COMMENT 'Σ net_recv_bytes + children_net_recv_bytes over the subtree'", after: 'subtree_net_sent_bytes' },
  { table: 'resource_samples', name: 'net_age_ms', type: "Nullable(UInt32) COMMENT 'age of the probe reading the net figures come from, ms'", after: 'sampler_cpu_ns' },
];

/** `name type` of the network columns that follow `after` in CREATE order. */
function netColumnsAfter(after: string): string {
  const out: string[] = [];
  for (let prev = after, c = RESOURCE_SAMPLES_NET_COLUMNS.find((x) => x.after === prev); c; prev = c.name, c = RESOURCE_SAMPLES_NET_COLUMNS.find((x) => x.after === prev)) {
    out.push(`${c.name} ${c.type},`);
  }
  return out.join('\n      ');
}

/** DDL of `resource_samples` in the quoted database `db`, with `ttl` (`TTL …` or ''). */
export function resourceSamplesDdl(db: string, ttl: string): string {
  const TS = "DateTime64(9, 'UTC')";
  return `CREATE TABLE IF NOT EXISTS ${db}.${RESOURCE_SAMPLES_TABLE} (
      sample_id String COMMENT 'RawResourceSample.id',
      host LowCardinality(String),
      boot_id LowCardinality(String),
      root_pid UInt32 COMMENT 'traced root (the agent process agentsight started or was given)',
      root_comm LowCardinality(String),
      ts ${TS} COMMENT 'when the tree was read (wall clock)',
      interval_ms UInt32 COMMENT 'since the previous sample of this root; 0 for the first',
      pid UInt32,
      ppid UInt32,
      comm LowCardinality(String),
      start_ticks UInt64 COMMENT 'process start, clock ticks since boot',
      utime_ns UInt64,
      stime_ns UInt64,
      children_cpu_ns UInt64 COMMENT 'cutime + cstime: reaped children',
      rss_bytes Nullable(UInt64) COMMENT 'VmRSS; null = unreadable (zombie)',
      rss_peak_bytes Nullable(UInt64) COMMENT 'VmHWM',
      threads UInt32,
      read_bytes Nullable(UInt64) COMMENT 'io read_bytes; null = unreadable',
      write_bytes Nullable(UInt64),
      rchar Nullable(UInt64),
      wchar Nullable(UInt64),
      fds Nullable(UInt32),
      ${netColumnsAfter('fds')}
      subtree_procs UInt32 COMMENT 'this process and its live descendants',
      subtree_cpu_ns UInt64 COMMENT 'Σ utime + stime + children_cpu over the subtree',
      subtree_rss_bytes UInt64 COMMENT 'Σ VmRSS over the subtree',
      ${netColumnsAfter('subtree_rss_bytes')}
      not_captured Array(String) COMMENT 'what the sample does not carry, with the reason',
      sampler_cpu_ns UInt64 COMMENT 'CPU the sampler spent reading this tree (same on every row of a sample)',
      ${netColumnsAfter('sampler_cpu_ns')}
      ingested_at ${TS} DEFAULT now64(9)
    ) ENGINE = ReplacingMergeTree(ingested_at)
    PARTITION BY ${RESOURCE_SAMPLES_PARTITION}
    ORDER BY (host, root_pid, ts, pid, boot_id)
    ${ttl}`;
}

/** Row of `resource_samples` (JSONEachRow; see the DDL for meanings). */
export type ResourceSampleRow = Required<ProcResourceSample> & {
  sample_id: string;
  host: string;
  boot_id: string;
  root_pid: number;
  root_comm: string;
  ts: string;
  interval_ms: number;
  subtree_procs: number;
  subtree_cpu_ns: number;
  subtree_rss_bytes: number;
  subtree_net_sent_bytes: number | null;
  subtree_net_recv_bytes: number | null;
  not_captured: string[];
  sampler_cpu_ns: number;
  net_age_ms: number | null;
};

/**
 * The rows of one sample: one per process, with its subtree totals; process names and notes redacted (a process can
 * name itself anything). Throws on a structurally invalid sample.
 */
export function resourceSampleRows(s: RawResourceSample): ResourceSampleRow[] {
  if (!s || s.kind !== 'resource_sample' || !Array.isArray(s.procs) || typeof s.id !== 'string') throw new Error('not a resource sample');
  const ts = nsToDateTime64(toNs(s.ts_wall_ns, 'ts_wall_ns'));
  const kids = new Map<number, ProcResourceSample[]>();
  const pids = new Set(s.procs.map((p) => p.pid));
  for (const p of s.procs) if (p.pid !== s.root_pid && pids.has(p.ppid)) kids.set(p.ppid, [...(kids.get(p.ppid) ?? []), p]);
  type Sub = { procs: number; cpu: number; rss: number; sent: number | null; recv: number | null };
  const sub = new Map<number, Sub>();
  // Own + exited descendants' bytes; null (not counted) stays null through every sum.
  const net = (own: number | null | undefined, kids: number | null | undefined) => (own === null || own === undefined || kids === null || kids === undefined ? null : own + kids);
  const add = (a: number | null, b: number | null) => (a === null || b === null ? null : a + b);
  const total = (p: ProcResourceSample, depth = 0): Sub => {
    const known = sub.get(p.pid);
    if (known) return known;
    if (depth > 10_000) throw new Error('process tree too deep (cycle?)');
    const t: Sub = {
      procs: 1, cpu: p.utime_ns + p.stime_ns + p.children_cpu_ns, rss: p.rss_bytes ?? 0,
      sent: net(p.net_sent_bytes, p.children_net_sent_bytes), recv: net(p.net_recv_bytes, p.children_net_recv_bytes),
    };
    for (const c of kids.get(p.pid) ?? []) {
      const ct = total(c, depth + 1);
      t.procs += ct.procs;
      t.cpu += ct.cpu;
      t.rss += ct.rss;
      t.sent = add(t.sent, ct.sent);
      t.recv = add(t.recv, ct.recv);
    }
    sub.set(p.pid, t);
    return t;
  };
  return s.procs.map((p) => {
    const t = total(p);
    return {
      sample_id: s.id, host: s.host, boot_id: s.boot_id, root_pid: s.root_pid, root_comm: redactText(s.root_comm), ts, interval_ms: s.interval_ms,
      pid: p.pid, ppid: p.ppid, comm: redactText(p.comm), start_ticks: p.start_ticks, utime_ns: p.utime_ns, stime_ns: p.stime_ns, children_cpu_ns: p.children_cpu_ns,
      rss_bytes: p.rss_bytes, rss_peak_bytes: p.rss_peak_bytes, threads: p.threads, read_bytes: p.read_bytes, write_bytes: p.write_bytes,
      rchar: p.rchar, wchar: p.wchar, fds: p.fds,
      net_sent_bytes: p.net_sent_bytes ?? null, net_recv_bytes: p.net_recv_bytes ?? null,
      children_net_sent_bytes: p.children_net_sent_bytes ?? null, children_net_recv_bytes: p.children_net_recv_bytes ?? null,
      subtree_procs: t.procs, subtree_cpu_ns: t.cpu, subtree_rss_bytes: t.rss, subtree_net_sent_bytes: t.sent, subtree_net_recv_bytes: t.recv,
      not_captured: (s.not_captured ?? []).map(redactText), sampler_cpu_ns: s.sampler_cpu_ns ?? 0, net_age_ms: s.net_age_ms ?? null,
    };
  });
}

/** A sample point of one process' subtree, as read back for attribution. */
export interface SubtreePoint {
  ts_ns: bigint;
  start_ticks: number;
  cpu_ns: number;
  rss_bytes: number;
  /** Subtree inet bytes sent/received (cumulative, exited descendants included); null or absent = not counted. */
  net_sent_bytes?: number | null;
  net_recv_bytes?: number | null;
}

/** What a window of an agent process used (see the module comment for the rule). */
export interface WindowUsage {
  /** CPU seconds of the agent's subtree over the window; null when no sample brackets the window. */
  cpu_s: number | null;
  /** Peak sampled RSS of the subtree, bytes; null when no sample is in or around the window. */
  peak_rss_bytes: number | null;
  /**
   * Inet payload bytes the subtree sent / received over the window (the same bracketing samples as the CPU); null when
   * either sample has no network figures (not counted: v1 samples, no probe, a kernel without the tracepoints).
   */
  net_sent_bytes: number | null;
  net_recv_bytes: number | null;
  /** Samples used. */
  samples: number;
  /** Why the figures are null or partial (never a silent zero); null when they cover the whole window. */
  resources_note: string | null;
}

/**
 * The usage of the window [fromNs, toNs] (wall ns) from the points of one process, sorted by time. A window still open
 * (`toNs` null) ends at the last point. The points of one process identity only: the one whose start ticks the last
 * point at or before `fromNs` has (pid reuse never mixes).
 */
export function windowUsage(points: SubtreePoint[], fromNs: bigint | null, toNs: bigint | null): WindowUsage {
  const none = (why: string): WindowUsage => ({ cpu_s: null, peak_rss_bytes: null, net_sent_bytes: null, net_recv_bytes: null, samples: 0, resources_note: why });
  if (!points.length) return none('no resource samples of this process (not traced by a sampling run: exec/trace/record sample their agents)');
  if (fromNs === null) return none('the window has no start');
  let i = -1;
  for (let k = 0; k < points.length && points[k].ts_ns <= fromNs; k++) i = k;
  if (i < 0) {
    // Sampling began after the window opened (first sample within it): start from the first sample of the window.
    if (points[0].ts_ns > (toNs ?? points[points.length - 1].ts_ns)) return none('no resource sample during the window');
    i = 0;
  }
  const ident = points[i].start_ticks;
  let j = i;
  for (let k = i; k < points.length && points[k].start_ticks === ident; k++) {
    j = k;
    if (toNs !== null && points[k].ts_ns >= toNs) break;
  }
  const used = points.slice(i, j + 1);
  const last = used[used.length - 1];
  if (used.length < 2) return { ...none('only one resource sample around the window (the process ended first?)'), peak_rss_bytes: last.rss_bytes, samples: 1 };
  const partial = toNs !== null && last.ts_ns < toNs ? 'partial: the last resource sample of the process is before the window end (it ended first)' : null;
  const delta = (a: number | null | undefined, b: number | null | undefined) => (a === null || a === undefined || b === null || b === undefined ? null : Math.max(0, b - a));
  return {
    cpu_s: Math.max(0, last.cpu_ns - used[0].cpu_ns) / 1e9,
    peak_rss_bytes: Math.max(...used.map((p) => p.rss_bytes)),
    net_sent_bytes: delta(used[0].net_sent_bytes, last.net_sent_bytes),
    net_recv_bytes: delta(used[0].net_recv_bytes, last.net_recv_bytes),
    samples: used.length,
    resources_note: partial,
  };
}

/**
 * A window to attribute: an agent process on a host, and its start/end: wall ns as decimal text (`start_ns`/`end_ns`),
 * else ISO 8601 (`start_time`/`end_time`, ms); null = unknown.
 */
export interface ResourceWindow {
  host: string;
  pid: number;
  start_ns?: string | null;
  end_ns?: string | null;
  start_time?: string | null;
  end_time?: string | null;
}

/** [start, end] of a window as ns text (null = unknown). */
function bounds(w: ResourceWindow): [string | null, string | null] {
  const ns = (exact: string | null | undefined, iso: string | null | undefined) =>
    exact ?? (iso ? (BigInt(Date.parse(iso)) * 1_000_000n).toString() : null);
  return [ns(w.start_ns, w.start_time), ns(w.end_ns, w.end_time)];
}

/** Sampling intervals never exceed this (the idle cap is 8 s by default): how far around windows points are read. */
const MARGIN_NS = 60_000_000_000n;

/**
 * {@link windowUsage} of every window, in order, reading the points of their (host, pid) pairs in one query.
 * Throws the ClickHouse error on failure.
 */
export async function resourceUsage(client: ClickHouseClient, given: ResourceWindow[], database = 'agentsight'): Promise<WindowUsage[]> {
  const windows = given.map((w) => {
    const [start_ns, end_ns] = bounds(w);
    return { host: w.host, pid: w.pid, start_ns, end_ns };
  });
  const known = windows.filter((w) => w.start_ns !== null);
  if (!known.length) return windows.map(() => windowUsage([], null, null));
  const from = known.reduce((a, w) => (BigInt(w.start_ns!) < a ? BigInt(w.start_ns!) : a), BigInt(known[0].start_ns!)) - MARGIN_NS;
  const to = windows.reduce((a, w) => {
    const t = BigInt(w.end_ns ?? w.start_ns ?? '0');
    return t > a ? t : a;
  }, 0n) + MARGIN_NS;
  const pairs = [...new Set(windows.map((w) => `${w.host}\u0000${w.pid}`))].map((k) => k.split('\u0000'));
  type Row = { host: string; pid: number; ts_ns: string; start_ticks: string | number; subtree_cpu_ns: string | number; subtree_rss_bytes: string | number; subtree_net_sent_bytes: string | number | null; subtree_net_recv_bytes: string | number | null };
  const rows = await queryRows<Row>(
    client,
    `SELECT host, pid, toString(toUnixTimestamp64Nano(ts)) AS ts_ns, start_ticks, subtree_cpu_ns, subtree_rss_bytes, subtree_net_sent_bytes, subtree_net_recv_bytes
            FROM \`${database}\`.${RESOURCE_SAMPLES_TABLE} FINAL
            WHERE host IN {hosts:Array(String)} AND pid IN {pids:Array(UInt32)}
              AND ts BETWEEN fromUnixTimestamp64Nano({from:Int64}, 'UTC') AND fromUnixTimestamp64Nano({to:Int64}, 'UTC')
            ORDER BY host, pid, ts`,
    { hosts: [...new Set(pairs.map(([h]) => h))], pids: [...new Set(pairs.map(([, p]) => Number(p)))], from: from.toString(), to: to.toString() },
  );
  const by = new Map<string, SubtreePoint[]>();
  for (const r of rows) {
    const k = `${r.host}\u0000${r.pid}`;
    if (!by.has(k)) by.set(k, []);
    by.get(k)!.push({
      ts_ns: BigInt(r.ts_ns), start_ticks: Number(r.start_ticks), cpu_ns: Number(r.subtree_cpu_ns), rss_bytes: Number(r.subtree_rss_bytes),
      net_sent_bytes: n(r.subtree_net_sent_bytes), net_recv_bytes: n(r.subtree_net_recv_bytes),
    });
  }
  return windows.map((w) => windowUsage(by.get(`${w.host}\u0000${w.pid}`) ?? [], w.start_ns === null ? null : BigInt(w.start_ns), w.end_ns === null ? null : BigInt(w.end_ns)));
}

/** The resource figures of a record: CPU seconds, peak RSS and network bytes of the agent's process tree over its window. */
export type ResourceColumns = Pick<WindowUsage, 'cpu_s' | 'peak_rss_bytes' | 'net_sent_bytes' | 'net_recv_bytes' | 'resources_note'>;

/**
 * `entries` (tool uses or `invoke_agent` sessions: host, agent pid, start/end ns) with their {@link ResourceColumns}
 * (`agentsight tools`/`sessions`, `/api/tools`, `/api/sessions`). Throws the ClickHouse error on failure.
 */
export async function withResources<T extends ResourceWindow>(client: ClickHouseClient, entries: T[], database = 'agentsight'): Promise<Array<T & ResourceColumns>> {
  const usage = await resourceUsage(client, entries, database);
  return entries.map((e, i) => ({
    ...e, cpu_s: usage[i].cpu_s, peak_rss_bytes: usage[i].peak_rss_bytes, net_sent_bytes: usage[i].net_sent_bytes, net_recv_bytes: usage[i].net_recv_bytes,
    resources_note: usage[i].resources_note,
  }));
}

/** One point of an agent's resource chart: its subtree at one sample. */
export interface ResourcePoint {
  /** ISO 8601 UTC (ms). */
  ts: string;
  /** Wall-clock ns, decimal text. */
  ts_ns: string;
  /** CPU of the subtree since the previous point, % of one core; null for the first point. */
  cpu_pct: number | null;
  /** Σ VmRSS of the subtree, bytes. */
  rss_bytes: number;
  /** Processes in the subtree. */
  procs: number;
}

/** At most this many points in a series (longer ones keep every k-th sample: CPU % is then the mean between kept points). */
export const MAX_SERIES_POINTS = 2000;

/**
 * The samples of process `pid`'s subtree on `host` between `fromNs` and `toNs` (wall ns) as chart points, oldest
 * first: one process identity only (the start ticks of the last sample at or before `fromNs`, else of the first),
 * thinned to {@link MAX_SERIES_POINTS}. [] when it was not sampled. Throws the ClickHouse error on failure.
 */
export async function resourceSeries(client: ClickHouseClient, w: { host: string; pid: number; fromNs: bigint; toNs: bigint }, database = 'agentsight'): Promise<ResourcePoint[]> {
  const rows = (
    await queryRows<{ ts_ns: string; start_ticks: string | number; subtree_cpu_ns: string | number; subtree_rss_bytes: string | number; subtree_procs: number }>(
      client,
      `SELECT toString(toUnixTimestamp64Nano(ts)) AS ts_ns, start_ticks, subtree_cpu_ns, subtree_rss_bytes, subtree_procs
            FROM \`${database}\`.${RESOURCE_SAMPLES_TABLE} FINAL
            WHERE host = {host:String} AND pid = {pid:UInt32}
              AND ts BETWEEN fromUnixTimestamp64Nano({from:Int64}, 'UTC') AND fromUnixTimestamp64Nano({to:Int64}, 'UTC')
            ORDER BY ts`,
      { host: w.host, pid: w.pid, from: w.fromNs.toString(), to: w.toNs.toString() },
    )
  ).map((r) => ({ ts_ns: BigInt(r.ts_ns), start: Number(r.start_ticks), cpu: Number(r.subtree_cpu_ns), rss: Number(r.subtree_rss_bytes), procs: Number(r.subtree_procs) }));
  if (!rows.length) return [];
  const before = rows.filter((r) => r.ts_ns <= w.fromNs).pop() ?? rows[0];
  const same = rows.filter((r) => r.start === before.start);
  const step = Math.ceil(same.length / MAX_SERIES_POINTS);
  const kept = same.filter((_, i) => i % step === 0 || i === same.length - 1);
  return kept.map((r, i) => {
    const p = kept[i - 1];
    const dt = p ? Number(r.ts_ns - p.ts_ns) : 0;
    return {
      ts: new Date(Number(r.ts_ns / 1_000_000n)).toISOString(), ts_ns: r.ts_ns.toString(),
      cpu_pct: p && dt > 0 ? Math.round((Math.max(0, r.cpu - p.cpu) / dt) * 1000) / 10 : null, rss_bytes: r.rss, procs: r.procs,
    };
  });
}
