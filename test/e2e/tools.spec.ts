/**
 * Tool uses across TLS connections, with real NATS, Redis and chDB and the built analyzer, genai and api services as
 * separate processes (no eBPF needed: the two exchanges are published as the aggregator would). The request that
 * carries the tool result (connection B) is analyzed BEFORE the LLM call whose response asked for the tool
 * (connection A): the result-only version is published first, and once the origin arrives the analyzer's Redis index
 * completes the record. Then the whole exchange stream is replayed (durable reset): same ids, same final state.
 */
import { connKey, deriveId, Subjects, type Exchange } from '@agentsight/contracts';
import { connectNats, Publisher, type Nats } from '@agentsight/jetstream';
import { groundTruthFor, exchangeFor, makeExchange } from '@agentsight/testkit';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { analyzeExchange } from '../../services/analyzer/src/domain';
import { api, Infra, runCli, Stages, startInfra } from './harness';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

type Row = Record<string, any>;
const built = ['analyzer', 'genai', 'api'].every((s) => existsSync(join(__dirname, `../../services/${s}/dist/main.js`)));

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

(built ? describe : describe.skip)('tool uses: cross-connection origin lookup, versions, replay', () => {
  let infra: Infra;
  let stages: Stages;
  let nats: Nats;
  let a: Exchange;
  let b: Exchange;
  let callId: string;

  beforeAll(async () => {
    infra = await startInfra();
    stages = new Stages(infra.env);
    for (const s of ['api', 'genai', 'analyzer']) await stages.start(s);
    nats = await connectNats(infra.natsUrl, 'tools-test');
    // A: the example agent's first call (a streamed chat completion asking for get_current_weather), on connection A.
    a = exchangeFor(groundTruthFor('ddtrace__completion_stream_with_tools.yaml'));
    const req = JSON.parse(Buffer.from(a.request.body).toString('utf8'));
    const tc = analyzeExchange(a).call!.tool_calls[0] as { id: string; name: string; arguments: string };
    callId = tc.id;
    expect(tc).toMatchObject({ id: expect.stringMatching(/^call_/), name: 'get_current_weather' });
    // B: the next request, on another connection of the same process, carrying the tool's result.
    const next = { ...req, messages: [...req.messages, { role: 'assistant', content: null, tool_calls: [{ id: tc.id, type: 'function', function: { name: tc.name, arguments: tc.arguments } }] }, { role: 'tool', tool_call_id: tc.id, content: 'total 0\ndrwxr-xr-x 2 root root 40 .' }] };
    b = makeExchange({
      id: 'tools-test:b', host: a.server_address, target: a.request.target, reqBody: JSON.stringify(next), status: 200,
      respBody: JSON.stringify({ id: 'chatcmpl-b', object: 'chat.completion', model: 'gpt-3.5-turbo-0613', choices: [{ index: 0, message: { role: 'assistant', content: 'Sunny.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 120, completion_tokens: 3 } }),
      pid: a.conn.pid, times: { reqStart: a.response!.end_ns + 2_000_000_000n, reqEnd: a.response!.end_ns + 2_001_000_000n, respStart: a.response!.end_ns + 2_500_000_000n, respEnd: a.response!.end_ns + 2_600_000_000n },
    });
    b.conn = { ...b.conn, host: 'e2e-host', ssl: '0x7777', key: connKey({ host: 'e2e-host', boot_id: 'boot-1', run: 7, pid: a.conn.pid, ssl: 0x7777 }) };
    a.conn = { ...a.conn, host: 'e2e-host' };
    expect(b.conn.key).not.toBe(a.conn.key);
  }, 120_000);

  afterAll(async () => {
    await nats?.nc.close();
    await stages?.stopAll();
    await infra?.stop();
  });

  const pub = (ex: Exchange) => new Publisher(nats.js, nats.large).publish(Subjects.exchange('e2e-host'), ex.id, ex);
  const toolId = () => deriveId('tool', 'e2e-host', a.conn.pid, callId);

  test('result first: version 2 without origin, then the origin completes it (version 3)', async () => {
    await pub(b);
    const v2 = await until('version 2', async () => {
      const t: Row[] = await api(infra, '/api/tools');
      return t.length === 1 ? t[0] : undefined;
    });
    expect(v2).toMatchObject({ id: toolId(), version: 2, name: 'get_current_weather', origin_llm_call_id: null, start_ns: null, end_ns: b.request.start_ns.toString() });
    expect(JSON.parse(v2.arguments)).toEqual({ location: 'San Francisco, CA', unit: 'celsius' });

    await pub(a);
    const v3 = await until('version 3', async () => {
      const t: Row[] = await api(infra, '/api/tools');
      return t[0]?.version === 3 ? t[0] : undefined;
    });
    expect(v3).toMatchObject({
      id: toolId(), name: 'get_current_weather', call_id: callId, tool_type: 'function', pid: a.conn.pid,
      origin_llm_call_id: deriveId('llm', a.id), result_llm_call_id: deriveId('llm', b.id),
      start_ns: a.response!.end_ns.toString(), end_ns: b.request.start_ns.toString(), result: 'total 0\ndrwxr-xr-x 2 root root 40 .', success: null,
    });
    expect(v3.duration_ms).toBe(2000);
    await waitDrained(infra.env);
  }, 120_000);

  test('audit --type tool, execute_tool and invoke_agent are stored; calls lists only the LLM calls', async () => {
    const audit: Row[] = JSON.parse((await runCli(['audit', '--type', 'tool', '--json'], infra.env)).stdout);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ type: 'tool', action: 'execute_tool', pid: a.conn.pid });
    expect(audit[0].summary).toBe('tool get_current_weather {"location":"San Francisco, CA","unit":"celsius"} → returned');
    expect(audit[0].details).toMatchObject({ tool_use_id: toolId(), version: 3, origin_llm_call_id: deriveId('llm', a.id) });
    const calls: Row[] = JSON.parse((await runCli(['calls', '--json'], infra.env)).stdout);
    expect(calls.map((c) => c.call_id).sort()).toEqual([deriveId('llm', a.id), deriveId('llm', b.id)].sort());
    const spans: Row[] = await api(infra, '/api/spans?kind=execute_tool');
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({ id: deriveId('genai', 'execute_tool', toolId()), version: 3, name: 'execute_tool get_current_weather', tool_use_id: toolId(), duration_ms: 2000 });
    expect(spans[0].attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'get_current_weather', 'gen_ai.tool.call.id': callId, 'gen_ai.tool.type': 'function' });
    // Content capture is off: no arguments or result in the event.
    expect(spans[0].attributes['gen_ai.tool.call.arguments']).toBeUndefined();
    const sessions: Row[] = await api(infra, '/api/sessions');
    expect(sessions).toHaveLength(1);
    expect(sessions[0]).toMatchObject({ kind: 'invoke_agent', llm_calls: 2, tool_uses: 1, tool_errors: 0, agent_name: 'agent' });
    expect(sessions[0].input_tokens).toBe(calls.reduce((s, c) => s + (c['gen_ai.usage.input_tokens'] ?? 0), 0));
    expect(sessions[0].start_time).toBe(new Date(Number(a.request.start_ns / 1_000_000n)).toISOString());
    expect(sessions[0].attributes['gen_ai.conversation.id']).toBe(sessions[0].conversation_id);
    expect(calls.every((c) => typeof c.call_id === 'string')).toBe(true);
  }, 120_000);

  test('replay of the exchange stream gives the same ids and final state', async () => {
    const before = { tools: await api(infra, '/api/tools'), spans: await api(infra, '/api/spans'), audit: await api(infra, '/api/audit?type=tool') };
    await stages.kill9('analyzer');
    await nats.jsm.consumers.delete('AGENTSIGHT_EXCHANGE', 'analyzer');
    await stages.start('analyzer');
    await until('replayed', async () => ((await nats.jsm.consumers.info('AGENTSIGHT_EXCHANGE', 'analyzer')).ack_floor.stream_seq >= 2 ? true : undefined));
    await waitDrained(infra.env);
    expect(before.tools).toHaveLength(1);
    expect(before.audit).toHaveLength(1);
    const strip = (rows: Row[]) => rows.map(({ ingested_at: _i, ...r }) => r);
    expect(strip(await api(infra, '/api/tools'))).toEqual(strip(before.tools));
    expect(await api(infra, '/api/spans')).toEqual(before.spans);
    expect(await api(infra, '/api/audit?type=tool')).toEqual(before.audit);
  }, 120_000);
});
