/**
 * The issue's main acceptance path, under real capture: `agentsight exec` runs three real TLS clients against the
 * local HTTPS replay server — Node (official openai SDK, streamed, with a tool call whose tool runs `ls`), Python 3
 * (urllib + ssl on Debian's libssl, not streamed) and curl (libssl, streamed Anthropic) — and the stored calls must
 * equal the recordings' ground truth exactly; the tool's `ls` must be stored with its argv and parent pid, and the tool
 * use (arguments, the real `ls` output as result, both LLM calls) with its execute_tool and invoke_agent events.
 */
import { join } from 'node:path';
import { EXAMPLE_AGENT_ROUTES, groundTruthDiff, groundTruthFor, observedStoredCall, PY_CLIENT, pythonBin, startReplayServer, ReplayServer, type StoredCallFields } from '@agentsight/testkit';
import { listGenAiSpans, openClickHouse } from '@agentsight/clickhouse';
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
    expect(groundTruthDiff(gt, observedStoredCall(c as StoredCallFields))).toEqual([]);
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

  test('the tool use is stored with its arguments, result and both LLM calls; execute_tool and invoke_agent events too', async () => {
    const first = calls.find((c) => c['gen_ai.response.id'] === groundTruthFor('ddtrace__completion_stream_with_tools.yaml').response_id)!;
    const second = calls.find((c) => c['gen_ai.response.id'] === groundTruthFor('vercel__openai-text.chunks.txt').response_id)!;
    const tools: Row[] = JSON.parse((await runCli(['tools', '--json'], infra.env)).stdout);
    expect(tools).toHaveLength(1);
    const t = tools[0];
    expect(t).toMatchObject({
      version: 3, source: 'llm', name: 'get_current_weather', tool_type: 'function', pid: first.pid, agent_name: 'agent',
      origin_llm_call_id: first.call_id, result_llm_call_id: second.call_id, success: null,
    });
    expect(t.call_id).toMatch(/^call_/);
    expect(JSON.parse(t.arguments)).toEqual({ location: 'San Francisco, CA', unit: 'celsius' });
    // The result the agent sent back is the real `ls -la examples` output.
    expect(t.result).toMatch(/package\.json/);
    // Window: from the end of the response that asked for the tool to the start of the request carrying its result.
    expect(BigInt(t.start_ns)).toBeLessThan(BigInt(t.end_ns));
    expect(new Date(t.start_time).getTime()).toBeGreaterThanOrEqual(new Date(first.start_time).getTime());
    expect(new Date(t.end_time).getTime()).toBeLessThanOrEqual(new Date(second.start_time).getTime() + 1);
    const audit: Row[] = JSON.parse((await runCli(['audit', '--type', 'tool', '--json'], infra.env)).stdout);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ type: 'tool', action: 'execute_tool', pid: first.pid, summary: 'tool get_current_weather {"location":"San Francisco, CA","unit":"celsius"} → returned' });
    expect(audit[0].details).toMatchObject({ tool_use_id: t.id, version: 3, start_ns: t.start_ns, end_ns: t.end_ns });
    // start = the first call's last response byte (its end), end = the second request's first byte.
    expect(Math.abs(Number(BigInt(t.start_ns) / 1_000_000n) - (new Date(first.start_time).getTime() + first.duration_ms))).toBeLessThanOrEqual(1);
    expect(Number(BigInt(t.end_ns) / 1_000_000n)).toBe(new Date(second.start_time).getTime());
    // The ls the tool ran lies between the first request and the request carrying its result. (Not necessarily after
    // `start_ns`: node reads the first response's chunked terminator only after the tool returned, so the last
    // response byte, which is `start_ns`, can come after the tool's child process.)
    const ls = (JSON.parse((await runCli(['audit', '--type', 'process', '--json'], infra.env)).stdout) as Row[]).find((a) => a.action === 'exec' && a.details.argv?.[0] === 'ls')!;
    expect(new Date(ls.ts).getTime()).toBeGreaterThanOrEqual(new Date(first.start_time).getTime());
    expect(new Date(ls.ts).getTime()).toBeLessThanOrEqual(new Date(t.end_time).getTime());
    const sessions: Row[] = JSON.parse((await runCli(['sessions', '--json'], infra.env)).stdout);
    // One session per agent process, named by its script (interpreters) or comm: node agent.js (2 calls, 1 tool use), python3 py_client.py, curl.
    expect(sessions.map((x) => [x.agent_name, x.llm_calls, x.tool_uses]).sort()).toEqual([['agent', 2, 1], ['curl', 1, 0], ['py_client', 1, 0]].sort());
    const node = sessions.find((x) => x.agent_name === 'agent')!;
    expect(node.input_tokens).toBe(first['gen_ai.usage.input_tokens'] + second['gen_ai.usage.input_tokens']);
    expect(node.attributes).toMatchObject({ 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'agent' });
    const ch = await openClickHouse({ dataDir: join(infra.dataDir, 'chdb') });
    try {
      const spans = await listGenAiSpans(ch, { kind: 'execute_tool' });
      expect(spans).toHaveLength(1);
      expect(spans[0]).toMatchObject({ version: 3, name: 'execute_tool get_current_weather', tool_use_id: t.id, conversation_id: node.conversation_id });
      expect(spans[0].attributes['gen_ai.tool.call.id']).toBe(t.call_id);
    } finally {
      await ch.close();
    }
  });
  test('the `ls` exec is causally linked to the tool use that ran it; the other clients\' execs are not', async () => {
    const first = calls.find((c) => c['gen_ai.response.id'] === groundTruthFor('ddtrace__completion_stream_with_tools.yaml').response_id)!;
    const tool = (JSON.parse((await runCli(['tools', '--json'], infra.env)).stdout) as Row[])[0];
    const execs = (JSON.parse((await runCli(['audit', '--type', 'process', '--json'], infra.env)).stdout) as Row[]).filter((a) => a.action === 'exec');
    const ls = execs.find((a) => a.details.argv?.[0] === 'ls')!;
    expect(ls.caused_by).toEqual({
      tool_use_id: tool.id, tool_name: 'get_current_weather', call_id: tool.call_id, llm_call_id: first.call_id, agent_pid: first.pid, ambiguous: false,
    });
    const others = execs.filter((a) => a !== ls);
    expect(others.map((a) => a.details.argv?.[0]).sort()).toEqual(expect.arrayContaining(['curl', 'node']));
    for (const a of others) expect(a.caused_by).toBeUndefined();
    // The text output names the tool and the LLM call that led to the command.
    const text = (await runCli(['audit', '--type', 'process'], infra.env)).stdout;
    const line = text.split('\n').find((l) => /exec \S*ls -la/.test(l))!;
    expect(line).toContain(`← tool get_current_weather (${tool.call_id}) of LLM call ${first.call_id.slice(0, 8)}`);
  });
});
