/**
 * Every known agent (`KNOWN_AGENTS`, the one place names are written) is recognised by its real process shapes both
 * by `agentName` (the analyzer's and the resource sampler's `gen_ai.agent.name`) and by `agentsight discover` (rule title), as the same agent.
 */
import { agentName, KNOWN_AGENTS } from '@agentsight/contracts';
import { builtinRules } from '../../services/api/src/cli/discover/command';
import { evaluate } from '../../services/api/src/cli/discover/rules';

const rules = builtinRules();
const cases = Object.values(KNOWN_AGENTS).flatMap((a) => a.shapes.map((s) => [a.name, s.what, a, s] as const));

describe('known agents: one name, recognised by the analyzer and by discover', () => {
  it('covers the agents of issue 8 with their semconv names', () => {
    expect(Object.values(KNOWN_AGENTS).map((a) => a.name)).toEqual(
      expect.arrayContaining(['claude-code', 'codex', 'opencode', 'gemini-cli', 'qwen-code', 'crush', 'copilot']),
    );
    expect(new Set(Object.values(KNOWN_AGENTS).map((a) => a.name)).size).toBe(Object.keys(KNOWN_AGENTS).length);
  });

  it.each(cases)('%s: %s', (_name, _what, agent, shape) => {
    const proc = { pid: 4242, ppid: 1, uid: 0, comm: shape.comm, exe: shape.exe, argv: [...shape.argv] };
    expect(agentName({ ...proc, start_ns: 0n } as never, shape.comm)).toBe(agent.name);
    expect(evaluate(rules, proc).agent).toBe(agent.title);
  });

  it('a generic node script or binary is no known agent', () => {
    const proc = { pid: 1, ppid: 0, uid: 0, comm: 'node', exe: '/usr/bin/node', argv: ['node', '/srv/app/agent.js'] };
    expect(agentName(proc as never, 'node')).toBe('agent');
    expect(evaluate(rules, proc).agent).toBeUndefined();
  });
});
