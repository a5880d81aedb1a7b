/**
 * `agentsight top`'s domain, without a terminal: one {@link TopSnapshot} of the traced agents from what storage says
 * they did ({@link AgentActivity}, read through the CLI's {@link Reader}) and what `/proc` says they cost now, plus
 * sorting, filtering and the screen's text lines ({@link renderTop}). The terminal part is `screen.ts`.
 *
 * Figures of a row:
 * - CPU % (100 = one core busy) of the agent's whole process tree: for a live agent on this host, between two
 *   readings of its tree in `/proc` (the previous refresh's and this one, same process identity: pid + start ticks);
 *   before a second reading, or for an agent of another host, between its last two stored resource samples; null
 *   (with `note`) when neither exists.
 * - RSS: the tree's Σ VmRSS now (`/proc`), else at its last stored sample. Peak RSS: the highest of the stored
 *   samples' and now.
 * - network: the inet bytes the tree sent and received (the probe's eBPF counters, carried by the stored resource
 *   samples: `/proc` has no per-process figure), at its last stored sample, and the rate (sent + received, bytes/s)
 *   between its last two; null (with `note`) when not counted.
 * - state: `tool <name>` while a tool use has no result yet, else the root process' state (`running`, `sleeping`,
 *   `disk`, `stopped`, `zombie`), `exited` once it is gone (its pid not running, or running as another process), and
 *   `remote` for an agent of another host that has not exited.
 * - tokens (input + output), cost, calls, tool uses, execs, failures, files, connections: {@link AgentActivity}.
 */
import { readFileSync } from 'node:fs';
import type { AgentActivity, AgentSamplePoint } from '@agentsight/clickhouse';
import { parseStat, readTree, treeTotals } from '../resources/sampler';
import { bytesText } from '../resources/format';

/** One reading of an agent's tree from `/proc`. */
export interface LiveReading {
  pid: number;
  /** The root's start, clock ticks since boot: with the pid, the process identity. */
  start_ticks: number;
  /** `stat` state letter of the root (R, S, D, T, Z, …). */
  state: string;
  /** Monotonic ns of the reading. */
  ts_ns: bigint;
  /** Σ utime + stime + reaped children over the tree, ns. */
  cpu_ns: number;
  rss_bytes: number;
  procs: number;
}

/**
 * Reads `pid`'s tree now; null when it is not running. `nowNs` is the monotonic clock (injectable for tests).
 */
export function readLive(pid: number, proc = '/proc', nowNs: () => bigint = () => process.hrtime.bigint()): LiveReading | null {
  let stat: string;
  try {
    stat = readFileSync(`${proc}/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const st = parseStat(stat);
  if (!st) return null;
  const tree = readTree(pid, proc, st.start);
  if (!tree.length) return null;
  const t = treeTotals(tree);
  return { pid, start_ticks: st.start, state: st.state, ts_ns: nowNs(), cpu_ns: t.cpu_ns, rss_bytes: t.rss_bytes, procs: t.procs };
}

/**
 * Sort keys: `P` CPU %, `M` memory (RSS), `T` tokens, `N` network (bytes/s sent + received) — the letters of top/htop
 * (T is tokens here, not time).
 */
export const TOP_SORTS = ['cpu', 'mem', 'tokens', 'net'] as const;
/** One of {@link TOP_SORTS} (`agentsight top --sort`). */
export type TopSort = (typeof TOP_SORTS)[number];

/** The sort key of a key press (`P`, `M`, `T`, `N` for network; either case), or null. */
export function sortOfKey(key: string): TopSort | null {
  return ({ P: 'cpu', M: 'mem', T: 'tokens', N: 'net' } as Record<string, TopSort>)[key.toUpperCase()] ?? null;
}

/** One agent on the screen (or in `--once --json`). */
export interface TopRow {
  host: string;
  pid: number;
  /** `gen_ai.agent.name`, else the process name, else `?`. */
  agent: string;
  model: string | null;
  /** See the module comment. */
  state: string;
  /** Of the whole tree, % of one core; null = not known yet (see `note`). */
  cpu_pct: number | null;
  /** Σ RSS of the tree, bytes; null = not known. */
  rss_bytes: number | null;
  peak_rss_bytes: number | null;
  /** Processes in the tree now (or at the last sample). */
  procs: number | null;
  /** Inet bytes the tree sent / received so far, at its last stored sample; null = not counted or not sampled. */
  net_sent_bytes: number | null;
  net_recv_bytes: number | null;
  /** Sent + received, bytes/s, between its last two stored samples; null without two counted samples. */
  net_bytes_per_s: number | null;
  /** Where CPU % and RSS come from: `proc` (read now), `samples` (stored resource samples), null (neither). */
  source: 'proc' | 'samples' | null;
  /** Why CPU % or RSS is null, else null. */
  note: string | null;
  input_tokens: number;
  output_tokens: number;
  /** input + output. */
  tokens: number;
  /** USD; null = nothing priced. */
  cost_usd: number | null;
  unpriced_calls: number;
  llm_calls: number;
  tool_uses: number;
  execs: number;
  failures: number;
  files: number;
  connections: number;
  first_seen: string;
  last_seen: string;
}

/** One snapshot: when, of which host's `/proc`, the agents shown and how many exited ones are hidden. */
export interface TopSnapshot {
  /** ISO 8601 UTC. */
  ts: string;
  /** This host (as agentsight names it: `AGENTSIGHT_HOST`, else the hostname). */
  host: string;
  /** Activity window start as given (`--since`). */
  since: string;
  agents: TopRow[];
  /** Exited agents left out (shown with `--all` / `a`). */
  exited_hidden: number;
}

/** What {@link buildSnapshot} needs besides the activity. */
export interface SnapshotContext {
  host: string;
  /** This boot's id (`/proc/sys/kernel/random/boot_id`): stored samples of this boot name live identities. */
  bootId: string;
  since: string;
  /** Reads a live agent's tree ({@link readLive}). */
  live: (pid: number) => LiveReading | null;
  /** The previous refresh's readings, by pid. */
  prev: Map<number, LiveReading>;
  /** Show exited agents too. */
  all: boolean;
  /** Wall-clock ms of the snapshot; default now. */
  nowMs?: number;
  /** Boot time, wall ms (`btime` of `/proc/stat`): a live process started after the agent's first activity is another process. */
  bootMs?: number;
}

const STATES: Record<string, string> = { R: 'running', S: 'sleeping', D: 'disk', T: 'stopped', t: 'stopped', Z: 'zombie', I: 'idle', X: 'exited' };

/** CPU % between two cumulative readings (ns of CPU over ns of time). */
function pct(cpu0: number, t0: bigint, cpu1: number, t1: bigint): number | null {
  const dt = Number(t1 - t0);
  return dt > 0 ? (Math.max(0, cpu1 - cpu0) / dt) * 100 : null;
}

/** A tree's network figures from its last two stored samples (`s0` may be null): totals at `s1`, rate between them. */
function netRate(s0: AgentSamplePoint | null, s1: AgentSamplePoint): { sent: number | null; recv: number | null; per_s: number | null } {
  const sent = s1.net_sent_bytes ?? null;
  const recv = s1.net_recv_bytes ?? null;
  if (sent === null || recv === null) return { sent: null, recv: null, per_s: null };
  const dt = s0 ? Number(BigInt(s1.ts_ns) - BigInt(s0.ts_ns)) / 1e9 : 0;
  const before = s0 && s0.net_sent_bytes !== null && s0.net_recv_bytes !== null ? s0.net_sent_bytes + s0.net_recv_bytes : null;
  return { sent, recv, per_s: before !== null && dt > 0 ? Math.round(Math.max(0, sent + recv - before) / dt) : null };
}

/** `/proc/stat` `btime` (boot time) as wall ms; undefined when unreadable. */
export function bootTimeMs(proc = '/proc'): number | undefined {
  try {
    const m = /^btime\s+(\d+)/m.exec(readFileSync(`${proc}/stat`, 'utf8'));
    return m ? Number(m[1]) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The snapshot of `activity` now, and this refresh's live readings (the next call's `prev`). Exited agents are left
 * out (counted in `exited_hidden`) unless `ctx.all`.
 */
export function buildSnapshot(activity: AgentActivity[], ctx: SnapshotContext): { snapshot: TopSnapshot; readings: Map<number, LiveReading> } {
  const readings = new Map<number, LiveReading>();
  const rows: TopRow[] = [];
  let hidden = 0;
  for (const a of activity) {
    const local = a.host === ctx.host;
    let live = local ? ctx.live(a.pid) : null;
    // The pid runs, but is it the agent? Same start ticks as its samples of this boot, else started before its first activity.
    if (live && a.last_sample && a.last_sample.boot_id === ctx.bootId && a.last_sample.start_ticks !== live.start_ticks) live = null;
    else if (live && !a.last_sample && ctx.bootMs !== undefined && ctx.bootMs + live.start_ticks * 10 > Date.parse(a.first_seen) + 1000) live = null;
    if (live?.state === 'X') live = null;
    const exited = local ? !live : a.exited;
    if (exited && !ctx.all) {
      hidden++;
      continue;
    }
    if (live) readings.set(a.pid, live);
    const prev = live ? ctx.prev.get(a.pid) : undefined;
    const s1 = a.last_sample;
    const s0 = a.prev_sample;
    const samplesValid = s1 && (!local || !live || s1.boot_id !== ctx.bootId || s1.start_ticks === live.start_ticks);
    let cpu: number | null = null;
    let rss: number | null = null;
    let procs: number | null = null;
    let source: TopRow['source'] = null;
    let note: string | null = null;
    if (live) {
      rss = live.rss_bytes;
      procs = live.procs;
      source = 'proc';
      if (prev && prev.start_ticks === live.start_ticks) cpu = pct(prev.cpu_ns, prev.ts_ns, live.cpu_ns, live.ts_ns);
      else if (samplesValid && s0) cpu = pct(s0.cpu_ns, BigInt(s0.ts_ns), s1!.cpu_ns, BigInt(s1!.ts_ns));
      if (cpu === null) note = 'CPU %: needs a second reading (next refresh)';
    } else if (!exited && samplesValid) {
      rss = s1!.rss_bytes;
      procs = s1!.procs;
      source = 'samples';
      cpu = s0 ? pct(s0.cpu_ns, BigInt(s0.ts_ns), s1!.cpu_ns, BigInt(s1!.ts_ns)) : null;
      if (cpu === null) note = 'CPU %: only one stored resource sample';
    } else if (!exited) {
      note = local ? 'not running here' : 'no resource samples of this agent (not sampled by its capture run)';
    }
    const peak = [a.peak_rss_bytes, rss].filter((v): v is number => v !== null);
    const net = samplesValid && !exited ? netRate(s0, s1!) : { sent: null, recv: null, per_s: null };
    if (samplesValid && !exited && net.sent === null) note ??= 'network: not counted in its resource samples (see their not_captured)';
    rows.push({
      host: a.host, pid: a.pid, agent: a.agent_name || a.process_name || '?', model: a.model,
      state: exited ? 'exited' : a.pending_tool ? `tool ${a.pending_tool}` : live ? STATES[live.state] ?? live.state : 'remote',
      cpu_pct: cpu === null ? null : Math.round(cpu * 10) / 10, rss_bytes: rss, peak_rss_bytes: peak.length ? Math.max(...peak) : null, procs,
      net_sent_bytes: net.sent, net_recv_bytes: net.recv, net_bytes_per_s: net.per_s, source, note,
      input_tokens: a.input_tokens, output_tokens: a.output_tokens, tokens: a.input_tokens + a.output_tokens, cost_usd: a.cost_usd, unpriced_calls: a.unpriced_calls,
      llm_calls: a.llm_calls, tool_uses: a.tool_uses, execs: a.execs, failures: a.failures, files: a.files, connections: a.connections,
      first_seen: a.first_seen, last_seen: a.last_seen,
    });
  }
  return { snapshot: { ts: new Date(ctx.nowMs ?? Date.now()).toISOString(), host: ctx.host, since: ctx.since, agents: rows, exited_hidden: hidden }, readings };
}

/** Rows whose agent, model, state, host or pid contains `filter` (case-insensitive); all when it is empty. */
export function filterRows(rows: TopRow[], filter: string): TopRow[] {
  const f = filter.trim().toLowerCase();
  if (!f) return rows;
  return rows.filter((r) => [r.agent, r.model ?? '', r.state, r.host, String(r.pid)].some((v) => v.toLowerCase().includes(f)));
}

/** Rows sorted by `sort`, highest first, unknown (null) last, ties by pid. */
export function sortRows(rows: TopRow[], sort: TopSort): TopRow[] {
  const val = (r: TopRow): number | null => (sort === 'cpu' ? r.cpu_pct : sort === 'mem' ? r.rss_bytes : sort === 'net' ? r.net_bytes_per_s : r.tokens);
  return [...rows].sort((a, b) => {
    const x = val(a);
    const y = val(b);
    if (x === null || y === null) return x === y ? a.pid - b.pid : x === null ? 1 : -1;
    return y - x || a.pid - b.pid;
  });
}

/** What the screen shows besides the snapshot: sort, filter (and whether it is being typed), size, a status line. */
export interface TopView {
  sort: TopSort;
  filter: string;
  /** True while the filter is being typed (after `/`). */
  editing: boolean;
  all: boolean;
  width: number;
  height: number;
  /** A message under the header (an error of the last refresh), or ''. */
  status: string;
}

/** USD for the narrow column: `$0.42`, `$12.3`, `?` unpriced. */
function costText(r: TopRow): string {
  if (r.cost_usd === null) return r.llm_calls ? '?' : '-';
  const c = r.cost_usd;
  return `$${c >= 100 ? Math.round(c) : c >= 10 ? c.toFixed(1) : c >= 0.01 ? c.toFixed(2) : c.toFixed(4)}${r.unpriced_calls ? '+' : ''}`;
}

/** 1234 → `1234`, 12345 → `12.3k`, 1234567 → `1.2M`. */
function countText(n: number): string {
  return n < 10_000 ? String(n) : n < 1_000_000 ? `${(n / 1000).toFixed(1)}k` : `${(n / 1_000_000).toFixed(1)}M`;
}

interface Col {
  h: string;
  w: number;
  right?: boolean;
  get: (r: TopRow) => string;
}

const SORT_HEADERS: Record<TopSort, string> = { cpu: 'CPU%', mem: 'RSS', tokens: 'TOKENS', net: 'NET/s' };

/** The columns, widths fixed except AGENT, MODEL and STATE, which share what the terminal's width leaves (up to a cap each). */
function columns(width: number): Col[] {
  const fixed: Col[] = [
    { h: 'PID', w: 7, right: true, get: (r) => String(r.pid) },
    { h: 'CPU%', w: 6, right: true, get: (r) => (r.cpu_pct === null ? '-' : r.cpu_pct.toFixed(1)) },
    { h: 'RSS', w: 7, right: true, get: (r) => bytesText(r.rss_bytes) },
    { h: 'NET/s', w: 7, right: true, get: (r) => bytesText(r.net_bytes_per_s) },
    { h: 'TOKENS', w: 7, right: true, get: (r) => countText(r.tokens) },
    { h: 'COST', w: 8, right: true, get: costText },
    { h: 'CALLS', w: 5, right: true, get: (r) => String(r.llm_calls) },
    { h: 'TOOLS', w: 5, right: true, get: (r) => String(r.tool_uses) },
    { h: 'EXECS', w: 5, right: true, get: (r) => countText(r.execs) },
    { h: 'FAIL', w: 4, right: true, get: (r) => String(r.failures) },
    { h: 'FILES', w: 6, right: true, get: (r) => countText(r.files) },
    { h: 'CONN', w: 5, right: true, get: (r) => countText(r.connections) },
  ];
  const used = fixed.reduce((a, c) => a + c.w + 1, 0);
  const left = Math.max(30, width - used - 3);
  // Wide terminals: the names get what they need (at most 24/30/24), not the whole width.
  const agentW = Math.min(24, Math.max(10, Math.floor(left * 0.3)));
  const modelW = Math.min(30, Math.max(10, Math.floor(left * 0.4)));
  const stateW = Math.min(24, Math.max(8, left - agentW - modelW));
  const flex: Col[] = [
    { h: 'AGENT', w: agentW, get: (r) => r.agent },
    { h: 'MODEL', w: modelW, get: (r) => r.model ?? '-' },
    { h: 'STATE', w: stateW, get: (r) => r.state },
  ];
  return [fixed[0], ...flex, ...fixed.slice(1)];
}

function cell(s: string, c: Col): string {
  const t = s.length > c.w ? `${s.slice(0, c.w - 1)}…` : s;
  return c.right ? t.padStart(c.w) : t.padEnd(c.w);
}

/**
 * The screen as text lines (at most `view.height`, each at most `view.width` characters): a summary line, the keys
 * (or the filter being typed), the status, the column header (line index {@link HEADER_LINE}, the sorted column marked), and
 * one line per agent, sorted and filtered.
 */
export function renderTop(s: TopSnapshot, view: TopView): string[] {
  const rows = sortRows(filterRows(s.agents, view.filter), view.sort);
  const cols = columns(view.width);
  const time = s.ts.slice(11, 19);
  const cpu = s.agents.reduce((a, r) => a + (r.cpu_pct ?? 0), 0);
  const rss = s.agents.reduce((a, r) => a + (r.rss_bytes ?? 0), 0);
  const lines = [
    `agentsight top - ${time} UTC - host ${s.host} - ${s.agents.length} agent(s)${s.exited_hidden ? `, ${s.exited_hidden} exited hidden` : ''} - CPU ${cpu.toFixed(1)}% RSS ${bytesText(rss)} - since ${s.since}`,
    view.editing
      ? `filter: ${view.filter}_   (Enter: apply, Esc: clear)`
      : `sort ${SORT_HEADERS[view.sort]}  [P]cpu [M]mem [T]tokens [N]net  [/]filter${view.filter ? ` "${view.filter}" (${rows.length} shown)` : ''}  [a]${view.all ? 'hide' : 'show'} exited  [q]uit`,
    view.status,
    cols.map((c) => cell(c.h === SORT_HEADERS[view.sort] ? `${c.h}▼` : c.h, c)).join(' '),
    ...rows.map((r) => cols.map((c) => cell(c.get(r), c)).join(' ')),
  ];
  if (!rows.length) lines.push(s.agents.length ? '(no agent matches the filter)' : '(no traced agent active: run `agentsight exec`, `trace` or `record`)');
  return lines.slice(0, Math.max(1, view.height)).map((l) => (l.length > view.width ? l.slice(0, view.width) : l));
}

/** Index of the column header in {@link renderTop}'s lines (drawn inverse by the screen). */
export const HEADER_LINE = 3;
