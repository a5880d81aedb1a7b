/** `agentsight record`: capture running processes by pid, command name or container, resolving the binaries to hook. */
import type { Command } from 'commander';
import { captureInForeground, type ExportFlags, withExportFlags } from '../capture';
import { dockerRef, processBinaries, resolveContainer } from '../container';
import { scanProcesses } from '../discover/scan';
import { dataDirOption } from '../options';
import { procState } from '../pipeline';
import { resolveTarget } from '../resolve';

/** Registers `record`. */
export function registerRecord(p: Command): void {
  dataDirOption(withExportFlags(p.command('record'))).description('capture running processes by pid or command name (or a container), resolving the binaries to hook')
    .option('-p, --pid <pid...>', 'these processes and their descendants; stops when they have all exited')
    .option('-c, --comm <name...>', 'processes with this command name, running or started later')
    .option('--binary-path <path...>', 'also hook this binary (a command name is resolved like exec does) or docker://<name|id>')
    .action(async (o) => process.exit(await recordCommand(o)));
}

/**
 * `agentsight record -p <pid> | -c <comm> [--binary-path P]`: captures running processes (and what they start).
 * The binaries to hook are resolved without configuration: each target process' executable and the TLS libraries it
 * maps (through `/proc/<pid>/root`, so processes in containers work too), `--binary-path` names resolved like `exec`
 * does (PATH, symlinks, shebang wrappers, npm launchers, the sudo user's installs), and `docker://<name|id>` as in
 * `container.ts` (the container's processes are then traced when no -p/-c is given). `-p` stops by itself when
 * every given pid has exited.
 */
export async function recordCommand(opts: { dataDir?: string; pid?: string[]; comm?: string[]; binaryPath?: string[] } & ExportFlags): Promise<number> {
  const pids = (opts.pid ?? []).map((p) => {
    if (!/^\d+$/.test(p)) throw new Error(`--pid must be a process id: ${p}`);
    if (procState(Number(p)) === null) throw new Error(`no process ${p}`);
    return Number(p);
  });
  const comms = opts.comm ?? [];
  const binaries: string[] = [];
  const containerPids: number[] = [];
  const notes: string[] = [];
  for (const b of opts.binaryPath ?? []) {
    const ref = dockerRef(b);
    if (ref !== null) {
      const c = resolveContainer(ref);
      binaries.push(...c.binaries);
      containerPids.push(...c.pids);
      notes.push(`container ${ref} (${c.id.slice(0, 12)}): ${c.pids.length} process(es), attaching to pid ${c.pid}: ${c.binaries.join(', ')}${c.families.length ? ` (${c.families.join(', ')})` : ' (no TLS symbols: byte patterns)'}`);
      continue;
    }
    const t = resolveTarget(b, { env: process.env });
    if (!t.binary) throw new Error(`--binary-path ${b}: ${t.reason ?? 'no binary resolved'}`);
    binaries.push(t.binary);
  }
  for (const pid of [...pids, ...scanProcesses({ files: false }).filter((p) => comms.includes(p.comm)).map((p) => p.pid)]) binaries.push(...processBinaries(pid));
  if (!pids.length && !comms.length && !containerPids.length) throw new Error('record needs -p <pid>, -c <comm> or --binary-path docker://<container>');
  const traced = pids.length || comms.length ? pids : containerPids;
  const filters = [...traced.flatMap((p) => ['--pid', String(p)]), ...comms.flatMap((c) => ['--comm', c])];
  for (const n of notes) process.stderr.write(`[agentsight] ${n}\n`);
  const unique = [...new Set(binaries)];
  const label = `${filters.join(' ')}${unique.length ? ` (binaries: ${unique.join(', ')})` : ''}`;
  return captureInForeground({ filters, binaries: unique, label, untilExit: pids.length ? pids : [] }, opts);
}
