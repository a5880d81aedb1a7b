/**
 * OTLP export end to end: real NATS, Redis and chDB private to this file, the built analyzer, genai, api and exporter
 * services as separate processes, and a local OTLP/HTTP receiver (node http on 127.0.0.1) standing in for a collector.
 * Each agent makes two LLM calls on two TLS connections (the corpus' streamed OpenAI call asking for a tool, then the
 * request carrying the tool's result), published as the aggregator would; the pipeline derives inference,
 * execute_tool and invoke_agent events and the exporter sends them as spans. No eBPF needed.
 * 1. protobuf: the received spans equal the stored events (ids, parent, times, attributes), each exactly once;
 * 2. the receiver answers 503 for a while, and the exporter is restarted meanwhile: nothing lost, nothing duplicated;
 * 3. the SLS preset (OTLP/JSON): the x-sls-otel-* headers arrive at `/opentelemetry/v1/traces`, the secret is never logged;
 * 4. OTLP metrics: the GenAI client histograms equal the stored calls' tokens and durations, and the process metrics
 *    equal the resource samples of a real process (sampled by the CLI's sampler, published on the raw stream).
 * The settle time is 2 s and the ack wait 6 s (inputs a stopped exporter's open pull request took come again after it);
 * waits are on conditions, never on durations.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connKey, decode, deriveId, Subjects, type Exchange, type GenAiRecord, type RawResourceSample } from '@agentsight/contracts';
import { connectNats, Publisher, type Nats } from '@agentsight/jetstream';
import { groundTruthFor, exchangeFor, makeExchange } from '@agentsight/testkit';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { bootId, readProcSample, sampleTree } from '../../services/api/src/cli/resources/sampler';
import { analyzeExchange } from '../../services/analyzer/src/domain';
import { spanIdOf, sessionTraceId } from '../../services/exporter/src/domain/spans';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../../services/exporter/src/otlp-receiver.test';
import { api, Infra, Stages, startInfra, stopChild } from './harness';

type Row = Record<string, any>;
const built = ['analyzer', 'genai', 'api', 'exporter'].every((s) => existsSync(join(__dirname, `../../services/${s}/dist/main.js`)));

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await Promise.resolve().then(f).catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** One agent process' two calls: A asks for a tool (streamed, usage in the stream), B carries its result. */
function agentExchanges(tag: string, pid: number): [Exchange, Exchange] {
  const a = exchangeFor(groundTruthFor('ddtrace__completion_stream_with_tools.yaml'));
  const req = JSON.parse(Buffer.from(a.request.body).toString('utf8'));
  const tc = analyzeExchange(a).call!.tool_calls[0] as { id: string; name: string; arguments: string };
  const next = { ...req, messages: [...req.messages, { role: 'assistant', content: null, tool_calls: [{ id: tc.id, type: 'function', function: { name: tc.name, arguments: tc.arguments } }] }, { role: 'tool', tool_call_id: tc.id, content: 'Sunny, 22 C' }] };
  const b = makeExchange({
    id: `${tag}:b`, host: a.server_address, target: a.request.target, reqBody: JSON.stringify(next), status: 200, pid,
    respBody: JSON.stringify({ id: `chatcmpl-${tag}`, object: 'chat.completion', model: 'gpt-3.5-turbo-0613', choices: [{ index: 0, message: { role: 'assistant', content: 'Sunny.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 120, completion_tokens: 3 } }),
    times: { reqStart: a.response!.end_ns + 2_000_000_000n, reqEnd: a.response!.end_ns + 2_001_000_000n, respStart: a.response!.end_ns + 2_500_000_000n, respEnd: a.response!.end_ns + 2_600_000_000n },
  });
  const conn = (ssl: number) => ({ host: 'e2e-host', boot_id: 'boot-1', run: 7, pid, ssl });
  a.id = `${tag}:a`;
  a.conn = { ...a.conn, host: 'e2e-host', pid, tid: pid, ssl: '0x6666', key: connKey(conn(0x6666)) };
  b.conn = { ...b.conn, host: 'e2e-host', ssl: '0x7777', key: connKey(conn(0x7777)) };
  return [a, b];
}

(built ? describe : describe.skip)('OTLP export of the GenAI events (exporter service, local receiver)', () => {
  let infra: Infra;
  let stages: Stages;
  let exporterStages: Stages;
  let nats: Nats;
  let receiver: OtlpReceiver;
  let otlpEnv: NodeJS.ProcessEnv;

  const publish = async (exs: Exchange[]) => {
    const pub = new Publisher(nats.js, nats.large);
    for (const ex of exs) await pub.publish(Subjects.exchange('e2e-host'), ex.id, ex);
  };

  /** The GenAI events as stored in the stream: the highest version of each id. */
  const storedEvents = async (): Promise<Map<string, GenAiRecord>> => {
    const info = await nats.jsm.streams.info('AGENTSIGHT_GENAI');
    const out = new Map<string, GenAiRecord>();
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await nats.jsm.streams.getMessage('AGENTSIGHT_GENAI', { seq }).catch(() => null);
      if (!m) continue;
      const ev = decode<GenAiRecord>(m.data);
      const prev = out.get(ev.id) as { version?: number } | undefined;
      if (!prev || Number((ev as { version?: number }).version ?? 0) >= Number(prev.version ?? 0)) out.set(ev.id, ev);
    }
    return out;
  };

  const startExporter = async (env: NodeJS.ProcessEnv) => {
    exporterStages = new Stages(env);
    await exporterStages.start('exporter');
  };
  const stopExporter = async () => {
    const c = exporterStages?.children.get('exporter');
    if (c) await stopChild(c);
  };

  /** Waits until the receiver accepted a span for every event of `conversation` (each agent: 2 calls, 1 tool, 1 session). */
  const spansOf = (conversationTrace: string) => until(`4 spans of trace ${conversationTrace}`, () => {
    const s = receiver.accepted().filter((x) => x.traceId === conversationTrace);
    return s.length >= 4 ? s : undefined;
  });

  const conversationOf = async (pid: number): Promise<string> => until(`conversation of pid ${pid}`, async () => {
    const rows: Row[] = await api(infra, '/api/sessions');
    return rows.find((r) => r.pid === pid)?.conversation_id;
  });

  beforeAll(async () => {
    infra = await startInfra();
    receiver = await startOtlpReceiver();
    stages = new Stages(infra.env);
    for (const s of ['api', 'genai', 'analyzer']) await stages.start(s);
    // The settle time is the budget within which a versioned event's final version must reach the exporter for the
    // older ones not to be exported (by design, an older version that settled goes out, and the final one after it).
    // The 503 test spends ~10 s refusing (backoff 1, 2, 4 s) and restarting before the tool use's final version is
    // handled, and a loaded CI machine adds pipeline latency: 6 s was exceeded there (the tool span went out at
    // version 1), so 20 s.
    otlpEnv = { ...infra.env, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`, OTEL_METRICS_EXPORTER: 'none', AGENTSIGHT_EXPORT_SETTLE_S: '20', OTEL_EXPORTER_OTLP_TIMEOUT: '2000', AGENTSIGHT_EXPORT_ACK_WAIT_S: '6' };
    await startExporter(otlpEnv);
    nats = await connectNats(infra.natsUrl, 'otlp-export-test');
  }, 120_000);

  afterAll(async () => {
    await nats?.nc.close();
    await stopExporter();
    await stages?.stopAll();
    await receiver?.close();
    await infra?.stop();
  });

  test('protobuf: every event becomes one span equal to it; the session is the root, calls and tool its children', async () => {
    const pid = 5101;
    const [a, b] = agentExchanges('one', pid);
    await publish([b, a]); // the result first: the tool use goes v2 → v3
    await waitDrained(infra.env);
    const conv = await conversationOf(pid);
    const trace = sessionTraceId('e2e-host', conv);
    const spans = await spansOf(trace);
    const events = [...(await storedEvents()).values()].filter((ev) => (ev as { conversation_id?: string }).conversation_id === conv || ev.attributes['gen_ai.conversation.id'] === conv);
    expect(events.map((e) => (e as { kind?: string }).kind ?? 'inference').sort()).toEqual(['execute_tool', 'inference', 'inference', 'invoke_agent']);
    expect(spans).toHaveLength(4);
    expect(receiver.requests.every((r) => r.contentType === 'application/x-protobuf' && r.path === '/v1/traces')).toBe(true);
    const root = events.find((e) => (e as { kind?: string }).kind === 'invoke_agent')!;
    for (const ev of events) {
      const s = spans.find((x) => x.spanId === spanIdOf(ev.id)) as ReceivedSpan;
      expect(s).toBeDefined();
      expect(s.name).toBe(ev.name);
      expect(s.traceId).toBe(trace);
      expect(s.parentSpanId).toBe(ev === root ? '' : spanIdOf(root.id));
      expect(s.kind).toBe((ev as { kind?: string }).kind ? 1 : 3);
      expect(s.startTimeUnixNano).toBe(String(ev.start_ns));
      expect(s.endTimeUnixNano).toBe(String(ev.end_ns));
      for (const [k, v] of Object.entries(ev.attributes)) expect(s.attributes[k]).toEqual(v);
      expect(s.attributes['process.pid']).toBe(pid);
      expect(s.attributes['agentsight.event.id']).toBe(ev.id);
      expect(s.resource).toMatchObject({ 'service.name': 'agentsight', 'host.name': 'e2e-host' });
      expect(s.status.code).toBe(0);
    }
    // The versioned events went out in their final versions: the tool use complete, the session with both calls.
    const tool = spans.find((s) => s.name.startsWith('execute_tool'))!;
    expect(tool.attributes['agentsight.event.version']).toBe(3);
    const session = spans.find((s) => s.name.startsWith('invoke_agent'))!;
    expect(session.attributes['agentsight.session.llm_calls']).toBe(2);
    expect(session.attributes['agentsight.event.version']).toBe((root as { version: number }).version);
    // The streamed call's usage (from the stream) is on its span; storage says the same.
    const calls: Row[] = await api(infra, '/api/calls');
    const callA = calls.find((c) => c.call_id === deriveId('llm', a.id))!;
    const chatA = spans.find((s) => s.spanId === spanIdOf(deriveId('genai', deriveId('llm', a.id))))!;
    expect(chatA.attributes['gen_ai.usage.input_tokens']).toBe(callA['gen_ai.usage.input_tokens']);
    expect(chatA.attributes['gen_ai.usage.output_tokens']).toBe(callA['gen_ai.usage.output_tokens']);
    // Exactly once each.
    const ids = receiver.accepted().map((s) => s.spanId);
    expect(new Set(ids).size).toBe(ids.length);
  }, 180_000);

  test('a collector answering 503 for a while, and an exporter restart meanwhile: nothing lost, nothing duplicated', async () => {
    const pid = 5202;
    let refused = 0;
    receiver.status = () => (refused < 6 ? (refused++, 503) : 200);
    const [a, b] = agentExchanges('two', pid);
    await publish([a, b]);
    await until('three refused requests', () => (refused >= 3 ? true : undefined));
    // Graceful restart while the collector still refuses: what was in hand is handed back (nak) and not acked.
    await stopExporter();
    await startExporter(otlpEnv);
    const conv = await conversationOf(pid);
    const spans = await spansOf(sessionTraceId('e2e-host', conv));
    expect(refused).toBe(6);
    expect(receiver.requests.filter((r) => r.answered === 503).length).toBe(6);
    const events = [...(await storedEvents()).values()].filter((ev) => spans.some((s) => s.spanId === spanIdOf(ev.id)));
    expect(events).toHaveLength(4);
    expect(spans.map((s) => s.name).sort()).toEqual(events.map((e) => e.name).sort());
    expect(spans.find((s) => s.name.startsWith('execute_tool'))!.attributes['agentsight.event.version']).toBe(3);
    // Give the pipeline the chance to (wrongly) send anything twice: drained storage, a settled flush cycle.
    await waitDrained(infra.env);
    await until('exporter durable acked everything', async () => {
      const ci = await nats.jsm.consumers.info('AGENTSIGHT_GENAI', 'exporter');
      return ci.num_pending === 0 && ci.num_ack_pending === 0 ? true : undefined;
    });
    const all = receiver.accepted().map((s) => s.spanId);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toHaveLength(8);
  }, 180_000);

  test('SLS preset (OTLP/JSON): x-sls-otel-* headers at /opentelemetry/v1/traces; the AccessKey secret is never logged', async () => {
    await stopExporter();
    const secret = 'SlsSecret-9f8e7d6c5b4a';
    await startExporter({
      ...infra.env, AGENTSIGHT_EXPORT_SETTLE_S: '2', AGENTSIGHT_OTLP_PROTOCOL: 'http/json',
      AGENTSIGHT_SLS_PROJECT: 'agentsight-e2e', AGENTSIGHT_SLS_ENDPOINT: receiver.url, AGENTSIGHT_SLS_INSTANCE: 'e2e-traces',
      AGENTSIGHT_SLS_ACCESS_KEY_ID: 'LTAI-e2e-key-id', AGENTSIGHT_SLS_ACCESS_KEY_SECRET: secret,
    });
    const before = receiver.requests.length;
    const pid = 5303;
    await publish(agentExchanges('three', pid));
    const conv = await conversationOf(pid);
    const spans = await spansOf(sessionTraceId('e2e-host', conv));
    expect(spans).toHaveLength(4);
    const sls = receiver.requests.slice(before);
    expect(sls.length).toBeGreaterThan(0);
    for (const r of sls) {
      expect(r.path).toBe('/opentelemetry/v1/traces');
      expect(r.contentType).toBe('application/json');
      expect(r.headers).toMatchObject({
        'x-sls-otel-project': 'agentsight-e2e', 'x-sls-otel-instance-id': 'e2e-traces', 'x-sls-otel-ak-id': 'LTAI-e2e-key-id', 'x-sls-otel-ak-secret': secret,
      });
    }
    const stored = await storedEvents();
    for (const s of spans) {
      const ev = [...stored.values()].find((e) => spanIdOf(e.id) === s.spanId)!;
      expect(s.startTimeUnixNano).toBe(String(ev.start_ns));
      expect(s.endTimeUnixNano).toBe(String(ev.end_ns));
      for (const [k, v] of Object.entries(ev.attributes)) expect(s.attributes[k]).toEqual(v);
    }
    const log = readFileSync(join(infra.dataDir, 'logs', 'exporter.log'), 'utf8');
    expect(log).toContain('Alibaba Cloud SLS');
    expect(log).toContain('x-sls-otel-ak-secret');
    expect(log).not.toContain(secret);
  }, 180_000);

  test('OTLP metrics: the GenAI histograms equal the stored calls, the process sums equal the sampled processes', async () => {
    await stopExporter();
    const metrics = await startOtlpReceiver();
    try {
      // Traces and metrics to one collector; the metrics durables are new, so they read every event stored so far.
      await startExporter({ ...infra.env, OTEL_EXPORTER_OTLP_ENDPOINT: metrics.url, AGENTSIGHT_EXPORT_SETTLE_S: '2', OTEL_EXPORTER_OTLP_TIMEOUT: '2000' });
      // A real process sampled by the CLI's sampler and published as `agentsight exec` publishes it.
      const child = spawn(process.execPath, ['-e', 'const t = Date.now(); while (Date.now() - t < 300) {} setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      const samples: RawResourceSample[] = [];
      try {
        const root = { pid: child.pid!, start_ticks: 0, comm: 'node' };
        await until('the child running', () => readProcSample(child.pid!) ?? undefined).then((p) => (root.start_ticks = p.start_ticks));
        const pub = new Publisher(nats.js, nats.large);
        for (let i = 0; i < 2; i++) {
          await new Promise((r) => setTimeout(r, 400));
          const s = sampleTree(root, { host: 'e2e-host', boot_id: bootId() })!;
          samples.push(s);
          await pub.publish(Subjects.rawResource('e2e-host'), s.id, s);
        }
      } finally {
        child.kill('SIGKILL');
      }
      await publish(agentExchanges('four', 5404));
      await conversationOf(5404);
      await waitDrained(infra.env);
      const calls: Row[] = await api(infra, '/api/calls'); // the earlier tests' calls too
      expect(calls.filter((c) => c.pid === 5404)).toHaveLength(2);
      const hist = (name: string, where: Record<string, unknown> = {}) => metrics.acceptedPoints().filter((p) => p.metric === name && Object.entries(where).every(([k, v]) => p.attributes[k] === v));
      const total = (ps: Array<{ count: number; sum: number }>) => ({ count: ps.reduce((a, p) => a + p.count, 0), sum: ps.reduce((a, p) => a + p.sum, 0) });
      await until('a duration for every stored call', () => (total(hist('gen_ai.client.operation.duration')).count >= calls.length ? true : undefined));
      const withTokens = calls.filter((c) => c['gen_ai.usage.input_tokens'] !== null);
      expect(total(hist('gen_ai.client.token.usage', { 'gen_ai.token.type': 'input' }))).toEqual({ count: withTokens.length, sum: withTokens.reduce((a, c) => a + c['gen_ai.usage.input_tokens'], 0) });
      expect(total(hist('gen_ai.client.token.usage', { 'gen_ai.token.type': 'output' }))).toEqual({ count: withTokens.length, sum: withTokens.reduce((a, c) => a + c['gen_ai.usage.output_tokens'], 0) });
      const d = total(hist('gen_ai.client.operation.duration'));
      expect(d.count).toBe(calls.length);
      expect(Math.abs(d.sum * 1000 - calls.reduce((a, c) => a + c.duration_ms, 0))).toBeLessThanOrEqual(calls.length); // duration_ms is whole ms
      // Every process point of every sample, once.
      const sums = await until('the process points of both samples', () => {
        const got = metrics.acceptedSums().filter((p) => p.metric === 'process.cpu.time' && p.attributes['cpu.mode'] === 'user');
        return got.length >= 2 ? got : undefined;
      });
      expect(sums.map((p) => [p.attributes['process.pid'], p.timeUnixNano, p.value])).toEqual(samples.map((s) => [child.pid, String(s.ts_wall_ns), s.procs[0]!.utime_ns / 1e9]));
      expect(sums[1]!.value).toBeGreaterThan(0); // it spun for 300 ms (wall: under load, less CPU than that)
      const rss = metrics.acceptedSums().filter((p) => p.metric === 'process.memory.usage');
      expect(rss.map((p) => p.value)).toEqual(samples.map((s) => s.procs[0]!.rss_bytes));
      expect(rss[0]!.attributes['gen_ai.agent.name']).toBe(samples[0]!.agent_name);
      await until('the process-metrics durable acked everything', async () => {
        const ci = await nats.jsm.consumers.info('AGENTSIGHT_RAW', 'exporter-otlp-process-metrics');
        return ci.num_pending === 0 && ci.num_ack_pending === 0 ? true : undefined;
      });
    } catch (err) {
      process.stderr.write(readFileSync(join(infra.dataDir, 'logs', 'exporter.log'), 'utf8').slice(-4000));
      throw err;
    } finally {
      await stopExporter();
      await metrics.close();
    }
  }, 180_000);
});
