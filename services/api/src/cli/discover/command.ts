/**
 * `agentsight discover`: finds running AI agents by matching /proc against the discovery rules (built-in ones merged
 * with the user's `--rules FILE`, else `<data dir>/rules.json` when present).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { table } from '../format';
import { dataDir, repoRoot } from '../paths';
import { BUILTIN_RULES } from './builtin-rules';
import { cmdlineOf, describeMatchers, discover, Discovered, isOwnProcess, MATCH_FIELDS, mergeRules, parseRules, ProcessInfo, Rule, RuleMatch, RulesError } from './rules';
import { scanProcesses } from './scan';

/** Options of the `discover` command. */
export interface DiscoverOptions {
  listKnown?: boolean;
  verbose?: boolean;
  json?: boolean;
  rules?: string;
  dataDir?: string;
}

/** A discovered agent process as printed by `--json`. */
export interface DiscoveredJson {
  pid: number;
  ppid: number;
  uid: number;
  agent: string;
  comm: string;
  exe: string | null;
  cmdline: string;
  rule: string;
  /** With `--verbose`: why the rule matched, one entry per matcher. */
  why?: string[];
}

/** The built-in rules, validated. */
export function builtinRules(): Rule[] {
  return parseRules(BUILTIN_RULES, 'builtin');
}

/**
 * The effective rules: built-in ones merged with the user's file — `rulesFile` when given, else `AGENTSIGHT_RULES`
 * (config key `rules`; either must exist), else `<dataDir>/rules.json` when it exists. Returns the rules and the user file used (if any).
 */
export function loadRules(rulesFile: string | undefined, dir: string): { rules: Rule[]; userFile: string | null } {
  rulesFile ||= process.env.AGENTSIGHT_RULES || undefined;
  const file = rulesFile ? resolve(rulesFile) : join(dir, 'rules.json');
  if (!rulesFile && !existsSync(file)) return { rules: builtinRules(), userFile: null };
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RulesError(`cannot read rules file ${file}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new RulesError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  return { rules: mergeRules(builtinRules(), parseRules(json, file)), userFile: file };
}

/** Human-readable reasons of a rule match, e.g. `arg "/x/cli.js" matches "*\/cli.js"`. */
export function explain(m: RuleMatch): string[] {
  return m.fields.map((f) => `${f.field} ${JSON.stringify(f.value)} matches ${JSON.stringify(f.glob)}`);
}

function toJson(d: Discovered, verbose: boolean | undefined): DiscoveredJson {
  const p = d.process;
  const out: DiscoveredJson = { pid: p.pid, ppid: p.ppid, uid: p.uid, agent: d.verdict.agent, comm: p.comm, exe: p.exe, cmdline: cmdlineOf(p), rule: d.verdict.rule.id };
  if (verbose) out.why = explain(d.verdict.allows.find((a) => a.rule === d.verdict.rule)!);
  return out;
}

/** Runs the command; returns the exit code (0; errors are thrown). Output goes to `out` (stdout by default). */
export function discoverCommand(o: DiscoverOptions, out: (s: string) => void = (s) => process.stdout.write(s)): number {
  const { rules, userFile } = loadRules(o.rules, dataDir(process.env, o.dataDir));
  if (o.listKnown) {
    if (o.json) out(JSON.stringify(rules, null, 2) + '\n');
    else {
      const cols: Array<[string, (r: Rule) => unknown]> = [['agent', (r) => r.agent], ['rule', (r) => r.id], ['action', (r) => r.action + (r.disabled ? ' (disabled)' : '')], ['match', describeMatchers]];
      if (userFile) cols.push(['source', (r) => r.source]);
      if (o.verbose) cols.push(['description', (r) => r.description]);
      out(table(rules, cols) + '\n');
    }
    return 0;
  }
  const procs = scanProcesses({ files: rules.some((r) => !r.disabled && r.file) });
  const self = { pid: process.pid, root: repoRoot() };
  const { found, denied } = discover(rules, procs, (p) => isOwnProcess(p, self));
  if (o.json) {
    out(JSON.stringify(found.map((d) => toJson(d, o.verbose)), null, 2) + '\n');
    return 0;
  }
  out((found.length ? table(found, [['pid', (d) => d.process.pid], ['agent', (d) => d.verdict.agent], ['comm', (d) => d.process.comm], ['exe', (d) => d.process.exe], ['rule', (d) => d.verdict.rule.id]]) : '(no agents found)') + '\n');
  if (o.verbose) out(verboseReport(found, denied, procs, userFile));
  return 0;
}

function verboseReport(found: Discovered[], denied: Array<{ process: ProcessInfo; verdict: { allows: RuleMatch[]; denies: RuleMatch[] } }>, procs: ProcessInfo[], userFile: string | null): string {
  const lines: string[] = [''];
  for (const d of found) {
    const win = d.verdict.allows.find((a) => a.rule === d.verdict.rule)!;
    lines.push(`pid ${d.process.pid} (${d.process.comm}) is ${d.verdict.agent}: rule ${win.rule.id} [${win.rule.source}]: ${explain(win).join('; ')}`);
    lines.push(`    cmdline: ${cmdlineOf(d.process)}`);
    for (const a of d.verdict.allows) if (a !== win) lines.push(`    also matched ${a.rule.id} (${a.rule.agent})${d.verdict.denies.some((x) => x.rule.agent === a.rule.agent) ? ' — denied' : ''}`);
  }
  for (const d of denied) {
    const by = d.verdict.denies.map((x) => `${x.rule.id} [${x.rule.source}]: ${explain(x).join('; ')}`).join(' | ');
    lines.push(`pid ${d.process.pid} (${d.process.comm}) not reported: matched ${d.verdict.allows.map((a) => a.rule.id).join(', ')} but denied by ${by}`);
  }
  const partial = procs.filter((p) => p.unreadable?.length);
  lines.push(`scanned ${procs.length} processes with ${userFile ? `built-in rules + ${userFile}` : 'the built-in rules'}`);
  if (partial.length) lines.push(`${partial.length} process(es) partly unreadable (${[...new Set(partial.flatMap((p) => p.unreadable!))].join(', ')}): exe/file rules cannot match them${process.getuid?.() === 0 ? ' (protected even from root)' : "; run as root to see other users' processes"}`);
  lines.push(`matchers: ${MATCH_FIELDS.join(', ')}; globs are anchored, "*" crosses "/"; a deny rule wins (agentsight discover --list-known shows the rules)`);
  return lines.join('\n') + '\n';
}
