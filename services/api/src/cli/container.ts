/**
 * `--binary-path docker://<name|id>`: finds a container's processes from the host and the binary to attach to.
 *
 * A container's files live in its own mount namespace; the host reaches them through `/proc/<pid>/root/<path>`, and
 * a uprobe attached through that path lands on the same inode the container runs. Resolution, in order:
 * 1. the Docker CLI, when it answers (`docker inspect` → full id and init pid);
 * 2. else from the host alone: a 12–64 hex digit reference is an id prefix; a name is looked up in Docker's state
 *    (`<data-root>/containers/<id>/config.v2.json`, `"Name": "/<name>"`; data-root `/var/lib/docker` or
 *    `$AGENTSIGHT_DOCKER_ROOT`).
 * The container's processes are those whose cgroup path (`/proc/<pid>/cgroup`, v1 or v2) names the id the way Docker
 * and containerd do (`/docker/<id>`, `docker-<id>.scope`, `cri-containerd-<id>.scope`), plus the init pid's
 * descendants. They are visited init first, then breadth-first; the first whose executable defines TLS functions
 * (OpenSSL, GnuTLS, NSS by symbol), or that maps a TLS library, is the target.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { tlsFamilies } from './elf';

/** What `docker://<ref>` resolved to. */
export interface ContainerTarget {
  ref: string;
  /** Full container id (64 hex digits) when known, else the prefix given. */
  id: string;
  /** Every process of the container, init first then breadth-first. */
  pids: number[];
  /** The process chosen to attach to. */
  pid: number;
  /** Host paths to attach uprobes to (`/proc/<pid>/root/...`): its executable and the TLS libraries it maps. */
  binaries: string[];
  /** TLS families found by symbol (empty when none was: the probe then tries its locators of stripped TLS stacks on the executable). */
  families: string[];
}

/** A `docker://` reference that cannot be resolved; the message says what was tried. */
export class ContainerError extends Error {}

const TLS_LIBRARY = /\/lib(ssl|gnutls|nspr4|boringssl)[^/]*\.so(\.[0-9.]+)?$/;

/** The reference of a `docker://<ref>` binary path, or null when `p` is not one. */
export function dockerRef(p: string): string | null {
  return p.startsWith('docker://') ? p.slice('docker://'.length) : null;
}

function dockerInspect(ref: string, env: NodeJS.ProcessEnv): { id: string; pid: number } | null {
  try {
    const out = execFileSync('docker', ['inspect', '--format', '{{.Id}} {{.State.Pid}}', ref], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
    const [id, pid] = out.trim().split(/\s+/);
    return /^[0-9a-f]{64}$/.test(id) && Number(pid) > 0 ? { id, pid: Number(pid) } : null;
  } catch {
    return null;
  }
}

/** Full id of the container named `name` in Docker's state directory, or null. */
function idByName(name: string, dataRoot: string): string | null {
  let ids: string[];
  try {
    ids = readdirSync(join(dataRoot, 'containers'));
  } catch {
    return null;
  }
  for (const id of ids) {
    try {
      const cfg = JSON.parse(readFileSync(join(dataRoot, 'containers', id, 'config.v2.json'), 'utf8')) as { Name?: string; ID?: string };
      if (cfg.Name === `/${name}` || cfg.Name === name) return cfg.ID ?? id;
    } catch {
      // not a container directory
    }
  }
  return null;
}

/** The container id (or prefix) a cgroup line names, in Docker's and containerd's layouts; null when none. */
export function cgroupContainerId(cgroupFile: string): string | null {
  const m = /(?:\/docker\/|docker-|cri-containerd-|\/crio-)([0-9a-f]{12,64})(?:\.scope)?(?:\/|$)/m.exec(cgroupFile);
  return m ? m[1] : null;
}

function readProc(proc: string, pid: number, file: string): string | null {
  try {
    return readFileSync(join(proc, String(pid), file), 'utf8');
  } catch {
    return null;
  }
}

function ppidOf(proc: string, pid: number): number | null {
  const stat = readProc(proc, pid, 'stat');
  if (!stat) return null;
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/**
 * Resolves `docker://<ref>` (see the module comment). `proc` defaults to `/proc`, `dataRoot` to
 * `$AGENTSIGHT_DOCKER_ROOT` or `/var/lib/docker`. Throws {@link ContainerError} when no process of the container is
 * found.
 */
export function resolveContainer(ref: string, opts: { proc?: string; dataRoot?: string; env?: NodeJS.ProcessEnv } = {}): ContainerTarget {
  const proc = opts.proc ?? '/proc';
  const env = opts.env ?? process.env;
  const dataRoot = opts.dataRoot ?? env.AGENTSIGHT_DOCKER_ROOT ?? '/var/lib/docker';
  if (!ref) throw new ContainerError('docker:// needs a container name or id');
  const inspected = dockerInspect(ref, env);
  const id = inspected?.id ?? (/^[0-9a-f]{12,64}$/.test(ref) ? ref : idByName(ref, dataRoot));
  if (!id) throw new ContainerError(`container ${ref}: the docker CLI did not answer and no container of that name is in ${join(dataRoot, 'containers')}`);

  const pids = readdirSync(proc).filter((d) => /^\d+$/.test(d)).map(Number);
  const members = new Set<number>();
  const children = new Map<number, number[]>();
  const parent = new Map<number, number>();
  for (const pid of pids) {
    const cg = readProc(proc, pid, 'cgroup');
    const cid = cg ? cgroupContainerId(cg) : null;
    if (cid && (cid.startsWith(id) || id.startsWith(cid))) members.add(pid);
    const pp = ppidOf(proc, pid);
    if (pp === null) continue;
    parent.set(pid, pp);
    children.set(pp, [...(children.get(pp) ?? []), pid]);
  }
  if (inspected) members.add(inspected.pid);
  const roots = inspected ? [inspected.pid] : [...members].filter((p) => !members.has(parent.get(p) ?? -1)).sort((a, b) => a - b);
  const order: number[] = [];
  const seen = new Set<number>();
  const queue = [...roots];
  while (queue.length) {
    const p = queue.shift()!;
    if (seen.has(p)) continue;
    seen.add(p);
    order.push(p);
    for (const c of children.get(p) ?? []) if (members.has(c) || inspected) queue.push(c);
  }
  if (!order.length) throw new ContainerError(`container ${ref} (${id.slice(0, 12)}): no running process found (is it running? cgroups of /proc/*/cgroup name no such id)`);

  for (const pid of order) {
    const found = tlsOf(proc, pid);
    if (found) return { ref, id, pids: order, pid, ...found };
  }
  // Nothing by symbol: hand the init process' executable to the probe, whose locators find stripped BoringSSL.
  const init = order[0];
  const exe = hostPath(proc, init, safeReadlink(join(proc, String(init), 'exe')));
  if (!exe) throw new ContainerError(`container ${ref}: cannot read the executable of its process ${init}`);
  return { ref, id, pids: order, pid: init, binaries: [exe], families: [] };
}

function safeReadlink(p: string): string | null {
  try {
    return readlinkSync(p).replace(/ \(deleted\)$/, '');
  } catch {
    return null;
  }
}

/**
 * Binaries to hook for a running process: its executable and mapped TLS libraries that define TLS functions, as
 * host paths through `/proc/<pid>/root` (valid for processes in other mount namespaces); when none defines them
 * (a stripped static TLS stack, e.g. Bun), its executable alone, for the probe's byte patterns. Empty when the
 * process is gone or unreadable.
 */
export function processBinaries(pid: number, proc = '/proc'): string[] {
  const found = tlsOf(proc, pid);
  if (found) return found.binaries;
  const exe = hostPath(proc, pid, safeReadlink(join(proc, String(pid), 'exe')));
  return exe ? [exe] : [];
}

/** `/proc/<pid>/root<inner>`: the host's way into the process' mount namespace. */
function hostPath(proc: string, pid: number, inner: string | null): string | null {
  return inner ? join(proc, String(pid), 'root', inner) : null;
}

/** The TLS binaries of one process: its executable if it defines TLS functions, and the TLS libraries it maps. */
function tlsOf(proc: string, pid: number): { binaries: string[]; families: string[] } | null {
  const binaries: string[] = [];
  const families = new Set<string>();
  const exe = hostPath(proc, pid, safeReadlink(join(proc, String(pid), 'exe')));
  if (exe) {
    const f = tlsFamilies(join(proc, String(pid), 'exe'));
    if (f.length) {
      binaries.push(exe);
      f.forEach((x) => families.add(x));
    }
  }
  const maps = readProc(proc, pid, 'maps') ?? '';
  const libs = new Set(maps.split('\n').map((l) => l.slice(l.indexOf('/'))).filter((p) => p.startsWith('/') && TLS_LIBRARY.test(p)));
  for (const lib of libs) {
    const host = hostPath(proc, pid, lib)!;
    const f = tlsFamilies(host);
    if (f.length) {
      binaries.push(host);
      f.forEach((x) => families.add(x));
    }
  }
  return binaries.length ? { binaries, families: [...families] } : null;
}
