/**
 * Codex, the real static musl binary from npm (rustls 0.23, pinned in services/probe-producer/test/codex-builds.ts,
 * cached under /var/cache/agentsight-test/codex), run as a user would: `agentsight exec -- codex exec …` with no
 * other flags, pointed at a local Responses API server by its documented settings (CODEX_HOME/config.toml
 * `base_url` + `wire_api = "responses"`, SSL_CERT_FILE for the test CA). Every stage is its own process. Each
 * response the server sent must be stored exactly once with its model, response id and tokens, named `codex`.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeCaAndLeaf, RESPONSES_MOCK, startResponsesServer } from '@agentsight/testkit';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { CODEX_CACHE, FOUND } from '../../services/probe-producer/test/codex-builds';
import { fetchNpmFile } from '../../services/probe-producer/test/npm-binaries';
import { api, describeCapture, Infra, runCli, Stages, startInfra } from './harness';

type Row = Record<string, any>;

describeCapture('Codex (static musl Rust, rustls) under agentsight exec, end to end', () => {
  let infra: Infra;
  let stages: Stages;
  let tmp: string;
  let srv: Awaited<ReturnType<typeof startResponsesServer>>;
  let run: { code: number | null; stdout: string; stderr: string };
  let posts: Array<{ method: string; url: string }>;
  let calls: Row[];
  let sessions: Row[];
  const answer = `PONG-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    const codex = fs.realpathSync(await fetchNpmFile(FOUND[0], CODEX_CACHE));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-codex-e2e-'));
    const certs = makeCaAndLeaf(tmp);
    srv = await startResponsesServer(certs.key, certs.cert, answer);
    const home = path.join(tmp, 'codex-home');
    fs.mkdirSync(home);
    fs.writeFileSync(path.join(home, 'config.toml'), [
      `model = "${RESPONSES_MOCK.model}"`, 'model_provider = "mock"', '[model_providers.mock]', 'name = "mock"',
      `base_url = "https://localhost:${srv.port}/v1"`, 'wire_api = "responses"', 'env_key = "OPENAI_API_KEY"', ''].join('\n'));
    infra = await startInfra();
    stages = new Stages(infra.env);
    await stages.startAll();
    run = await runCli(['exec', '--', codex, 'exec', '--skip-git-repo-check', 'say pong'], {
      ...infra.env, CODEX_HOME: home, OPENAI_API_KEY: 'sk-agentsight-codex-test-key', SSL_CERT_FILE: certs.ca, RUST_LOG: 'off',
    });
    await waitDrained(infra.env);
    posts = srv.log().split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((q) => q.url.endsWith('/responses'));
    calls = await api(infra, '/api/calls');
    sessions = await api(infra, '/api/sessions');
  }, 300_000);

  afterAll(async () => {
    srv?.server.kill();
    await stages?.stopAll();
    await infra?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('codex answered with the server\'s text and exec reported its calls', () => {
    expect(run.code).toBe(0);
    expect(run.stdout + run.stderr).toContain(answer);
    expect(posts.length).toBeGreaterThanOrEqual(1);
    expect(run.stderr).toContain(`${posts.length} LLM call(s) captured`);
  });

  test('every response is stored once with its model, id and tokens', () => {
    expect(calls).toHaveLength(posts.length);
    for (const c of calls) {
      expect({
        provider: c['gen_ai.provider.name'], id: c['gen_ai.response.id'], model: c['gen_ai.response.model'],
        input: c['gen_ai.usage.input_tokens'], output: c['gen_ai.usage.output_tokens'],
      }).toEqual({ provider: 'openai', id: RESPONSES_MOCK.id, model: RESPONSES_MOCK.model, input: RESPONSES_MOCK.input_tokens, output: RESPONSES_MOCK.output_tokens });
    }
  });

  test('its session is named codex, and the API key never reached storage', () => {
    expect(sessions.map((s) => s.agent_name)).toContain('codex');
    expect(JSON.stringify(calls)).not.toContain('sk-agentsight-codex-test-key');
  });
});
