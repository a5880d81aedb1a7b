/**
 * Discovery rules: parsing, merging and matching. Pure functions over plain {@link ProcessInfo} objects — nothing here
 * touches /proc (see `scan.ts` for that).
 *
 * ## Rule format
 * A rules file is JSON: either `{"rules": [Rule, ...]}` or a bare array of rules. A rule:
 *
 * ```json
 * { "id": "claude-code.node", "agent": "Claude Code", "action": "allow",
 *   "exe": ["*\/node", "*\/bun"], "arg": "*\/@anthropic-ai/claude-code/*", "description": "…" }
 * ```
 * - `id` (required, unique): a user rule with the id of a built-in rule replaces it entirely.
 * - `action`: `"allow"` (default) reports a matching process as `agent`; `"deny"` suppresses it.
 * - `agent`: the agent's name. Required for allow rules. For deny rules it names the agent whose allow matches are
 *   suppressed; `"*"` (the default) suppresses the process whatever matched it.
 * - `disabled: true` switches a rule off; `{"id": "<built-in id>", "disabled": true}` alone (no agent, no matchers)
 *   switches off that built-in rule.
 * - Matchers — each a glob or an array of globs (any of them may match); every matcher present must match (AND);
 *   at least one is required (except in a disabled rule):
 *   - `comm`: the kernel's command name (`/proc/<pid>/comm`, at most 15 characters);
 *   - `exe`: the resolved executable path (`/proc/<pid>/exe`); never matches when unreadable;
 *   - `cmdline`: the arguments joined with single spaces;
 *   - `arg`: any single argument (argv[0] included);
 *   - `file`: any file mapped into the process (`/proc/<pid>/maps`) or open by it (`/proc/<pid>/fd`).
 *
 * ## Glob semantics
 * Globs match the WHOLE string (anchored), case-sensitively. `*` matches any run of characters, `/` and spaces
 * included (these are command lines, not just paths; `**` is the same as `*`); `?` matches one character;
 * `[abc]`, `[a-z]` a character class, `[!abc]` or `[^abc]` its negation; `{a,b,c}` any of the alternatives
 * (nestable, alternatives may be empty: `{,x}`); `\` escapes the next character. Substring search is `*foo*`.
 *
 * ## Evaluation
 * Kernel threads and zombies (empty argv) never match. For a process, every enabled rule is tried. If a deny rule
 * with agent `"*"` matches, the process is not reported. Otherwise allow matches whose agent is named by a matching
 * deny rule are dropped, and the first remaining allow rule (in merged order) names the agent. Deny always wins.
 *
 * ## Merging
 * `mergeRules(builtin, user)`: user rules whose id is a built-in id replace that rule in place; the other user rules
 * come first, so they take precedence over the built-in ones when several allow rules match.
 */

/** What the matcher knows about one process. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Real uid. */
  uid: number;
  comm: string;
  /** Resolved executable path, or null when unreadable (other users' processes without privileges, kernel threads). */
  exe: string | null;
  argv: string[];
  /** Working directory, or null when unreadable. */
  cwd?: string | null;
  /** Paths mapped into the process or open by it; undefined when not collected. */
  files?: string[];
  /** What could not be read about the process (e.g. `exe`, `maps`, `fd`), for `--verbose`. */
  unreadable?: string[];
}

/** The matcher fields of a rule, in the order explanations list them. */
export const MATCH_FIELDS = ['comm', 'exe', 'cmdline', 'arg', 'file'] as const;
/** One matcher field name. */
export type MatchField = (typeof MATCH_FIELDS)[number];

/** A validated rule (matchers normalized to arrays). */
export interface Rule {
  id: string;
  agent: string;
  action: 'allow' | 'deny';
  description?: string;
  disabled?: boolean;
  comm?: string[];
  exe?: string[];
  cmdline?: string[];
  arg?: string[];
  file?: string[];
  /** Where the rule comes from: `builtin` or the rules file's path. */
  source: string;
}

/** The JSON shape of a rule as written in a rules file (matchers may be a single glob). */
export type RuleInput = Omit<Rule, MatchField | 'source' | 'action' | 'agent'> & {
  action?: 'allow' | 'deny';
  agent?: string;
} & Partial<Record<MatchField, string | string[]>>;

/** A rule file or glob that cannot be used; the message says where. */
export class RulesError extends Error {}

const compiled = new Map<string, RegExp>();

/**
 * Compiles a glob (semantics in this module's header) to an anchored RegExp. Throws {@link RulesError} on an
 * unclosed `{`. Results are cached.
 */
export function globToRegExp(glob: string): RegExp {
  const hit = compiled.get(glob);
  if (hit) return hit;
  let re = '';
  let depth = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '\\' && i + 1 < glob.length) re += escape(glob[++i]);
    else if (c === '*') {
      while (glob[i + 1] === '*') i++;
      re += '[\\s\\S]*';
    } else if (c === '?') re += '[\\s\\S]';
    else if (c === '[') {
      const end = classEnd(glob, i);
      if (end < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, end);
        const negate = body[0] === '!' || body[0] === '^';
        if (negate) body = body.slice(1);
        re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => '\\' + m)}]`;
        i = end;
      }
    } else if (c === '{') {
      depth++;
      re += '(?:';
    } else if (c === '}' && depth > 0) {
      depth--;
      re += ')';
    } else if (c === ',' && depth > 0) re += '|';
    else re += escape(c);
  }
  if (depth > 0) throw new RulesError(`glob ${JSON.stringify(glob)}: unclosed "{"`);
  const out = new RegExp(`^${re}$`);
  compiled.set(glob, out);
  return out;
}

/** Index of the `]` closing the class opened at `open`, or -1 (a `]` right after `[`, `[!` or `[^` is literal). */
function classEnd(glob: string, open: number): number {
  let i = open + 1;
  if (glob[i] === '!' || glob[i] === '^') i++;
  if (glob[i] === ']') i++;
  const end = glob.indexOf(']', i);
  return end;
}

function escape(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** Whether `value` matches `glob` (whole-string, see the module header). */
export function globMatch(glob: string, value: string): boolean {
  return globToRegExp(glob).test(value);
}

const RULE_KEYS = new Set(['id', 'agent', 'action', 'description', 'disabled', ...MATCH_FIELDS]);

/**
 * Validates the JSON of a rules file (`{"rules": [...]}` or `[...]`) into rules tagged with `source`. Unknown keys,
 * missing ids, duplicate ids, rules without a matcher, bad globs and allow rules without an agent are errors
 * ({@link RulesError}, naming the source and the rule).
 */
export function parseRules(json: unknown, source: string): Rule[] {
  const list = Array.isArray(json) ? json : json && typeof json === 'object' && Array.isArray((json as { rules?: unknown }).rules) ? (json as { rules: unknown[] }).rules : null;
  if (!list) throw new RulesError(`${source}: expected {"rules": [...]} or an array of rules`);
  const seen = new Set<string>();
  return list.map((raw, i) => {
    const where = `${source}: rule #${i + 1}`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new RulesError(`${where}: not an object`);
    const r = raw as Record<string, unknown>;
    if (typeof r.id !== 'string' || !r.id) throw new RulesError(`${where}: "id" must be a non-empty string`);
    const at = `${source}: rule "${r.id}"`;
    for (const k of Object.keys(r)) if (!RULE_KEYS.has(k)) throw new RulesError(`${at}: unknown key "${k}" (known: ${[...RULE_KEYS].join(', ')})`);
    if (seen.has(r.id)) throw new RulesError(`${at}: duplicate id`);
    seen.add(r.id);
    const action = r.action ?? 'allow';
    if (action !== 'allow' && action !== 'deny') throw new RulesError(`${at}: "action" must be "allow" or "deny"`);
    if (r.agent !== undefined && (typeof r.agent !== 'string' || !r.agent)) throw new RulesError(`${at}: "agent" must be a non-empty string`);
    if (action === 'allow' && !r.disabled && (r.agent === undefined || r.agent === '*')) throw new RulesError(`${at}: an allow rule needs an "agent" name`);
    if (r.description !== undefined && typeof r.description !== 'string') throw new RulesError(`${at}: "description" must be a string`);
    if (r.disabled !== undefined && typeof r.disabled !== 'boolean') throw new RulesError(`${at}: "disabled" must be true or false`);
    const rule: Rule = { id: r.id, agent: (r.agent as string | undefined) ?? '*', action, source };
    if (r.description !== undefined) rule.description = r.description as string;
    if (r.disabled !== undefined) rule.disabled = r.disabled as boolean;
    for (const f of MATCH_FIELDS) {
      const v = r[f];
      if (v === undefined) continue;
      const globs = typeof v === 'string' ? [v] : v;
      if (!Array.isArray(globs) || !globs.length || globs.some((g) => typeof g !== 'string')) throw new RulesError(`${at}: "${f}" must be a glob or a non-empty array of globs`);
      try {
        globs.forEach((g) => globToRegExp(g));
      } catch (e) {
        throw new RulesError(`${at}: "${f}": ${(e as Error).message}`);
      }
      rule[f] = [...globs];
    }
    if (!rule.disabled && !MATCH_FIELDS.some((f) => rule[f])) throw new RulesError(`${at}: needs at least one of ${MATCH_FIELDS.join(', ')}`);
    return rule;
  });
}

/**
 * User rules over built-in ones: a user rule with a built-in id replaces that rule in place; the other user rules
 * are put first (in their order), so they win over built-in allow rules. `{"id": <built-in id>, "disabled": true}`
 * alone switches a built-in rule off (kept, marked disabled, for listing).
 */
export function mergeRules(builtin: Rule[], user: Rule[]): Rule[] {
  const byId = new Map(user.map((r) => [r.id, r]));
  const builtinIds = new Set(builtin.map((r) => r.id));
  const over = (b: Rule, u: Rule | undefined): Rule => (!u ? b : u.disabled && !MATCH_FIELDS.some((f) => u[f]) ? { ...b, disabled: true, source: u.source } : u);
  return [...user.filter((r) => !builtinIds.has(r.id) && !(r.disabled && !MATCH_FIELDS.some((f) => r[f]))), ...builtin.map((r) => over(r, byId.get(r.id)))];
}

/** One satisfied matcher: which field, which glob, which value of the process (for `arg`/`file`, the first match). */
export interface FieldMatch {
  field: MatchField;
  glob: string;
  value: string;
}

/** A rule that matched a process, with its satisfied matchers. */
export interface RuleMatch {
  rule: Rule;
  fields: FieldMatch[];
}

/** The outcome for one process. `agent`/`rule` are set when it is reported. */
export interface Verdict {
  agent?: string;
  rule?: Rule;
  /** Every matching enabled allow rule, in merged order. */
  allows: RuleMatch[];
  /** Every matching enabled deny rule. */
  denies: RuleMatch[];
}

/** The command line as rules see it: arguments joined with single spaces. */
export function cmdlineOf(p: Pick<ProcessInfo, 'argv'>): string {
  return p.argv.join(' ');
}

/** Matches one rule against a process; returns the satisfied matchers, or null when any matcher fails. */
export function matchRule(rule: Rule, p: ProcessInfo): RuleMatch | null {
  if (!p.argv.length) return null;
  const fields: FieldMatch[] = [];
  for (const f of MATCH_FIELDS) {
    const globs = rule[f];
    if (!globs) continue;
    const values = f === 'comm' ? [p.comm] : f === 'exe' ? (p.exe === null ? [] : [p.exe]) : f === 'cmdline' ? [cmdlineOf(p)] : f === 'arg' ? p.argv : (p.files ?? []);
    let hit: FieldMatch | null = null;
    for (const glob of globs) {
      const value = values.find((v) => globMatch(glob, v));
      if (value !== undefined) {
        hit = { field: f, glob, value };
        break;
      }
    }
    if (!hit) return null;
    fields.push(hit);
  }
  return { rule, fields };
}

/** Evaluates all enabled rules against a process (precedence in this module's header). */
export function evaluate(rules: Rule[], p: ProcessInfo): Verdict {
  const allows: RuleMatch[] = [];
  const denies: RuleMatch[] = [];
  for (const rule of rules) {
    if (rule.disabled) continue;
    const m = matchRule(rule, p);
    if (m) (rule.action === 'allow' ? allows : denies).push(m);
  }
  if (denies.some((d) => d.rule.agent === '*')) return { allows, denies };
  const denied = new Set(denies.map((d) => d.rule.agent));
  const win = allows.find((a) => !denied.has(a.rule.agent));
  return win ? { agent: win.rule.agent, rule: win.rule, allows, denies } : { allows, denies };
}

/** A process reported as an agent. */
export interface Discovered {
  process: ProcessInfo;
  verdict: Verdict & { agent: string; rule: Rule };
}

/**
 * Runs {@link evaluate} over processes, skipping the ones `exclude` says are ours; returns the reported ones (in input
 * order) and, for explanations, the ones that an allow rule matched but a deny rule suppressed.
 */
export function discover(rules: Rule[], procs: ProcessInfo[], exclude: (p: ProcessInfo) => boolean = () => false): { found: Discovered[]; denied: Array<{ process: ProcessInfo; verdict: Verdict }> } {
  const found: Discovered[] = [];
  const denied: Array<{ process: ProcessInfo; verdict: Verdict }> = [];
  for (const p of procs) {
    if (exclude(p)) continue;
    const v = evaluate(rules, p);
    if (v.agent && v.rule) found.push({ process: p, verdict: v as Discovered['verdict'] });
    else if (v.allows.length) denied.push({ process: p, verdict: v });
  }
  return { found, denied };
}

/**
 * Whether a process belongs to agentsight itself: the given pid (the running CLI), or a process whose executable,
 * argv[0] or script (the first argument after argv[0] not starting with `-`; relative paths resolved against its cwd)
 * lies in agentsight's `services/` tree — the CLI entry `services/api/bin/agentsight.js`, the pipeline stages, the api
 * service and the probe. Other arguments do not count (a test runner given `services/…` as a filter is not ours).
 */
export function isOwnProcess(p: ProcessInfo, self: { pid: number; root: string }): boolean {
  if (p.pid === self.pid) return true;
  const services = self.root.replace(/\/+$/, '') + '/services/';
  const abs = (a: string) => (a.startsWith('/') || !p.cwd ? a : `${p.cwd.replace(/\/+$/, '')}/${a.replace(/^\.\//, '')}`);
  const script = p.argv.slice(1).find((a) => !a.startsWith('-'));
  return [p.exe, p.argv[0], script].some((x) => x !== null && x !== undefined && abs(x).startsWith(services));
}

/** One-line description of a rule's matchers, e.g. `exe=*\/node arg=*\/cli.js|*\/bin/claude`. */
export function describeMatchers(r: Rule): string {
  return MATCH_FIELDS.filter((f) => r[f]).map((f) => `${f}=${r[f]!.join('|')}`).join(' ');
}
