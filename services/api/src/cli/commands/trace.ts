/** `agentsight trace`: capture system-wide, filtered, or of the agents the discovery rules find, until Ctrl-C. */
import type { Command } from 'commander';
import { join } from 'node:path';
import { captureInForeground, probeCommon, runEnv, statsWarning, type ExecOffer, type ExportFlags, withExportFlags } from '../capture';
import { traceDaemon } from '../daemon';
import { processBinaries } from '../container';
import { loadRules } from '../discover/command';
import { discover, evaluate, isOwnProcess, type ProcessInfo } from '../discover/rules';
import { readProcess, scanProcesses } from '../discover/scan';
import { dataDirOption } from '../options';
import { dataDir, repoRoot } from '../paths';

/** Registers `trace`. */
export function registerTrace(p: Command): void {
  dataDirOption(withExportFlags(p.command('trace'))).description('capture system-wide (or filtered) until Ctrl-C')
    .option('--discover', 'trace the AI agents the discovery rules find, running now or started later')
    .option('--rules <file>', 'with --discover: user rules (JSON) merged over the built-in ones (default <data dir>/rules.json if present)')
    .option('--pid <pid...>', 'trace these pids and their descendants')
    .option('--comm <name...>', 'trace processes with this command name')
    .option('--daemon', 'as a service (unit agentsight-probe.service): only the probe, into the pipeline already running (agentsight.target or serve), never starting stages; until SIGTERM, exit 1 if the probe ends by itself')
    .action(async (o) => process.exit(await traceCommand(o)));
}

/** `agentsight trace`: the pipeline in the foreground, system-wide or filtered, until Ctrl-C. */
export async function traceCommand(opts: { dataDir?: string; pid?: string[]; comm?: string[]; discover?: boolean; rules?: string; daemon?: boolean } & ExportFlags): Promise<number> {
  const filters = [...(opts.pid ?? []).flatMap((p) => ['--pid', p]), ...(opts.comm ?? []).flatMap((c) => ['--comm', c])];
  // System-wide, the agents found running by the discovery rules are the sampled roots (resources/agent-watch.ts).
  const { rules, userFile } = loadRules(opts.rules, dataDir(process.env, opts.dataDir));
  const sampleAgents = filters.length ? undefined : rules;
  if (opts.daemon) {
    if (opts.discover) throw new Error('--daemon traces system-wide or by --pid/--comm; --discover needs a terminal session');
    const env = runEnv(dataDir(process.env, opts.dataDir));
    return traceDaemon({
      probeArgs: [...filters, ...probeCommon(env)], label: filters.length ? filters.join(' ') : 'system-wide', env, logDir: join(env.AGENTSIGHT_DATA_DIR!, 'logs'),
      say: (s) => process.stderr.write(`[agentsight] ${s}\n`), onStats: statsWarning, sampleAgents,
    });
  }
  if (!opts.discover) return captureInForeground({ filters, binaries: [], label: filters.length ? filters.join(' ') : 'system-wide', untilExit: [], sampleAgents }, opts);
  const self = { pid: process.pid, root: repoRoot() };
  const { found } = discover(rules, scanProcesses({ files: true }), (p) => isOwnProcess(p, self));
  for (const d of found) process.stderr.write(`[agentsight] tracing ${d.verdict.agent} (pid ${d.process.pid}, rule ${d.verdict.rule.id})\n`);
  const label = `discovered agents (${found.length} running${userFile ? `, rules ${userFile}` : ''}) and the ones that start`;
  return captureInForeground({
    filters: [...filters, ...found.flatMap((d) => ['--pid', String(d.process.pid)]), '--follow-exec'],
    binaries: [...new Set(found.flatMap((d) => processBinaries(d.process.pid)))],
    label,
    untilExit: [],
    offer: (o) => {
      const v = evaluate(rules, offeredProcess(o));
      if (v.agent) process.stderr.write(`[agentsight] tracing ${v.agent} (pid ${o.pid}, rule ${v.rule!.id}): ${o.argv.join(' ')}\n`);
      return Boolean(v.agent);
    },
  }, opts);
}

/** What the discovery rules see of an offered process: the offer, with the resolved exe and cwd from /proc when readable. */
function offeredProcess(o: ExecOffer): ProcessInfo {
  const live = readProcess(o.pid, { files: false });
  return { pid: o.pid, ppid: o.ppid, uid: o.uid, comm: o.comm, exe: live?.exe ?? o.filename, argv: o.argv.length ? o.argv : live?.argv ?? [], cwd: live?.cwd ?? null };
}
