/**
 * Codex, the real static musl binary from npm (rustls 0.23; the releases of `E2E` in
 * services/probe-producer/test/codex-builds.ts: the newest pinned and one of rustls 0.23.36, whose inlining differs;
 * cached under /var/cache/agentsight-test/codex), each run as a user would: `agentsight exec -- codex exec
 * --dangerously-bypass-approvals-and-sandbox …` with no other agentsight flags, pointed at the scripted mock LLM
 * (libs/testkit mock-llm, OpenAI Responses) by its documented settings (CODEX_HOME/config.toml `base_url` +
 * `wire_api = "responses"`, SSL_CERT_FILE for the test CA). The mock asks for its shell tool first (a real
 * `/bin/echo`), then answers. Every response must be stored exactly once as the mock's log says, the command's exec
 * linked to its tool use, nothing lost, the session named `codex`.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isLlmCall, startMockLlm, type MockLlm, type MockLlmResponseLog } from '@agentsight/testkit';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { CODEX_CACHE, E2E, type CodexBuild } from '../../services/probe-producer/test/codex-builds';
import { fetchNpmFile } from '../../services/probe-producer/test/npm-binaries';
import { api, describeCapture, Infra, runCli, Stages, startInfra } from './harness';

type Row = Record<string, any>;

const describeCodex = (build: CodexBuild) => describeCapture(`Codex ${build.version} (static musl Rust, ${build.rustls}) under agentsight exec, end to end`, () => {
  let infra: Infra;
  let stages: Stages;
  let tmp: string;
  let mock: MockLlm;
  let log: MockLlmResponseLog[];
  let run: { code: number | null; stdout: string; stderr: string };
  let calls: Row[];
  let sessions: Row[];
  const answer = `PONG-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    const codex = fs.realpathSync(await fetchNpmFile(build, CODEX_CACHE));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-codex-e2e-'));
    mock = await startMockLlm({ dir: path.join(tmp, 'mock'), toolCommand: '/bin/echo agentsight-tool-ok', answer });
    const home = path.join(tmp, 'codex-home');
    fs.mkdirSync(home);
    fs.writeFileSync(path.join(home, 'config.toml'), [
      'model = "gpt-test"', 'model_provider = "mock"', '[model_providers.mock]', 'name = "mock"',
      `base_url = "https://localhost:${mock.port}/v1"`, 'wire_api = "responses"', 'env_key = "OPENAI_API_KEY"', ''].join('\n'));
    infra = await startInfra();
    stages = new Stages(infra.env);
    await stages.startAll();
    run = await runCli(['exec', '--', codex, 'exec', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', 'run the test command'], {
      ...infra.env, CODEX_HOME: home, OPENAI_API_KEY: 'sk-agentsight-codex-test-key', SSL_CERT_FILE: mock.caPath, RUST_LOG: 'off',
    });
    await waitDrained(infra.env);
    log = mock.log().filter(isLlmCall);
    calls = await api(infra, '/api/calls');
    sessions = await api(infra, '/api/sessions');
  }, 300_000);

  afterAll(async () => {
    await mock?.close();
    await stages?.stopAll();
    await infra?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('codex answered with the server\'s text and exec reported its calls', () => {
    expect(run.code).toBe(0);
    expect(run.stdout + run.stderr).toContain(answer);
    expect(log.filter((e) => e.turn === 'tool_call')).toHaveLength(1);
    expect(run.stderr).toContain(`${log.length} LLM call(s) captured`);
  });

  test('every response is stored once, as the mock\'s log says', () => {
    expect(calls).toHaveLength(log.length);
    for (const e of log) {
      const m = calls.filter((c) => c['gen_ai.response.id'] === e.response_id);
      expect(m).toHaveLength(1);
      const c = m[0];
      expect({
        provider: c['gen_ai.provider.name'], model: c['gen_ai.response.model'], input: c['gen_ai.usage.input_tokens'], output: c['gen_ai.usage.output_tokens'],
        cache_read: c['gen_ai.usage.cache_read.input_tokens'], reasoning: c['gen_ai.usage.reasoning.output_tokens'], finish: c['gen_ai.response.finish_reasons'],
        tools: c.tool_calls.map((t: Row) => t.name),
      }).toEqual({ provider: 'openai', model: e.model, input: e.input_tokens, output: e.output_tokens, cache_read: e.cache_read_tokens,
        reasoning: e.reasoning_tokens, finish: [e.finish_reason], tools: e.tool_calls.map((t) => t.name) });
    }
  });

  test('the tool command\'s exec is linked to the shell tool use the mock asked for; nothing lost', async () => {
    const asked = log.find((e) => e.turn === 'tool_call')!;
    const audit: Row[] = await api(infra, '/api/audit?type=process&limit=1000');
    const echo = audit.find((a) => a.action === 'exec' && a.details.argv?.[0] === '/bin/echo');
    expect(echo).toBeDefined();
    const llm = calls.find((c) => c['gen_ai.response.id'] === asked.response_id)!;
    expect(echo!.caused_by).toMatchObject({ call_id: asked.tool_calls[0].id, llm_call_id: llm.call_id });
    expect(run.stderr).toMatch(/\[agentsight\] capture stopped: [1-9]\d* records, 0 lost in the kernel/);
  });

  test('its session is named codex, and the API key never reached storage', () => {
    expect(sessions.map((s) => s.agent_name)).toContain('codex');
    expect(JSON.stringify(calls)).not.toContain('sk-agentsight-codex-test-key');
  });
});

for (const build of E2E) describeCodex(build);
