/**
 * Prometheus `/metrics` of the api under real capture: behind the token; scraped before and after a run, parsed as the
 * text exposition format (parse-prometheus-text-format), its counters equal the stored rows and calls' tokens, the
 * probe's own counters (its `stopped` line), the capture page's numbers, and the brokers' state.
 */
import { apiToken } from '@agentsight/jetstream';
import { join } from 'node:path';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const parsePrometheusTextFormat = require('parse-prometheus-text-format') as (text: string) => Family[];
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { api, captureRun, describeCapture, Infra, usePipeline } from './harness';

/** One metric family as parse-prometheus-text-format returns it. */
interface Family { name: string; help: string; type: string; metrics: Array<{ value?: string; labels?: Record<string, string> }> }
type Row = Record<string, any>;
const CLIENT = join(__dirname, 'client.js');

/** Scrapes `/metrics` with the token and parses it; every family is checked for the `_total` convention of counters. */
async function scrape(infra: Infra): Promise<Map<string, Family>> {
  const r = await fetch(`http://127.0.0.1:${infra.env.AGENTSIGHT_API_PORT}/metrics`, { headers: { authorization: `Bearer ${apiToken(infra.env)}` } });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain;.*version=0\.0\.4/);
  const families = parsePrometheusTextFormat(await r.text());
  for (const f of families) {
    expect(f.name).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
    if (f.type === 'COUNTER') expect(f.name).toMatch(/_total$/);
  }
  return new Map(families.map((f) => [f.name, f]));
}

/** Sum of a family's samples whose labels include `where` (0 when absent). */
function sum(m: Map<string, Family>, name: string, where: Record<string, string> = {}): number {
  return (m.get(name)?.metrics ?? []).filter((s) => Object.entries(where).every(([k, v]) => s.labels?.[k] === v)).reduce((a, s) => a + Number(s.value), 0);
}

describeCapture('Prometheus /metrics of the api', () => {
  const f = usePipeline();
  const node = (args: string) => `node ${CLIENT} ${f.server.url} ${f.server.caPath} ${args}`;

  test('needs the token like the rest of the API', async () => {
    const r = await fetch(`http://127.0.0.1:${f.infra.env.AGENTSIGHT_API_PORT}/metrics`);
    expect(r.status).toBe(401);
  });

  test('counters equal the stored rows, the calls\' tokens, the probe\'s counters and the capture page', async () => {
    const before = await scrape(f.infra);
    expect(sum(before, 'agentsight_gen_ai_calls_total')).toBe(0);
    expect(sum(before, 'agentsight_store_rows', { table: 'llm_calls' })).toBe(0);
    const body = (model: string) => `'${JSON.stringify({ model, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })}'`;
    const run = await captureRun(f.infra, [
      node(`post /v1/messages vercel__anthropic-text.json ${body('claude-sonnet-4-5')}`),
      node(`post /v1/chat/completions vercel__openai-text.json ${body('gpt-4.1-nano')}`),
      node('garbage'),
    ].join(' && '));
    expect(run.code).toBe(0);
    await waitDrained(f.infra.env);
    const m = await scrape(f.infra);
    const calls: Row[] = await api(f.infra, '/api/calls');
    const cap: Row = await api(f.infra, '/api/capture');
    expect(calls).toHaveLength(2);

    // GenAI counters = the stored calls.
    expect(sum(m, 'agentsight_gen_ai_calls_total')).toBe(calls.length);
    for (const c of calls) {
      const l = { gen_ai_provider_name: c['gen_ai.provider.name'], gen_ai_response_model: c['gen_ai.response.model'] ?? c['gen_ai.request.model'] ?? '' };
      expect(sum(m, 'agentsight_gen_ai_calls_total', l)).toBe(1);
      expect(sum(m, 'agentsight_gen_ai_tokens_total', { ...l, gen_ai_token_type: 'input' })).toBe(c['gen_ai.usage.input_tokens']);
      expect(sum(m, 'agentsight_gen_ai_tokens_total', { ...l, gen_ai_token_type: 'output' })).toBe(c['gen_ai.usage.output_tokens']);
    }
    expect(sum(m, 'agentsight_gen_ai_cost_usd_total')).toBeCloseTo(calls.reduce((a, c) => a + (c.cost_usd ?? 0), 0), 9);
    expect(sum(m, 'agentsight_gen_ai_unpriced_calls_total')).toBe(calls.filter((c) => c.cost_usd === null).length);

    // Store and dead letters = the capture page.
    for (const t of cap.tables) expect(sum(m, 'agentsight_store_rows', { table: t.table })).toBe(t.rows);
    expect(sum(m, 'agentsight_store_rows', { table: 'llm_calls' })).toBe(2);
    expect(cap.dead_letters.length).toBeGreaterThan(0); // the garbage connection
    for (const d of cap.dead_letters) expect(sum(m, 'agentsight_dead_letters_total', { stage: d.stage, reason: d.reason })).toBe(d.count);
    expect(sum(m, 'agentsight_dead_letters_total', { stage: 'parser', reason: 'not_http' })).toBeGreaterThanOrEqual(1);

    // Probe counters = the probe's own stopped line (its final loss record is the one the api reads).
    const host = { host: 'e2e-host' };
    expect(sum(m, 'agentsight_producer_records_total', host)).toBe(run.probe.records);
    expect(sum(m, 'agentsight_producer_ringbuf_dropped_records_total', host)).toBe(run.probe.ringbuf_drops);
    const probes = run.probe.probes as Array<{ binary: string; fn: string; records: number; bytes: number; fragments: number }>;
    expect(probes.some((p) => p.records > 0)).toBe(true);
    for (const p of probes) {
      const l = { ...host, binary: p.binary, function: p.fn };
      expect(sum(m, 'agentsight_probe_records_total', l)).toBe(p.records);
      expect(sum(m, 'agentsight_probe_bytes_total', l)).toBe(p.bytes);
      expect(sum(m, 'agentsight_probe_fragments_total', l)).toBe(p.fragments);
    }

    // Brokers: drained durables have no lag; every stream's published counter covers what it holds.
    for (const c of cap.consumers) expect(sum(m, 'agentsight_consumer_pending_messages', { stream: c.stream, durable: c.durable })).toBe(c.pending);
    expect(sum(m, 'agentsight_consumer_pending_messages')).toBe(0);
    for (const s of cap.streams) {
      expect(sum(m, 'agentsight_stream_messages', { stream: s.stream })).toBe(s.messages);
      expect(sum(m, 'agentsight_stream_published_messages_total', { stream: s.stream })).toBeGreaterThanOrEqual(s.messages);
    }
    expect(sum(m, 'agentsight_stream_published_messages_total', { stream: 'AGENTSIGHT_LLM' })).toBe(2);
    expect(sum(m, 'agentsight_scrape_errors')).toBe(0);
    expect(m.get('process_cpu_seconds_total')?.type).toBe('COUNTER');
  }, 180_000);
});
