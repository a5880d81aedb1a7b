/**
 * What each traced agent process did since a time, from storage: one {@link AgentActivity} per (host, agent pid) for
 * `agentsight top` (`GET /api/agents/activity`, `Reader.agentActivity`). An agent is a process that made an LLM call
 * (`llm_calls`), had a tool use (`tool_uses`), an `invoke_agent` session (`genai_spans`) or was sampled as a traced
 * root (`resource_samples`) at or after `since`.
 *
 * Counting rules (issue 15):
 * - tokens, cost, calls, errors: the agent pid's LLM calls that started at or after `since` (input includes cached
 *   input, per semconv; cost null when none of them could be priced, never $0).
 * - tool uses and tool failures (`success = false`): the agent's tool uses; `pending_tool` = the newest one with no
 *   result yet (running now, or its result not captured yet).
 * - execs, file opens, connections: audit records of the agent's process tree at or after `since` — the agent pid and
 *   its descendants by the records' pid/ppid ({@link descendantPids}, the rule of the session page's process tree);
 *   execs count those of descendants only (the agent's own exec is its start). Failed opens (`result < 0`) and failed
 *   connects (`result < 0`, not `EINPROGRESS`) are counted apart.
 * - failures: failed tool uses + LLM calls with an error + descendants that exited non-zero.
 * - samples: the last two stored samples of the agent as a traced root (its tree's CPU ns, RSS and network bytes), and the peak
 *   sampled tree RSS since `since`; null when it was never sampled (not traced by exec/trace --pid/record -p).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { nsIso, timeToNs, type DbOption, type TimeInput } from './repositories/read';
import { atOrAfterSince, n, num, queryRows, usd } from './repositories/sql';
import { RESOURCE_SAMPLES_TABLE } from './resources';
import { DEFAULT_DATABASE, qualified } from './schema';

/** One stored sample of an agent's tree, as {@link AgentActivity} carries it. */
export interface AgentSamplePoint {
  /** Wall-clock ns, decimal text. */
  ts_ns: string;
  boot_id: string;
  /** The root's start, clock ticks since boot (its identity together with boot_id and pid). */
  start_ticks: number;
  /** Σ utime + stime + reaped children over the tree, ns (cumulative). */
  cpu_ns: number;
  /** Σ VmRSS over the tree, bytes. */
  rss_bytes: number;
  /** Processes in the tree. */
  procs: number;
  /** Inet payload bytes the tree sent / received (cumulative, exited descendants included); null = not counted. */
  net_sent_bytes: number | null;
  net_recv_bytes: number | null;
}

/** What one agent process did since `since` (see the module comment for each rule). */
export interface AgentActivity {
  host: string;
  pid: number;
  /** `gen_ai.agent.name` of its newest session or tool use; null when it has none (a sampled root that made no call yet). */
  agent_name: string | null;
  /** Process name (`llm_calls.process_name`, else the sampled root's comm). */
  process_name: string | null;
  /** Model of its newest LLM call (response model, else request model); null before its first call. */
  model: string | null;
  llm_calls: number;
  llm_errors: number;
  input_tokens: number;
  output_tokens: number;
  /** USD at list prices of the priced calls; null when no call could be priced (or there was no call). */
  cost_usd: number | null;
  unpriced_calls: number;
  tool_uses: number;
  tool_failures: number;
  /** Name of the newest tool use without a result, null when none. */
  pending_tool: string | null;
  /** exec records of the agent's descendants. */
  execs: number;
  /** Descendants (not the agent) that exited with a non-zero code. */
  failed_exits: number;
  /** Failed tool uses + LLM calls with an error + {@link failed_exits}. */
  failures: number;
  /** File opens by the tree, and how many failed. */
  files: number;
  failed_files: number;
  /** connect() calls by the tree, and how many failed. */
  connections: number;
  failed_connections: number;
  /** Whether an `exit` of the agent pid itself is recorded after its first activity. */
  exited: boolean;
  /** First and last activity (ISO 8601 UTC, ms) across the sources. */
  first_seen: string;
  last_seen: string;
  /** Newest stored sample of the agent's tree, and the one before it; null when never sampled. */
  last_sample: AgentSamplePoint | null;
  prev_sample: AgentSamplePoint | null;
  /** Peak sampled tree RSS since `since`, bytes; null when never sampled. */
  peak_rss_bytes: number | null;
}

/** Options of {@link agentActivity}. */
export interface AgentActivityOptions extends DbOption {
  /** Activity at or after this time (ISO 8601, ms, or `10m` back from now); required: a top looks at a window. */
  since: TimeInput;
  /** Only agents on this host. */
  host?: string;
  /** Only these agent pids. */
  pids?: number[];
}

/**
 * The pids of `root`'s process tree: `root` and every pid whose `ppid` is in the tree, by the given (pid, ppid)
 * edges (audit records carry both), grown to a fixed point.
 */
export function descendantPids(root: number, edges: Array<{ pid: number; ppid: number }>): Set<number> {
  const tree = new Set([root]);
  for (let grown = true; grown; ) {
    grown = false;
    for (const e of edges) if (tree.has(e.ppid) && !tree.has(e.pid)) (tree.add(e.pid), (grown = true));
  }
  return tree;
}

const key = (host: string, pid: number | string) => `${host}\u0000${Number(pid)}`;

/**
 * {@link AgentActivity} of every agent active at or after `opts.since`, newest activity first. Throws on an
 * unparseable `since` and on a ClickHouse error.
 */
export async function agentActivity(client: ClickHouseClient, opts: AgentActivityOptions): Promise<AgentActivity[]> {
  const db = opts.database ?? DEFAULT_DATABASE;
  const since = timeToNs(opts.since).toString();
  const filter = (ts: string, pidCol = 'pid') => [
    atOrAfterSince(ts),
    ...(opts.host !== undefined ? ['host = {host:String}'] : []),
    ...(opts.pids ? [`${pidCol} IN {pids:Array(UInt32)}`] : []),
  ].join(' AND ');
  const params = { since, host: opts.host, pids: opts.pids };

  const calls = await queryRows<{ host: string; pid: number; process_name: string; model: string | null; calls: string; errors: string; input_tokens: string; output_tokens: string; cost_sum: number; unpriced: string; first_ns: string; last_ns: string }>(
    client,
    `SELECT host, pid, any(process_name) AS process_name, argMax(coalesce(response_model, request_model), start_time) AS model,
            count() AS calls, countIf(error_type IS NOT NULL) AS errors,
            sum(coalesce(input_tokens, 0)) AS input_tokens, sum(coalesce(output_tokens, 0)) AS output_tokens,
            sum(coalesce(cost_usd, 0)) AS cost_sum, countIf(cost_usd IS NULL) AS unpriced,
            toString(toUnixTimestamp64Nano(min(start_time))) AS first_ns, toString(toUnixTimestamp64Nano(max(end_time))) AS last_ns
     FROM ${qualified(db, 'llm_calls')} FINAL WHERE ${filter('start_time')} GROUP BY host, pid`,
    params,
  );
  const tools = await queryRows<{ host: string; pid: number; agent_name: string | null; uses: string; failed: string; pending: string | null; pending_n: string; first_ns: string; last_ns: string }>(
    client,
    `SELECT host, pid, argMax(agent_name, coalesce(start_time, end_time)) AS agent_name, count() AS uses, countIf(success = false) AS failed,
            argMaxIf(name, coalesce(start_time, end_time), result IS NULL) AS pending, countIf(result IS NULL) AS pending_n,
            toString(toUnixTimestamp64Nano(min(coalesce(start_time, end_time)))) AS first_ns, toString(toUnixTimestamp64Nano(max(coalesce(end_time, start_time)))) AS last_ns
     FROM ${qualified(db, 'tool_uses')} FINAL WHERE ${filter('coalesce(start_time, end_time)')} GROUP BY host, pid`,
    params,
  );
  const sessions = await queryRows<{ host: string; pid: number; agent_name: string | null; first_ns: string; last_ns: string }>(
    client,
    `SELECT host, pid, argMax(agent_name, coalesce(end_time, start_time)) AS agent_name,
            toString(toUnixTimestamp64Nano(min(coalesce(start_time, end_time)))) AS first_ns, toString(toUnixTimestamp64Nano(max(coalesce(end_time, start_time)))) AS last_ns
     FROM ${qualified(db, 'genai_spans')} FINAL WHERE kind = 'invoke_agent' AND ${filter('coalesce(end_time, start_time)')} GROUP BY host, pid`,
    params,
  );
  const rs = qualified(db, RESOURCE_SAMPLES_TABLE);
  const sampled = await queryRows<{ host: string; root_pid: number; root_comm: string; peak: string; first_ns: string; last_ns: string }>(
    client,
    `SELECT host, root_pid, argMax(root_comm, ts) AS root_comm, max(subtree_rss_bytes) AS peak,
            toString(toUnixTimestamp64Nano(min(ts))) AS first_ns, toString(toUnixTimestamp64Nano(max(ts))) AS last_ns
     FROM ${rs} FINAL WHERE pid = root_pid AND ${filter('ts', 'root_pid')} GROUP BY host, root_pid`,
    params,
  );
  const points = await queryRows<{ host: string; root_pid: number; ts_ns: string; boot_id: string; start_ticks: string; cpu: string; rss: string; procs: string; sent: string | null; recv: string | null }>(
    client,
    `SELECT host, root_pid, toString(toUnixTimestamp64Nano(ts)) AS ts_ns, boot_id, start_ticks, subtree_cpu_ns AS cpu, subtree_rss_bytes AS rss, subtree_procs AS procs,
            subtree_net_sent_bytes AS sent, subtree_net_recv_bytes AS recv
     FROM ${rs} FINAL WHERE pid = root_pid AND ${filter('ts', 'root_pid')}
     ORDER BY host, root_pid, ts DESC LIMIT 2 BY host, root_pid`,
    params,
  );

  const agents = new Map<string, AgentActivity>();
  const get = (host: string, pid: number | string, firstNs: string, lastNs: string): AgentActivity => {
    const k = key(host, pid);
    let a = agents.get(k);
    if (!a) {
      a = {
        host, pid: Number(pid), agent_name: null, process_name: null, model: null, llm_calls: 0, llm_errors: 0, input_tokens: 0, output_tokens: 0,
        cost_usd: null, unpriced_calls: 0, tool_uses: 0, tool_failures: 0, pending_tool: null, execs: 0, failed_exits: 0, failures: 0,
        files: 0, failed_files: 0, connections: 0, failed_connections: 0, exited: false, first_seen: firstNs, last_seen: lastNs,
        last_sample: null, prev_sample: null, peak_rss_bytes: null,
      };
      agents.set(k, a);
    }
    if (BigInt(firstNs) < BigInt(a.first_seen)) a.first_seen = firstNs;
    if (BigInt(lastNs) > BigInt(a.last_seen)) a.last_seen = lastNs;
    return a;
  };
  for (const c of calls) {
    const a = get(c.host, c.pid, c.first_ns, c.last_ns);
    const priced = num(c.calls) - num(c.unpriced);
    Object.assign(a, {
      process_name: c.process_name || null, model: c.model || null, llm_calls: num(c.calls), llm_errors: num(c.errors),
      input_tokens: num(c.input_tokens), output_tokens: num(c.output_tokens), cost_usd: priced > 0 ? usd(num(c.cost_sum)) : null, unpriced_calls: num(c.unpriced),
    });
  }
  for (const t of tools) {
    const a = get(t.host, t.pid, t.first_ns, t.last_ns);
    Object.assign(a, { agent_name: t.agent_name || a.agent_name, tool_uses: num(t.uses), tool_failures: num(t.failed), pending_tool: num(t.pending_n) > 0 ? t.pending || null : null });
  }
  for (const s of sessions) {
    const a = get(s.host, s.pid, s.first_ns, s.last_ns);
    if (s.agent_name) a.agent_name = s.agent_name;
  }
  for (const s of sampled) {
    const a = get(s.host, s.root_pid, s.first_ns, s.last_ns);
    a.process_name ??= s.root_comm || null;
    a.peak_rss_bytes = num(s.peak);
  }
  for (const p of points) {
    const a = agents.get(key(p.host, p.root_pid));
    if (!a) continue;
    const point: AgentSamplePoint = {
      ts_ns: p.ts_ns, boot_id: p.boot_id, start_ticks: num(p.start_ticks), cpu_ns: num(p.cpu), rss_bytes: num(p.rss), procs: num(p.procs),
      net_sent_bytes: n(p.sent), net_recv_bytes: n(p.recv),
    };
    if (!a.last_sample) a.last_sample = point;
    else a.prev_sample = point;
  }
  if (agents.size) await treeCounts(client, db, [...agents.values()], since);
  for (const a of agents.values()) {
    a.failures = a.tool_failures + a.llm_errors + a.failed_exits;
    a.first_seen = nsIso(a.first_seen);
    a.last_seen = nsIso(a.last_seen);
  }
  return [...agents.values()].sort((x, y) => y.last_seen.localeCompare(x.last_seen) || x.host.localeCompare(y.host) || x.pid - y.pid);
}

/**
 * Fills execs, files, connections, failed exits and `exited` of each agent from the audit records of its process tree
 * at or after `since` (ns text), read as counts per (host, pid, ppid, type, action) — distinct ids, so no FINAL merge.
 */
async function treeCounts(client: ClickHouseClient, db: string, agents: AgentActivity[], since: string): Promise<void> {
  const hosts = [...new Set(agents.map((a) => a.host))];
  const rows = await queryRows<{ host: string; pid: number; ppid: number; type: string; action: string; count: string; failed: string; last_ns: string }>(
    client,
    `SELECT host, pid, ppid, type, action, uniqExact(id) AS count,
            uniqExactIf(id, multiIf(
              type = 'file', JSONExtractInt(details, 'result') < 0,
              type = 'net', JSONExtractInt(details, 'result') < 0 AND JSONExtractString(details, 'errno') != 'EINPROGRESS',
              type = 'process' AND action = 'exit', JSONExtractInt(details, 'exit_code') != 0,
              false)) AS failed,
            toString(toUnixTimestamp64Nano(max(ts))) AS last_ns
     FROM ${qualified(db, 'audit_events')}
     WHERE type IN ('process', 'file', 'net') AND host IN {hosts:Array(String)} AND ${atOrAfterSince('ts')}
     GROUP BY host, pid, ppid, type, action`,
    { hosts, since },
  );
  const byHost = new Map<string, typeof rows>();
  for (const r of rows) byHost.set(r.host, [...(byHost.get(r.host) ?? []), { ...r, pid: Number(r.pid), ppid: Number(r.ppid) }]);
  for (const a of agents) {
    const hostRows = byHost.get(a.host) ?? [];
    const tree = descendantPids(a.pid, hostRows);
    for (const r of hostRows) {
      if (!tree.has(r.pid)) continue;
      const own = r.pid === a.pid;
      if (r.type === 'process' && r.action === 'exec' && !own) a.execs += num(r.count);
      else if (r.type === 'process' && r.action === 'exit') {
        if (own) a.exited ||= BigInt(r.last_ns) >= BigInt(a.first_seen);
        else a.failed_exits += num(r.failed);
      } else if (r.type === 'file') (a.files += num(r.count), (a.failed_files += num(r.failed)));
      else if (r.type === 'net') (a.connections += num(r.count), (a.failed_connections += num(r.failed)));
    }
  }
}
