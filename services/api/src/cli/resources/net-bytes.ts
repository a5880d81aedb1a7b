/**
 * Per-process network bytes for the resource samples (issue 15): the probe's eBPF counters (`bpf/process.bpf.c`, map
 * `net_bytes`), which it prints every `--net-bytes-ms` as a `net_bytes` line on its stdout, merged into each sampled
 * tree. `/proc` cannot give them per process (only per network namespace).
 *
 * - {@link NetReadings} keeps the probe's latest reading ({@link parseNetReading}), fed from the probe's lines: a round
 *   of more than 1,024 processes comes on several `net_bytes` lines (`round`, `part`, `parts`), taken once all are in.
 * - {@link TreeNet} (one per sampled root) gives each process of a sample its own counts and those of its
 *   descendants that exited (`children_net_*`, the network analogue of `cutime`/`cstime`): a process seen gone from
 *   the tree hands its last count to its nearest live ancestor, refreshed from the readings that come after its exit
 *   (a reading is up to one interval old, so the bytes a process sent just before it exited arrive with the next one).
 *   A process that exited between two samples (no sample saw it) is found by the ancestors the probe names for it
 *   (`up`) and handed to the nearest one the tree has, live or itself handed on.
 *
 * Never a silent zero: without a reading (no probe, none yet, a kernel without the tracepoints) every figure is null
 * and the sample's `not_captured` says why. A process the probe lists no entry for (while it listed every entry) has
 * sent and received nothing so far: 0. The map is keyed by pid; an entry whose process start differs from the
 * sampled process' is an earlier process' with the same pid: also 0 for this one.
 */
import type { ProcResourceSample } from '@agentsight/contracts';

/** A process named by pid and start (clock ticks since boot, `/proc/<pid>/stat` field 22): one identity. */
export interface ProcKey {
  pid: number;
  start_ticks: number;
}

/** One process' counts in a reading: bytes since the counters began (or since the process started, if later). */
export interface NetCount {
  /** The process' start, clock ticks since boot (`/proc/<pid>/stat` field 22): its identity with the pid. */
  start_ticks: number;
  sent: number;
  recv: number;
  /** Its nearest ancestors when the probe first counted it, parent first (at most 4; none from an older probe). */
  up: ProcKey[];
}

/** One `net_bytes` reading of the probe. */
export interface NetReading {
  /** When the line arrived, `process.hrtime` ns (the sampler's `ts_boot_ns` clock). */
  at_ns: bigint;
  /** Why the kernel cannot count them (the probe's `missing`), else null. */
  missing: string | null;
  /** By pid. */
  pids: Map<number, NetCount>;
  /**
   * Processes counted but not listed (a `stats` line lists at most 1,024; a round's line alone does not list those of
   * its other parts; entries that could not be read): their figures are unknown. 0 for a whole round.
   */
  more: number;
  /** When the probe's counters were attached, clock ticks since boot; null when not said (an older probe). */
  since_ticks: number | null;
}

const count = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null);

/**
 * The reading of a `net_bytes` object (`{pids:[{pid,start_ticks,sent,recv}],more,since_ticks}` or `{missing}`, the
 * probe's stats/stopped/net_bytes lines), received at `atNs`. Null when it is not one; entries without a valid pid,
 * start or counts are left out (and counted in `more`, so their processes read unknown, not 0).
 */
export function parseNetReading(obj: unknown, atNs: bigint): NetReading | null {
  if (!obj || typeof obj !== 'object') return null;
  const o = obj as Record<string, unknown>;
  if (typeof o.missing === 'string') return { at_ns: atNs, missing: o.missing, pids: new Map(), more: 0, since_ticks: null };
  if (!Array.isArray(o.pids)) return null;
  const pids = new Map<number, NetCount>();
  let bad = 0;
  for (const e of o.pids as Array<Record<string, unknown>>) {
    const [pid, start, sent, recv] = [count(e?.pid), count(e?.start_ticks), count(e?.sent), count(e?.recv)];
    if (pid === null || start === null || sent === null || recv === null) bad++;
    else pids.set(pid, { start_ticks: start, sent, recv, up: ancestorsOf(e?.up) });
  }
  return { at_ns: atNs, missing: null, pids, more: (count(o.more) ?? 0) + bad, since_ticks: count(o.since_ticks) };
}

/** The probe's `up` (flat `[pid, start_ticks, …]`, parent first) as keys; [] when absent or malformed. */
function ancestorsOf(up: unknown): ProcKey[] {
  if (!Array.isArray(up)) return [];
  const out: ProcKey[] = [];
  for (let i = 0; i + 1 < up.length; i += 2) {
    const [pid, start] = [count(up[i]), count(up[i + 1])];
    if (pid === null || start === null) break;
    out.push({ pid, start_ticks: start });
  }
  return out;
}

/** Where a `net_bytes` line sits in its round (`round`, `part` 0-based, `parts`), null when it does not say. */
function partOf(obj: unknown): { round: number; part: number; parts: number } | null {
  const o = (obj ?? {}) as Record<string, unknown>;
  const [round, part, parts] = [count(o.round), count(o.part), count(o.parts)];
  return round === null || part === null || parts === null || part >= parts ? null : { round, part, parts };
}

/** A round being assembled: its parts so far, merged. */
interface Pending {
  round: number;
  parts: number;
  got: Set<number>;
  reading: NetReading;
  /** Σ over its parts of the processes each listed (valid or not). */
  listed: number;
  /** The round's processes, as its first part said (listed + its `more`). */
  total: number;
}

/**
 * Holds the probe's latest network reading: feed it the probe's stdout lines ({@link onLine}). A round in several
 * parts becomes the reading once its last part is in (received at its first part's time); until then the previous
 * reading stays, so no sample sees half a round (whose other processes would read unknown). A round whose parts do
 * not all come (the probe died mid-round) is never taken.
 */
export class NetReadings {
  private last: NetReading | null = null;
  private pending: Pending | null = null;

  /**
   * Takes a probe line: a `net_bytes` line updates the reading (or the round it is a part of); a `stats` line carries
   * the same object with at most 1,024 processes listed, taken unless it is partial and the current reading is whole.
   */
  onLine(msg: Record<string, unknown>, atNs: bigint = process.hrtime.bigint()): void {
    if (msg.event !== 'net_bytes' && msg.event !== 'stats') return;
    const r = parseNetReading(msg.net_bytes, atNs);
    if (!r) return;
    const part = msg.event === 'net_bytes' && !r.missing ? partOf(msg.net_bytes) : null;
    if (!part) {
      if (msg.event === 'stats' && r.more > 0 && this.last && !this.last.missing && this.last.more === 0) return;
      this.last = r;
      return;
    }
    const listed = Array.isArray((msg.net_bytes as { pids?: unknown }).pids) ? ((msg.net_bytes as { pids: unknown[] }).pids.length) : 0;
    const bad = listed - r.pids.size; // entries it could not read (its `more` also counts them)
    // The probe prints a round's parts in order: part 0 starts one; any other part continues the pending round or,
    // if it is not that round's next one, is of a round cut short and is dropped.
    if (part.part === 0) this.pending = { round: part.round, parts: part.parts, got: new Set(), reading: { ...r, pids: new Map(), more: 0 }, listed: 0, total: listed + r.more - bad };
    const p = this.pending;
    if (!p || p.round !== part.round || p.parts !== part.parts || p.got.size !== part.part) return;
    p.got.add(part.part);
    p.listed += listed;
    for (const [pid, c] of r.pids) p.reading.pids.set(pid, c);
    p.reading.more += bad;
    if (p.got.size < p.parts) return;
    p.reading.more += Math.max(0, p.total - p.listed);
    this.last = p.reading;
    this.pending = null;
  }

  /** The latest reading, null before the first. */
  latest(): NetReading | null {
    return this.last;
  }
}

/** The reason of `not_captured` when a sampler runs without a probe (nothing counts the bytes). */
export const NET_NO_PROBE = 'net_bytes: no probe runs with this sampler (per-process network bytes come from its eBPF counters; /proc has them per network namespace only)';
/** The reason while the probe has not printed a reading yet. */
export const NET_NO_READING = 'net_bytes: no reading from the probe yet';

/** A descendant seen gone from the tree, whose last count still goes to its nearest live ancestor. */
interface Gone {
  pid: number;
  start_ticks: number;
  /** Key of the live ancestor its bytes go to. */
  heir: string;
  sent: number;
  recv: number;
  /** What its own exited descendants had handed to it. */
  inherited: { sent: number; recv: number };
  /** When the exit was seen (sample time, ns). */
  gone_ns: bigint;
}

/** What {@link TreeNet.apply} gives a sample. */
export interface TreeNetResult {
  /** Σ (own + children's) over the tree; null when not counted. */
  tree: { sent: number; recv: number } | null;
  /** `net_bytes: …` when a figure is null, else null. */
  not_captured: string | null;
  /** Age of the reading at the sample, ms; null without one. */
  age_ms: number | null;
  since_ticks: number | null;
}

/** A gone process' bytes are folded into its heir once a reading this much newer than the exit came. */
const FOLD_AFTER_NS = 250_000_000n;
/** Exited processes remembered with where their bytes went (so their descendants' can follow), most. */
const HANDED_MAX = 100_000;

const key = (p: ProcKey) => `${p.pid}/${p.start_ticks}`;

/** The network figures of one sampled tree across its samples (see the module comment). */
export class TreeNet {
  /** The previous sample's processes with their own counts, by key. */
  private prev = new Map<string, { pid: number; ppid: number; start_ticks: number; sent: number; recv: number }>();
  private gone: Gone[] = [];
  /** Folded bytes of exited descendants, by the key of the live process they went to. */
  private base = new Map<string, { sent: number; recv: number }>();
  /** Every exited process credited so far (seen gone, or never seen), by key: the key its bytes went to. */
  private handed = new Map<string, string>();
  /** Processes of the reading no sample saw, with a sampled ancestor, by key: when first found (ns), unconfirmed. */
  private unseen = new Map<string, bigint>();

  /**
   * Sets `net_*` of every process of `procs` (one sample of the tree, root first) in place from `reading`, taken at
   * `nowNs` (`process.hrtime` ns), and returns the tree's totals. `reading` undefined = no probe, null = none yet.
   */
  apply(procs: ProcResourceSample[], reading: NetReading | null | undefined, nowNs: bigint): TreeNetResult {
    const why = reading === undefined ? NET_NO_PROBE : reading === null ? NET_NO_READING : reading.missing ? `net_bytes: ${reading.missing}` : null;
    if (why || !reading) {
      for (const p of procs) Object.assign(p, { net_sent_bytes: null, net_recv_bytes: null, children_net_sent_bytes: null, children_net_recv_bytes: null });
      return { tree: null, not_captured: why, age_ms: null, since_ticks: null };
    }
    const cur = new Map(procs.map((p) => [key(p), p]));
    const prevByPid = new Map([...this.prev.values()].map((q) => [q.pid, q]));
    // Exits since the previous sample: each one's bytes go to its nearest live ancestor.
    const exits = [...this.prev.entries()].filter(([k]) => !cur.has(k));
    const heirOf = new Map<string, string>();
    for (const [k, q] of exits) {
      let a = prevByPid.get(q.ppid);
      while (a && !cur.has(key(a))) a = prevByPid.get(a.ppid);
      heirOf.set(k, a ? key(a) : key(procs[0]));
    }
    for (const [k, q] of exits) {
      const heir = heirOf.get(k)!;
      for (const g of this.gone) if (g.heir === k) g.heir = heir;
      const inherited = this.base.get(k) ?? { sent: 0, recv: 0 };
      this.base.delete(k);
      this.gone.push({ pid: q.pid, start_ticks: q.start_ticks, heir, sent: q.sent, recv: q.recv, inherited, gone_ns: nowNs });
      this.hand(k, heir);
    }
    this.creditUnseen(reading, cur, nowNs);
    // Gone processes: their counts as the reading has them now (it may postdate the exit), then folded when final.
    const kept: Gone[] = [];
    for (const g of this.gone) {
      const c = reading.pids.get(g.pid);
      if (c && c.start_ticks === g.start_ticks) (g.sent = Math.max(g.sent, c.sent)), (g.recv = Math.max(g.recv, c.recv));
      if (reading.at_ns >= g.gone_ns + FOLD_AFTER_NS) {
        const b = this.base.get(g.heir) ?? { sent: 0, recv: 0 };
        this.base.set(g.heir, { sent: b.sent + g.sent + g.inherited.sent, recv: b.recv + g.recv + g.inherited.recv });
      } else kept.push(g);
    }
    this.gone = kept;
    // Live processes: own counts, and their exited descendants'.
    let unknown = 0;
    const tree = { sent: 0, recv: 0 };
    this.prev = new Map();
    for (const p of procs) {
      const c = reading.pids.get(p.pid);
      const own = c && c.start_ticks === p.start_ticks ? c : reading.more > 0 ? null : { sent: 0, recv: 0 };
      const ch = { ...(this.base.get(key(p)) ?? { sent: 0, recv: 0 }) };
      for (const g of this.gone) if (g.heir === key(p)) (ch.sent += g.sent + g.inherited.sent), (ch.recv += g.recv + g.inherited.recv);
      Object.assign(p, { net_sent_bytes: own?.sent ?? null, net_recv_bytes: own?.recv ?? null, children_net_sent_bytes: ch.sent, children_net_recv_bytes: ch.recv });
      if (own) this.prev.set(key(p), { pid: p.pid, ppid: p.ppid, start_ticks: p.start_ticks, sent: own.sent, recv: own.recv });
      else {
        unknown++;
        this.prev.set(key(p), { pid: p.pid, ppid: p.ppid, start_ticks: p.start_ticks, sent: 0, recv: 0 });
      }
      tree.sent += (own?.sent ?? 0) + ch.sent;
      tree.recv += (own?.recv ?? 0) + ch.recv;
    }
    const age_ms = Math.max(0, Number((nowNs - reading.at_ns) / 1_000_000n));
    if (unknown) {
      return { tree: null, not_captured: `net_bytes: the probe listed ${reading.pids.size} processes and not ${reading.more} more; ${unknown} of this tree unknown`, age_ms, since_ticks: reading.since_ticks };
    }
    return { tree, not_captured: null, age_ms, since_ticks: reading.since_ticks };
  }

  /**
   * Processes that exited between two samples (none saw them: a short `curl` of a tool, a compiler's children): each
   * one the reading lists whose ancestors (`up`) include a process of the tree, live or credited before, becomes a
   * gone process of the nearest such ancestor's heir. Found in one sample, credited at the next that still does not
   * list it (one listed by the reading but forked during the sample's scan is in the next sample's processes instead).
   */
  private creditUnseen(reading: NetReading, cur: Map<string, ProcResourceSample>, nowNs: bigint): void {
    const found = new Map<string, bigint>();
    for (const [pid, c] of reading.pids) {
      const k = key({ pid, start_ticks: c.start_ticks });
      if (cur.has(k) || this.prev.has(k) || this.handed.has(k) || !c.up.length) continue;
      let heir: string | null = null;
      for (const a of c.up) if ((heir = this.liveHeir(key(a), cur))) break;
      if (!heir) continue;
      const since = this.unseen.get(k);
      if (since === undefined) {
        found.set(k, nowNs);
        continue;
      }
      this.gone.push({ pid, start_ticks: c.start_ticks, heir, sent: c.sent, recv: c.recv, inherited: { sent: 0, recv: 0 }, gone_ns: since });
      this.hand(k, heir);
    }
    this.unseen = found;
  }

  /** The live process of the tree the bytes of `k` go to: `k` itself when live, its heir's when credited, else null. */
  private liveHeir(k: string, cur: Map<string, ProcResourceSample>): string | null {
    for (let i = 0; i <= this.handed.size; i++) {
      if (cur.has(k)) return k;
      const next = this.handed.get(k);
      if (next === undefined) return null;
      k = next;
    }
    return null;
  }

  /** Remembers that the bytes of the exited process `k` went to `heir` (the oldest forgotten beyond {@link HANDED_MAX}). */
  private hand(k: string, heir: string): void {
    this.handed.set(k, heir);
    if (this.handed.size > HANDED_MAX) this.handed.delete(this.handed.keys().next().value!);
  }
}
