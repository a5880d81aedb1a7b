/**
 * Agent sessions (`invoke_agent` spans of `genai_spans` with their conversation's calls, tool uses, audit records and
 * resource samples): the sessions page (`GET /api/agent-sessions`, keyset- or offset-paged, with each session's first
 * prompt and whether its agent still runs), one session's page (`GET /api/agent-sessions/:conversation`) and its
 * resource chart (`…/resources`). Read with `FINAL`; parameters bound server-side; times ISO 8601 UTC (ms).
 */
import type { Page } from '@agentsight/contracts';
import type { ClickHouseClient } from '@clickhouse/client';
import { requestMessages, type RequestMessage } from '../request-messages';
import { resourceSeries, withResources, type ResourceColumns, type ResourcePoint } from '../resources';
import { DEFAULT_DATABASE, qualified } from '../schema';
import { auditWindow, descendantsOf, type AuditEntry } from './audit';
import { selectCalls, type CallSummary } from './calls';
import { listGenAiSpans, type GenAiSpanEntry } from './genai-spans';
import { decodeOffsetCursor, encodeCursor, encodeOffsetCursor, type NsRange, type SortSpec } from './paging';
import { addAfterCursor, addFilter, MODEL, queryRows, rangeParams } from './sql';
import { listToolUses, type ToolUseEntry } from './tool-uses';

/** Sort keys of the sessions list (API `sort`) → expression over `genai_spans`; default `last_activity`. */
export const SESSION_SORTS: Record<string, string> = {
  last_activity: 'coalesce(end_time, start_time)', first_activity: 'coalesce(start_time, end_time)', cost: 'cost_usd',
  tokens: 'input_tokens + output_tokens', llm_calls: 'llm_calls', tool_uses: 'tool_uses', tool_errors: 'tool_errors', duration: 'duration_ms',
};

/** Filters of {@link pageSessions}. */
export interface SessionFilters {
  agent?: string;
  /** Only sessions with a call of this model. */
  model?: string;
  /** Case-insensitive substring of the agent, conversation id, tool names/arguments, answers or prompts. */
  q?: string;
  range?: NsRange;
}

/**
 * A session row of the sessions page: the `invoke_agent` event, the first user prompt of its first call, and whether it
 * is live (no exit of the agent process recorded since the session started).
 */
export type SessionEntry = GenAiSpanEntry & { first_prompt: string | null; live: boolean };

/** `GET /api/agent-sessions`: one page of agent sessions, newest activity first, keyset-paged on (end, id). */
export async function pageSessions(client: ClickHouseClient, f: SessionFilters, page: { cursor?: string; limit: number; sort?: SortSpec }, database = DEFAULT_DATABASE): Promise<Page<SessionEntry>> {
  const where = ["kind = 'invoke_agent'"];
  const params: Record<string, unknown> = { limit: page.limit + 1 };
  const end = 'coalesce(end_time, start_time)';
  addFilter(where, params, 'agent_name = {agent:String}', { agent: f.agent });
  addFilter(where, params, `${end} >= fromUnixTimestamp64Nano({from:Int64}, 'UTC') AND coalesce(start_time, end_time) < fromUnixTimestamp64Nano({to:Int64}, 'UTC')`, f.range && rangeParams(f.range));
  const calls = qualified(database, 'llm_calls');
  addFilter(where, params, `conversation_id IN (SELECT conversation_id FROM ${calls} FINAL WHERE ${MODEL} = {model:String})`, { model: f.model });
  if (f.q) {
    params.q = f.q;
    where.push(`(positionCaseInsensitiveUTF8(coalesce(agent_name, ''), {q:String}) > 0 OR positionCaseInsensitiveUTF8(coalesce(conversation_id, ''), {q:String}) > 0
      OR conversation_id IN (SELECT conversation_id FROM ${qualified(database, 'tool_uses')} FINAL WHERE positionCaseInsensitiveUTF8(name, {q:String}) > 0 OR positionCaseInsensitiveUTF8(arguments, {q:String}) > 0 OR positionCaseInsensitiveUTF8(coalesce(result, ''), {q:String}) > 0)
      OR conversation_id IN (SELECT conversation_id FROM ${calls} FINAL WHERE positionCaseInsensitiveUTF8(output_text, {q:String}) > 0
           OR exchange_id IN (SELECT exchange_id FROM ${qualified(database, 'exchanges')} FINAL WHERE positionCaseInsensitiveUTF8(request_body, {q:String}) > 0)))`);
  }
  const sorted = page.sort && !(page.sort.key === 'last_activity' && page.sort.dir === 'desc');
  let order = `${end} DESC, id`;
  let offset: number | null = null;
  if (sorted) {
    const expr = SESSION_SORTS[page.sort!.key];
    if (!expr) throw new Error(`sort must be one of ${Object.keys(SESSION_SORTS).join(', ')}`);
    order = `${expr} ${page.sort!.dir === 'asc' ? 'ASC' : 'DESC'} NULLS LAST, id`;
    offset = page.cursor ? decodeOffsetCursor(page.cursor) : 0;
    params.offset = offset;
  } else addAfterCursor(where, params, end, 'id', page.cursor);
  const ids = await queryRows<{ id: string; end_ns: string }>(
    client,
    `SELECT id, toString(toUnixTimestamp64Nano(${end})) AS end_ns FROM ${qualified(database, 'genai_spans')} FINAL WHERE ${where.join(' AND ')}
     ORDER BY ${order} LIMIT {limit:UInt32}${offset !== null ? ' OFFSET {offset:UInt64}' : ''}`,
    params,
  );
  const more = ids.length > page.limit;
  const pageIds = ids.slice(0, page.limit);
  const spans = pageIds.length ? await listGenAiSpans(client, { database, ids: pageIds.map((i) => i.id), limit: pageIds.length }) : [];
  const byId = new Map(spans.map((s) => [s.id, s]));
  const convs = spans.map((s) => s.conversation_id).filter((c): c is string => Boolean(c));
  const prompts = await firstPrompts(client, database, convs);
  const exited = await exitedAgents(client, database, spans);
  const items = pageIds.map((i) => byId.get(i.id)).filter((s): s is GenAiSpanEntry => Boolean(s)).map((s) => ({
    ...s,
    first_prompt: s.conversation_id ? prompts.get(s.conversation_id) ?? null : null,
    live: !exited.has(`${s.host}\u001f${s.pid}`),
  }));
  const last = pageIds[pageIds.length - 1];
  if (offset !== null) return { items, next_cursor: more ? encodeOffsetCursor(offset + page.limit) : null };
  return { items, next_cursor: more && last ? encodeCursor(last.end_ns, last.id) : null };
}

/**
 * `host \u001f pid` of the sessions whose agent process has an `exit` audit record at or after the session's start: those
 * sessions are ended; the others are live (or their exit was not captured).
 */
async function exitedAgents(client: ClickHouseClient, database: string, spans: GenAiSpanEntry[]): Promise<Set<string>> {
  const out = new Set<string>();
  const withStart = spans.filter((s) => s.start_time ?? s.end_time);
  if (!withStart.length) return out;
  const from = withStart.reduce((m, s) => Math.min(m, Date.parse((s.start_time ?? s.end_time)!)), Infinity);
  const rs = await queryRows<{ host: string; pid: number; last_ns: string }>(
    client,
    `SELECT host, pid, toString(toUnixTimestamp64Nano(max(ts))) AS last_ns FROM ${qualified(database, 'audit_events')}
     WHERE type = 'process' AND action = 'exit' AND pid IN {pids:Array(UInt32)} AND host IN {hosts:Array(String)} AND ts >= fromUnixTimestamp64Nano({from:Int64}, 'UTC')
     GROUP BY host, pid`,
    { pids: [...new Set(withStart.map((s) => s.pid))], hosts: [...new Set(withStart.map((s) => s.host))], from: (BigInt(from) * 1_000_000n).toString() },
  );
  for (const s of withStart) {
    const start = BigInt(Date.parse((s.start_time ?? s.end_time)!)) * 1_000_000n;
    if (rs.some((r) => r.host === s.host && Number(r.pid) === s.pid && BigInt(r.last_ns) >= start)) out.add(`${s.host}\u001f${s.pid}`);
  }
  return out;
}

/** The first user prompt of each conversation's first call (from its stored, redacted request body). */
async function firstPrompts(client: ClickHouseClient, database: string, convs: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!convs.length) return out;
  const rs = await queryRows<{ conversation_id: string; body: string; encoding: string }>(
    client,
    `SELECT c.conversation_id AS conversation_id, e.request_body AS body, e.request_body_encoding AS encoding
     FROM (SELECT conversation_id, argMin(exchange_id, start_time) AS exchange_id FROM ${qualified(database, 'llm_calls')} FINAL
           WHERE conversation_id IN {convs:Array(String)} GROUP BY conversation_id) AS c
     INNER JOIN (SELECT exchange_id, request_body, request_body_encoding FROM ${qualified(database, 'exchanges')} FINAL
                 WHERE exchange_id IN (SELECT exchange_id FROM ${qualified(database, 'llm_calls')} FINAL WHERE conversation_id IN {convs:Array(String)})) AS e
     ON c.exchange_id = e.exchange_id`,
    { convs },
  );
  for (const r of rs) {
    const text = r.encoding === 'utf8' ? r.body : '';
    const turns = requestMessages(text);
    const user = turns.find((t) => t.role === 'user');
    if (user) out.set(r.conversation_id, user.text);
  }
  return out;
}

/** Everything the session page shows: the session, its calls (with their new input messages), tool uses, spans and the process tree. */
export interface SessionDetail {
  session: GenAiSpanEntry;
  /** False once the agent process' exit is recorded. */
  live: boolean;
  /** The session's calls, oldest first, each with the messages its request added since the previous call. */
  calls: Array<CallSummary & { new_messages: RequestMessage[] }>;
  tool_uses: ToolUseEntry[];
  /** `execute_tool` spans of the conversation. */
  tool_spans: GenAiSpanEntry[];
  /** Audit records of the agent's process and its descendants during the session (with causal links), oldest first. */
  audit: AuditEntry[];
  /** True when the audit list was cut at its limit. */
  audit_truncated: boolean;
}

/** `GET /api/agent-sessions/:conversation`; null when there is no such session. */
export async function getSession(client: ClickHouseClient, conversation: string, database = DEFAULT_DATABASE): Promise<SessionDetail | null> {
  const [session] = await listGenAiSpans(client, { database, kind: 'invoke_agent', conversation, limit: 1 });
  if (!session) return null;
  const calls = (await selectCalls(client, database, ['conversation_id = {c:String}'], { c: conversation, limit: 10_000 })).reverse();
  const bodies = await queryRows<{ call_id: string; body: string; encoding: string }>(
    client,
    `SELECT l.call_id AS call_id, e.request_body AS body, e.request_body_encoding AS encoding
     FROM (SELECT call_id, exchange_id FROM ${qualified(database, 'llm_calls')} FINAL WHERE conversation_id = {c:String}) AS l
     INNER JOIN (SELECT exchange_id, request_body, request_body_encoding FROM ${qualified(database, 'exchanges')} FINAL
                 WHERE exchange_id IN (SELECT exchange_id FROM ${qualified(database, 'llm_calls')} FINAL WHERE conversation_id = {c:String})) AS e
     ON l.exchange_id = e.exchange_id`,
    { c: conversation },
  );
  const bodyOf = new Map(bodies.map((b) => [b.call_id, b.encoding === 'utf8' ? b.body : '']));
  let seen = 0;
  const withMessages = calls.map((c) => {
    const msgs = requestMessages(bodyOf.get(c.call_id) ?? '');
    // Each request repeats the conversation so far: the new part starts after the last assistant message.
    let lastAssistant = -1;
    msgs.forEach((m, i) => m.role === 'assistant' && (lastAssistant = i));
    const fresh = msgs.slice(seen === 0 ? 0 : Math.max(lastAssistant + 1, 0));
    seen++;
    return { ...c, new_messages: fresh };
  });
  const tool_uses = (await listToolUses(client, { database, conversation, limit: 10_000 })).reverse();
  const tool_spans = (await listGenAiSpans(client, { database, kind: 'execute_tool', conversation, limit: 10_000 })).reverse();
  const start = session.start_time ?? calls[0]?.start_time ?? session.end_time;
  const end = session.end_time ?? start;
  const limit = 5000;
  let audit: AuditEntry[] = [];
  if (start) {
    const fromNs = BigInt(Date.parse(start)) * 1_000_000n - 1_000_000_000n;
    const toNs = BigInt(Date.parse(end ?? start)) * 1_000_000n + 1_000_000_000n;
    const all = await auditWindow(client, database, { host: session.host, fromNs, toNs, types: ['process', 'file', 'net'], limit: limit * 4 });
    audit = descendantsOf(session.pid, all).slice(0, limit);
  }
  const live = !(await exitedAgents(client, database, [session])).has(`${session.host}\u001f${session.pid}`);
  return { session, live, calls: withMessages, tool_uses, tool_spans, audit, audit_truncated: audit.length >= limit };
}

/** `GET /api/agent-sessions/:conversation/resources`: the agent's resource chart and each tool use's figures. */
export interface SessionResources {
  host: string;
  /** The agent process whose subtree the points are. */
  pid: number;
  /** Its subtree's samples from 10 s before the session's start to 10 s after its end, oldest first. */
  points: ResourcePoint[];
  /** The session's tool uses, oldest first, with the CPU seconds, peak RSS and network bytes of the agent's tree over each. */
  tool_uses: Array<Pick<ToolUseEntry, 'id' | 'name' | 'call_id' | 'start_time' | 'end_time' | 'duration_ms' | 'success'> & ResourceColumns>;
  /** Why there are no points (never an empty chart without a reason), else null. */
  note: string | null;
}

/** Samples are read this far around the session (more than the 8 s idle sampling interval). */
const SESSION_MARGIN_NS = 10_000_000_000n;

/** {@link SessionResources} of a conversation; null when there is no such session. Throws the ClickHouse error on failure. */
export async function sessionResources(client: ClickHouseClient, conversation: string, database = DEFAULT_DATABASE): Promise<SessionResources | null> {
  const [session] = await listGenAiSpans(client, { database, kind: 'invoke_agent', conversation, limit: 1 });
  if (!session) return null;
  const uses = (await listToolUses(client, { database, conversation, limit: 10_000 })).reverse();
  const tool_uses = (await withResources(client, uses, database)).map((u) => ({
    id: u.id, name: u.name, call_id: u.call_id, start_time: u.start_time, end_time: u.end_time, duration_ms: u.duration_ms, success: u.success,
    cpu_s: u.cpu_s, peak_rss_bytes: u.peak_rss_bytes, net_sent_bytes: u.net_sent_bytes, net_recv_bytes: u.net_recv_bytes, resources_note: u.resources_note,
  }));
  const ns = (iso: string | null) => (iso ? BigInt(Date.parse(iso)) * 1_000_000n : null);
  const start = ns(session.start_time ?? session.end_time);
  const end = ns(session.end_time ?? session.start_time);
  const points = start === null || end === null ? [] : await resourceSeries(client, { host: session.host, pid: session.pid, fromNs: start - SESSION_MARGIN_NS, toNs: end + SESSION_MARGIN_NS }, database);
  const note = points.length ? null : start === null ? 'the session has no start time' : 'no resource samples of this agent (not traced by a sampling run: exec, trace --pid/--discover and record -p sample their agents)';
  return { host: session.host, pid: session.pid, points, tool_uses, note };
}
