/**
 * Token usage of LLM calls (`llm_calls` summed): `agentsight token` and `GET /api/token` — tokens (counts) and cost
 * (USD) per provider + model, provider or process over a calendar period, with the previous period and the token
 * breakdown by role and type on request. Read with `FINAL`; parameters bound server-side.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { DEFAULT_DATABASE, qualified } from '../schema';
import { USAGE_DETAIL_COLUMNS } from './calls';
import type { DbOption } from './read';
import { queryRows, usd } from './sql';

/** Periods of {@link tokenSummary}. */
export const TOKEN_PERIODS = ['today', 'yesterday', 'week', 'last_week', 'month', 'last_month'] as const;
/** One of {@link TOKEN_PERIODS} (windows: {@link TokenSummaryOptions.period}). */
export type TokenPeriod = (typeof TOKEN_PERIODS)[number];

/** Groupings of {@link tokenSummary}. */
export const TOKEN_GROUP_BYS = ['model', 'provider', 'process'] as const;
/** One of {@link TOKEN_GROUP_BYS}. */
export type TokenGroupBy = (typeof TOKEN_GROUP_BYS)[number];

/** Token counts (tokens) and cost (USD) of a set of calls. */
export interface TokenTotals {
  calls: number;
  /** Sums over calls that reported the count (null counts are skipped). Input includes cached input (semconv). */
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  reasoning_output_tokens: number;
  /**
   * Sum of the priced calls' costs, USD. Null when every call is unpriced (never $0 for unknown); 0 only when there
   * are no calls at all. With `unpriced_calls > 0` it is a lower bound.
   */
  cost_usd: number | null;
  /** Calls without a cost (unknown model/price, or stored before costs existed). */
  unpriced_calls: number;
  /** With `detail`: the token breakdown summed over the calls that have one. */
  detail?: TokenDetail;
}

/**
 * Token breakdown of a set of calls (`agentsight token --detail`), tokens: sums of `LlmCall.usage_detail` over the
 * calls that have one. `input` sums to those calls' input tokens; `output` to their output tokens except where the
 * provider reports reasoning apart (Gemini, xAI), see `UsageDetail`.
 */
export interface TokenDetail {
  input: { system: number; user: number; assistant: number; tool: number };
  output: { text: number; reasoning: number; tool_calls: number };
  /** Calls with an input breakdown / with an output breakdown (calls without one are not in the sums). */
  input_calls: number;
  output_calls: number;
}

/** Totals of one group over a period. The key fields not used by the grouping are null. */
export interface TokenSummaryRow extends TokenTotals {
  /** `gen_ai.provider.name` (group-by `model` and `provider`). */
  provider: string | null;
  /** Response model, else request model, else '' (group-by `model`). */
  model: string | null;
  /** Process name (group-by `process`). */
  process_name: string | null;
}

/** A [from, to) time window, ISO 8601 UTC. */
export interface TimeWindow {
  from: string;
  to: string;
}

/** Change from the previous period to this one (this − previous). */
export interface TokenChange {
  calls: number;
  input_tokens: number;
  output_tokens: number;
  /** USD; null when either period's cost is null. */
  cost_usd: number | null;
  /** Relative change of the cost in percent; null when either cost is null or the previous one is 0. */
  cost_usd_pct: number | null;
  /** Relative change of input + output tokens in percent; null when the previous period had none. */
  tokens_pct: number | null;
}

/** Result of {@link tokenSummary}. */
export interface TokenSummary extends TimeWindow {
  period: TokenPeriod;
  group_by: TokenGroupBy;
  /** Groups, most input+output tokens first. */
  rows: TokenSummaryRow[];
  totals: TokenTotals;
  /** With `compare`: the previous period's window and totals. */
  previous?: TimeWindow & { totals: TokenTotals };
  /** With `compare`: this period − previous period. */
  change?: TokenChange;
}

/** Period, grouping and comparison of {@link tokenSummary}. */
export interface TokenSummaryOptions extends DbOption {
  /**
   * `today` = since local midnight; `yesterday` = the local calendar day before; `week` = the last 7×24 h;
   * `last_week` = the 7×24 h before that; `month` = the last 30×24 h; `last_month` = the 30×24 h before that.
   */
  period: TokenPeriod;
  /** Default `model` (provider + model). */
  groupBy?: TokenGroupBy;
  /**
   * Also sum the previous period: the same window one period earlier (`today` → yesterday up to the same time of
   * day; `yesterday` → the day before; `week` → `last_week`; `month` → `last_month`; …).
   */
  compare?: boolean;
  /** Reference "now" in ms (tests); default Date.now(). */
  now?: number;
  /** Also sum the token breakdown by role and type ({@link TokenDetail}) per group and in the totals. */
  detail?: boolean;
}

const DAY_MS = 86_400_000;

function localMidnight(ms: number, daysBack = 0): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  d.setDate(d.getDate() - daysBack);
  return d.getTime();
}

/** Shifts a time back by whole local calendar days (DST-safe). */
function daysBefore(ms: number, days: number): number {
  const d = new Date(ms);
  d.setDate(d.getDate() - days);
  return d.getTime();
}

/** The [start, end) window of a period, ms since the epoch. */
export function periodRange(period: TokenPeriod, now: number = Date.now()): { start: number; end: number } {
  switch (period) {
    case 'today':
      return { start: localMidnight(now), end: now };
    case 'yesterday':
      return { start: localMidnight(now, 1), end: localMidnight(now) };
    case 'week':
      return { start: now - 7 * DAY_MS, end: now };
    case 'last_week':
      return { start: now - 14 * DAY_MS, end: now - 7 * DAY_MS };
    case 'month':
      return { start: now - 30 * DAY_MS, end: now };
    case 'last_month':
      return { start: now - 60 * DAY_MS, end: now - 30 * DAY_MS };
    default:
      throw new Error(`unknown period: ${String(period)} (one of ${TOKEN_PERIODS.join(', ')})`);
  }
}

/** The window {@link tokenSummary} compares `period` with: the same window one period earlier. */
export function previousPeriodRange(period: TokenPeriod, now: number = Date.now()): { start: number; end: number } {
  const { start, end } = periodRange(period, now);
  if (period === 'today' || period === 'yesterday') return { start: daysBefore(start, 1), end: daysBefore(end, 1) };
  const len = end - start;
  return { start: start - len, end: start };
}

/** Start (ms since epoch) of a {@link TokenSummaryOptions.period}. */
export function periodStartMs(period: TokenPeriod, now: number = Date.now()): number {
  return periodRange(period, now).start;
}

const GROUP_KEYS: Record<TokenGroupBy, { select: string; keys: string[] }> = {
  model: { select: "provider, coalesce(response_model, request_model, '') AS model", keys: ['provider', 'model'] },
  provider: { select: 'provider', keys: ['provider'] },
  process: { select: 'process_name', keys: ['process_name'] },
};

function sumDetail(rows: TokenTotals[]): TokenDetail | undefined {
  if (!rows.some((r) => r.detail)) return undefined;
  const d: TokenDetail = { input: { system: 0, user: 0, assistant: 0, tool: 0 }, output: { text: 0, reasoning: 0, tool_calls: 0 }, input_calls: 0, output_calls: 0 };
  for (const r of rows) {
    if (!r.detail) continue;
    for (const k of Object.keys(d.input) as Array<keyof TokenDetail['input']>) d.input[k] += r.detail.input[k];
    for (const k of Object.keys(d.output) as Array<keyof TokenDetail['output']>) d.output[k] += r.detail.output[k];
    d.input_calls += r.detail.input_calls;
    d.output_calls += r.detail.output_calls;
  }
  return d;
}

function sumTotals(rows: TokenTotals[], detail = false): TokenTotals {
  const t = { calls: 0, input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, reasoning_output_tokens: 0, unpriced_calls: 0 };
  let cost = 0;
  let priced = 0;
  for (const r of rows) {
    for (const k of Object.keys(t) as Array<keyof typeof t>) t[k] += r[k];
    if (r.cost_usd !== null) {
      cost += r.cost_usd;
      priced += r.calls - r.unpriced_calls;
    }
  }
  const out: TokenTotals = { ...t, cost_usd: t.calls === 0 ? 0 : priced === 0 ? null : usd(cost) };
  if (detail) out.detail = sumDetail(rows) ?? { input: { system: 0, user: 0, assistant: 0, tool: 0 }, output: { text: 0, reasoning: 0, tool_calls: 0 }, input_calls: 0, output_calls: 0 };
  return out;
}

async function summaryRows(client: ClickHouseClient, groupBy: TokenGroupBy, start: number, end: number, database: string, detail = false): Promise<TokenSummaryRow[]> {
  const g = GROUP_KEYS[groupBy];
  if (!g) throw new Error(`unknown group-by: ${String(groupBy)} (one of ${TOKEN_GROUP_BYS.join(', ')})`);
  type R = Record<string, string | number>;
  const rs = await queryRows<R>(
    client,
    `SELECT ${g.select}, count() AS calls,
            sum(coalesce(input_tokens, 0)) AS input_tokens, sum(coalesce(output_tokens, 0)) AS output_tokens,
            sum(coalesce(cache_read_input_tokens, 0)) AS cache_read_input_tokens,
            sum(coalesce(cache_creation_input_tokens, 0)) AS cache_creation_input_tokens,
            sum(coalesce(reasoning_output_tokens, 0)) AS reasoning_output_tokens,
            sum(coalesce(cost_usd, 0)) AS cost_sum, countIf(cost_usd IS NULL) AS unpriced_calls
            ${detail ? `, ${USAGE_DETAIL_COLUMNS.map((c) => `sum(coalesce(${c}, 0)) AS d_${c}`).join(', ')},
              countIf(input_system_tokens IS NOT NULL) AS input_detail_calls, countIf(output_text_tokens IS NOT NULL) AS output_detail_calls` : ''}
     FROM ${qualified(database, 'llm_calls')} FINAL
     WHERE start_time >= fromUnixTimestamp64Nano({from:Int64}, 'UTC') AND start_time < fromUnixTimestamp64Nano({to:Int64}, 'UTC')
     GROUP BY ${g.keys.join(', ')}
     ORDER BY input_tokens + output_tokens DESC, calls DESC, ${g.keys.join(', ')}`,
    { from: (BigInt(start) * 1_000_000n).toString(), to: (BigInt(end) * 1_000_000n).toString() },
  );
  return rs.map((r) => {
    const calls = Number(r.calls);
    const unpriced = Number(r.unpriced_calls);
    return {
      provider: 'provider' in r ? String(r.provider) : null,
      model: 'model' in r ? String(r.model) : null,
      process_name: 'process_name' in r ? String(r.process_name) : null,
      calls,
      input_tokens: Number(r.input_tokens),
      output_tokens: Number(r.output_tokens),
      cache_read_input_tokens: Number(r.cache_read_input_tokens),
      cache_creation_input_tokens: Number(r.cache_creation_input_tokens),
      reasoning_output_tokens: Number(r.reasoning_output_tokens),
      cost_usd: unpriced === calls ? null : usd(Number(r.cost_sum)),
      unpriced_calls: unpriced,
      ...(detail
        ? {
            detail: {
              input: { system: Number(r.d_input_system_tokens), user: Number(r.d_input_user_tokens), assistant: Number(r.d_input_assistant_tokens), tool: Number(r.d_input_tool_tokens) },
              output: { text: Number(r.d_output_text_tokens), reasoning: Number(r.d_output_reasoning_tokens), tool_calls: Number(r.d_output_tool_call_tokens) },
              input_calls: Number(r.input_detail_calls),
              output_calls: Number(r.output_detail_calls),
            },
          }
        : {}),
    };
  });
}

const pct = (now: number | null, before: number | null): number | null =>
  now === null || before === null || before === 0 ? null : Math.round(((now - before) / before) * 1000) / 10;

/**
 * Tokens (counts) and cost (USD) of the calls that started in `period`, per group (`groupBy`: provider + model,
 * provider, or process), with totals; with `compare`, also the previous period's totals and the change; with
 * `detail`, every group and the totals also carry the token breakdown by role and type ({@link TokenDetail}).
 */
export async function tokenSummary(client: ClickHouseClient, opts: TokenSummaryOptions): Promise<TokenSummary> {
  const now = opts.now ?? Date.now();
  const groupBy = opts.groupBy ?? 'model';
  const database = opts.database ?? DEFAULT_DATABASE;
  const cur = periodRange(opts.period, now);
  const rowsNow = await summaryRows(client, groupBy, cur.start, cur.end, database, opts.detail);
  const totals = sumTotals(rowsNow, opts.detail);
  const out: TokenSummary = {
    period: opts.period, group_by: groupBy, from: new Date(cur.start).toISOString(), to: new Date(cur.end).toISOString(), rows: rowsNow, totals,
  };
  if (opts.compare) {
    const prev = previousPeriodRange(opts.period, now);
    const before = sumTotals(await summaryRows(client, groupBy, prev.start, prev.end, database));
    out.previous = { from: new Date(prev.start).toISOString(), to: new Date(prev.end).toISOString(), totals: before };
    out.change = {
      calls: totals.calls - before.calls,
      input_tokens: totals.input_tokens - before.input_tokens,
      output_tokens: totals.output_tokens - before.output_tokens,
      cost_usd: totals.cost_usd === null || before.cost_usd === null ? null : usd(totals.cost_usd - before.cost_usd),
      cost_usd_pct: pct(totals.cost_usd, before.cost_usd),
      tokens_pct: pct(totals.input_tokens + totals.output_tokens, before.input_tokens + before.output_tokens),
    };
  }
  return out;
}
