/**
 * Audit records (`audit_events`): the CLI's and `/api/audit`'s list, the audit summary, the processes page
 * (`/api/processes`, keyset-paged) and the audit windows of the call and session pages, each with the causal links
 * of `links.ts` (which tool use led to an exec, a file open or a connect). Read with `FINAL`, or counting distinct ids
 * (`uniqExact(id)`) where a `FINAL` would merge more than the query needs; parameters bound server-side; times ISO 8601
 * UTC (ms).
 */
import type { AuditType, Page } from '@agentsight/contracts';
import type { ClickHouseClient } from '@clickhouse/client';
import { descendantPids } from '../agents';
import { linkActions, type Action, type CausalLink, type ProcessStart, type ToolWindow } from '../links';
import { toNs, type AuditRow } from '../rows';
import { DEFAULT_DATABASE, EXEC_COMMAND, qualified, summaryContains } from '../schema';
import { encodeCursor, type NsRange } from './paging';
import { clampLimit, nsIso, type DbOption, type TimeInput } from './read';
import { addAfterCursor, addFilter, addSince, inRange, jsonObject, queryRows, rangeParams, sinceNs, usd, whereClause } from './sql';

/**
 * One stored audit record: its row with `ts` as ISO 8601 (UTC) and `details` parsed. Execs, file opens and connects
 * that a tool use of an agent caused carry `caused_by` (rules in `links.ts`): the tool use, its call id and the LLM
 * call that asked for it.
 */
export type AuditEntry = Omit<AuditRow, 'details'> & { details: Record<string, unknown>; caused_by?: CausalLink };

/** Filters of {@link listAudit}. */
export interface ListAuditOptions extends DbOption {
  /** Only records of this process. */
  pid?: number;
  /** Only this audit type (`llm` | `tool` | `process` | `file` | `net` | `capture`, contract `AUDIT_TYPES`). */
  type?: AuditType;
  /** Only records at or after this time (ISO 8601, `30m`, `2h`, `7d`, …; see {@link TimeInput}). */
  since?: TimeInput;
  /** Max rows (default 200), newest first. */
  limit?: number;
}

/**
 * WHERE conditions (and their bound parameters) of the audit filters: `pid`, `type` (only when `withType`) and `since`
 * (`sinceNs`, already resolved) on the time column `tsCol`.
 */
function auditFilters(f: { pid?: number; type?: AuditType; sinceNs: bigint | null }, tsCol: string, withType: boolean): { where: string[]; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  addFilter(where, params, 'pid = {pid:UInt32}', { pid: f.pid });
  addFilter(where, params, 'type = {type:String}', withType && { type: f.type });
  addSince(where, params, tsCol, f.sinceNs);
  return { where, params };
}

/** Audit records (at or after `since` when given), newest first. */
export async function listAudit(client: ClickHouseClient, opts: ListAuditOptions = {}): Promise<AuditEntry[]> {
  const database = opts.database ?? DEFAULT_DATABASE;
  const { where, params } = auditFilters({ pid: opts.pid, type: opts.type, sinceNs: sinceNs(opts.since) }, 'ts', true);
  params.limit = clampLimit(opts.limit, 200);
  const rows = await selectAudit(client, database, where, params, 'ts DESC, id');
  const entries = latestToolVersions(rows.map((e) => ({ row: e, details: e.details }))).map((x) => x.row);
  await linkEntries(client, database, entries);
  return entries.map(({ ts_ns: _ts, ...e }) => e);
}

/**
 * Of the rows of one `tool` audit record, keeps the one with the highest `details.version` (versions are stored apart
 * when a later one moved the record's ts: see `SORTING_KEYS` in schema.ts); every other row passes; order is kept.
 * Shape: `{ row: { id, type }, details: { version? } }[]` in, the same shape out.
 */
export function latestToolVersions<T extends { row: { id: string; type: string }; details: Record<string, unknown> }>(list: T[]): T[] {
  const best = new Map<string, T>();
  const version = (x: T) => (typeof x.details.version === 'number' ? x.details.version : 0);
  for (const x of list) {
    if (x.row.type !== 'tool') continue;
    const b = best.get(x.row.id);
    if (!b || version(x) > version(b)) best.set(x.row.id, x);
  }
  return list.filter((x) => x.row.type !== 'tool' || best.get(x.row.id) === x);
}

/** Tool uses and process starts this long before the oldest action are considered for its causal link, ns. */
const LINK_LOOKBACK_NS = 24n * 3600n * 1_000_000_000n;
/**
 * Tool uses recorded this long after the newest action are considered too, ns: a tool use's time is the end of the
 * response that asked for it, which a client may read only after the tool ran (see `links.ts`).
 */
const LINK_LOOKAHEAD_NS = 10n * 60n * 1_000_000_000n;

/** A ns value of an audit record's details ({@link toNs}), or null when absent or not an integer. */
function nsOrNull(v: unknown): bigint | null {
  if (v === null || v === undefined || v === '') return null;
  try {
    return toNs(v);
  } catch {
    return null;
  }
}

/** The subject an action is about, for matching tool arguments: the executed file, the opened path, the address. */
function actionSubject(e: { action: string; details: Record<string, unknown> }): string {
  const d = e.details;
  const argv = Array.isArray(d.argv) ? (d.argv as unknown[]) : [];
  return String((e.action === 'exec' ? d.filename || argv[0] : e.action === 'open' ? d.path : d.address) ?? '');
}

/**
 * Sets `caused_by` on the exec, open and connect entries a tool use caused ({@link linkActions}), reading the tool
 * uses, LLM calls (for tool uses whose start is unknown: the end of the agent's last LLM call before the result) and
 * process starts of the entries' hosts from `audit_events`, from {@link LINK_LOOKBACK_NS} before the oldest entry to
 * {@link LINK_LOOKAHEAD_NS} after the newest. Two reads: the window's `tool` and `llm` records (with their details);
 * then, only when some tool use has a start (else nothing can be linked), the window's process starts as
 * (host, pid, ppid, ts) without their details (a month of execs was read and JSON-parsed for nothing before).
 */
export async function linkEntries(client: ClickHouseClient, database: string, entries: Array<AuditEntry & { ts_ns: bigint }>): Promise<void> {
  const linkable = entries.filter((e) => (e.type === 'process' && e.action === 'exec') || e.type === 'file' || e.type === 'net');
  if (!linkable.length) return;
  const hosts = [...new Set(linkable.map((e) => e.host))];
  const from = linkable.reduce((m, e) => (e.ts_ns < m ? e.ts_ns : m), linkable[0].ts_ns) - LINK_LOOKBACK_NS;
  const to = linkable.reduce((m, e) => (e.ts_ns > m ? e.ts_ns : m), linkable[0].ts_ns);
  const window = { hosts, from: from.toString(), to: (to + LINK_LOOKAHEAD_NS).toString() };
  const inWindow = "host IN {hosts:Array(String)} AND ts >= fromUnixTimestamp64Nano({from:Int64}, 'UTC') AND ts <= fromUnixTimestamp64Nano({to:Int64}, 'UTC')";
  type R = { id: string; type: string; action: string; host: string; ts_ns: string; pid: number; ppid: number; details: string };
  const related = await queryRows<R>(
    client,
    `SELECT id, type, action, host, toString(toUnixTimestamp64Nano(ts)) AS ts_ns, pid, ppid, details
     FROM ${qualified(database, 'audit_events')} FINAL WHERE ${inWindow} AND type IN ('tool', 'llm')`,
    window,
  );
  const llmEnds = new Map<string, bigint[]>();
  const llmStart = new Map<string, bigint>();
  const tools: ToolWindow[] = [];
  for (const { row: r, details: d } of latestToolVersions(related.map((row) => ({ row, details: jsonObject(row.details) })))) {
    const ts = BigInt(r.ts_ns);
    if (r.type === 'llm') {
      const k = `${r.host}\u001f${r.pid}`;
      llmEnds.set(k, [...(llmEnds.get(k) ?? []), ts + BigInt(Math.trunc(Number(d.duration_ns ?? 0)))]);
      if (typeof d.llm_call_id === 'string') llmStart.set(d.llm_call_id, ts);
    } else {
      tools.push({
        id: String(d.tool_use_id ?? d.id ?? r.id), host: r.host, pid: Number(d.pid ?? r.pid), start_ns: nsOrNull(d.start_ns), end_ns: nsOrNull(d.end_ns),
        name: String(d.name ?? ''), call_id: (d.call_id as string | null) ?? null, arguments: String(d.arguments ?? ''),
        origin_llm_call_id: (d.origin_llm_call_id as string | null) ?? null,
      });
    }
  }
  for (const t of tools) {
    if (t.origin_llm_call_id) t.open_ns = llmStart.get(t.origin_llm_call_id) ?? null;
    if (t.start_ns !== null || t.end_ns === null) continue;
    const before = (llmEnds.get(`${t.host}\u001f${t.pid}`) ?? []).filter((e) => e <= t.end_ns!);
    if (before.length) t.start_ns = before.reduce((m, e) => (e > m ? e : m));
  }
  // linkActions considers only tool uses with a start: without one there is nothing to link to.
  if (!tools.some((t) => t.start_ns !== null)) return;
  // Copies of a start are the same (host, pid, ppid, ts), so reading them without FINAL gives the same tree.
  const starts = (await queryRows<{ host: string; pid: number; ppid: number; ts_ns: string }>(
    client,
    `SELECT host, pid, ppid, toString(toUnixTimestamp64Nano(ts)) AS ts_ns FROM ${qualified(database, 'audit_events')}
     WHERE ${inWindow} AND type = 'process' AND action IN ('exec', 'snapshot')`,
    window,
  )).map((r): ProcessStart => ({ host: r.host, pid: Number(r.pid), ppid: Number(r.ppid), ts_ns: BigInt(r.ts_ns) }));
  const actions: Action[] = linkable.map((e) => ({ id: e.id, host: e.host, pid: e.pid, ppid: e.ppid, ts_ns: e.ts_ns, subject: actionSubject(e) }));
  const links = linkActions(actions, tools, starts);
  for (const e of linkable) {
    const l = links.get(e.id);
    if (l) e.caused_by = l;
  }
}

/** Filters and list length of {@link auditSummary}. */
export interface AuditSummaryOptions extends DbOption {
  /** Only this process. */
  pid?: number;
  /** Only audit records of this type (the LLM section ignores it: see {@link AuditSummary.llm}). */
  type?: AuditType;
  /** Only records at or after this time (ISO 8601, `30m`, `2h`, `7d`, …; see {@link TimeInput}). */
  since?: TimeInput;
  /** Length of the `top_commands` / `top_connects` lists (default 10). */
  top?: number;
  /** Reference "now" in ms for a relative `since` (tests); default Date.now(). */
  now?: number;
}

/** LLM usage in the window of an {@link AuditSummary} (tokens are counts, costs USD at list prices). */
export interface AuditLlmTotals {
  /** LLM calls (rows of `llm_calls`). */
  calls: number;
  /** Sum of input tokens (includes cached input); calls without a count add 0. */
  input_tokens: number;
  /** Sum of output tokens; calls without a count add 0. */
  output_tokens: number;
  /** Sum of `cost_usd` over the priced calls; null when there are calls but none is priced (never $0 for unknown); 0 with no calls. */
  cost_usd: number | null;
  /** Calls with a cost. */
  priced_calls: number;
  /** Calls without a cost (unknown model or price, or stored before costs existed): not in `cost_usd`. */
  unpriced_calls: number;
}

/**
 * `agentsight audit --summary` (`GET /api/audit/summary`): one summary of the audit records matching the filters.
 * Lists are sorted by count (descending), then name.
 */
export interface AuditSummary {
  /** The filters applied: `since` resolved to ISO 8601 UTC (ms precision), null when absent. */
  filters: { pid: number | null; type: AuditType | null; since: string | null };
  /** Audit records matching the filters. */
  total: number;
  /** Record count per type (`llm` | `process` | `file` | `net`). */
  by_type: Array<{ type: string; count: number }>;
  /** Record count per (type, action), e.g. `process`/`exec`, `net`/`connect`. */
  by_action: Array<{ type: string; action: string; count: number }>;
  /**
   * Most executed commands (process `exec` records): the basename of `details.argv[0]`, else of `details.filename`
   * (`?` when both are empty), at most `top`.
   */
  top_commands: Array<{ command: string; count: number }>;
  /**
   * Most frequent connect() targets (net `connect` records, `details.target`: `host:port`, `[v6]:port`,
   * `unix:<path>`), at most `top`; `failed` = how many returned an error other than `EINPROGRESS`.
   */
  top_connects: Array<{ target: string; count: number; failed: number }>;
  /** LLM calls per provider (`gen_ai.provider.name`) from `llm_calls`, same pid/since (the `type` filter is not applied). */
  providers: Array<{ provider: string; calls: number }>;
  /** Token and cost totals of the LLM calls (`llm_calls`) that started in the window, same pid/since (`type` not applied). */
  llm: AuditLlmTotals;
}

/**
 * One summary over the audit records matching `pid` / `type` / `since` (see {@link AuditSummary}): counts per type and
 * action, top executed commands and connect targets, and the LLM providers, tokens and cost (`llm_calls`, filtered by
 * `pid` / `since` only). Throws on an unparseable `since`.
 */
export async function auditSummary(client: ClickHouseClient, opts: AuditSummaryOptions = {}): Promise<AuditSummary> {
  const db = opts.database ?? DEFAULT_DATABASE;
  const top = clampLimit(opts.top, 10);
  const since = sinceNs(opts.since, opts.now);
  const f = { pid: opts.pid, type: opts.type, sinceNs: since };
  const audit = auditFilters(f, 'ts', true);
  const llm = auditFilters(f, 'start_time', false);
  const auditTable = qualified(db, 'audit_events');
  const and = (extra: string[]) => `WHERE ${[...audit.where, ...extra].join(' AND ')}`;

  const actions = await queryRows<{ type: string; action: string; count: string }>(
    client,
    // Without FINAL (a whole-table merge when no `since` narrows it): distinct ids count each record once all the same.
    `SELECT type, action, uniqExact(id) AS count FROM ${auditTable}
     ${whereClause(audit.where)}
     GROUP BY type, action ORDER BY count DESC, type, action`,
    audit.params,
  );
  const commands = await queryRows<{ command: string; count: string }>(
    client,
    `SELECT ${EXEC_COMMAND} AS command, uniqExact(id) AS count
     FROM ${auditTable}
     ${and(["type = 'process'", "action = 'exec'"])}
     GROUP BY command ORDER BY count DESC, command LIMIT {top:UInt32}`,
    { ...audit.params, top },
  );
  const connects = await queryRows<{ target: string; count: string; failed: string }>(
    client,
    `SELECT JSONExtractString(details, 'target') AS target, uniqExact(id) AS count,
            uniqExactIf(id, JSONExtractInt(details, 'result') < 0 AND JSONExtractString(details, 'errno') != 'EINPROGRESS') AS failed
     FROM ${auditTable}
     ${and(["type = 'net'", "action = 'connect'"])}
     GROUP BY target ORDER BY count DESC, target LIMIT {top:UInt32}`,
    { ...audit.params, top },
  );
  const providers = await queryRows<{ provider: string; calls: string; input_tokens: string; output_tokens: string; cost_sum: number; unpriced: string }>(
    client,
    `SELECT provider, count() AS calls, sum(coalesce(input_tokens, 0)) AS input_tokens, sum(coalesce(output_tokens, 0)) AS output_tokens,
            sum(coalesce(cost_usd, 0)) AS cost_sum, countIf(cost_usd IS NULL) AS unpriced
     FROM ${qualified(db, 'llm_calls')} FINAL
     ${whereClause(llm.where)}
     GROUP BY provider ORDER BY calls DESC, provider`,
    llm.params,
  );

  const byType = new Map<string, number>();
  for (const a of actions) byType.set(a.type, (byType.get(a.type) ?? 0) + Number(a.count));
  const totals: AuditLlmTotals = { calls: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0, priced_calls: 0, unpriced_calls: 0 };
  let cost = 0;
  for (const p of providers) {
    totals.calls += Number(p.calls);
    totals.input_tokens += Number(p.input_tokens);
    totals.output_tokens += Number(p.output_tokens);
    totals.unpriced_calls += Number(p.unpriced);
    cost += Number(p.cost_sum);
  }
  totals.priced_calls = totals.calls - totals.unpriced_calls;
  totals.cost_usd = totals.calls === 0 ? 0 : totals.priced_calls === 0 ? null : usd(cost);
  return {
    filters: { pid: opts.pid ?? null, type: opts.type ?? null, since: since === null ? null : nsIso(since) },
    total: [...byType.values()].reduce((a, b) => a + b, 0),
    by_type: [...byType].map(([type, count]) => ({ type, count })).sort((a, b) => b.count - a.count || a.type.localeCompare(b.type)),
    by_action: actions.map((a) => ({ type: a.type, action: a.action, count: Number(a.count) })),
    top_commands: commands.map((c) => ({ command: c.command || '?', count: Number(c.count) })),
    top_connects: connects.map((c) => ({ target: c.target || '?', count: Number(c.count), failed: Number(c.failed) })),
    providers: providers.map((p) => ({ provider: p.provider, calls: Number(p.calls) })),
    llm: totals,
  };
}

/**
 * Audit records of one host in `[fromNs, toNs]` (optionally of some types and pids), oldest first, at most `limit`
 * (default 5000), with causal links set.
 */
export async function auditWindow(
  client: ClickHouseClient,
  database: string,
  w: { host?: string; fromNs: bigint; toNs: bigint; types?: string[]; pids?: number[]; limit?: number },
): Promise<AuditEntry[]> {
  const where = ["ts >= fromUnixTimestamp64Nano({from:Int64}, 'UTC')", "ts <= fromUnixTimestamp64Nano({to:Int64}, 'UTC')"];
  const params: Record<string, unknown> = { from: w.fromNs.toString(), to: w.toNs.toString(), limit: w.limit ?? 5000 };
  addFilter(where, params, 'host = {host:String}', { host: w.host });
  addFilter(where, params, 'type IN {types:Array(String)}', { types: w.types });
  addFilter(where, params, '(pid IN {pids:Array(UInt32)} OR ppid IN {pids:Array(UInt32)})', { pids: w.pids });
  return linked(client, database, await selectAudit(client, database, where, params, 'ts ASC, id'));
}

/**
 * Audit rows matching `where` (SQL conditions over `audit_events` columns, none = all; parameters bound from `params`,
 * which must hold `limit`), in `order` (an ORDER BY list, never user text), at most `{limit}`, without causal links
 * (see {@link linked}): `ts` as ISO 8601 and `ts_ns` as bigint ns, `details` parsed (`{}` when not a JSON object). The
 * one mapping of a stored audit record.
 */
async function selectAudit(client: ClickHouseClient, database: string, where: string[], params: Record<string, unknown>, order: string): Promise<Array<AuditEntry & { ts_ns: bigint }>> {
  type R = { id: string; type: string; action: string; host: string; ts_ns: string; pid: number; ppid: number; comm: string; summary: string; details: string };
  const rs = await queryRows<R>(
    client,
    `SELECT id, type, action, host, toString(toUnixTimestamp64Nano(ts)) AS ts_ns, pid, ppid, comm, summary, details
     FROM ${qualified(database, 'audit_events')} FINAL ${whereClause(where)} ORDER BY ${order} LIMIT {limit:UInt32}`,
    params,
  );
  return rs.map(({ ts_ns, details, ...r }) => ({ ...r, pid: Number(r.pid), ppid: Number(r.ppid), ts: nsIso(ts_ns), ts_ns: BigInt(ts_ns), details: jsonObject(details) }) as AuditEntry & { ts_ns: bigint });
}

/** Sets the causal links of `entries` ({@link linkEntries}) and gives their `ts_ns` as text. */
async function linked(client: ClickHouseClient, database: string, entries: Array<AuditEntry & { ts_ns: bigint }>): Promise<AuditEntry[]> {
  await linkEntries(client, database, entries);
  return entries.map(({ ts_ns, ...e }) => ({ ...e, ts_ns: ts_ns.toString() }) as AuditEntry);
}

/** Filters of {@link pageAudit} (the processes page). */
export interface AuditFilters {
  /** Audit types; default process, file, net. */
  types?: string[];
  action?: string;
  pid?: number;
  comm?: string;
  /** Case-insensitive substring of the summary (argv, path, address). */
  q?: string;
  range?: NsRange;
}

/**
 * Look-back windows of {@link pageAudit}, ns: the newest page of a large table is read from the last hour first and
 * widened only while the window holds fewer rows than the page needs (`audit_events` is ordered by time, so a window
 * reads just its granules; the whole table is read only when the newest rows are that sparse).
 */
const NEWEST_FIRST_WINDOWS_NS = [3600n, 86_400n, 7n * 86_400n, 30n * 86_400n].map((s) => s * 1_000_000_000n);
/** A host's clock may run ahead of the reader's: the open-ended newest page starts this far after now, ns. */
const CLOCK_SKEW_NS = 86_400n * 1_000_000_000n;

/** `GET /api/processes`: one page of process/file/net audit records, newest first, keyset-paged on (ts, id). */
export async function pageAudit(client: ClickHouseClient, f: AuditFilters, page: { cursor?: string; limit: number }, database = DEFAULT_DATABASE): Promise<Page<AuditEntry>> {
  const where = ['type IN {types:Array(String)}'];
  const params: Record<string, unknown> = { types: f.types?.length ? f.types : ['process', 'file', 'net'], limit: page.limit + 1 };
  addFilter(where, params, 'action = {action:String}', { action: f.action });
  addFilter(where, params, '(pid = {pid:UInt32} OR ppid = {pid:UInt32})', { pid: f.pid });
  addFilter(where, params, 'comm = {comm:String}', { comm: f.comm });
  addFilter(where, params, summaryContains('q'), { q: f.q });
  addFilter(where, params, inRange('ts'), f.range && rangeParams(f.range));
  let upper = f.range ? f.range.toNs : BigInt(Date.now()) * 1_000_000n + CLOCK_SKEW_NS;
  const after = addAfterCursor(where, params, 'ts', 'id', page.cursor);
  if (after) upper = BigInt(after.ns);
  const floor = f.range?.fromNs ?? null;
  // A search's matches are sparse: after the last hour, widening step by step would scan most of the table several
  // times, so it goes to the whole range at once.
  const windows = f.q ? [NEWEST_FIRST_WINDOWS_NS[0], null] : [...NEWEST_FIRST_WINDOWS_NS, null];
  let rows: Array<AuditEntry & { ts_ns: bigint }> = [];
  for (const w of windows) {
    const from = w === null ? floor : floor === null || upper - w > floor ? upper - w : floor;
    rows = from === null
      ? await selectAudit(client, database, where, params, 'ts DESC, id')
      : await selectAudit(client, database, [...where, "ts >= fromUnixTimestamp64Nano({wfrom:Int64}, 'UTC')"], { ...params, wfrom: from.toString() }, 'ts DESC, id');
    if (rows.length > page.limit || from === floor) break;
  }
  const more = rows.length > page.limit;
  const out = await linked(client, database, rows.slice(0, page.limit));
  const last = out[out.length - 1] as (AuditEntry & { ts_ns?: string }) | undefined;
  return { items: out, next_cursor: more && last ? encodeCursor(last.ts_ns!, last.id) : null };
}

/** The audit records of `pid` and its descendants (by exec/fork parentage seen in the records). */
export function descendantsOf(pid: number, entries: AuditEntry[]): AuditEntry[] {
  const tree = descendantPids(pid, entries);
  return entries.filter((e) => tree.has(e.pid));
}
