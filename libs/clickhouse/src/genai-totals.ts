/**
 * Totals of every stored LLM call per provider, model and agent: what the api's Prometheus `/metrics` exposes as the
 * `agentsight_gen_ai_*_total` counters (services/api/src/metrics/prometheus.ts). Read with `FINAL`, so a call stored
 * twice (redelivery) counts once; rows dropped by retention (TTL, size cap) are no longer counted.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows } from './repositories/sql';
import { DEFAULT_DATABASE, qualified } from './schema';

/** One (provider, model, agent) group of {@link genAiTotals}. Token counts are sums of the stored calls' counts. */
export interface GenAiTotalsRow {
  /** `gen_ai.provider.name`. */
  provider: string;
  /** `gen_ai.response.model`, else `gen_ai.request.model`, else ''. */
  model: string;
  /** `gen_ai.agent.name`, '' when unknown. */
  agent: string;
  calls: number;
  /** Calls with an `error.type`. */
  failed_calls: number;
  /** `gen_ai.usage.input_tokens` (includes cached input, semconv v1.41). */
  input_tokens: number;
  /** `gen_ai.usage.output_tokens` (includes reasoning). */
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  reasoning_output_tokens: number;
  /** USD of the priced calls (list prices, libs/pricing). */
  cost_usd: number;
  /** Calls without a price (no price-table entry or no token counts): not in `cost_usd`, never counted as $0. */
  unpriced_calls: number;
}

/** Every stored call summed per (provider, model, agent), sorted by those keys. Throws when ClickHouse does not answer. */
export async function genAiTotals(client: ClickHouseClient, database: string = DEFAULT_DATABASE): Promise<GenAiTotalsRow[]> {
  const rows = await queryRows<Record<string, string | number>>(
    client,
    `SELECT provider, coalesce(response_model, request_model, '') AS model, coalesce(agent_name, '') AS agent,
                   count() AS n, countIf(error_type IS NOT NULL AND error_type != '') AS failed,
                   sum(coalesce(input_tokens, 0)) AS input_sum, sum(coalesce(output_tokens, 0)) AS output_sum,
                   sum(coalesce(cache_read_input_tokens, 0)) AS cache_read_sum,
                   sum(coalesce(cache_creation_input_tokens, 0)) AS cache_creation_sum,
                   sum(coalesce(reasoning_output_tokens, 0)) AS reasoning_sum,
                   sum(coalesce(cost_usd, 0)) AS cost_sum, countIf(cost_usd IS NULL) AS unpriced_calls
            FROM ${qualified(database, 'llm_calls')} FINAL
            GROUP BY provider, model, agent ORDER BY provider, model, agent`,
  );
  return rows.map((r) => ({
    provider: String(r.provider), model: String(r.model), agent: String(r.agent),
    calls: Number(r.n), failed_calls: Number(r.failed),
    input_tokens: Number(r.input_sum), output_tokens: Number(r.output_sum),
    cache_read_input_tokens: Number(r.cache_read_sum), cache_creation_input_tokens: Number(r.cache_creation_sum),
    reasoning_output_tokens: Number(r.reasoning_sum),
    cost_usd: Number(r.cost_sum), unpriced_calls: Number(r.unpriced_calls),
  }));
}
