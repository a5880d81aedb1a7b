/**
 * HTTP/2 under real capture: curl --http2 (nghttp2 on Debian's libssl) streaming an OpenAI and an Anthropic recording,
 * and a node:http2 client running three concurrent streams on one connection, against the replay server in h2 mode —
 * through the probe and every stage as a separate process. Each call must equal its recording's ground truth, and each
 * exchange must carry its own request (no mixing of concurrent streams).
 */
import { join } from 'node:path';
import { deriveId } from '@agentsight/contracts';
import { groundTruthDiff, groundTruthFor, observedStoredCall, startReplayServer, ReplayServer, type StoredCallFields } from '@agentsight/testkit';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { api, captureRun, describeCapture, Infra, sh, Stages, startInfra } from './harness';

type Row = Record<string, any>;
const H2_CLIENT = join(__dirname, 'h2-client.js');

/** [fixture, path, client] */
const CURL: Array<[string, string]> = [
  ['vercel__openai-text.chunks.txt', '/v1/chat/completions'],
  ['vercel__anthropic-text.chunks.txt', '/v1/messages'],
];
const NODE: Array<[string, string]> = [
  ['ddtrace__completion_stream_with_tools.yaml', '/v1/chat/completions'],
  ['vercel__anthropic-json-tool.1.chunks.txt', '/v1/messages'],
  ['vercel__openai-text.json', '/v1/chat/completions'],
];

describeCapture('HTTP/2 (h2 over TLS) captured end to end', () => {
  let infra: Infra;
  let stages: Stages;
  let server: ReplayServer;
  let calls: Row[];
  let exchanges: Map<string, Row>;
  let nodeOut: Row;

  beforeAll(async () => {
    infra = await startInfra();
    stages = new Stages(infra.env);
    await stages.startAll();
    server = await startReplayServer({ h2: true });
    const curl = ([fixture, path]: [string, string], extra = '') =>
      `curl -sS --http2 --noproxy '*' --cacert ${server.caPath} ${server.url}${path} -H 'x-replay-fixture: ${fixture}' -H 'content-type: application/json' ${extra} -d '{"model":"m","stream":true,"messages":[{"role":"user","content":"Hello"}]}' > /dev/null`;
    const run = await captureRun(infra, [
      curl(CURL[0]),
      curl(CURL[1], "-H 'x-replay-gzip: 1'"),
      `node ${H2_CLIENT} ${server.url} ${server.caPath} 5 ${NODE.map(([f, p]) => `${p}=${f}`).join(' ')}`,
    ].join(' && '));
    expect(run.code).toBe(0);
    expect(run.probe.lost_records).toBe(0);
    expect(run.probe.ringbuf_drops).toBe(0);
    nodeOut = JSON.parse(run.stdout.trim().split('\n').pop()!);
    await waitDrained(infra.env);
    calls = await api(infra, '/api/calls');
    // A call's id is deriveId('llm', exchange id): join each call to its stored exchange.
    exchanges = new Map();
    for (const e of await api<Row[]>(infra, '/api/exchanges')) exchanges.set(deriveId('llm', e.exchange_id), await api(infra, `/api/exchanges/${e.exchange_id}`));
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    await stages?.stopAll();
    await infra?.stop();
  });

  test('the clients really spoke HTTP/2', () => {
    expect(server.requests).toHaveLength(5);
    expect(server.requests.every((r) => r.alpnProtocol === 'h2' && r.httpVersion === '2.0')).toBe(true);
    expect(nodeOut.alpn).toBe('h2');
    expect(nodeOut.streams.map((s: Row) => s.status)).toEqual([200, 200, 200]);
  });

  test.each([...CURL.map(([f, p]) => [f, p, 'curl']), ...NODE.map(([f, p]) => [f, p, 'node'])])('%s (%s, from %s) equals its ground truth, paired with its own request', (file, path, client) => {
    const gt = groundTruthFor(file);
    const matching = calls.filter((c) => c['gen_ai.response.id'] === gt.response_id);
    expect(matching).toHaveLength(1);
    const c = matching[0];
    expect(c.process_name).toMatch(new RegExp(client));
    expect(groundTruthDiff(gt, observedStoredCall(c as StoredCallFields))).toEqual([]);
    expect(c['http.response.status_code']).toBe(200);
    // The exchange's request is the one that asked for this very recording (concurrent streams did not mix).
    const ex = exchanges.get(c.call_id)!;
    expect(ex.request_version).toBe('HTTP/2');
    expect(ex.target).toBe(path);
    expect(ex.request_headers.find(([k]: string[]) => k === 'x-replay-fixture')?.[1]).toBe(file);
    expect(ex.request_headers.find(([k]: string[]) => k === 'host')?.[1]).toBe(`127.0.0.1:${server.port}`);
  });

  test('nothing was dead-lettered (every frame and header block decoded)', async () => {
    const letters: Row[] = await api(infra, '/api/dead-letters');
    expect(letters.filter((d) => d.stage === 'parser' || d.stage === 'aggregator')).toEqual([]);
  });

  test('kill -9 of the parser mid-stream: it resumes from Redis (offsets + HPACK state), calls equal the reference, once', async () => {
    const fixtures: Array<[string, string]> = [
      ['vercel__anthropic-tool-no-args.chunks.txt', '/v1/messages'],
      ['vercel__deepseek-tool-call.chunks.txt', '/v1/chat/completions'],
      ['ddtrace__chat_completion_tool_call_streamed.yaml', '/v1/chat/completions'],
    ];
    const before = new Set(calls.map((c) => c.call_id));
    let midStream = false;
    const requestsBefore = server.requests.length;
    const client = `node ${H2_CLIENT} ${server.url} ${server.caPath} 60 ${fixtures.map(([f, p]) => `${p}=${f}`).join(' ')}`;
    const run = await captureRun(infra, client, infra.env, async () => {
      while (server.requests.length < requestsBefore + 3) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 500));
      midStream = sh(`pgrep -f 'h2-client.js ${server.url}' || true`).trim() !== '';
      await stages.kill9('parser');
      await new Promise((r) => setTimeout(r, 300));
      await stages.start('parser');
    });
    expect(run.code).toBe(0);
    expect(midStream).toBe(true);
    const out = JSON.parse(run.stdout.trim().split('\n').pop()!);
    expect(out.streams.map((x: Row) => x.status)).toEqual([200, 200, 200]);
    await waitDrained(infra.env);
    const fresh = (await api<Row[]>(infra, '/api/calls')).filter((c) => !before.has(c.call_id));
    expect(fresh).toHaveLength(3);
    for (const [f] of fixtures) {
      const gt = groundTruthFor(f);
      const c = fresh.find((x) => x['gen_ai.response.id'] === gt.response_id);
      expect(c).toBeDefined();
      expect(c!['gen_ai.response.model']).toBe(gt.model);
      expect(c!['gen_ai.usage.output_tokens']).toBe(gt.output_tokens);
      expect(c!['gen_ai.response.finish_reasons']).toEqual([gt.finish_reason]);
      expect(c!.tool_calls.map((t: Row) => t.name)).toEqual(gt.tool_calls.map((t) => t.name));
    }
  }, 180_000);

  test('the node client\'s three streams share one connection; every call is stored once', () => {
    expect(calls).toHaveLength(5);
    const nodeIds = new Set(NODE.map(([f]) => groundTruthFor(f).response_id));
    const nodeConns = new Set(calls.filter((c) => nodeIds.has(c['gen_ai.response.id'])).map((c) => exchanges.get(c.call_id)!.conn_key));
    expect(nodeConns.size).toBe(1);
    const curlConns = new Set(calls.filter((c) => !nodeIds.has(c['gen_ai.response.id'])).map((c) => exchanges.get(c.call_id)!.conn_key));
    expect(curlConns.size).toBe(2);
  });
});
