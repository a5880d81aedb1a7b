/** Helpers of the discover specs (not a test file itself: `.test.ts` keeps it out of the build): real child processes in a temp dir, no mocks. */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A temp dir removed by `cleanup()`, with the children started in it killed. */
export class Sandbox {
  readonly dir = mkdtempSync(join(tmpdir(), 'agentsight-discover-'));
  private readonly children: ChildProcess[] = [];

  /** Writes `rel` (creating directories) and returns its absolute path. */
  file(rel: string, text: string): string {
    const path = join(this.dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    return path;
  }

  /**
   * Starts `cmd args` and resolves once it printed `ready` (so exec and any setup in the script are done).
   * Rejects if it exits first.
   */
  start(cmd: string, args: string[]): Promise<ChildProcess> {
    const child = spawn(cmd, args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(child);
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    return new Promise((res, rej) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && res(child));
      child.on('exit', (code) => rej(new Error(`${cmd} ${args.join(' ')} exited (${code}) before ready: ${err}`)));
      child.on('error', rej);
    });
  }

  /** Kills the children and removes the dir. */
  cleanup(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A node script that prints `ready` and stays alive for `ms`. */
export const IDLE_JS = (ms = 30_000) => `console.log('ready'); setTimeout(() => {}, ${ms});\n`;
