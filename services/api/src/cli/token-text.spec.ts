/** `agentsight token` text output with `--detail` (tokenText over a TokenSummary as tokenSummary returns it). */
import type { TokenSummary } from '@agentsight/clickhouse';
import { tokenText } from './token-text';

test('--detail prints input tokens by role and output tokens by type, with shares and calls covered', () => {
  const detail = { input: { system: 11, user: 28, assistant: 17, tool: 10 }, output: { text: 306, reasoning: 3, tool_calls: 11 }, input_calls: 2, output_calls: 2 };
  const s: TokenSummary = {
    period: 'today', group_by: 'model', from: '2024-05-15T00:00:00.000Z', to: '2024-05-15T12:00:00.000Z',
    rows: [{ provider: 'openai', model: 'gpt-4o', process_name: null, calls: 3, input_tokens: 78, output_tokens: 350, cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0, reasoning_output_tokens: 3, cost_usd: null, unpriced_calls: 3, detail }],
    totals: { calls: 3, input_tokens: 78, output_tokens: 350, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, reasoning_output_tokens: 3,
      cost_usd: null, unpriced_calls: 3, detail },
  };
  const lines = tokenText(s).split('\n');
  // Columns use the semconv names: `gen_ai.usage.cache_creation.input_tokens` is `cache_creation`.
  expect(lines[1].split(/\s{2,}/)).toEqual(['provider', 'model', 'calls', 'input', 'output', 'cache_read', 'cache_creation', 'cost']);
  const at = lines.indexOf('tokens by role (input) and type (output):');
  expect(at).toBeGreaterThan(0);
  expect(lines[at + 1].split(/\s{2,}/)).toEqual(['provider', 'model', 'in:system', 'in:user', 'in:assistant', 'in:tool', 'out:text', 'out:reasoning', 'out:tool_calls', 'calls w/ detail']);
  // 11/66 = 17 %, 28/66 = 42 %, 17/66 = 26 %, 10/66 = 15 %; 306/320 = 96 %, 3/320 = 1 %, 11/320 = 3 %.
  expect(lines[at + 2].split(/\s{2,}/)).toEqual(['openai', 'gpt-4o', '11 (17%)', '28 (42%)', '17 (26%)', '10 (15%)', '306 (96%)', '3 (1%)', '11 (3%)', '2/3']);
  expect(lines[at + 3].split(/\s{2,}/)).toEqual(['total', '11 (17%)', '28 (42%)', '17 (26%)', '10 (15%)', '306 (96%)', '3 (1%)', '11 (3%)', '2/3']);
  expect(lines[at + 4]).toBe('(output includes reasoning, per OTel semconv; for Gemini and xAI, which report it apart, agentsight adds it)');
  // Without a breakdown in the summary, no detail block.
  const { detail: _d, ...plainTotals } = s.totals;
  expect(tokenText({ ...s, rows: s.rows.map(({ detail: _x, ...r }) => r), totals: plainTotals })).not.toContain('tokens by role');
});
