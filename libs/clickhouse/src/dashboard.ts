/**
 * Read queries of the dashboard (`agentsight serve`): overview KPIs, time series aggregated in ClickHouse
 * (`toStartOfInterval`), cursor-paged and filtered lists, one call's and one session's detail, table sizes and dead
 * letters grouped for the capture page. Shapes are the contracts of `@agentsight/contracts` (dashboard.ts) or the
 * entries of queries.ts / tool-queries.ts. Queries read with `FINAL` (or deduplicate by id where FINAL would merge a large
 * table: audit records) and bind their parameters server-side.
 */
import type { LatencyStats, Overview, OverviewKpis, Page, TimeSeries, TopEntry } from '@agentsight/contracts';
import type { ClickHouseClient } from '@clickhouse/client';
import { resourceSeries, withResources, type ResourceColumns, type ResourcePoint } from './resources';
import { auditWindow, descendantsOf, type AuditEntry } from './repositories/audit';
import { selectCalls, type CallSummary } from './repositories/calls';
import { decodeCursor, decodeOffsetCursor, encodeCursor, encodeOffsetCursor, intervalFor, type NsRange, type SortSpec } from './repositories/paging';
import { nsIso } from './repositories/read';
import { AGENT, inRange, MODEL, num, queryRows as q, rangeParams } from './repositories/sql';
import { listGenAiSpans, type GenAiSpanEntry } from './repositories/genai-spans';
import { listToolUses, type ToolUseEntry } from './repositories/tool-uses';
import { DEFAULT_DATABASE, EXEC_COMMAND, EXEC_COMMANDS, execCommandsReady, FINAL_ACROSS_PARTITIONS, qualified } from './schema';

/** Cost of a group: null when nothing in it was priced, else the sum over priced calls (USD, nano-USD rounded). */
const costOf = (sum: unknown, priced: unknown): number | null => (num(priced) === 0 ? null : Math.round(num(sum) * 1e9) / 1e9);

/** `GET /api/overview`: KPIs, latency and top lists of `[from, to)`. */
export async function overview(client: ClickHouseClient, r: NsRange, opts: { database?: string; top?: number } = {}): Promise<Overview> {
  const db = opts.database ?? DEFAULT_DATABASE;
  const p = { ...rangeParams(r), top: opts.top ?? 8 };
  const calls = qualified(db, 'llm_calls');
  // One pass over the window's calls (one FINAL read) gives the totals and both top lists: each call is counted once
  // under '' (totals), once under its agent and once under its model. Latency percentiles are shown for the totals
  // only, so they are computed over the '' rows only.
  const dims = await q<Record<string, unknown>>(
    client,
    `SELECT dim, name, count() AS calls, sum(coalesce(input_tokens, 0)) AS input_tokens, sum(coalesce(output_tokens, 0)) AS output_tokens,
            sum(coalesce(cache_read_input_tokens, 0)) AS cache_read, sum(coalesce(cache_creation_input_tokens, 0)) AS cache_write,
            sum(coalesce(cost_usd, 0)) AS cost, countIf(cost_usd IS NOT NULL) AS priced,
            countIf(error_type IS NOT NULL OR coalesce(http_status, 0) >= 400) AS errors,
            quantileExactIf(0.5)(duration_ms, dim = '') AS p50, quantileExactIf(0.95)(duration_ms, dim = '') AS p95,
            countIf(time_to_first_chunk_ms IS NOT NULL AND dim = '') AS ttft_n, quantileExactIf(0.5)(time_to_first_chunk_ms, dim = '') AS ttft50,
            quantileExactIf(0.95)(time_to_first_chunk_ms, dim = '') AS ttft95
     FROM (SELECT input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens, cost_usd, error_type, http_status,
                  duration_ms, time_to_first_chunk_ms, arrayJoin([tuple('', ''), tuple('agent', ${AGENT}), tuple('model', ${MODEL})]) AS kv,
                  kv.1 AS dim, kv.2 AS name
           FROM ${calls} FINAL WHERE ${inRange('start_time')})
     GROUP BY dim, name`,
    p,
  );
  const c = dims.find((x) => x.dim === '') ?? {};
  // Without FINAL: an IN set and a distinct count are the same over copies of a row.
  const [streamed] = await q<{ n: string }>(
    client,
    `SELECT uniqExact(exchange_id) AS n FROM ${qualified(db, 'exchanges')} WHERE streaming AND exchange_id IN (SELECT exchange_id FROM ${calls} WHERE ${inRange('start_time')})`,
    p,
  );
  const [t] = await q<Record<string, unknown>>(
    client,
    `SELECT count() AS n, countIf(success = false) AS failed FROM ${qualified(db, 'tool_uses')} FINAL WHERE ${inRange('coalesce(start_time, end_time)')}`,
    p,
  );
  const [s] = await q<Record<string, unknown>>(
    client,
    `SELECT count() AS n FROM ${qualified(db, 'genai_spans')} FINAL
     WHERE kind = 'invoke_agent' AND coalesce(start_time, end_time) < fromUnixTimestamp64Nano({to:Int64}, 'UTC')
       AND coalesce(end_time, start_time) >= fromUnixTimestamp64Nano({from:Int64}, 'UTC')`,
    p,
  );
  const [d] = await q<Record<string, unknown>>(client, `SELECT count() AS n FROM ${qualified(db, 'dead_letters')} FINAL WHERE ${inRange('ts')} ${FINAL_ACROSS_PARTITIONS}`, p);
  const tools = await q<Record<string, unknown>>(
    client,
    `SELECT name, count() AS count, countIf(success = false) AS failures FROM ${qualified(db, 'tool_uses')} FINAL
     WHERE ${inRange('coalesce(start_time, end_time)')} GROUP BY name ORDER BY count DESC, name LIMIT {top:UInt32}`,
    p,
  );
  const commands = await topCommands(client, db, r, p.top);
  const kpis: OverviewKpis = {
    llm_calls: num(c.calls), input_tokens: num(c.input_tokens), output_tokens: num(c.output_tokens),
    cache_read_input_tokens: num(c.cache_read), cache_creation_input_tokens: num(c.cache_write),
    cost_usd: num(c.calls) === 0 ? 0 : costOf(c.cost, c.priced), unpriced_calls: num(c.calls) - num(c.priced),
    tool_uses: num(t.n), tool_failures: num(t.failed), processes_started: num(commands[0]?.execs), agents: num(s.n), errors: num(c.errors), dead_letters: num(d.n),
  };
  const latency: LatencyStats = {
    p50_ms: kpis.llm_calls ? num(c.p50) : null, p95_ms: kpis.llm_calls ? num(c.p95) : null, streamed_calls: num(streamed.n),
    ttft_p50_ms: num(c.ttft_n) ? num(c.ttft50) : null, ttft_p95_ms: num(c.ttft_n) ? num(c.ttft95) : null,
    ttft_note: num(c.ttft_n)
      ? null
      : num(streamed.n)
        ? 'no streamed call in this range has a first-chunk time (calls stored before agentsight recorded it)'
        : 'no streamed call in this range: time to first chunk is measured on streamed calls only',
  };
  const top = (dim: string): TopEntry[] =>
    dims
      .filter((x) => x.dim === dim)
      .sort((a, b) => num(b.calls) - num(a.calls) || (String(a.name) < String(b.name) ? -1 : String(a.name) > String(b.name) ? 1 : 0))
      .slice(0, p.top)
      .map((x) => ({ name: String(x.name), count: num(x.calls), tokens: num(x.input_tokens) + num(x.output_tokens), cost_usd: costOf(x.cost, x.priced) }));
  return {
    from: nsIso(r.fromNs), to: nsIso(r.toNs), kpis, latency,
    top_agents: top('agent'), top_models: top('model'),
    top_tools: tools.map((x) => ({ name: String(x.name), count: num(x.count), failures: num(x.failures) })),
    top_commands: commands.map((x) => ({ name: String(x.name) || '?', count: num(x.count) })),
  };
}

const HOUR_NS = 3_600_000_000_000n;

/** Databases whose {@link EXEC_COMMANDS} was found complete (it stays so once it is), per client. */
const execCommandsSeen = new WeakMap<ClickHouseClient, Set<string>>();

/**
 * The overview's top commands of `[from, to)`: execs by command ({@link EXEC_COMMAND}), most first, with the total over
 * all commands (`execs`, a window over the grouped rows), each exec record counted once by id however often it was
 * stored. The whole UTC hours of the range come from {@link EXEC_COMMANDS} (the hourly id sets), the partial hours at
 * its ends from the raw `audit_events` rows; where `exec_commands` is not there (a cluster's Distributed tables) or not
 * yet filled, every exec record of the range is read (its details JSON-parsed), as before.
 */
async function topCommands(client: ClickHouseClient, db: string, r: NsRange, top: number): Promise<Array<Record<string, unknown>>> {
  const seen = execCommandsSeen.get(client) ?? new Set<string>();
  execCommandsSeen.set(client, seen);
  if (!seen.has(db) && (await execCommandsReady(client, db))) seen.add(db);
  const audit = qualified(db, 'audit_events');
  const execs = "type = 'process' AND action = 'exec'";
  const firstHour = ((r.fromNs + HOUR_NS - 1n) / HOUR_NS) * HOUR_NS;
  const lastHour = (r.toNs / HOUR_NS) * HOUR_NS;
  const counted = (inner: string) => `SELECT name, count, sum(count) OVER () AS execs FROM (${inner}) ORDER BY count DESC, name LIMIT {top:UInt32}`;
  if (!seen.has(db) || r.fromNs < 0n || firstHour >= lastHour) {
    return q(client, counted(`SELECT ${EXEC_COMMAND} AS name, uniqExact(id) AS count FROM ${audit} WHERE ${execs} AND ${inRange('ts')} GROUP BY name`), { ...rangeParams(r), top });
  }
  const ts = (p: string) => `fromUnixTimestamp64Nano({${p}:Int64}, 'UTC')`;
  return q(
    client,
    // Counted per hour, then summed: an id is in one hour only, and many small sets merge faster than one of the month.
    counted(`SELECT name, sum(n) AS count FROM (
       SELECT name, uniqExactMerge(ids) AS n FROM ${qualified(db, EXEC_COMMANDS)}
       WHERE hour >= toDateTime({h0:Int64}, 'UTC') AND hour < toDateTime({h1:Int64}, 'UTC') GROUP BY hour, name
       UNION ALL
       SELECT ${EXEC_COMMAND} AS name, uniqExact(id) AS n FROM ${audit}
       WHERE ${execs} AND ((ts >= ${ts('from')} AND ts < ${ts('hfrom')}) OR (ts >= ${ts('hto')} AND ts < ${ts('to')})) GROUP BY name)
     GROUP BY name`),
    { ...rangeParams(r), top, hfrom: firstHour.toString(), hto: lastHour.toString(), h0: (firstHour / 1_000_000_000n).toString(), h1: (lastHour / 1_000_000_000n).toString() },
  );
}

/** `GET /api/timeseries`: calls, tokens, cost and latency per bucket and model, aggregated in ClickHouse. */
export async function timeSeries(client: ClickHouseClient, r: NsRange, opts: { database?: string; intervalSeconds?: number } = {}): Promise<TimeSeries> {
  const interval = opts.intervalSeconds ?? intervalFor(r);
  const rs = await q<Record<string, unknown>>(
    client,
    `SELECT toString(toUnixTimestamp64Nano(toDateTime64(toStartOfInterval(start_time, INTERVAL {interval:UInt32} SECOND), 9, 'UTC'))) AS t_ns,
            ${MODEL} AS model, count() AS calls, sum(coalesce(input_tokens, 0)) AS input_tokens, sum(coalesce(output_tokens, 0)) AS output_tokens,
            sum(coalesce(cost_usd, 0)) AS cost, countIf(cost_usd IS NOT NULL) AS priced,
            quantileExact(0.5)(duration_ms) AS p50, quantileExact(0.95)(duration_ms) AS p95
     FROM ${qualified(opts.database ?? DEFAULT_DATABASE, 'llm_calls')} FINAL
     WHERE ${inRange('start_time')}
     GROUP BY t_ns, model ORDER BY t_ns, model`,
    { ...rangeParams(r), interval },
  );
  return {
    from: nsIso(r.fromNs), to: nsIso(r.toNs), interval_seconds: interval,
    points: rs.map((x) => ({
      t: nsIso(String(x.t_ns)), model: String(x.model), calls: num(x.calls), input_tokens: num(x.input_tokens), output_tokens: num(x.output_tokens),
      cost_usd: costOf(x.cost, x.priced), unpriced_calls: num(x.calls) - num(x.priced), p50_ms: num(x.p50), p95_ms: num(x.p95),
    })),
  };
}

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
  if (f.agent) (where.push('agent_name = {agent:String}'), (params.agent = f.agent));
  if (f.range) {
    where.push(`${end} >= fromUnixTimestamp64Nano({from:Int64}, 'UTC') AND coalesce(start_time, end_time) < fromUnixTimestamp64Nano({to:Int64}, 'UTC')`);
    Object.assign(params, rangeParams(f.range));
  }
  const calls = qualified(database, 'llm_calls');
  if (f.model) (where.push(`conversation_id IN (SELECT conversation_id FROM ${calls} FINAL WHERE ${MODEL} = {model:String})`), (params.model = f.model));
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
  } else if (page.cursor) {
    const c = decodeCursor(page.cursor);
    where.push(`(${end} < fromUnixTimestamp64Nano({cns:Int64}, 'UTC') OR (${end} = fromUnixTimestamp64Nano({cns:Int64}, 'UTC') AND id > {cid:String}))`);
    Object.assign(params, { cns: c.ns, cid: c.id });
  }
  const ids = await q<{ id: string; end_ns: string }>(
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
  const rs = await q<{ host: string; pid: number; last_ns: string }>(
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
  const rs = await q<{ conversation_id: string; body: string; encoding: string }>(
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

/** One message of a request body, as text: `role` as the API names it, text parts joined, tool calls/results summarised. */
export interface RequestMessage {
  role: string;
  text: string;
  /** Tool results: the id of the tool call answered. */
  tool_call_id?: string;
}

function partText(p: unknown): string {
  if (typeof p === 'string') return p;
  if (!p || typeof p !== 'object') return '';
  const o = p as Record<string, unknown>;
  if (typeof o.text === 'string') return o.text;
  if (o.type === 'tool_result') return typeof o.content === 'string' ? o.content : Array.isArray(o.content) ? o.content.map(partText).join('\n') : '';
  if (o.type === 'tool_use') return `[tool call ${String(o.name)} ${JSON.stringify(o.input)}]`;
  if (Array.isArray(o.parts)) return o.parts.map(partText).join('\n');
  return '';
}

/**
 * The messages of an LLM request body (OpenAI chat `messages` and Responses `input`, Anthropic `system` + `messages`,
 * Gemini `contents`), in order, as text; [] when the body is not JSON or has none of these.
 */
export function requestMessages(body: string): RequestMessage[] {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(body);
  } catch {
    return [];
  }
  if (!j || typeof j !== 'object') return [];
  const out: RequestMessage[] = [];
  if (typeof j.system === 'string') out.push({ role: 'system', text: j.system });
  else if (Array.isArray(j.system)) out.push({ role: 'system', text: j.system.map(partText).join('\n') });
  if (typeof j.instructions === 'string') out.push({ role: 'system', text: j.instructions });
  const list = Array.isArray(j.messages) ? j.messages : Array.isArray(j.contents) ? j.contents : Array.isArray(j.input) ? j.input : typeof j.input === 'string' ? [{ role: 'user', content: j.input }] : [];
  for (const m of list as Array<Record<string, unknown>>) {
    if (!m || typeof m !== 'object') continue;
    const role = String(m.role ?? m.type ?? '?');
    let text = typeof m.content === 'string' ? m.content : Array.isArray(m.content) ? m.content.map(partText).join('\n') : Array.isArray(m.parts) ? m.parts.map(partText).join('\n') : typeof m.output === 'string' ? m.output : '';
    if (Array.isArray(m.tool_calls)) {
      text += (m.tool_calls as Array<{ function?: { name?: string; arguments?: string } }>).map((t) => `[tool call ${t.function?.name} ${t.function?.arguments ?? ''}]`).join('\n');
    }
    const isToolResult = role === 'tool' || (Array.isArray(m.content) && (m.content as Array<{ type?: string }>).some((p) => p?.type === 'tool_result'));
    out.push({ role: isToolResult ? 'tool' : role === 'model' ? 'assistant' : role, text, ...(typeof m.tool_call_id === 'string' ? { tool_call_id: m.tool_call_id } : {}) });
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
  const bodies = await q<{ call_id: string; body: string; encoding: string }>(
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
  /** The session's tool uses, oldest first, with the CPU seconds and peak RSS of the agent's tree over each. */
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
    cpu_s: u.cpu_s, peak_rss_bytes: u.peak_rss_bytes, resources_note: u.resources_note,
  }));
  const ns = (iso: string | null) => (iso ? BigInt(Date.parse(iso)) * 1_000_000n : null);
  const start = ns(session.start_time ?? session.end_time);
  const end = ns(session.end_time ?? session.start_time);
  const points = start === null || end === null ? [] : await resourceSeries(client, { host: session.host, pid: session.pid, fromNs: start - SESSION_MARGIN_NS, toNs: end + SESSION_MARGIN_NS }, database);
  const note = points.length ? null : start === null ? 'the session has no start time' : 'no resource samples of this agent (not traced by a sampling run: exec, trace --pid/--discover and record -p sample their agents)';
  return { host: session.host, pid: session.pid, points, tool_uses, note };
}
