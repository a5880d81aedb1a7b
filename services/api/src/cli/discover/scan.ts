/**
 * Reading processes from /proc into {@link ProcessInfo} objects for the rule matcher.
 *
 * Tolerant of processes that exit during the scan: a process whose `stat`, `status`, `cmdline` or `comm` cannot be read
 * (ENOENT/ESRCH) is skipped, and one whose start time changed between the first and the last read (the pid was
 * reused) is skipped too. Parts that need privileges (`exe`, `cwd`, `maps`, `fd` of other users' processes when not
 * root) are left empty and named in `unreadable`.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { ProcessInfo } from './rules';

/** Options of {@link readProcess} / {@link scanProcesses}. */
export interface ScanOptions {
  /** Collect `files` (mapped files and open-file links); default true. */
  files?: boolean;
  /** Most fd links read per process (default 4096). */
  maxFds?: number;
  /** The proc mount (default `/proc`). */
  proc?: string;
}

/** Pids of all processes (thread-group leaders) currently listed in /proc. */
export function listPids(proc = '/proc'): number[] {
  return readdirSync(proc).filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
}

/** The start time (clock ticks since boot, field 22 of `stat`) of a process, or null when it is gone. */
export function startTime(pid: number, proc = '/proc'): number | null {
  const stat = tryRead(`${proc}/${pid}/stat`);
  if (stat === null) return null;
  // comm (field 2) may contain spaces and parentheses: fields after it start past the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const v = Number(rest[19]);
  return Number.isFinite(v) ? v : null;
}

/**
 * Reads one process; null when it does not exist or vanished (or its pid was reused) while being read.
 * Kernel threads and zombies come back with an empty `argv`.
 */
export function readProcess(pid: number, opts: ScanOptions = {}): ProcessInfo | null {
  const proc = opts.proc ?? '/proc';
  const dir = `${proc}/${pid}`;
  const t0 = startTime(pid, proc);
  if (t0 === null) return null;
  const status = tryRead(`${dir}/status`);
  const cmdline = tryRead(`${dir}/cmdline`);
  const comm = tryRead(`${dir}/comm`);
  if (status === null || cmdline === null || comm === null) return null;
  const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
  const unreadable: string[] = [];
  const link = (what: string) => {
    try {
      return readlinkSync(`${dir}/${what}`);
    } catch (e) {
      if (errno(e) !== 'ENOENT' && errno(e) !== 'ESRCH') unreadable.push(what);
      return null;
    }
  };
  const exe = link('exe');
  const cwd = link('cwd');
  const argv = cmdline.split('\0');
  while (argv.length && argv[argv.length - 1] === '') argv.pop();
  const info: ProcessInfo = {
    pid,
    ppid: Number(field('PPid') ?? 0),
    uid: Number(field('Uid') ?? -1),
    comm: comm.replace(/\n$/, ''),
    exe: exe === null ? null : exe.replace(/ \(deleted\)$/, ''),
    argv,
    cwd,
  };
  if (opts.files ?? true) info.files = openFiles(dir, opts.maxFds ?? 4096, unreadable);
  if (startTime(pid, proc) !== t0) return null;
  if (unreadable.length) info.unreadable = unreadable;
  return info;
}

/** Paths mapped into the process (`maps`) and open by it (`fd` links to files), deduplicated. */
function openFiles(dir: string, maxFds: number, unreadable: string[]): string[] {
  const out = new Set<string>();
  const maps = tryRead(`${dir}/maps`, unreadable, 'maps');
  for (const line of maps?.split('\n') ?? []) {
    // address perms offset dev inode pathname — the path starts at the first '/' after the inode.
    const at = line.indexOf('/');
    if (at >= 0) out.add(line.slice(at).replace(/ \(deleted\)$/, ''));
  }
  let fds: string[] = [];
  try {
    fds = readdirSync(`${dir}/fd`);
  } catch (e) {
    if (errno(e) !== 'ENOENT' && errno(e) !== 'ESRCH') unreadable.push('fd');
  }
  for (const fd of fds.slice(0, maxFds)) {
    try {
      const target = readlinkSync(`${dir}/fd/${fd}`);
      if (target.startsWith('/')) out.add(target.replace(/ \(deleted\)$/, ''));
    } catch {
      // closed meanwhile
    }
  }
  return [...out];
}

/** Reads every process in /proc (see {@link readProcess}); vanished ones are left out. */
export function scanProcesses(opts: ScanOptions = {}): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const pid of listPids(opts.proc)) {
    const p = readProcess(pid, opts);
    if (p) out.push(p);
  }
  return out;
}

function tryRead(path: string, unreadable?: string[], what?: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (unreadable && what && errno(e) !== 'ENOENT' && errno(e) !== 'ESRCH') unreadable.push(what);
    return null;
  }
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}
