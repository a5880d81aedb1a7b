/**
 * Causal links: which tool use led to an exec, a file open or a connect().
 *
 * A tool use of an agent spans from the LLM response that asked for it (`start_ns`, its last byte) to the request
 * that carried its result back (`end_ns`; open while the result is not seen). An action is linked to a tool use of
 * agent process A when the acting process is A or one of its descendants and:
 * - the action is A's own (in-process tools, e.g. a file read by the agent itself): its time lies in
 *   [start_ns, end_ns];
 * - else: the time A's child on the path to the actor started (its exec, or the action's own time when that start is
 *   not known) lies in [open_ns, end_ns] — so a command a tool started stays linked to it after the result went back
 *   (a server it left running, a slow child of a shell). `open_ns` is when the LLM call that asked for the tool was
 *   sent: agents run tools while the response still streams, and a client may read the response's last bytes only
 *   after the tool ran (node's openai SDK reads the chunked terminator after a synchronous tool returns), so a
 *   child can start before `start_ns`. Sequential calls do not overlap: the next call is sent with the result.
 * The closest agent ancestor wins (an agent started by another agent owns its own tools' actions). When several tool
 * uses' windows match (parallel tool calls of one response), the ones whose arguments mention the action's subject
 * (the command's basename, the file path, the connect address) are preferred; the latest start then wins and the link
 * is marked ambiguous if more than one remained.
 *
 * Pure functions over plain records (times in wall-clock ns); `repositories/audit.ts` feeds them from ClickHouse.
 */

/** A tool use as the linker needs it (from a `tool` audit record). */
export interface ToolWindow {
  id: string;
  host: string;
  /** The agent process. */
  pid: number;
  /** Wall-clock ns: the end of the response that asked for the tool; null = unknown (the tool use cannot be linked). */
  start_ns: bigint | null;
  /** Wall-clock ns: when the LLM call that asked for the tool was sent; null = unknown (start_ns is used). */
  open_ns?: bigint | null;
  /** Wall-clock ns; null = the result is not seen yet (the window is open). */
  end_ns: bigint | null;
  name: string;
  call_id: string | null;
  /** The tool's arguments as text (searched for the action's subject). */
  arguments: string;
  /** The LLM call whose response asked for the tool, or null. */
  origin_llm_call_id: string | null;
}

/** A process start: an exec (or a snapshot of a process seen already running). */
export interface ProcessStart {
  host: string;
  pid: number;
  ppid: number;
  /** Wall-clock ns. */
  ts_ns: bigint;
}

/** An action to link (an exec, a file open, a connect). */
export interface Action {
  id: string;
  host: string;
  pid: number;
  ppid: number;
  /** Wall-clock ns. */
  ts_ns: bigint;
  /** What the action is about: the executed file or argv[0], the opened path, the connect address; '' if none. */
  subject: string;
}

/** The tool use an action is linked to. */
export interface CausalLink {
  tool_use_id: string;
  tool_name: string;
  call_id: string | null;
  /** The LLM call that asked for the tool, or null. */
  llm_call_id: string | null;
  /** The agent process that ran the tool. */
  agent_pid: number;
  /** More than one tool use matched equally well (parallel tool calls); this is the latest-started of them. */
  ambiguous: boolean;
}

/** Ancestors are followed at most this deep (a loop in bad data must end). */
const MAX_DEPTH = 64;

function key(host: string, pid: number): string {
  return `${host}\u001f${pid}`;
}

/** Latest start of (host, pid) at or before `t`, or null. Starts are sorted by time. */
function startAt(starts: ProcessStart[] | undefined, t: bigint): ProcessStart | null {
  let best: ProcessStart | null = null;
  for (const s of starts ?? []) {
    if (s.ts_ns <= t) best = s;
    else break;
  }
  return best;
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

function mentions(args: string, subject: string): boolean {
  if (!subject) return false;
  return args.includes(subject) || (subject.includes('/') && basename(subject).length > 1 && args.includes(basename(subject)));
}

/**
 * Links each action to the tool use that caused it (rules in the module comment). Returns action id → link, for the
 * linked actions only.
 */
export function linkActions(actions: Action[], tools: ToolWindow[], starts: ProcessStart[]): Map<string, CausalLink> {
  const toolsByAgent = new Map<string, ToolWindow[]>();
  for (const t of tools) {
    if (t.start_ns === null) continue;
    const k = key(t.host, t.pid);
    toolsByAgent.set(k, [...(toolsByAgent.get(k) ?? []), t]);
  }
  const startsByPid = new Map<string, ProcessStart[]>();
  for (const s of [...starts].sort((a, b) => (a.ts_ns < b.ts_ns ? -1 : a.ts_ns > b.ts_ns ? 1 : 0))) {
    const k = key(s.host, s.pid);
    startsByPid.set(k, [...(startsByPid.get(k) ?? []), s]);
  }
  const links = new Map<string, CausalLink>();
  for (const a of actions) {
    // Walk up from the actor: chain[i] is a pid, t[i] the time that pid's process started (or the action's time).
    let pid = a.pid;
    let ppid: number | null = a.ppid;
    let child = null as { pid: number; started: bigint } | null;
    for (let depth = 0; depth < MAX_DEPTH && pid > 0; depth++) {
      const agentTools = toolsByAgent.get(key(a.host, pid));
      const started = startAt(startsByPid.get(key(a.host, pid)), a.ts_ns);
      if (agentTools) {
        const link = child ? choose(agentTools, child.started, a.subject, true) : choose(agentTools, a.ts_ns, a.subject, false);
        if (link) links.set(a.id, link);
        break;
      }
      child = { pid, started: started?.ts_ns ?? child?.started ?? a.ts_ns };
      const parent: number | null = ppid ?? started?.ppid ?? null;
      if (parent === null || parent === pid) break;
      pid = parent;
      ppid = null;
    }
  }
  return links;
}

function choose(tools: ToolWindow[], t: bigint, subject: string, descendant: boolean): CausalLink | null {
  const opens = (w: ToolWindow) => (descendant && w.open_ns != null && w.open_ns < w.start_ns! ? w.open_ns : w.start_ns!);
  let inWindow = tools.filter((w) => opens(w) <= t && (w.end_ns === null || t <= w.end_ns));
  if (!inWindow.length) return null;
  const named = inWindow.filter((w) => mentions(w.arguments, subject));
  if (named.length) inWindow = named;
  const latest = inWindow.reduce((m, w) => (w.start_ns! > m.start_ns! ? w : m));
  const tied = inWindow.filter((w) => w.start_ns === latest.start_ns);
  const pick = tied.sort((x, y) => (x.id < y.id ? -1 : 1))[0];
  return {
    tool_use_id: pick.id, tool_name: pick.name, call_id: pick.call_id, llm_call_id: pick.origin_llm_call_id,
    agent_pid: pick.pid, ambiguous: tied.length > 1,
  };
}
