/**
 * What the traced agents cost the machine, summed per agent name: the `agentsight_agent_process_*` series of the api's
 * Prometheus `/metrics` (services/api/src/metrics/prometheus.ts, issue 15), read from `resource_samples` (`FINAL`).
 *
 * A traced root is one process identity the sampler read as a root: (host, boot id, root pid, root start ticks).
 * Per root, its last sample gives the tree's cumulative CPU (utime + stime + reaped children over the tree, so CPU of
 * descendants that exited inside it is kept) and, while the root is live, its RSS and process count. Live = its last
 * sample is at most {@link liveWithinNs} old: twice its last interval (the sampler at most doubles an interval when
 * idle) plus a grace, so an exited root stops counting within two intervals (the sampler takes no sample of a root
 * that is gone).
 *
 * I/O counters of a root, each at its newest sample that has the figure (so a sample without it, e.g. one taken before
 * the probe's next reading listed a new child, never lowers it):
 * - disk (semconv `process.disk.io`): Σ `read_bytes` / `write_bytes` (`/proc/<pid>/io`: storage-layer bytes, page-cache
 *   hits not counted, writes counted when dirtied, `cancelled_write_bytes` not subtracted) over the sample's processes.
 *   The kernel adds a reaped child's I/O (and its reaped descendants') to its parent's `io` (`wait_task_zombie`), so
 *   like the CPU this keeps what descendants that exited inside the tree did, even ones that started and exited
 *   between two samples. Processes whose `io` the sampler could not read (another user's, when not root) count 0; a
 *   root none of whose samples had a readable process has none.
 * - network (semconv `process.network.io`): the root's `subtree_net_sent_bytes` / `_recv_bytes` (the probe's
 *   per-process inet payload bytes, own + `children_net_*` over the tree). Not cumulative over every exited child:
 *   a descendant hands its count to its ancestor only if a sample saw it live, so one that started and exited
 *   between two samples is not counted (nor its bytes after a last reading that came before its exit). A root none
 *   of whose samples counted network bytes (no probe, Linux < 6.5) has none.
 * CPU, disk and network alike lose a live descendant that leaves the tree (an orphan reparented to init or a
 * subreaper outside it: the sampler walks the root's children only), and what the tree did after its last sample.
 *
 * The agent name of a root is the `gen_ai.agent.name` of the newest stored LLM call made by a process of its tree
 * (any pid its samples listed, on the same host) between its first and last sample (± one minute); '' when it made
 * none (yet). Label cardinality stays bounded: agent name, host and the root's executable name, never a pid or a
 * session id (both grow without bound in a counter read from stored rows).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows } from './repositories/sql';
import { RESOURCE_SAMPLES_TABLE } from './resources';
import { DEFAULT_DATABASE, qualified } from './schema';

/** One (host, agent name, root executable) group of {@link agentResourceTotals}. */
export interface AgentResourceTotalsRow {
  host: string;
  /** `gen_ai.agent.name` of the roots' calls (see the module comment), '' when unknown. */
  agent: string;
  /** `comm` of the traced root process (`process.executable.name`, at most 15 bytes, redacted when stored). */
  executable: string;
  /** Σ over every stored root of the group of its tree's CPU seconds at its last sample (a counter). */
  cpu_seconds: number;
  /** Roots of the group ever stored (within retention). */
  roots: number;
  /** Roots of the group that are live now. */
  live_roots: number;
  /** Σ VmRSS of the live roots' trees at their last sample, bytes. */
  live_rss_bytes: number;
  /** Processes of the live roots' trees at their last sample. */
  live_procs: number;
  /**
   * Σ over the group's roots of their trees' storage bytes read / written at their newest sample with a readable
   * `io` (a counter, reaped children included: see the module comment); null when no root of the group has one.
   */
  disk_read_bytes: number | null;
  disk_write_bytes: number | null;
  /**
   * Σ over the group's roots of their trees' inet payload bytes sent / received at their newest sample that counted
   * them (a counter; descendants that exited unseen between two samples are not in it: see the module comment); null
   * when no root of the group was counted.
   */
  net_sent_bytes: number | null;
  net_recv_bytes: number | null;
}

/** Grace added to twice the last interval before a root counts as gone, ns. */
const LIVE_GRACE_NS = 2_000_000_000n;
/** Intervals are never below this in the liveness rule (the sampler's default active interval), ms. */
const MIN_INTERVAL_MS = 1000;

/** How old a root's last sample may be for the root to count as live, ns: 2 × max(last interval, 1 s) + 2 s. */
export function liveWithinNs(lastIntervalMs: number): bigint {
  return 2n * BigInt(Math.max(MIN_INTERVAL_MS, Math.round(lastIntervalMs))) * 1_000_000n + LIVE_GRACE_NS;
}

const MARGIN = 'INTERVAL 60 SECOND';

/**
 * {@link AgentResourceTotalsRow}s of every stored traced root, sorted by host, agent, executable. `nowNs` (wall ns,
 * default now) decides liveness. Throws the ClickHouse error on failure.
 */
export async function agentResourceTotals(client: ClickHouseClient, opts: { database?: string; nowNs?: bigint } = {}): Promise<AgentResourceTotalsRow[]> {
  const rs = qualified(opts.database ?? DEFAULT_DATABASE, RESOURCE_SAMPLES_TABLE);
  const calls = qualified(opts.database ?? DEFAULT_DATABASE, 'llm_calls');
  const now = opts.nowNs ?? BigInt(Date.now()) * 1_000_000n;
  const read = <T>(query: string): Promise<T[]> => queryRows<T>(client, query);
  type Num = string | number | null;
  const roots = await read<{ host: string; boot_id: string; root_pid: number; comm: string; cpu: string; rss: string; procs: string; interval_ms: string; first_ns: string; last_ns: string; disk_read: Num; disk_write: Num; net_sent: Num; net_recv: Num; has_io: number | string | boolean }>(
    // Per sample (host, boot, root pid, time): the root's row's figures and the Σ io of its processes; then per root
    // identity (its start ticks) the last sample's, and each I/O figure at the newest sample that has it.
    `SELECT host, boot_id, root_pid, root_start AS start_ticks, argMax(comm_, ts) AS comm,
            argMax(cpu_, ts) AS cpu, argMax(rss_, ts) AS rss, argMax(procs_, ts) AS procs, argMax(interval_, ts) AS interval_ms,
            toString(toUnixTimestamp64Nano(min(ts))) AS first_ns, toString(toUnixTimestamp64Nano(max(ts))) AS last_ns,
            argMaxIf(read_, ts, io_procs > 0) AS disk_read, argMaxIf(write_, ts, io_procs > 0) AS disk_write, max(io_procs) > 0 AS has_io,
            argMaxIf(sent_, ts, sent_ IS NOT NULL) AS net_sent, argMaxIf(recv_, ts, recv_ IS NOT NULL) AS net_recv
     FROM (
       SELECT host, boot_id, root_pid, ts, anyIf(start_ticks, pid = root_pid) AS root_start, any(root_comm) AS comm_,
              anyIf(subtree_cpu_ns, pid = root_pid) AS cpu_, anyIf(subtree_rss_bytes, pid = root_pid) AS rss_, anyIf(subtree_procs, pid = root_pid) AS procs_,
              any(interval_ms) AS interval_, anyIf(subtree_net_sent_bytes, pid = root_pid) AS sent_, anyIf(subtree_net_recv_bytes, pid = root_pid) AS recv_,
              sum(read_bytes) AS read_, sum(write_bytes) AS write_, count(read_bytes) AS io_procs
       FROM ${rs} FINAL GROUP BY host, boot_id, root_pid, ts HAVING countIf(pid = root_pid) > 0
     )
     GROUP BY host, boot_id, root_pid, root_start`,
  );
  if (!roots.length) return [];
  // Agent names of the calls made by each root's tree, with the time of the newest call of each name.
  const names = await read<{ host: string; boot_id: string; root_pid: number; agent: string; last_call_ns: string }>(
    `SELECT t.host AS host, t.boot_id AS boot_id, t.root_pid AS root_pid, c.agent_name AS agent, toString(toUnixTimestamp64Nano(max(c.start_time))) AS last_call_ns
     FROM (SELECT host, boot_id, root_pid, pid, min(ts) AS first_ts, max(ts) AS last_ts FROM ${rs} FINAL GROUP BY host, boot_id, root_pid, pid) AS t
     INNER JOIN (SELECT host, pid, assumeNotNull(agent_name) AS agent_name, start_time FROM ${calls} FINAL WHERE agent_name IS NOT NULL AND agent_name != '') AS c
       ON c.host = t.host AND c.pid = t.pid
     WHERE c.start_time BETWEEN t.first_ts - ${MARGIN} AND t.last_ts + ${MARGIN}
     GROUP BY host, boot_id, root_pid, agent`,
  );
  const margin = 60_000_000_000n;
  const groups = new Map<string, AgentResourceTotalsRow>();
  for (const r of roots) {
    const first = BigInt(r.first_ns);
    const last = BigInt(r.last_ns);
    // The newest call of this root identity's time span (a reused root pid of the same boot has another span).
    const named = names
      .filter((n) => n.host === r.host && n.boot_id === r.boot_id && Number(n.root_pid) === Number(r.root_pid))
      .filter((n) => BigInt(n.last_call_ns) >= first - margin && BigInt(n.last_call_ns) <= last + margin)
      .sort((a, b) => (BigInt(b.last_call_ns) > BigInt(a.last_call_ns) ? 1 : -1))[0];
    const agent = named?.agent ?? '';
    const k = `${r.host}\u0000${agent}\u0000${r.comm}`;
    let g = groups.get(k);
    if (!g) {
      g = { host: r.host, agent, executable: r.comm, cpu_seconds: 0, roots: 0, live_roots: 0, live_rss_bytes: 0, live_procs: 0, disk_read_bytes: null, disk_write_bytes: null, net_sent_bytes: null, net_recv_bytes: null };
      groups.set(k, g);
    }
    g.cpu_seconds += Number(r.cpu) / 1e9;
    // A figure the root never had adds nothing (and leaves the group's null when no root has it: never a silent 0).
    const add = (sum: number | null, v: Num, has = v !== null) => (has ? (sum ?? 0) + Number(v) : sum);
    g.disk_read_bytes = add(g.disk_read_bytes, r.disk_read, Boolean(Number(r.has_io)));
    g.disk_write_bytes = add(g.disk_write_bytes, r.disk_write, Boolean(Number(r.has_io)));
    g.net_sent_bytes = add(g.net_sent_bytes, r.net_sent);
    g.net_recv_bytes = add(g.net_recv_bytes, r.net_recv);
    g.roots++;
    if (now - last <= liveWithinNs(Number(r.interval_ms))) {
      g.live_roots++;
      g.live_rss_bytes += Number(r.rss);
      g.live_procs += Number(r.procs);
    }
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...groups.values()].sort((a, b) => cmp(a.host, b.host) || cmp(a.agent, b.agent) || cmp(a.executable, b.executable));
}
