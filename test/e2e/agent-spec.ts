/**
 * The end-to-end checks every real agent under `agentsight exec` must pass against the mock LLM (issue 8, "Tests"):
 * shared by test/e2e/<agent>.e2e.spec.ts so each agent's spec is one call. The mock's response log is the ground
 * truth: every LLM response it sent is stored exactly once with its model, response id, tokens (input, output incl.
 * reasoning, cache read/creation, reasoning), finish reason and tool calls; the session is named by the agent; the
 * command the agent's shell tool ran is in the process audit, linked to the tool use the mock asked for; the probe
 * lost nothing; the API key never reached storage.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startMockLlm, type MockLlm, type MockLlmResponseLog } from '@agentsight/testkit';
import { AgentName, AgentRun, runAgentUnderExec } from './agents';
import { describeCapture } from './harness';

type Row = Record<string, any>;

/**
 * The stored call's fields in the mock log's terms (absent counts are 0). A stored call's tool calls carry name and
 * arguments; their ids are checked on the tool uses (`call_id`), where storage keeps them.
 */
export function observed(c: Row): Omit<MockLlmResponseLog, 'api' | 'path' | 'stream' | 'text' | 'turn' | 'tool_calls'> & { tool_calls: { name: string; arguments: string }[] } {
  return {
    model: c['gen_ai.response.model'],
    response_id: c['gen_ai.response.id'],
    input_tokens: c['gen_ai.usage.input_tokens'] ?? 0,
    output_tokens: c['gen_ai.usage.output_tokens'] ?? 0,
    cache_read_tokens: c['gen_ai.usage.cache_read.input_tokens'] ?? 0,
    cache_creation_tokens: c['gen_ai.usage.cache_creation.input_tokens'] ?? 0,
    reasoning_tokens: c['gen_ai.usage.reasoning.output_tokens'] ?? 0,
    finish_reason: (c['gen_ai.response.finish_reasons'] ?? []).join(','),
    tool_calls: (c.tool_calls ?? []).map((t: Row) => ({ name: t.name, arguments: JSON.stringify(t.arguments) })),
  };
}

/** The mock's log entry in the same terms, tool-call arguments re-serialised compactly (key order kept). */
export function expected(e: MockLlmResponseLog): ReturnType<typeof observed> {
  return {
    model: e.model, response_id: e.response_id, input_tokens: e.input_tokens, output_tokens: e.output_tokens,
    cache_read_tokens: e.cache_read_tokens, cache_creation_tokens: e.cache_creation_tokens, reasoning_tokens: e.reasoning_tokens,
    finish_reason: e.finish_reason,
    tool_calls: e.tool_calls.map((t) => ({ name: t.name, arguments: JSON.stringify(JSON.parse(t.arguments)) })),
  };
}

/** The standard checks for `agent` (see the module doc). */
export function describeAgentE2e(agent: AgentName, title: string): void {
  describeCapture(`${title} (real binary from npm) under agentsight exec, end to end`, () => {
    const marker = `agentsight-${agent}-${randomUUID().slice(0, 8)}`;
    const toolCommand = `echo ${marker}`;
    let dir: string;
    let mock: MockLlm;
    let r: AgentRun;
    let answered: MockLlmResponseLog[];

    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `agentsight-${agent}-mock-`));
      mock = await startMockLlm({ dir, toolCommand, answer: `DONE ${marker}` });
      r = await runAgentUnderExec(agent, mock, `Run the shell command \`${toolCommand}\` and tell me what it printed.`);
      answered = mock.log().filter((e) => e.response_id !== '');
    }, 600_000);

    afterAll(async () => {
      await mock?.close();
      await r?.stop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    test('the agent ran its tool and answered, and exec reported every call the mock answered', () => {
      expect(r.run.code).toBe(0);
      expect(answered.map((e) => e.turn)).toEqual(expect.arrayContaining(['tool_call', 'answer']));
      expect(r.run.stdout + r.run.stderr).toContain(`DONE ${marker}`);
      expect(r.run.stderr).toContain(`${answered.length} LLM call(s) captured`);
    });

    test('every response the mock sent is stored exactly once with model, id, tokens, finish reason and tool calls', () => {
      const problems: string[] = [];
      for (const e of answered) {
        const rows = r.calls.filter((c) => c['gen_ai.response.id'] === e.response_id);
        if (rows.length !== 1) problems.push(`${e.response_id} (${e.turn}): stored ${rows.length} times`);
        else if (JSON.stringify(observed(rows[0])) !== JSON.stringify(expected(e)))
          problems.push(`${e.response_id}: stored ${JSON.stringify(observed(rows[0]))}, sent ${JSON.stringify(expected(e))}`);
      }
      expect(problems).toEqual([]);
      expect(r.calls).toHaveLength(answered.length);
    });

    test(`its session is named ${agent}, and the API key never reached storage`, () => {
      expect(r.sessions.map((s) => s.agent_name)).toEqual([agent]);
      expect(r.calls.every((c) => c['gen_ai.agent.name'] === undefined || c['gen_ai.agent.name'] === agent)).toBe(true);
      expect(JSON.stringify([r.calls, r.sessions, r.tools, r.processAudit])).not.toContain(r.launch.apiKey);
    });

    test('the shell command the mock asked for is in the audit, linked to that tool use (one, complete)', () => {
      const asked = answered.find((e) => e.turn === 'tool_call')!;
      const call = r.calls.find((c) => c['gen_ai.response.id'] === asked.response_id)!;
      const uses = r.tools.filter((t) => t.origin_llm_call_id === call.call_id);
      expect(uses.map((t) => [t.name, t.version])).toEqual([[asked.tool_calls[0].name, 3]]);
      expect(r.tools).toHaveLength(1);
      // The id the mock gave the call (Gemini gives none: then the one the agent put on its result, if any).
      if (asked.tool_calls[0].id) expect(uses[0].call_id).toBe(asked.tool_calls[0].id);
      // The shells that ran it (not the agent itself, whose prompt names the command too).
      const execs = r.processAudit.filter((a) => a.action === 'exec' && /(^|\/)(ba)?sh$/.test(a.details.argv?.[0] ?? '') && (a.details.argv ?? []).join(' ').includes(marker));
      expect(execs.length).toBeGreaterThanOrEqual(1);
      for (const x of execs) expect(x.caused_by).toMatchObject({ tool_use_id: uses[0].id, tool_name: asked.tool_calls[0].name, llm_call_id: call.call_id, ambiguous: false });
    });

    test('the probe lost nothing', () => {
      expect(r.run.stderr).toMatch(/capture stopped: [1-9]\d* records, 0 lost in the kernel/);
      expect(r.run.stderr).not.toMatch(/lost in the kernel ring buffer|not captured:/);
    });
  });
}
