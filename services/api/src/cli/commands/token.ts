/** `agentsight token`: tokens and cost (USD, list prices) by model, provider or process over a period (text: `../token-text.ts`). */
import type { Command } from 'commander';
import { TOKEN_GROUP_BYS, TOKEN_PERIODS, type TokenGroupBy, type TokenPeriod } from '@agentsight/clickhouse';
import { dataDirOption, jsonOption } from '../options';
import { withReader } from '../read';
import { tokenText } from '../token-text';

/** Registers `token`. */
export function registerToken(p: Command): void {
  jsonOption(dataDirOption(p.command('token').description('tokens and cost (USD, list prices) by model, provider or process')))
    .option('--period <p>', TOKEN_PERIODS.join(' | '), 'today')
    .option('--group-by <g>', TOKEN_GROUP_BYS.join(' | '), 'model')
    .option('--compare', 'also show the previous period and the change')
    .option('--detail', 'break input tokens down by role (system, user, assistant, tool) and output tokens by type (text, reasoning, tool calls); output includes reasoning for every provider (Gemini/xAI report it apart, agentsight adds it)')
    .action(async (o) => {
      if (!TOKEN_PERIODS.includes(o.period)) throw new Error(`--period must be one of ${TOKEN_PERIODS.join(', ')}`);
      if (!TOKEN_GROUP_BYS.includes(o.groupBy)) throw new Error(`--group-by must be one of ${TOKEN_GROUP_BYS.join(', ')}`);
      return withReader(o, async (r) => {
        const s = await r.token({ period: o.period as TokenPeriod, groupBy: o.groupBy as TokenGroupBy, compare: Boolean(o.compare), detail: Boolean(o.detail) });
        process.stdout.write((o.json ? JSON.stringify(s, null, 2) : tokenText(s)) + '\n');
      });
    });
}
