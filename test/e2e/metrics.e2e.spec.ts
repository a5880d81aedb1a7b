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

/** `/metrics` as text, with the token. */
async function scrapeText(infra: Infra): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${infra.env.AGENTSIGHT_API_PORT}/metrics`, { headers: { authorization: `Bearer ${apiToken(infra.env)}` } });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain;.*version=0\.0\.4/);
  return r.text();
}

/** Scrapes `/metrics` with the token and parses it; every family is checked for the `_total` convention of counters. */
async function scrape(infra: Infra): Promise<Map<string, Family>> {
  const families = parsePrometheusTextFormat(await scrapeText(infra));
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

/** One histogram series: cumulative buckets in `le` order, sum, count. */
interface Hist { buckets: Array<[string, number]>; sum: number; count: number }

/**
 * The series of histogram `name` in exposition text by their `stage`/`consumer` labels (`stage/consumer`). Parsed
 * here: parse-prometheus-text-format drops the labels of histogram series.
 */
function histograms(text: string, name: string): Map<string, Hist> {
  const out = new Map<string, Hist>();
  const get = (labels: string) => {
    const l = Object.fromEntries([...labels.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const k = `${l.stage}/${l.consumer}`;
    if (!out.has(k)) out.set(k, { buckets: [], sum: NaN, count: NaN });
    return { h: out.get(k)!, le: l.le };
  };
  for (const m of text.matchAll(new RegExp(`^${name}_(bucket|sum|count)\\{([^}]*)\\} (\\S+)$`, 'gm'))) {
    const { h, le } = get(m[2]);
    if (m[1] === 'bucket') h.buckets.push([le, Number(m[3])]);
    else h[m[1] as 'sum' | 'count'] = Number(m[3]);
  }
  return out;
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
    expect(sum(m, 'agentsight_producer_lost_records_total', host)).toBe(run.probe.lost_records);
    expect(sum(m, 'agentsight_producer_ringbuf_dropped_records_total', host)).toBe(run.probe.lost_records);
    expect(sum(m, 'agentsight_producer_publish_reordered_total', host)).toBe(run.probe.publish_reordered);
    expect(sum(m, 'agentsight_producer_published_records_total', host)).toBe(run.probe.last_seq); // the final loss record: all but itself acked
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

  test('stage batch-latency histograms, scraped during a run: records per batch add up to what each stage consumed', async () => {
    const llm = (m: Map<string, Family>) => sum(m, 'agentsight_stream_published_messages_total', { stream: 'AGENTSIGHT_LLM' });
    const exchanges = (m: Map<string, Family>) => sum(m, 'agentsight_stream_published_messages_total', { stream: 'AGENTSIGHT_EXCHANGE' });
    const before = { text: await scrapeText(f.infra), m: await scrape(f.infra) };
    const body = `'${JSON.stringify({ model: 'gpt-4.1-nano', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })}'`;
    const run = await captureRun(f.infra, [node(`post /v1/chat/completions vercel__openai-text.json ${body}`), node(`post /v1/chat/completions vercel__openai-text.json ${body}`)].join(' && '));
    expect(run.code).toBe(0);
    await waitDrained(f.infra.env);
    const m = await scrape(f.infra);
    const newLlm = llm(m) - llm(before.m);
    const newExchanges = exchanges(m) - exchanges(before.m);
    expect(newLlm).toBe(2);
    expect(newExchanges).toBeGreaterThanOrEqual(2);
    const records = (text: string, k: string) => histograms(text, 'agentsight_stage_batch_records').get(k)?.sum ?? 0;
    // Stages report once a second: wait (bounded) until the genai stage's report of these calls has come in.
    let text = await scrapeText(f.infra);
    for (let i = 0; i < 60 && records(text, 'genai/genai') - records(before.text, 'genai/genai') < newLlm; i++) {
      await new Promise((r) => setTimeout(r, 500));
      text = await scrapeText(f.infra);
    }
    expect(text).toMatch(/^# TYPE agentsight_stage_batch_duration_seconds histogram$/m);
    expect(text).toMatch(/^# TYPE agentsight_stage_batch_records histogram$/m);
    // every input a stateless stage consumed is in exactly one batch: the records' sum grew by what was published to it
    expect(records(text, 'genai/genai') - records(before.text, 'genai/genai')).toBe(newLlm);
    expect(records(text, 'analyzer/analyzer') - records(before.text, 'analyzer/analyzer')).toBe(newExchanges);
    const seconds = histograms(text, 'agentsight_stage_batch_duration_seconds');
    const recs = histograms(text, 'agentsight_stage_batch_records');
    for (const k of ['parser/parser', 'aggregator/aggregator', 'analyzer/analyzer', 'genai/genai', 'storage/storage-genai', 'storage/storage-exchange']) {
      expect({ k, seen: seconds.has(k) && recs.has(k) }).toEqual({ k, seen: true });
    }
    for (const [k, h] of [...seconds, ...recs]) {
      // cumulative buckets in le order, ending at +Inf = count; a sum for the count
      expect({ k, last: h.buckets[h.buckets.length - 1] }).toEqual({ k, last: ['+Inf', h.count] });
      for (let i = 1; i < h.buckets.length; i++) expect(h.buckets[i][1]).toBeGreaterThanOrEqual(h.buckets[i - 1][1]);
      expect(h.count).toBeGreaterThan(0);
      expect(h.sum).toBeGreaterThan(0);
    }
    // each stage's batch count is the same in both histograms (one observation of each per batch)
    for (const [k, h] of seconds) expect({ k, count: recs.get(k)?.count }).toEqual({ k, count: h.count });
    // The stage event counters are declared at 0 by the aggregator when it starts: on the page before any event, and
    // 0 after a run where the process table was built and every process known in time.
    expect(text).toMatch(/^# TYPE agentsight_cache_rebuilds_given_up_total counter$/m);
    expect(text).toMatch(/^# TYPE agentsight_aggregator_proc_catch_up_timeouts_total counter$/m);
    const after = await scrape(f.infra);
    expect(sum(after, 'agentsight_cache_rebuilds_given_up_total', { stage: 'aggregator', cache: 'proc' })).toBe(0);
    expect(sum(after, 'agentsight_aggregator_proc_catch_up_timeouts_total', { stage: 'aggregator' })).toBe(0);
    expect(after.get('agentsight_cache_rebuilds_given_up_total')?.metrics.some((x) => x.labels?.stage === 'aggregator' && x.labels?.cache === 'proc')).toBe(true);
  }, 180_000);
});
