/**
 * Pipeline guarantees under real capture, with the stage services running as separate processes:
 * a 2 MiB request body is stored byte-identical; bad input becomes dead letters and does not stop the pipeline;
 * kill -9 of the parser, then of the aggregator, in the middle of a stream loses and duplicates nothing.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decode, DeadLetter } from '@agentsight/contracts';
import { connectNats } from '@agentsight/jetstream';
import { groundTruthFor, startReplayServer, ReplayServer } from '@agentsight/testkit';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { api, captureRun, describeCapture, Infra, sh, Stages, startInfra } from './harness';

type Row = Record<string, any>;
const CLIENT = join(__dirname, 'client.js');

describeCapture('pipeline guarantees under real capture', () => {
  let infra: Infra;
  let stages: Stages;
  let server: ReplayServer;
  const node = (args: string) => `node ${CLIENT} ${server.url} ${server.caPath} ${args}`;

  beforeAll(async () => {
    infra = await startInfra();
    stages = new Stages(infra.env);
    await stages.startAll();
    server = await startReplayServer({});
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await stages?.stopAll();
    await infra?.stop();
  });

  test('a 2 MiB request body is stored byte-identical', async () => {
    const body = Buffer.alloc(2 * 1024 * 1024);
    // JSON text with varied content, so it is stored as text and any shifted or lost byte shows.
    const head = Buffer.from('{"blob":"');
    head.copy(body);
    for (let i = head.length; i < body.length - 2; i++) body[i] = 0x41 + ((i * 2654435761) >>> 27);
    body.write('"}', body.length - 2);
    const file = join(infra.dataDir, 'big.json');
    writeFileSync(file, body);
    const run = await captureRun(infra, node(`post /v1/echo - ${file}`));
    expect(run.code).toBe(0);
    expect(run.probe.lost_records).toBe(0);
    expect(run.probe.ringbuf_drops).toBe(0);
    await waitDrained(infra.env);
    const list: Row[] = await api(infra, '/api/exchanges?target=/v1/echo');
    expect(list).toHaveLength(1);
    const ex: Row = await api(infra, `/api/exchanges/${list[0].exchange_id}`);
    const stored = Buffer.from(ex.request_body_base64, 'base64');
    expect(stored.length).toBe(body.length);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    expect(ex.status).toBe(200);
  }, 120_000);

  test('bad input becomes dead letters and the pipeline carries on', async () => {
    const truncated = '{"model":"gpt-4.1-nano","messages":[{"role":"user","content":"cut he';
    const good = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    const run = await captureRun(infra, [
      node('garbage'),
      node(`post /v1/chat/completions vercel__openai-text.json '${truncated}'`),
      node(`post /v1/messages vercel__anthropic-text.json '${good}'`),
    ].join(' && '));
    expect(run.code).toBe(0);
    await waitDrained(infra.env);
    const nats = await connectNats(infra.natsUrl, 'e2e-dlq');
    const letters: DeadLetter[] = [];
    try {
      const c = await nats.js.consumers.get('AGENTSIGHT_DLQ');
      for (;;) {
        const m = await c.next({ expires: 1000 });
        if (!m) break;
        letters.push(decode<DeadLetter>(m.data));
      }
    } finally {
      await nats.nc.close();
    }
    const notHttp = letters.filter((d) => d.stage === 'parser' && d.reason === 'not_http');
    expect(notHttp.length).toBeGreaterThanOrEqual(1);
    expect(notHttp[0].sample.length).toBeGreaterThan(0);
    expect(letters.some((d) => d.stage === 'analyzer' && d.reason === 'json_parse_error')).toBe(true);
    // What came after the bad input is stored as usual.
    const calls: Row[] = await api(infra, '/api/calls');
    const gt = groundTruthFor('vercel__anthropic-text.json');
    expect(calls.filter((c) => c['gen_ai.response.id'] === gt.response_id)).toHaveLength(1);
    const stored: Row[] = await api(infra, '/api/dead-letters');
    expect(stored.some((d) => d.reason === 'not_http')).toBe(true);
  }, 120_000);

  test('API keys in headers and bodies never reach storage', async () => {
    const key = `sk-ant-api03-${createHash('sha256').update(String(Date.now())).digest('hex')}`;
    const run = await captureRun(infra, node(`secret /v1/messages vercel__anthropic-text.json ${key}`));
    expect(run.code).toBe(0);
    expect(server.requests.some((r) => r.headers['x-api-key'] === key)).toBe(true); // it really went over TLS
    await waitDrained(infra.env);
    const list: Row[] = await api(infra, '/api/exchanges?target=/v1/messages');
    expect(list.length).toBeGreaterThan(0);
    const secret = key.slice(14); // the random part
    for (const e of list) {
      const ex: Row = await api(infra, `/api/exchanges/${e.exchange_id}`);
      const text = JSON.stringify(ex) + Buffer.from(ex.request_body_base64, 'base64').toString() + Buffer.from(ex.response_body_base64, 'base64').toString();
      expect(text).not.toContain(secret);
    }
    const planted = await Promise.all(list.map((e) => api(infra, `/api/exchanges/${e.exchange_id}`)));
    expect(planted.some((ex: Row) => ex.request_headers.some(([k, v]: string[]) => k.toLowerCase() === 'x-api-key' && v === '[REDACTED]'))).toBe(true);
    for (const path of ['/api/calls', '/api/audit', '/api/dead-letters']) expect(JSON.stringify(await api(infra, path))).not.toContain(secret);
  }, 120_000);

  test('kill -9 of the parser, then of the aggregator, mid-stream: calls equal the reference, no duplicates', async () => {
    const before = new Set((await api<Row[]>(infra, '/api/calls')).map((c) => c.call_id));
    const fixtures = ['vercel__openai-text.chunks.txt', 'vercel__anthropic-text.chunks.txt'];
    const requestsBefore = server.requests.length;
    const waitRequest = async (n: number) => {
      while (server.requests.length < requestsBefore + n) await new Promise((r) => setTimeout(r, 20));
    };
    // Whether a streaming client is still reading its response (so a kill lands mid-stream).
    const streaming = (fixture: string) => sh(`pgrep -f 'client.js .* stream .*${fixture}' || true`).trim() !== '';
    const midStream: boolean[] = [];
    const run = await captureRun(infra, [
      node(`stream /v1/chat/completions ${fixtures[0]} 10`),
      node(`stream /v1/messages ${fixtures[1]} 150`),
    ].join(' && '), infra.env, async () => {
      await waitRequest(1);
      await new Promise((r) => setTimeout(r, 1200));
      midStream.push(streaming(fixtures[0]));
      await stages.kill9('parser');
      await new Promise((r) => setTimeout(r, 300));
      await stages.start('parser');
      await waitRequest(2);
      await new Promise((r) => setTimeout(r, 700));
      midStream.push(streaming(fixtures[1]));
      await stages.kill9('aggregator');
      await new Promise((r) => setTimeout(r, 300));
      await stages.start('aggregator');
    });
    expect(run.code).toBe(0);
    expect(midStream).toEqual([true, true]);
    await waitDrained(infra.env);
    const calls = (await api<Row[]>(infra, '/api/calls')).filter((c) => !before.has(c.call_id));
    expect(calls).toHaveLength(2);
    for (const f of fixtures) {
      const gt = groundTruthFor(f);
      const c = calls.find((x) => x['gen_ai.response.id'] === gt.response_id)!;
      expect(c).toBeDefined();
      expect(c['gen_ai.response.model']).toBe(gt.model);
      expect(c['gen_ai.usage.output_tokens']).toBe(gt.output_tokens);
      expect(c['gen_ai.response.finish_reasons']).toEqual([gt.finish_reason]);
      expect(c.output_text.startsWith(gt.text_prefix)).toBe(true);
    }
    // No duplicates anywhere downstream, in the streams themselves: one LLM call and one inference event per call, and
    // each version of an agent-session event (invoke_agent, re-published as the session grows) exactly once.
    const nats = await connectNats(infra.natsUrl, 'e2e-count');
    try {
      const llm = await nats.jsm.streams.info('AGENTSIGHT_LLM');
      const stored = await api<Row[]>(infra, '/api/calls');
      expect(llm.state.messages).toBe(stored.length);
      const events: Array<{ id: string; kind?: string; version?: number }> = [];
      const c = await nats.js.consumers.get('AGENTSIGHT_GENAI');
      for (;;) {
        const m = await c.next({ expires: 1000 });
        if (!m) break;
        events.push(decode(m.data));
      }
      expect(events.filter((e) => !e.kind || e.kind === 'inference')).toHaveLength(stored.length);
      const versions = events.map((e) => `${e.kind}|${e.id}|${e.version ?? 0}`);
      expect(new Set(versions).size).toBe(versions.length);
    } finally {
      await nats.nc.close();
    }
  }, 180_000);
});
