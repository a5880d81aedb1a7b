/**
 * Claude Code, the real native binary from npm (`@anthropic-ai/claude-code-linux-x64`, Bun 1.4.6, pinned in
 * services/probe-producer/test/bun-builds.json, cached under /var/cache/agentsight-test/bun), run as a user would:
 * `agentsight exec -- claude -p "…"` with no other flags, pointed at the local replay server by its documented
 * settings (ANTHROPIC_BASE_URL, NODE_EXTRA_CA_CERTS). Every stage is its own process. Each Messages call the server
 * answered must be stored exactly once and equal the ground truth of the fixture it was served, named `claude-code`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { groundTruthDiff, groundTruthFor, observedStoredCall, startReplayServer, type ReplayServer, type StoredCallFields } from '@agentsight/testkit';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { BUILDS } from '../../services/probe-producer/test/bun-builds';
import { fetchNpmFile } from '../../services/probe-producer/test/npm-binaries';
import { api, describeCapture, Infra, runCli, Stages, startInfra } from './harness';

type Row = Record<string, any>;

describeCapture('Claude Code (native Bun binary) under agentsight exec, end to end', () => {
  let infra: Infra;
  let stages: Stages;
  let server: ReplayServer;
  let run: { code: number | null; stdout: string; stderr: string };
  let calls: Row[];
  let sessions: Row[];
  let home: string;

  beforeAll(async () => {
    const a = BUILDS.agents.find((x) => x.agent === 'claude-code')!;
    const claude = fs.realpathSync(await fetchNpmFile({ name: a.name, version: a.version, file: a.file }));
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-claude-home-'));
    infra = await startInfra();
    stages = new Stages(infra.env);
    await stages.startAll();
    server = await startReplayServer();
    run = await runCli(['exec', '--', claude, '-p', 'Say hello.'], {
      ...infra.env, HOME: home, ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'sk-ant-test-key-0123456789',
      NODE_EXTRA_CA_CERTS: server.caPath, DISABLE_TELEMETRY: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1',
    });
    await waitDrained(infra.env);
    calls = await api(infra, '/api/calls');
    sessions = await api(infra, '/api/sessions');
  }, 300_000);

  afterAll(async () => {
    await server?.close();
    await stages?.stopAll();
    await infra?.stop();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  test('claude ran and exec reported the calls it made', () => {
    expect(run.code).toBe(0);
    const answered = server.requests.filter((q) => q.path.startsWith('/v1/messages'));
    expect(answered.length).toBeGreaterThan(0);
    expect(run.stderr).toContain(`${answered.length} LLM call(s) captured`);
  });

  test('every Messages call the server answered is stored once and equals its fixture\'s ground truth', () => {
    const answered = server.requests.filter((q) => q.path.startsWith('/v1/messages'));
    const problems: string[] = [];
    for (const q of answered) {
      const [file, index] = q.fixture!.split('#');
      const gt = groundTruthFor(file, Number(index));
      const matching = calls.filter((c) => c['gen_ai.response.id'] === gt.response_id);
      if (matching.length !== 1) { problems.push(`${q.fixture}: stored ${matching.length} times`); continue; }
      problems.push(...groundTruthDiff(gt, observedStoredCall(matching[0] as StoredCallFields)).map((d) => `${q.fixture}: ${d}`));
    }
    expect(problems).toEqual([]);
    expect(calls).toHaveLength(answered.length);
  });

  test('its session is named claude-code, and the API key never reached storage', () => {
    expect(sessions.map((s) => s.agent_name)).toContain('claude-code');
    expect(JSON.stringify(calls)).not.toContain('sk-ant-test-key-0123456789');
  });
});
