/**
 * Go crypto/tls end to end: `agentsight exec -- goclient http …` (libs/testkit/go-client, net/http, built at test
 * time by Debian's Go toolchain, stripped and not) against the replay server in h2 mode, once over HTTP/1.1 (the
 * client offers only http/1.1) and once over HTTP/2 (Go's net/http negotiates h2) per build. Every stage runs as its
 * own process; each call must be stored exactly once and equal its recording's ground truth (model, response id,
 * tokens, finish reason).
 */
import { buildGoClient, goToolchain, groundTruthDiff, groundTruthFor, observedStoredCall, startReplayServer, ReplayServer, type StoredCallFields } from '@agentsight/testkit';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { api, describeCapture, Infra, runCli, Stages, startInfra } from './harness';

type Row = Record<string, any>;

/** [build, protocol, fixture, path] */
const RUNS: Array<['plain' | 'stripped', 'HTTP/1.1' | 'HTTP/2.0', string, string]> = [
  ['plain', 'HTTP/1.1', 'vercel__openai-text.chunks.txt', '/v1/chat/completions'],
  ['plain', 'HTTP/2.0', 'vercel__anthropic-text.chunks.txt', '/v1/messages'],
  ['stripped', 'HTTP/1.1', 'vercel__openai-text.json', '/v1/chat/completions'],
  ['stripped', 'HTTP/2.0', 'ddtrace__completion_stream_with_tools.yaml', '/v1/chat/completions'],
];

const describeGo = goToolchain() || process.env.AGENTSIGHT_REQUIRE_BPF === '1' ? describeCapture : describe.skip;
if (!goToolchain()) process.stderr.write('SKIPPED Go crypto/tls e2e test: no Go toolchain (apt golang-go)\n');

describeGo('Go crypto/tls (net/http, HTTP/1.1 and h2, stripped and not) captured end to end by agentsight exec', () => {
  let infra: Infra;
  let stages: Stages;
  let server: ReplayServer;
  let calls: Row[];
  const execs: Array<{ code: number | null; stdout: string; stderr: string }> = [];

  beforeAll(async () => {
    const bins = { plain: buildGoClient({ stripped: false }), stripped: buildGoClient({ stripped: true }) };
    infra = await startInfra();
    stages = new Stages(infra.env);
    await stages.startAll();
    server = await startReplayServer({ h2: true });
    for (const [build, proto, fixture, path] of RUNS) {
      execs.push(await runCli(['exec', '--', bins[build], 'http', `${server.url}${path}`, server.caPath,
        ...(proto === 'HTTP/1.1' ? ['-http1'] : []), '-H', `x-replay-fixture: ${fixture}`, '-H', 'content-type: application/json',
        '-d', '{"model":"m","stream":true,"messages":[{"role":"user","content":"Hello"}]}'], infra.env));
    }
    await waitDrained(infra.env);
    calls = await api(infra, '/api/calls');
  }, 300_000);

  afterAll(async () => {
    await server?.close();
    await stages?.stopAll();
    await infra?.stop();
  });

  test('each client ran over the protocol it was meant to, and exec reported its call', () => {
    RUNS.forEach(([, proto], i) => {
      const e = execs[i];
      expect({ code: e.code, proto: JSON.parse(e.stderr.split('\n').find((l) => l.startsWith('{"len"'))!).proto }).toEqual({ code: 0, proto });
      expect(e.stderr).toMatch(/1 LLM call\(s\) captured/);
    });
    expect(server.requests.map((r) => r.httpVersion)).toEqual(RUNS.map(([, p]) => (p === 'HTTP/2.0' ? '2.0' : '1.1')));
  });

  test.each(RUNS)('%s build over %s: %s is stored once and equals its ground truth', (build, proto, fixture) => {
    const gt = groundTruthFor(fixture);
    const matching = calls.filter((c) => c['gen_ai.response.id'] === gt.response_id);
    expect(matching).toHaveLength(1);
    expect(groundTruthDiff(gt, observedStoredCall(matching[0] as StoredCallFields))).toEqual([]);
    expect(matching[0]['http.response.status_code']).toBe(200);
    expect(matching[0].process_name).toBe(build === 'stripped' ? 'goclient-s' : 'goclient');
  });

  test('nothing else was stored', () => {
    expect(calls).toHaveLength(RUNS.length);
  });
});
