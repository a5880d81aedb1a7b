/** `agentsight token` as text: the rendering of a TokenSummary (libs/clickhouse `tokenSummary`). */
import type { TokenSummary, TokenSummaryRow, TokenTotals } from '@agentsight/clickhouse';
import { table, usdText } from './format';

/** `agentsight token` as text: one line per group, a total line, and with --compare the previous period and the change. */
export function tokenText(s: TokenSummary): string {
  const total: TokenSummaryRow = { ...s.totals, provider: 'total', model: null, process_name: 'total' };
  const keys: Array<[string, (t: TokenSummaryRow) => unknown]> =
    s.group_by === 'model' ? [['provider', (t) => t.provider], ['model', (t) => (t === total ? '' : t.model || '?')]]
      : s.group_by === 'provider' ? [['provider', (t) => t.provider]] : [['process', (t) => t.process_name]];
  const cols: Array<[string, (t: TokenSummaryRow) => unknown]> = [
    ...keys, ['calls', (t) => t.calls], ['input', (t) => t.input_tokens], ['output', (t) => t.output_tokens],
    ['cache_read', (t) => t.cache_read_input_tokens], ['cache_creation', (t) => t.cache_creation_input_tokens], ['cost', (t) => usdText(t.cost_usd, t.unpriced_calls)],
  ];
  const out = [`${s.period}: ${s.from} → ${s.to}`, s.rows.length ? table([...s.rows, total], cols) : '(none)'];
  if (s.totals.detail && s.rows.length) out.push('', detailText([...s.rows, total], keys));
  if (s.previous && s.change) {
    const p = s.previous.totals;
    const c = s.change;
    const signed = (n: number) => (n > 0 ? `+${n}` : String(n));
    const pctText = (n: number | null) => (n === null ? '' : ` (${n > 0 ? '+' : ''}${n}%)`);
    out.push(`previous: ${s.previous.from} → ${s.previous.to}: ${totalsText(p)}`);
    out.push(`change: ${signed(c.calls)} calls, ${signed(c.input_tokens + c.output_tokens)} tokens${pctText(c.tokens_pct)}, cost ${c.cost_usd === null ? 'unknown (unpriced)' : (c.cost_usd > 0 ? '+' : '') + usdText(c.cost_usd)}${pctText(c.cost_usd_pct)}`);
  }
  return out.join('\n');
}

/**
 * `token --detail`: per group, input tokens by role and output tokens by type (each with its share of the group's
 * breakdown in %), and how many calls have a breakdown.
 */
function detailText(rows: TokenSummaryRow[], keys: Array<[string, (t: TokenSummaryRow) => unknown]>): string {
  const pct = (part: number, all: number) => (all > 0 ? `${part} (${Math.round((part / all) * 100)}%)` : String(part));
  const inSum = (t: TokenSummaryRow) => (t.detail ? t.detail.input.system + t.detail.input.user + t.detail.input.assistant + t.detail.input.tool : 0);
  const outSum = (t: TokenSummaryRow) => (t.detail ? t.detail.output.text + t.detail.output.reasoning + t.detail.output.tool_calls : 0);
  const cols: Array<[string, (t: TokenSummaryRow) => unknown]> = [
    ...keys,
    ['in:system', (t) => pct(t.detail?.input.system ?? 0, inSum(t))], ['in:user', (t) => pct(t.detail?.input.user ?? 0, inSum(t))],
    ['in:assistant', (t) => pct(t.detail?.input.assistant ?? 0, inSum(t))], ['in:tool', (t) => pct(t.detail?.input.tool ?? 0, inSum(t))],
    ['out:text', (t) => pct(t.detail?.output.text ?? 0, outSum(t))], ['out:reasoning', (t) => pct(t.detail?.output.reasoning ?? 0, outSum(t))],
    ['out:tool_calls', (t) => pct(t.detail?.output.tool_calls ?? 0, outSum(t))],
    ['calls w/ detail', (t) => `${t.detail?.input_calls ?? 0}/${t.calls}`],
  ];
  return `tokens by role (input) and type (output):\n${table(rows, cols).replace(/\n$/, '')}\n(output includes reasoning, per OTel semconv; for Gemini and xAI, which report it apart, agentsight adds it)`;
}

function totalsText(t: TokenTotals): string {
  return `${t.calls} calls, ${t.input_tokens} input + ${t.output_tokens} output tokens, ${usdText(t.cost_usd, t.unpriced_calls)}`;
}
