/**
 * The issue's main acceptance path, under real capture: `agentsight exec` runs three real TLS clients against the
 * local HTTPS replay server — Node (official openai SDK, streamed, with a tool call whose tool runs `ls`), Python 3
 * (urllib + ssl on Debian's libssl, not streamed) and curl (libssl, streamed Anthropic) — and the stored calls must
 * equal the recordings' ground truth exactly; the tool's `ls` must be stored with its argv and parent pid.
 */
import { join } from 'node:path';
import { EXAMPLE_AGENT_ROUTES, groundTruthFor, PY_CLIENT, pythonBin, startReplayServer, ReplayServer } from '@agentsight/testkit';
import { describeCapture, Infra, ROOT, runCli, startInfra } from './harness';

type Row = Record<string, any>;

describeCapture('agentsight exec: Node, Python and curl clients captured end to end', () => {
  let infra: Infra;
  let server: ReplayServer;
  let exec: { code: number | null; stdout: string; stderr: string };
  let calls: Row[];

  beforeAll(async () => {
    infra = await startInfra();
    server = await startReplayServer({ routes: EXAMPLE_AGENT_ROUTES });
    const anthropic = 'vercel__anthropic-text.chunks.txt';
    const openaiJson = 'vercel__openai-text.json';
    const script = [
      `node ${join(ROOT, 'examples/dist/agent.js')} ${join(ROOT, 'examples')}`,
      `${pythonBin()} ${PY_CLIENT} ${server.url}/v1/chat/completions --cafile ${server.caPath} --header 'x-replay-fixture: ${openaiJson}' --data '{"model":"gpt-4.1-nano","messages":[{"role":"user","content":"Invent a new holiday"}]}' > /dev/null`,
      `curl -sS --http1.1 --cacert ${server.caPath} ${server.url}/v1/messages -H 'x-replay-fixture: ${anthropic}' -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' -d '{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Hello"}]}' > /dev/null`,
    ].join(' && ');
    exec = await runCli(['exec', '--', 'sh', '-c', script], {
      ...infra.env,
      OPENAI_BASE_URL: `${server.url}/v1`,
      NODE_EXTRA_CA_CERTS: server.caPath,
    });
    const out = await runCli(['calls', '--json'], infra.env);
    calls = JSON.parse(out.stdout);
  }, 300_000);

  afterAll(async () => {
    await server?.close();
    await infra?.stop();
  });

  test('exec exits with the command\'s code and prints a summary', () => {
    expect(exec.stderr).toMatch(/4 LLM call\(s\) captured/);
    expect(exec.code).toBe(0);
  });

  test.each([
    ['ddtrace__completion_stream_with_tools.yaml', 'node'],
    ['vercel__openai-text.chunks.txt', 'node'],
    ['vercel__openai-text.json', 'python3'],
    ['vercel__anthropic-text.chunks.txt', 'curl'],
  ])('%s (from %s) equals its ground truth', (file, client) => {
    const gt = groundTruthFor(file);
    const matching = calls.filter((c) => c['gen_ai.response.id'] === gt.response_id);
    expect(matching).toHaveLength(1);
    const c = matching[0];
    expect(c.process_name).toMatch(new RegExp(client.slice(0, 6)));
    expect(c['gen_ai.response.model']).toBe(gt.model);
    const cacheRead = gt.cache_read_tokens ?? 0;
    const cacheWrite = gt.cache_creation_tokens ?? 0;
    // semconv: input includes cached input; Anthropic reports it separately, OpenAI's prompt_tokens includes it.
    const input = gt.provider === 'anthropic' ? gt.input_tokens! + cacheRead + cacheWrite : gt.input_tokens;
    expect(c['gen_ai.usage.input_tokens']).toBe(input);
    expect(c['gen_ai.usage.output_tokens']).toBe(gt.output_tokens);
    expect(c['gen_ai.response.finish_reasons']).toEqual([gt.finish_reason]);
    expect(c.tool_calls.map((t: Row) => ({ name: t.name, arguments: t.arguments }))).toEqual(
      gt.tool_calls.map((t) => ({ name: t.name, arguments: typeof t.arguments === 'string' ? JSON.parse(t.arguments) : t.arguments })),
    );
    expect(c['http.response.status_code']).toBe(200);
    expect(c['server.address']).toBe('127.0.0.1');
    expect(c.duration_ms).toBeGreaterThanOrEqual(0);
    expect(new Date(c.start_time).getTime()).toBeGreaterThan(Date.now() - 3600_000);
  });

  test('the tool\'s `ls` is stored with its argv and the agent as its parent', async () => {
    const agentPid = calls.find((c) => c['gen_ai.response.id'] === groundTruthFor('ddtrace__completion_stream_with_tools.yaml').response_id)!.pid;
    const audit: Row[] = JSON.parse((await runCli(['audit', '--type', 'process', '--json'], infra.env)).stdout);
    const ls = audit.filter((a) => a.action === 'exec' && a.details.argv?.[0] === 'ls');
    expect(ls).toHaveLength(1);
    expect(ls[0].details.argv).toEqual(['ls', '-la', join(ROOT, 'examples')]);
    expect(ls[0].ppid).toBe(agentPid);
    const llm: Row[] = JSON.parse((await runCli(['audit', '--type', 'llm', '--json'], infra.env)).stdout);
    expect(llm).toHaveLength(4);
  });
});
