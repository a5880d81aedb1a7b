/**
 * The dashboard's overview and time series (`GET /api/overview`, `GET /api/timeseries`): KPIs, latency percentiles
 * and top lists of a `[from, to)` range over `llm_calls`, `exchanges`, `tool_uses`, `genai_spans`, `dead_letters` and
 * the executed commands (`exec_commands`, else `audit_events`), and calls, tokens, cost and latency per bucket and
 * model aggregated in ClickHouse (`toStartOfInterval`). Shapes are the contracts of `@agentsight/contracts`
 * (dashboard.ts). Read with `FINAL` (or counting distinct ids where a `FINAL` would merge a large table); parameters
 * bound server-side.
 */
import type { LatencyStats, Overview, OverviewKpis, TimeSeries, TopEntry } from '@agentsight/contracts';
import type { ClickHouseClient } from '@clickhouse/client';
import { DEFAULT_DATABASE, EXEC_COMMAND, EXEC_COMMANDS, execCommandsReady, FINAL_ACROSS_PARTITIONS, qualified } from '../schema';
import { intervalFor, type NsRange } from './paging';
import { nsIso } from './read';
import { AGENT, inRange, MODEL, num, queryRows, rangeParams } from './sql';

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
  const dims = await queryRows<Record<string, unknown>>(
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
  const [streamed] = await queryRows<{ n: string }>(
    client,
    `SELECT uniqExact(exchange_id) AS n FROM ${qualified(db, 'exchanges')} WHERE streaming AND exchange_id IN (SELECT exchange_id FROM ${calls} WHERE ${inRange('start_time')})`,
    p,
  );
  const [t] = await queryRows<Record<string, unknown>>(
    client,
    `SELECT count() AS n, countIf(success = false) AS failed FROM ${qualified(db, 'tool_uses')} FINAL WHERE ${inRange('coalesce(start_time, end_time)')}`,
    p,
  );
  const [s] = await queryRows<Record<string, unknown>>(
    client,
    `SELECT count() AS n FROM ${qualified(db, 'genai_spans')} FINAL
     WHERE kind = 'invoke_agent' AND coalesce(start_time, end_time) < fromUnixTimestamp64Nano({to:Int64}, 'UTC')
       AND coalesce(end_time, start_time) >= fromUnixTimestamp64Nano({from:Int64}, 'UTC')`,
    p,
  );
  const [d] = await queryRows<Record<string, unknown>>(client, `SELECT count() AS n FROM ${qualified(db, 'dead_letters')} FINAL WHERE ${inRange('ts')} ${FINAL_ACROSS_PARTITIONS}`, p);
  const tools = await queryRows<Record<string, unknown>>(
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
    return queryRows(client, counted(`SELECT ${EXEC_COMMAND} AS name, uniqExact(id) AS count FROM ${audit} WHERE ${execs} AND ${inRange('ts')} GROUP BY name`), { ...rangeParams(r), top });
  }
  const ts = (p: string) => `fromUnixTimestamp64Nano({${p}:Int64}, 'UTC')`;
  return queryRows(
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
  const rs = await queryRows<Record<string, unknown>>(
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
