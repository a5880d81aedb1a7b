import { spawn, ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { privateDir, privateFile } from '@agentsight/jetstream';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A child process that announces readiness with a JSON line `{"event":"ready",…}` on stdout. */
export interface Child {
  name: string;
  proc: ChildProcess;
  /** The parsed ready line. */
  ready: Record<string, unknown>;
  /**
   * Resolves with the JSON lines printed after `ready` (e.g. the probe's `stopped` line) once it exits: bounded for a
   * child that runs for weeks (`trace --daemon`), so periodic `stats` lines are kept only as the latest one and at
   * most {@link MAX_KEPT_LINES} others (the newest); `dropped_lines` counts what was not kept.
   */
  exited: Promise<ChildExit>;
}

/** How a {@link Child} ended, and the JSON lines it printed after `ready` (see {@link Child.exited}). */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: Record<string, unknown>[];
  dropped_lines: number;
}

/** Most JSON lines (other than the latest `stats` line) a {@link Child} keeps for its exit. */
export const MAX_KEPT_LINES = 10_000;

/** Options of {@link spawnReady}. */
export interface SpawnReadyOptions {
  env: NodeJS.ProcessEnv;
  logDir: string;
  /** Default 60 000 ms. */
  timeoutMs?: number;
  /** Give the child a stdin pipe (`proc.stdin`); default: /dev/null. */
  stdin?: boolean;
  /**
   * Called with each JSON line printed after `ready`, as it arrives (they are also collected for `exited`, and
   * logged, except the probe's periodic `net_bytes` readings: those are only handed here).
   */
  onLine?: (msg: Record<string, unknown>) => void;
}

/**
 * Spawns `cmd args`, logging its output to `<logDir>/<name>.log`, and resolves when it prints its ready line.
 * Rejects when it exits first or does not get ready within `timeoutMs`, quoting the log's tail.
 */
export function spawnReady(name: string, cmd: string, args: string[], opts: SpawnReadyOptions): Promise<Child> {
  privateDir(opts.logDir);
  const logPath = privateFile(join(opts.logDir, `${name}.log`));
  const log = createWriteStream(logPath, { flags: 'a', mode: 0o600 });
  const proc = spawn(cmd, args, { env: opts.env, stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  proc.stderr!.pipe(log, { end: false });
  const lines: Record<string, unknown>[] = [];
  let stats: Record<string, unknown> | null = null;
  let dropped = 0;
  let tail = '';
  return new Promise((resolve, reject) => {
    let ready: Record<string, unknown> | null = null;
    const exited = new Promise<ChildExit>((res) => {
      proc.on('exit', (code, signal) => res({ code, signal, lines: stats ? [...lines, stats] : lines, dropped_lines: dropped }));
    });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${name} did not get ready within ${opts.timeoutMs ?? 60000} ms; see ${logPath}:\n${tail}`));
    }, opts.timeoutMs ?? 60_000);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.startsWith('{"event":"net_bytes"') && ready) {
        // A reading every sampling interval: neither logged nor kept (it would grow the log by a line a second).
        let reading: Record<string, unknown> | null = null;
        try {
          reading = JSON.parse(line);
        } catch {
          reading = null;
        }
        if (reading) opts.onLine?.(reading);
        return;
      }
      log.write(line + '\n');
      let msg: Record<string, unknown> | null = null;
      try {
        msg = line.startsWith('{') ? JSON.parse(line) : null;
      } catch {
        msg = null;
      }
      if (msg && msg.event === 'ready' && !ready) {
        ready = msg;
        clearTimeout(timer);
        resolve({ name, proc, ready: msg, exited });
      } else if (msg && ready) {
        if (msg.event === 'stats') {
          if (stats) dropped++;
          stats = msg;
        } else {
          lines.push(msg);
          if (lines.length > MAX_KEPT_LINES) (lines.shift(), dropped++);
        }
        opts.onLine?.(msg);
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (tail = (tail + d.toString()).slice(-2000)));
    void exited.then(({ code, signal }) => {
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code ?? signal}) before it was ready; see ${logPath}:\n${tail}`));
      }
    });
  });
}

/** Sends `signal` and waits for the exit (SIGKILL after `graceMs`). */
export async function stopChild(c: Child, signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000) {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return c.exited;
  c.proc.kill(signal);
  const t = setTimeout(() => c.proc.kill('SIGKILL'), graceMs);
  const r = await c.exited;
  clearTimeout(t);
  return r;
}
