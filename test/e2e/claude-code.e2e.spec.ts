/**
 * Claude Code, the real native binary from npm (`@anthropic-ai/claude-code-linux-x64`, Bun 1.4.6, pinned in
 * services/probe-producer/test/bun-builds.json, cached under /var/cache/agentsight-test/bun), run as a user would:
 * `agentsight exec -- claude -p "…" --allowedTools Bash` with no other agentsight flags, pointed at the scripted mock
 * LLM (libs/testkit mock-llm) by its documented settings (ANTHROPIC_BASE_URL, NODE_EXTRA_CA_CERTS). The mock answers
 * the first turn with a Bash tool call running a real command and the turn carrying its result with a text answer.
 * `--allowedTools Bash` lets the tool run without a prompt (`--dangerously-skip-permissions` is refused as root).
 * Every call the mock answered must be stored exactly once as the mock's log says (model, id, tokens incl. cache,
 * finish reason, tool calls), the command's exec must be linked to its tool use, and the probe must report 0 lost.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isLlmCall, startMockLlm, type MockLlm, type MockLlmResponseLog } from '@agentsight/testkit';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { BUILDS } from '../../services/probe-producer/test/bun-builds';
import { fetchNpmFile } from '../../services/probe-producer/test/npm-binaries';
import { api, describeCapture, Infra, runCli, Stages, startInfra } from './harness';

type Row = Record<string, any>;
/** A real program (not a shell builtin), so its exec is in the audit. */
const TOOL_COMMAND = '/bin/echo agentsight-tool-ok';
const ANSWER = 'agentsight-claude-answer';

describeCapture('Claude Code (native Bun binary) under agentsight exec, end to end', () => {
  let infra: Infra;
  let stages: Stages;
  let mock: MockLlm;
  let log: MockLlmResponseLog[];
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
    mock = await startMockLlm({ dir: path.join(home, 'mock'), toolCommand: TOOL_COMMAND, answer: ANSWER });
    run = await runCli(['exec', '--', claude, '-p', 'Run the test command, then answer.', '--allowedTools', 'Bash'], {
      ...infra.env, HOME: home, ANTHROPIC_BASE_URL: mock.baseUrl, ANTHROPIC_API_KEY: 'sk-ant-test-key-0123456789',
      NODE_EXTRA_CA_CERTS: mock.caPath, DISABLE_TELEMETRY: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1',
    });
    await waitDrained(infra.env);
    log = mock.log();
    calls = await api(infra, '/api/calls');
    sessions = await api(infra, '/api/sessions');
  }, 300_000);

  afterAll(async () => {
    await mock?.close();
    await stages?.stopAll();
    await infra?.stop();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  test('claude ran the tool, answered with the mock\'s text, and exec reported the calls it made', () => {
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(ANSWER);
    expect(log.filter((e) => e.turn === 'tool_call')).toHaveLength(1);
    expect(log.filter((e) => e.turn === 'answer').length).toBeGreaterThanOrEqual(1);
    expect(run.stderr).toContain(`${log.filter(isLlmCall).length} LLM call(s) captured`);
  });

  test('every call the mock answered is stored once, as the mock\'s log says', () => {
    const answered = log.filter(isLlmCall);
    const problems: string[] = [];
    for (const e of answered) {
      const m = calls.filter((c) => c['gen_ai.response.id'] === e.response_id);
      if (m.length !== 1) { problems.push(`${e.response_id}: stored ${m.length} times`); continue; }
      const c = m[0];
      const got = { model: c['gen_ai.response.model'], input: c['gen_ai.usage.input_tokens'], output: c['gen_ai.usage.output_tokens'],
        cache_read: c['gen_ai.usage.cache_read.input_tokens'], cache_creation: c['gen_ai.usage.cache_creation.input_tokens'],
        reasoning: c['gen_ai.usage.reasoning.output_tokens'] ?? 0, finish: c['gen_ai.response.finish_reasons'],
        tools: c.tool_calls.map((t: Row) => ({ name: t.name, arguments: typeof t.arguments === 'string' ? JSON.parse(t.arguments) : t.arguments })) };
      const want = { model: e.model, input: e.input_tokens, output: e.output_tokens, cache_read: e.cache_read_tokens, cache_creation: e.cache_creation_tokens,
        reasoning: e.reasoning_tokens, finish: [e.finish_reason], tools: e.tool_calls.map((t) => ({ name: t.name, arguments: JSON.parse(t.arguments) })) };
      if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`${e.response_id}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    }
    expect(problems).toEqual([]);
    expect(calls).toHaveLength(answered.length);
  });

  test('the tool command\'s exec is in the audit, linked to the Bash tool use the mock asked for', async () => {
    const asked = log.find((e) => e.turn === 'tool_call')!;
    const tools: Row[] = await api(infra, '/api/tools');
    const tool = tools.find((t) => t.call_id === asked.tool_calls[0].id);
    expect(tool).toBeDefined();
    const audit: Row[] = await api(infra, '/api/audit?type=process&limit=1000');
    const execs = audit.filter((a) => a.action === 'exec' && (a.details.argv ?? []).join(' ').includes('agentsight-tool-ok'));
    const echo = execs.find((a) => a.details.argv?.[0] === '/bin/echo');
    expect(echo).toBeDefined();
    const llm = calls.find((c) => c['gen_ai.response.id'] === asked.response_id)!;
    expect(echo!.caused_by).toMatchObject({ tool_use_id: tool!.id, tool_name: 'Bash', call_id: asked.tool_calls[0].id, llm_call_id: llm.call_id });
  });

  test('the probe reports nothing lost', () => {
    expect(run.stderr).toMatch(/\[agentsight\] capture stopped: [1-9]\d* records, 0 lost in the kernel/);
    expect(run.stderr).not.toMatch(/warning: .*lost/);
  });

  test('its session is named claude-code, and the API key never reached storage', () => {
    expect(sessions.map((s) => s.agent_name)).toContain('claude-code');
    expect(JSON.stringify(calls)).not.toContain('sk-ant-test-key-0123456789');
  });
});
