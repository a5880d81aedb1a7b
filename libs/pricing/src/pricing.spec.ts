/**
 * priceCall against the built-in table, with costs computed by hand (prices in USD per 1M tokens), and the merging of a
 * user price file (AGENTSIGHT_PRICES).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Usage } from '@agentsight/contracts';
import {
  builtinPriceTable,
  defaultPriceTable,
  findPriceEntry,
  loadPriceTable,
  priceCall,
  resetPriceTableCache,
  validatePriceTable,
  type PriceTable,
} from './pricing';

const table = builtinPriceTable();

function usage(u: Partial<Usage>): Usage {
  return { input_tokens: null, output_tokens: null, cache_read_input_tokens: null, cache_creation_input_tokens: null, reasoning_output_tokens: null, ...u };
}

describe('built-in table', () => {
  it('is valid, and every entry says where its prices come from and when', () => {
    expect(table.as_of).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(table.models.length).toBeGreaterThan(20);
    for (const e of table.models) {
      expect(e.source).toMatch(/^https:\/\//);
      expect(e.as_of).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(e.verified_via?.length).toBeGreaterThan(0);
    }
    expect(new Set(table.models.map((e) => e.id)).size).toBe(table.models.length);
  });

  it.each([
    ['openai', 'gpt-4.1-2025-04-14', 'openai/gpt-4.1'],
    ['openai', 'gpt-4.1-mini-2025-04-14', 'openai/gpt-4.1-mini'],
    ['openai', 'gpt-4o-2024-08-06', 'openai/gpt-4o'],
    ['openai', 'gpt-4o-mini', 'openai/gpt-4o-mini'],
    ['openai', 'gpt-5-mini-2025-08-07', 'openai/gpt-5-mini'],
    ['openai', 'o4-mini-2025-04-16', 'openai/o4-mini'],
    ['anthropic', 'claude-haiku-4-5-20251001', 'anthropic/claude-haiku-4.5'],
    ['anthropic', 'claude-sonnet-4-5-20250929', 'anthropic/claude-sonnet-4-4.5'],
    ['anthropic', 'claude-sonnet-4-20250514', 'anthropic/claude-sonnet-4-4.5'],
    ['anthropic', 'claude-sonnet-4-6', 'anthropic/claude-sonnet-4.6-4.7'],
    ['anthropic', 'claude-opus-4-1-20250805', 'anthropic/claude-opus-4-4.1'],
    ['anthropic', 'claude-3-5-haiku-20241022', 'anthropic/claude-haiku-3.5'],
    ['anthropic', 'claude-3-7-sonnet-20250219', 'anthropic/claude-sonnet-3.5-3.7'],
    ['gcp.gemini', 'models/gemini-2.5-flash', 'gcp.gemini/gemini-2.5-flash'],
    ['gcp.gemini', 'gemini-2.5-flash-lite', 'gcp.gemini/gemini-2.5-flash-lite'],
    ['groq', 'llama-3.3-70b-versatile', 'groq/llama-3.3-70b-versatile'],
  ])('%s %s → %s', (provider, model, id) => {
    expect(findPriceEntry(table, provider, model)?.id).toBe(id);
  });

  it('does not match other providers, other snapshots or unknown models', () => {
    expect(findPriceEntry(table, 'azure.ai.openai', 'gpt-4.1')).toBeNull(); // Azure prices are not OpenAI's
    expect(findPriceEntry(table, 'openai', 'gpt-4o-2024-05-13')).toBeNull(); // priced differently
    expect(findPriceEntry(table, 'openai', 'gpt-4.1-mini-fast')).toBeNull();
    expect(findPriceEntry(table, 'deepseek', 'deepseek-chat')).toBeNull(); // deliberately unpriced
  });
});

describe('priceCall', () => {
  it('OpenAI with cached input: cached tokens at the cache price, only the rest at the input price', () => {
    // gpt-4.1: input $2, cached input $0.50, output $8 per 1M.
    // 10 000 input of which 6 000 cached, 1 000 output:
    //   4 000 × 2 / 1e6 = 0.008; 6 000 × 0.5 / 1e6 = 0.003; 1 000 × 8 / 1e6 = 0.008 → 0.019
    const r = priceCall(
      { provider: 'openai', model: 'gpt-4.1-2025-04-14', request_model: 'gpt-4.1', usage: usage({ input_tokens: 10_000, cache_read_input_tokens: 6_000, output_tokens: 1_000, reasoning_output_tokens: 0 }) },
      table,
    );
    expect(r).toEqual({
      cost_usd: 0.019,
      breakdown: { input: 0.008, cache_read: 0.003, cache_write: 0, output: 0.008, reasoning: 0 },
      price_id: 'openai/gpt-4.1@2026-06-21',
    });
  });

  it('Anthropic with a cache read and a 1-hour cache write (split from raw_usage.cache_creation)', () => {
    // claude-sonnet-4-5: input $3, 5m write $3.75, 1h write $6, cache read $0.30, output $15 per 1M.
    // raw: input 1 000, cache read 20 000, cache write 10 000 (2 000 for 5m, 8 000 for 1h), output 500; semconv input = 31 000.
    //   1 000 × 3 = 0.003; 20 000 × 0.3 = 0.006; 2 000 × 3.75 + 8 000 × 6 = 0.0075 + 0.048 = 0.0555; 500 × 15 = 0.0075
    //   total 0.072
    const raw_usage = {
      input_tokens: 1_000, cache_read_input_tokens: 20_000, cache_creation_input_tokens: 10_000, output_tokens: 500,
      cache_creation: { ephemeral_5m_input_tokens: 2_000, ephemeral_1h_input_tokens: 8_000 },
    };
    const u = usage({ input_tokens: 31_000, cache_read_input_tokens: 20_000, cache_creation_input_tokens: 10_000, output_tokens: 500 });
    const r = priceCall({ provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', usage: u, raw_usage }, table);
    expect(r).toEqual({
      cost_usd: 0.072,
      breakdown: { input: 0.003, cache_read: 0.006, cache_write: 0.0555, output: 0.0075, reasoning: 0 },
      price_id: 'anthropic/claude-sonnet-4-4.5@2026-10-10',
    });
    // Without the split every write is a 5-minute write: 10 000 × 3.75 = 0.0375 → total 0.054.
    expect(priceCall({ provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', usage: u, raw_usage: null }, table)?.cost_usd).toBe(0.054);
  });

  it('tiered price above the context threshold applies to every token of the call', () => {
    // claude-sonnet-4-5 above 200k input: input $6, cache read $0.60, output $22.50 per 1M.
    // 250 000 input (40 000 cache reads), 1 000 output: 210 000 × 6 = 1.26; 40 000 × 0.6 = 0.024; 1 000 × 22.5 = 0.0225 → 1.3065
    const r = priceCall({ provider: 'anthropic', model: 'claude-sonnet-4-5', usage: usage({ input_tokens: 250_000, cache_read_input_tokens: 40_000, cache_creation_input_tokens: 0, output_tokens: 1_000 }) }, table);
    expect(r).toEqual({
      cost_usd: 1.3065,
      breakdown: { input: 1.26, cache_read: 0.024, cache_write: 0, output: 0.0225, reasoning: 0 },
      price_id: 'anthropic/claude-sonnet-4-4.5@2026-10-10>200000',
    });
    // Exactly at the threshold: base prices. 200 000 × 3 + 1 000 × 15 = 0.6 + 0.015
    expect(priceCall({ provider: 'anthropic', model: 'claude-sonnet-4-5', usage: usage({ input_tokens: 200_000, output_tokens: 1_000 }) }, table)?.cost_usd).toBe(0.615);
    // gemini-2.5-pro above 200k: input $2.50, output $15 → 300 000 × 2.5 + 2 000 × 15 = 0.75 + 0.03
    const g = priceCall({ provider: 'gcp.gemini', model: 'gemini-2.5-pro', usage: usage({ input_tokens: 300_000, output_tokens: 2_000 }) }, table);
    expect(g?.cost_usd).toBe(0.78);
    expect(g?.price_id).toMatch(/^gcp\.gemini\/gemini-2\.5-pro@.*>200000$/);
  });

  it('reasoning tokens: priced as output; part of output_tokens for every provider (Gemini thoughts added by the analyzer)', () => {
    // o4-mini: output $4.40. 1 000 output of which 600 reasoning: 400 × 4.4 = 0.00176 + 600 × 4.4 = 0.00264 → 0.0044
    const o = priceCall({ provider: 'openai', model: 'o4-mini', usage: usage({ input_tokens: 0, output_tokens: 1_000, reasoning_output_tokens: 600 }) }, table);
    expect(o?.breakdown).toEqual({ input: 0, cache_read: 0, cache_write: 0, output: 0.00176, reasoning: 0.00264 });
    expect(o?.cost_usd).toBe(0.0044);
    // gemini-2.5-flash: output $2.50; candidates 1 000 + thoughts 500 = output_tokens 1 500: 0.0025 + 0.00125 → 0.00375
    const g = priceCall({ provider: 'gcp.gemini', model: 'gemini-2.5-flash', usage: usage({ input_tokens: 0, output_tokens: 1_500, reasoning_output_tokens: 500 }) }, table);
    expect(g?.breakdown.reasoning).toBe(0.00125);
    expect(g?.cost_usd).toBe(0.00375);
  });

  it('falls back to the request model when the response model matches nothing', () => {
    const r = priceCall({ provider: 'openai', model: 'my-proxy-alias', request_model: 'gpt-4o-mini', usage: usage({ input_tokens: 1_000_000, output_tokens: 0 }) }, table);
    expect(r).toMatchObject({ cost_usd: 0.15, price_id: 'openai/gpt-4o-mini@2026-04-01' });
  });

  it('unpriced (null, never $0): unknown model, no usage, a token type without a price, an unpriced tier', () => {
    const u = usage({ input_tokens: 100, output_tokens: 10 });
    expect(priceCall({ provider: 'openai', model: 'gpt-9-ultra', usage: u }, table)).toBeNull();
    expect(priceCall({ provider: 'mystery', model: null, request_model: null, usage: u }, table)).toBeNull();
    expect(priceCall({ provider: 'openai', model: 'gpt-4.1', usage: usage({}) }, table)).toBeNull();
    // gpt-3.5-turbo has no cache price: reported cached tokens cannot be priced.
    expect(priceCall({ provider: 'openai', model: 'gpt-3.5-turbo', usage: usage({ input_tokens: 100, cache_read_input_tokens: 50, output_tokens: 1 }) }, table)).toBeNull();
    expect(priceCall({ provider: 'openai', model: 'gpt-3.5-turbo', usage: usage({ input_tokens: 100, cache_read_input_tokens: 0, output_tokens: 1 }) }, table)).not.toBeNull();
    // claude-sonnet-4-6 above 200k: the long-context price is not confirmed.
    expect(priceCall({ provider: 'anthropic', model: 'claude-sonnet-4-6', usage: usage({ input_tokens: 250_000, output_tokens: 1 }) }, table)).toBeNull();
    expect(priceCall({ provider: 'anthropic', model: 'claude-sonnet-4-6', usage: usage({ input_tokens: 150_000, output_tokens: 1 }) }, table)).not.toBeNull();
  });
});

describe('user price file (AGENTSIGHT_PRICES)', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-prices-'));
  });
  afterAll(() => {
    fs.rmSync(tmp, { recursive: true, force: true });
    resetPriceTableCache();
  });

  const write = (name: string, content: unknown): string => {
    const f = path.join(tmp, name);
    fs.writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
    return f;
  };
  const user = {
    as_of: '2026-12-01',
    models: [
      { id: 'openai/gpt-4.1', provider: 'openai', match: ['gpt-4.1', 'gpt-4.1-20??-??-??'], prices: { input: 1, cache_read: 0.25, output: 4 }, source: 'my contract' },
      { id: 'acme/foo', provider: ['acme', 'openai'], match_regex: '^foo-\\d+$', prices: { input: 10, output: 20 }, as_of: '2026-11-30' },
    ],
  };

  it('is merged over the built-in table: replaces entries by id, adds new ones, keeps the rest', () => {
    const merged = loadPriceTable({ env: { AGENTSIGHT_PRICES: write('prices.json', user) } });
    expect(merged.as_of).toBe('2026-12-01');
    // gpt-4.1 at the user's prices: 4 000 × 1 + 6 000 × 0.25 + 1 000 × 4 = 0.004 + 0.0015 + 0.004
    const r = priceCall({ provider: 'openai', model: 'gpt-4.1', usage: usage({ input_tokens: 10_000, cache_read_input_tokens: 6_000, output_tokens: 1_000 }) }, merged);
    expect(r).toMatchObject({ cost_usd: 0.0095, price_id: 'openai/gpt-4.1@2026-12-01' });
    expect(merged.models.filter((m) => m.id === 'openai/gpt-4.1')).toHaveLength(1);
    // New entry, regex match, several providers. 1 000 × 10 + 1 000 × 20 = 0.01 + 0.02
    expect(priceCall({ provider: 'acme', model: 'foo-42', usage: usage({ input_tokens: 1_000, output_tokens: 1_000 }) }, merged)).toMatchObject({ cost_usd: 0.03, price_id: 'acme/foo@2026-11-30' });
    expect(priceCall({ provider: 'acme', model: 'foo-bar', usage: usage({ input_tokens: 1, output_tokens: 1 }) }, merged)).toBeNull();
    // Built-in entries still there.
    expect(priceCall({ provider: 'anthropic', model: 'claude-haiku-4-5', usage: usage({ input_tokens: 1_000_000, output_tokens: 0 }) }, merged)?.cost_usd).toBe(1);
  });

  it('the default table reads AGENTSIGHT_PRICES once; a bad file is reported and ignored', () => {
    const prev = process.env.AGENTSIGHT_PRICES;
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      process.env.AGENTSIGHT_PRICES = write('default.json', user);
      resetPriceTableCache();
      expect(priceCall({ provider: 'acme', model: 'foo-1', usage: usage({ input_tokens: 1_000_000, output_tokens: 0 }) })?.cost_usd).toBe(10);
      process.env.AGENTSIGHT_PRICES = write('bad.json', '{ not json');
      expect(defaultPriceTable().models.some((m) => m.id === 'acme/foo')).toBe(true); // cached
      resetPriceTableCache();
      expect(defaultPriceTable().models.some((m) => m.id === 'acme/foo')).toBe(false);
      expect(stderr.mock.calls.map((c) => String(c[0])).join('')).toMatch(/AGENTSIGHT_PRICES ignored: price file .*bad\.json is not valid JSON/);
    } finally {
      stderr.mockRestore();
      if (prev === undefined) delete process.env.AGENTSIGHT_PRICES;
      else process.env.AGENTSIGHT_PRICES = prev;
      resetPriceTableCache();
    }
  });

  it('rejects invalid tables with the offending entry named', () => {
    const base: PriceTable = { as_of: '2026-01-01', models: [] };
    expect(() => validatePriceTable({ ...base, models: [{ id: 'x', provider: 'p', match: ['m'], prices: { input: -1 } }] }, 'f.json')).toThrow(/f\.json: models\[0\] \(x\): price `input` must be a non-negative/);
    expect(() => validatePriceTable({ ...base, models: [{ id: 'x', provider: 'p', match: ['m'], prices: { inptu: 1 } }] })).toThrow(/unknown price `inptu`/);
    expect(() => validatePriceTable({ ...base, models: [{ id: 'x', provider: 'p', prices: {} }] })).toThrow(/needs `match` or `match_regex`/);
    expect(() => validatePriceTable({ as_of: 'today', models: [] })).toThrow(/as_of/);
    expect(() => loadPriceTable({ overridePath: path.join(tmp, 'missing.json') })).toThrow(/cannot read price file/);
  });
});
