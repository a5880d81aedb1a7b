/**
 * Cost of LLM calls at list prices.
 *
 * Units: prices are USD per 1M tokens; token counts are tokens; every cost returned is USD.
 *
 * Token accounting (OTel GenAI semconv, as in `Usage` of `@agentsight/contracts`):
 * - `input_tokens` INCLUDES cached input: cache reads (`cache_read_input_tokens`) and, for Anthropic, cache writes
 *   (`cache_creation_input_tokens`). Only the rest (input − cache reads − cache writes) is billed at the input price;
 *   cache reads are billed at the cache-read price, cache writes at the cache-write price (Anthropic 5-minute and
 *   1-hour writes are split by `raw_usage.cache_creation.ephemeral_5m_input_tokens` / `ephemeral_1h_input_tokens`
 *   when present, else all writes count as 5-minute writes).
 * - Reasoning tokens (`reasoning_output_tokens`) are billed at the entry's `reasoning` price, which defaults to its
 *   `output` price. `output_tokens` includes them (OTel semconv; the analyzer adds
 *   Gemini's `thoughtsTokenCount` and xAI's reasoning count, which those providers report apart), so output −
 *   reasoning is billed at `output`; an entry can say otherwise with `reasoning_in_output: false`.
 * - Tiers: when the call's input tokens (cache reads and writes included) exceed a tier's `above_input_tokens`, every
 *   token of the call is billed at that tier's prices (the highest threshold exceeded wins).
 *
 * Never guesses: a call is unpriced (null) when no entry matches, when it used a token type its (tier's) entry has no
 * price for, or when it reported no token counts at all. Unpriced is never $0.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { GenAiCostBreakdown, Usage } from '@agentsight/contracts';

/** USD per 1M tokens, per token type. A missing price means "not known": tokens of that type make a call unpriced. */
export interface PriceRates {
  /** Uncached input tokens. */
  input?: number;
  /** Input tokens read from the prompt cache. */
  cache_read?: number;
  /** Input tokens written to the prompt cache with the default (Anthropic: 5-minute) lifetime. */
  cache_write_5m?: number;
  /** Input tokens written to the prompt cache with a 1-hour lifetime (Anthropic). */
  cache_write_1h?: number;
  /** Output tokens (other than reasoning). */
  output?: number;
  /** Reasoning output tokens; default = `output`. */
  reasoning?: number;
}

/** Prices that replace the base prices for a whole call whose input tokens exceed `above_input_tokens`. */
export interface PriceTier {
  /** Threshold in tokens (input incl. cache reads and writes); the tier applies when input > this. */
  above_input_tokens: number;
  /** Prices in the tier; an empty object = the call is unpriced above the threshold. */
  prices: PriceRates;
  note?: string;
}

/** One priced model family. */
export interface PriceEntry {
  /** Stable id, e.g. `openai/gpt-4.1`; part of the `price_id`. An override entry with the same id replaces this one. */
  id: string;
  /** `gen_ai.provider.name` value(s) the entry applies to (`*` = any provider). */
  provider: string | string[];
  /** Globs over the model name (whole name, case-insensitive; `*` any run, `?` one char). */
  match?: string[];
  /** Alternatively / additionally, a regular expression over the model name (case-insensitive; anchor it yourself). */
  match_regex?: string;
  prices: PriceRates;
  tiers?: PriceTier[];
  /**
   * Whether the call's `output_tokens` include its reasoning tokens (then only the rest is billed at `output`).
   * Default: true (semconv: the analyzer includes reasoning in `output_tokens` for every provider).
   */
  reasoning_in_output?: boolean;
  /** Where the prices were published. */
  source?: string;
  /** Date (YYYY-MM-DD) the prices were last confirmed; default: the table's `as_of`. */
  as_of?: string;
  verified_via?: string[];
  note?: string;
}

/** A price table (the built-in `prices.json`, or a user file in the same format). */
export interface PriceTable {
  /** Date (YYYY-MM-DD) of the table. */
  as_of: string;
  currency?: 'USD';
  unit?: 'per_1m_tokens';
  models: PriceEntry[];
  [extra: string]: unknown;
}

/** What {@link priceCall} needs to know about a call. */
export interface PriceCallInput {
  /** `gen_ai.provider.name`, e.g. `openai`, `anthropic`, `gcp.gemini`. */
  provider: string;
  /** Model to price by: the response model (preferred), else the request model. */
  model: string | null | undefined;
  /** Request model, tried when `model` is missing or matches no entry. */
  request_model?: string | null;
  /** Token counts (semconv meanings, see the module doc). */
  usage: Usage;
  /** The provider's usage object (Anthropic: `cache_creation.ephemeral_5m_input_tokens` / `ephemeral_1h_input_tokens`). */
  raw_usage?: Record<string, unknown> | null;
}

/** A priced call: total and parts in USD, and which table entry (and tier) priced it. */
export interface PricedCall {
  /** Total in USD (sum of the breakdown, rounded to 1e-12 USD). */
  cost_usd: number;
  /** Parts in USD. */
  breakdown: GenAiCostBreakdown;
  /** `<entry id>@<as_of>`, plus `>N` when the tier above N input tokens applied, e.g. `anthropic/claude-sonnet-4-4.5@2026-10-10>200000`. */
  price_id: string;
}

/** Environment variable naming a user price file merged over the built-in table. */
export const PRICES_ENV = 'AGENTSIGHT_PRICES';

/** Path of the built-in table (`libs/pricing/prices.json`, beside `src/` and `dist/`). */
export const BUILTIN_PRICES_PATH = path.join(__dirname, '..', 'prices.json');

const RATE_KEYS = ['input', 'cache_read', 'cache_write_5m', 'cache_write_1h', 'output', 'reasoning'] as const;

/**
 * Checks a parsed price file and returns it typed; every entry gets its effective `as_of` (entry's, else the
 * table's). Throws an Error naming `origin` and the offending entry on any invalid field.
 */
export function validatePriceTable(raw: unknown, origin = 'price table'): PriceTable {
  const fail = (msg: string): never => {
    throw new Error(`${origin}: ${msg}`);
  };
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail('not a JSON object');
  const t = raw as Record<string, unknown>;
  if (typeof t.as_of !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(t.as_of)) fail('`as_of` must be a YYYY-MM-DD date');
  if (t.currency !== undefined && t.currency !== 'USD') fail('only `currency: "USD"` is supported');
  if (t.unit !== undefined && t.unit !== 'per_1m_tokens') fail('only `unit: "per_1m_tokens"` is supported');
  if (!Array.isArray(t.models)) fail('`models` must be an array');
  const rates = (r: unknown, where: string): PriceRates => {
    if (!r || typeof r !== 'object' || Array.isArray(r)) fail(`${where}: \`prices\` must be an object`);
    for (const [k, v] of Object.entries(r as object)) {
      if (!(RATE_KEYS as readonly string[]).includes(k)) fail(`${where}: unknown price \`${k}\` (known: ${RATE_KEYS.join(', ')})`);
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`${where}: price \`${k}\` must be a non-negative number (USD per 1M tokens)`);
    }
    return r as PriceRates;
  };
  const ids = new Set<string>();
  const models = (t.models as unknown[]).map((m, i): PriceEntry => {
    if (!m || typeof m !== 'object') fail(`models[${i}] is not an object`);
    const e = m as Record<string, unknown>;
    const where = `models[${i}]${typeof e.id === 'string' ? ` (${e.id})` : ''}`;
    if (typeof e.id !== 'string' || !e.id) fail(`${where}: \`id\` must be a non-empty string`);
    if (ids.has(e.id as string)) fail(`${where}: duplicate id`);
    ids.add(e.id as string);
    const prov = e.provider;
    if (!(typeof prov === 'string' && prov) && !(Array.isArray(prov) && prov.length && prov.every((p) => typeof p === 'string' && p))) {
      fail(`${where}: \`provider\` must be a string or an array of strings`);
    }
    if (e.match !== undefined && !(Array.isArray(e.match) && e.match.every((g) => typeof g === 'string' && g))) fail(`${where}: \`match\` must be an array of globs`);
    if (e.match_regex !== undefined) {
      if (typeof e.match_regex !== 'string') fail(`${where}: \`match_regex\` must be a string`);
      try {
        new RegExp(e.match_regex as string, 'i');
      } catch (err) {
        fail(`${where}: bad \`match_regex\`: ${(err as Error).message}`);
      }
    }
    if (!(e.match as unknown[] | undefined)?.length && e.match_regex === undefined) fail(`${where}: needs \`match\` or \`match_regex\``);
    rates(e.prices, where);
    if (e.tiers !== undefined) {
      if (!Array.isArray(e.tiers)) fail(`${where}: \`tiers\` must be an array`);
      (e.tiers as unknown[]).forEach((tier, j) => {
        const tt = tier as Record<string, unknown>;
        if (!tt || typeof tt.above_input_tokens !== 'number' || !Number.isInteger(tt.above_input_tokens) || tt.above_input_tokens < 0) {
          fail(`${where}: tiers[${j}].above_input_tokens must be a non-negative integer (tokens)`);
        }
        rates(tt.prices, `${where} tiers[${j}]`);
      });
    }
    if (e.reasoning_in_output !== undefined && typeof e.reasoning_in_output !== 'boolean') fail(`${where}: \`reasoning_in_output\` must be a boolean`);
    if (e.as_of !== undefined && (typeof e.as_of !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(e.as_of))) fail(`${where}: \`as_of\` must be a YYYY-MM-DD date`);
    return { ...(e as unknown as PriceEntry), as_of: (e.as_of as string | undefined) ?? (t.as_of as string) };
  });
  return { ...(t as PriceTable), models };
}

/** Reads and validates a price file. Throws on a missing/unreadable file, bad JSON or an invalid table. */
export function readPriceFile(file: string): PriceTable {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read price file ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`price file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return validatePriceTable(raw, file);
}

/** The built-in table shipped with the project (`libs/pricing/prices.json`). */
export function builtinPriceTable(): PriceTable {
  return readPriceFile(BUILTIN_PRICES_PATH);
}

/**
 * `over` merged over `base`: `over`'s entries come first (they win when both match a call) and replace `base` entries
 * with the same id; the result's `as_of` is the later of the two.
 */
export function mergePriceTables(base: PriceTable, over: PriceTable): PriceTable {
  const overIds = new Set(over.models.map((m) => m.id));
  return {
    ...base,
    as_of: over.as_of > base.as_of ? over.as_of : base.as_of,
    models: [...over.models, ...base.models.filter((m) => !overIds.has(m.id))],
  };
}

/**
 * The built-in table merged with the user file `overridePath` (default: `$AGENTSIGHT_PRICES`), if any. Throws when the
 * user file is given but unreadable or invalid.
 */
export function loadPriceTable(opts: { overridePath?: string | null; env?: NodeJS.ProcessEnv } = {}): PriceTable {
  const builtin = builtinPriceTable();
  const file = opts.overridePath !== undefined ? opts.overridePath : (opts.env ?? process.env)[PRICES_ENV];
  return file ? mergePriceTables(builtin, readPriceFile(file)) : builtin;
}

let cached: PriceTable | null = null;

/**
 * The process-wide table used by {@link priceCall} by default: loaded once on first use with {@link loadPriceTable}.
 * When `$AGENTSIGHT_PRICES` is invalid, a warning goes to stderr and only the built-in table is used (a bad user file
 * must not stop the pipeline).
 */
export function defaultPriceTable(): PriceTable {
  if (cached) return cached;
  try {
    cached = loadPriceTable();
  } catch (err) {
    process.stderr.write(`[agentsight] ${PRICES_ENV} ignored: ${(err as Error).message}\n`);
    cached = builtinPriceTable();
  }
  return cached;
}

/** Forgets the table cached by {@link defaultPriceTable} (tests, or after changing `$AGENTSIGHT_PRICES`). */
export function resetPriceTableCache(): void {
  cached = null;
}

const matchers = new WeakMap<PriceEntry, RegExp[]>();

function globToRegExp(glob: string): RegExp {
  const src = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${src}$`, 'i');
}

function entryMatchers(e: PriceEntry): RegExp[] {
  let m = matchers.get(e);
  if (!m) {
    m = (e.match ?? []).map(globToRegExp);
    if (e.match_regex !== undefined) m.push(new RegExp(e.match_regex, 'i'));
    matchers.set(e, m);
  }
  return m;
}

/** Model name as matched: trimmed, a leading `models/` (Gemini resource names) removed. */
function normalizeModel(model: string): string {
  return model.trim().replace(/^models\//i, '');
}

function providerMatches(e: PriceEntry, provider: string): boolean {
  const ps = Array.isArray(e.provider) ? e.provider : [e.provider];
  return ps.some((p) => p === '*' || p.toLowerCase() === provider.toLowerCase());
}

/**
 * The first entry (table order) for `provider` whose globs/regex match the model, trying `model` then `request_model`;
 * null when none does.
 */
export function findPriceEntry(
  table: PriceTable,
  provider: string,
  model: string | null | undefined,
  requestModel?: string | null,
): PriceEntry | null {
  const candidates = table.models.filter((e) => providerMatches(e, provider ?? ''));
  for (const m of [model, requestModel]) {
    if (!m) continue;
    const name = normalizeModel(m);
    const hit = candidates.find((e) => entryMatchers(e).some((re) => re.test(name)));
    if (hit) return hit;
  }
  return null;
}

const nn = (v: number | null | undefined): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

function rawInt(o: unknown, key: string): number | null {
  if (!o || typeof o !== 'object') return null;
  const v = (o as Record<string, unknown>)[key];
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null;
}

const round = (usd: number): number => Math.round(usd * 1e12) / 1e12;

/**
 * Prices one call (see the module doc for the token accounting). Returns null when the call is unpriced: no entry
 * matches its provider and model, its usage reports no token counts, or it used a token type (cache read, 5m/1h cache
 * write, …) that the applicable entry/tier has no price for. `table` defaults to {@link defaultPriceTable}.
 */
export function priceCall(call: PriceCallInput, table: PriceTable = defaultPriceTable()): PricedCall | null {
  const u = call.usage;
  if (!u || (u.input_tokens == null && u.output_tokens == null)) return null;
  const entry = findPriceEntry(table, call.provider, call.model, call.request_model);
  if (!entry) return null;

  const input = nn(u.input_tokens);
  const cacheRead = nn(u.cache_read_input_tokens);
  const cacheWrite = nn(u.cache_creation_input_tokens);
  const fresh = Math.max(0, input - cacheRead - cacheWrite);
  const split = (call.raw_usage as Record<string, unknown> | null | undefined)?.cache_creation;
  const w1h = Math.min(cacheWrite, rawInt(split, 'ephemeral_1h_input_tokens') ?? 0);
  const w5m = cacheWrite - w1h;
  const output = nn(u.output_tokens);
  const inOutput = entry.reasoning_in_output ?? true;
  const reasoning = inOutput ? Math.min(nn(u.reasoning_output_tokens), output) : nn(u.reasoning_output_tokens);
  const plainOut = inOutput ? output - reasoning : output;

  const tier = [...(entry.tiers ?? [])].sort((a, b) => b.above_input_tokens - a.above_input_tokens).find((t) => input > t.above_input_tokens);
  const p = tier ? tier.prices : entry.prices;
  const cost = (tokens: number, price: number | undefined): number | null => (tokens === 0 ? 0 : price === undefined ? null : (tokens * price) / 1e6);

  const parts = {
    input: cost(fresh, p.input),
    cache_read: cost(cacheRead, p.cache_read),
    w5m: cost(w5m, p.cache_write_5m),
    w1h: cost(w1h, p.cache_write_1h),
    output: cost(plainOut, p.output),
    reasoning: cost(reasoning, p.reasoning ?? p.output),
  };
  if (Object.values(parts).some((v) => v === null)) return null;
  const breakdown: GenAiCostBreakdown = {
    input: round(parts.input!),
    cache_read: round(parts.cache_read!),
    cache_write: round(parts.w5m! + parts.w1h!),
    output: round(parts.output!),
    reasoning: round(parts.reasoning!),
  };
  const total = parts.input! + parts.cache_read! + parts.w5m! + parts.w1h! + parts.output! + parts.reasoning!;
  return {
    cost_usd: round(total),
    breakdown,
    price_id: `${entry.id}@${entry.as_of ?? table.as_of}${tier ? `>${tier.above_input_tokens}` : ''}`,
  };
}
