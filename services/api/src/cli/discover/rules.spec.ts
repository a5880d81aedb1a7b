import { builtinRules } from './command';
import { discover, evaluate, globMatch, isOwnProcess, matchRule, mergeRules, parseRules, ProcessInfo, Rule, RulesError } from './rules';

const NODE = '/usr/bin/node';
const PY = '/usr/lib/python3.11/bin/python3.11';

/** A plain process-info object (defaults: a node process). */
function proc(p: Partial<ProcessInfo> & { argv: string[] }): ProcessInfo {
  return { pid: 4242, ppid: 1, uid: 1000, comm: 'node', exe: NODE, cwd: '/home/u', files: [], ...p };
}

const rules = (json: unknown, source = 'user.json'): Rule[] => parseRules(json, source);

describe('globs', () => {
  it.each([
    ['*', '', true],
    ['*', 'a/b c', true],
    ['*/node', '/usr/bin/node', true],
    ['*/node', '/usr/bin/nodejs', false],
    ['node', 'xnode', false],
    ['node', 'node ', false],
    ['*claude-code*', 'node /x/@anthropic-ai/claude-code/cli.js --y', true],
    ['**/cli.js', '/a/b/cli.js', true],
    ['?ode', 'node', true],
    ['?ode', 'ode', false],
    ['python[0-9]*', 'python3.11', true],
    ['python[0-9]*', 'pythonw', false],
    ['[!a-m]x', 'zx', true],
    ['[!a-m]x', 'bx', false],
    ['[^a-m]x', 'bx', false],
    ['[]]', ']', true],
    ['a[b', 'a[b', true],
    ['{goose,goosed}', 'goosed', true],
    ['{goose,goosed}', 'goose', true],
    ['{goose,goosed}', 'gooseX', false],
    ['-m aider{, *}', '-m aider', true],
    ['-m aider{, *}', '-m aider --model x', true],
    ['-m aider{, *}', '-m aider_x', false],
    ['*/{site,dist}-packages/{jiter,google/{genai,generativeai}}/*.so', '/v/lib/dist-packages/google/genai/x.so', true],
    ['*/{site,dist}-packages/{jiter,google/{genai,generativeai}}/*.so', '/v/lib/site-packages/google/auth/x.so', false],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['a.b', 'axb', false],
    ['(x)|y', '(x)|y', true],
    ['Claude', 'claude', false],
  ])('%s vs %j → %s', (glob, value, want) => {
    expect(globMatch(glob, value)).toBe(want);
  });

  it('rejects an unclosed brace', () => {
    expect(() => globMatch('{a,b', 'a')).toThrow(RulesError);
  });
});

describe('parseRules', () => {
  it('accepts {"rules": [...]} and a bare array, normalizing matchers and defaults', () => {
    const a = rules({ rules: [{ id: 'x', agent: 'X', comm: 'x' }] });
    const b = rules([{ id: 'x', agent: 'X', comm: ['x'] }]);
    expect(a).toEqual(b);
    expect(a[0]).toEqual({ id: 'x', agent: 'X', action: 'allow', comm: ['x'], source: 'user.json' });
    expect(rules([{ id: 'd', action: 'deny', exe: '*' }])[0].agent).toBe('*');
  });

  it.each([
    [{ nope: [] }, /expected/],
    [[{ agent: 'X', comm: 'x' }], /rule #1: "id"/],
    [[{ id: 'x', agent: 'X', comm: 'x' }, { id: 'x', agent: 'Y', comm: 'y' }], /rule "x": duplicate id/],
    [[{ id: 'x', agent: 'X' }], /needs at least one of/],
    [[{ id: 'x', comm: 'x' }], /needs an "agent"/],
    [[{ id: 'x', agent: 'X', cmd: 'x' }], /rule "x": unknown key "cmd"/],
    [[{ id: 'x', agent: 'X', action: 'block', comm: 'x' }], /"action"/],
    [[{ id: 'x', agent: 'X', comm: [] }], /"comm" must be/],
    [[{ id: 'x', agent: 'X', exe: 3 }], /"exe" must be/],
    [[{ id: 'x', agent: 'X', arg: '{a' }], /"arg": glob "\{a": unclosed/],
    [['x'], /rule #1: not an object/],
  ])('rejects %j', (json, msg) => {
    expect(() => rules(json)).toThrow(msg);
  });

  it('names the source in its errors', () => {
    expect(() => parseRules([{ id: 'x' }], '/etc/r.json')).toThrow('/etc/r.json: rule "x"');
  });
});

describe('matching', () => {
  const [r] = rules([{ id: 'r', agent: 'A', exe: ['*/node', '*/bun'], arg: ['*/pkg/*', '*/bin/a'] }]);

  it('needs every matcher present (AND), any glob of a matcher (OR), and reports what matched', () => {
    expect(matchRule(r, proc({ argv: ['node', '/x/bin/a', '--v'] }))?.fields).toEqual([
      { field: 'exe', glob: '*/node', value: NODE },
      { field: 'arg', glob: '*/bin/a', value: '/x/bin/a' },
    ]);
    expect(matchRule(r, proc({ exe: '/opt/bun', argv: ['bun', '/x/pkg/cli.js'] }))).not.toBeNull();
    expect(matchRule(r, proc({ exe: '/usr/bin/vim', argv: ['vim', '/x/pkg/cli.js'] }))).toBeNull();
    expect(matchRule(r, proc({ argv: ['node', '/x/app.js'] }))).toBeNull();
  });

  it('never matches exe/file when unreadable, nor kernel threads and zombies (empty argv)', () => {
    const [onExe, onFile, onComm] = rules([{ id: 'e', agent: 'A', exe: '*' }, { id: 'f', agent: 'A', file: '*' }, { id: 'c', agent: 'A', comm: 'kworker*' }]);
    expect(matchRule(onExe, proc({ exe: null, argv: ['x'] }))).toBeNull();
    expect(matchRule(onFile, proc({ files: undefined, argv: ['x'] }))).toBeNull();
    expect(matchRule(onFile, proc({ files: ['/lib/x.so'], argv: ['x'] }))).not.toBeNull();
    expect(matchRule(onComm, proc({ comm: 'kworker/0:1', exe: null, argv: [] }))).toBeNull();
    expect(matchRule(onComm, proc({ comm: 'kworker/0:1', exe: null, argv: ['kworker'] }))).not.toBeNull();
  });

  it('cmdline sees the arguments joined with spaces; arg sees each one', () => {
    const [c, a] = rules([{ id: 'c', agent: 'A', cmdline: '* -m aider *' }, { id: 'a', agent: 'A', arg: '-m aider' }]);
    const p = proc({ argv: ['python3', '-m', 'aider', '--model', 'x'] });
    expect(matchRule(c, p)).not.toBeNull();
    expect(matchRule(a, p)).toBeNull();
  });
});

describe('precedence', () => {
  const base = rules([
    { id: 'a.comm', agent: 'A', comm: 'a' },
    { id: 'b.node', agent: 'B', exe: '*/node' },
  ], 'builtin');
  const pa = proc({ comm: 'a', argv: ['a'] });

  it('the first matching allow rule names the agent', () => {
    expect(evaluate(base, pa)).toMatchObject({ agent: 'A', rule: { id: 'a.comm' } });
    expect(evaluate(base, pa).allows.map((m) => m.rule.id)).toEqual(['a.comm', 'b.node']);
    expect(evaluate(base, proc({ argv: ['node', 'x.js'] }))).toMatchObject({ agent: 'B' });
    expect(evaluate(base, proc({ comm: 'vim', exe: '/usr/bin/vim', argv: ['vim'] })).agent).toBeUndefined();
  });

  it('a deny rule for any agent wins, wherever it stands', () => {
    const r = [...base, ...rules([{ id: 'no-tmp', action: 'deny', arg: '/tmp/*' }])];
    const v = evaluate(r, proc({ comm: 'a', argv: ['a', '/tmp/x'] }));
    expect(v.agent).toBeUndefined();
    expect(v.denies.map((d) => d.rule.id)).toEqual(['no-tmp']);
    expect(evaluate(r, pa).agent).toBe('A');
  });

  it('a deny rule naming an agent drops only that agent, and the next allow rule applies', () => {
    const r = [...base, ...rules([{ id: 'not-a', action: 'deny', agent: 'A', comm: 'a' }])];
    expect(evaluate(r, pa)).toMatchObject({ agent: 'B', rule: { id: 'b.node' } });
    const onlyA = evaluate(r, proc({ comm: 'a', exe: '/usr/bin/a', argv: ['a'] }));
    expect(onlyA.agent).toBeUndefined();
    expect(onlyA.allows).toHaveLength(1);
  });

  it('disabled rules are ignored', () => {
    const r = mergeRules(base, rules([{ id: 'a.comm', agent: 'A', comm: 'a', disabled: true }]));
    expect(evaluate(r, pa)).toMatchObject({ agent: 'B' });
  });

  it('discover() reports allowed processes, lists denied ones, and skips excluded ones', () => {
    const r = [...base, ...rules([{ id: 'deny7', action: 'deny', agent: 'B', exe: '*' }])];
    const ps = [pa, proc({ pid: 7, argv: ['node', 'x'] }), proc({ pid: 8, comm: 'a', argv: ['a'] }), proc({ pid: 9, comm: 'vim', exe: '/usr/bin/vim', argv: ['vim'] })];
    const { found, denied } = discover(r, ps, (p) => p.pid === 8);
    expect(found.map((f) => [f.process.pid, f.verdict.agent])).toEqual([[4242, 'A']]);
    expect(denied.map((d) => d.process.pid)).toEqual([7]);
  });
});

describe('mergeRules', () => {
  const builtin = rules([{ id: 'x.comm', agent: 'X', comm: 'x' }, { id: 'y.comm', agent: 'Y', comm: 'y' }], 'builtin');

  it('a user rule with a built-in id replaces it in place; new user rules come first', () => {
    const user = rules([{ id: 'y.comm', agent: 'Why', comm: 'yy' }, { id: 'mine', agent: 'Mine', comm: 'x' }], '/u.json');
    const merged = mergeRules(builtin, user);
    expect(merged.map((r) => `${r.id}:${r.agent}:${r.source}`)).toEqual(['mine:Mine:/u.json', 'x.comm:X:builtin', 'y.comm:Why:/u.json']);
    expect(evaluate(merged, proc({ comm: 'x', argv: ['x'] })).agent).toBe('Mine');
    expect(evaluate(merged, proc({ comm: 'y', argv: ['y'] })).agent).toBeUndefined();
    expect(evaluate(merged, proc({ comm: 'yy', argv: ['yy'] })).agent).toBe('Why');
  });

  it('{id, disabled: true} alone switches a built-in rule off, keeping its matchers for listing', () => {
    const merged = mergeRules(builtin, rules([{ id: 'x.comm', disabled: true }, { id: 'stray', disabled: true }], '/u.json'));
    expect(merged).toEqual([{ id: 'x.comm', agent: 'X', action: 'allow', comm: ['x'], disabled: true, source: '/u.json' }, builtin[1]]);
    expect(evaluate(merged, proc({ comm: 'x', argv: ['x'] })).agent).toBeUndefined();
  });

  it('without user rules it is the built-in list', () => {
    expect(mergeRules(builtin, [])).toEqual(builtin);
  });
});

describe('built-in rules', () => {
  const builtin = builtinRules();

  it('are valid and have unique ids', () => {
    expect(new Set(builtin.map((r) => r.id)).size).toBe(builtin.length);
    expect(new Set(builtin.map((r) => r.agent))).toEqual(new Set(['Claude Code', 'Gemini CLI', 'Qwen Code', 'Codex', 'Copilot CLI', 'Crush', 'Aider', 'OpenClaw', 'OpenCode', 'Goose', 'Cursor Agent', 'Node LLM SDK', 'Python LLM SDK']));
  });

  const SITE = '/home/u/.venv/lib/python3.11/site-packages';
  it.each<[string, Partial<ProcessInfo> & { argv: string[] }, string | undefined, string?]>([
    ['claude via npm symlink', { argv: ['node', '/usr/local/bin/claude'] }, 'Claude Code', 'claude-code.node'],
    ['claude by package path', { argv: ['node', '/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js', '-p', 'hi'] }, 'Claude Code', 'claude-code.node'],
    ['claude after process.title', { comm: 'claude', argv: ['claude'] }, 'Claude Code', 'claude-code.comm'],
    ['claude native', { comm: '2.0.14', exe: '/home/u/.local/share/claude/versions/2.0.14', argv: ['claude'] }, 'Claude Code', 'claude-code.native'],
    ['gemini', { argv: ['node', '/usr/local/lib/node_modules/@google/gemini-cli/dist/index.js'] }, 'Gemini CLI'],
    ['codex wrapper', { argv: ['node', '/home/u/.npm-global/bin/codex'] }, 'Codex', 'codex.node'],
    ['codex native', { comm: 'codex', exe: '/usr/lib/node_modules/@openai/codex/vendor/x86_64-unknown-linux-musl/codex/codex', argv: ['codex'] }, 'Codex', 'codex.comm'],
    ['aider shebang', { comm: 'aider', exe: PY, argv: ['/usr/bin/python3', '/home/u/.local/bin/aider'] }, 'Aider', 'aider.comm'],
    ['aider via env', { comm: 'python3', exe: PY, argv: ['python3', '/home/u/.local/bin/aider', '--model', 'x'] }, 'Aider', 'aider.script'],
    ['python -m aider', { comm: 'python3', exe: PY, argv: ['python3', '-m', 'aider'] }, 'Aider', 'aider.module'],
    ['openclaw gateway', { comm: 'openclaw-gatewa', argv: ['openclaw-gateway'] }, 'OpenClaw'],
    ['opencode', { comm: 'opencode', exe: '/home/u/.opencode/bin/opencode', argv: ['opencode'] }, 'OpenCode'],
    ['goosed', { comm: 'goosed', exe: '/usr/bin/goosed', argv: ['goosed', 'agent'] }, 'Goose'],
    ['cursor-agent node', { comm: 'node', exe: '/home/u/.local/share/cursor-agent/versions/2025.1/node', argv: ['/home/u/.local/share/cursor-agent/versions/2025.1/node', 'index.js'] }, 'Cursor Agent', 'cursor-agent.bundle'],
    ['node --import of the openai SDK', { argv: ['node', '--import=/p/node_modules/openai/shims/node.mjs', 'app.js'] }, 'Node LLM SDK', 'node-llm-sdk.cmdline'],
    ['node with @anthropic-ai/sdk file open', { argv: ['node', 'app.js'], files: ['/p/node_modules/@anthropic-ai/sdk/index.js'] }, 'Node LLM SDK', 'node-llm-sdk.files'],
    ['node with @google/genai in argv', { argv: ['node', '/p/node_modules/@google/genai/dist/x.js'] }, 'Node LLM SDK'],
    ['python with jiter mapped', { comm: 'python3', exe: PY, argv: ['python3', 'bot.py'], files: [`${SITE}/jiter/jiter.cpython-311-x86_64-linux-gnu.so`] }, 'Python LLM SDK', 'python-llm-sdk.native'],
    ['python with google/genai being imported', { comm: 'python3', exe: PY, argv: ['python3', 'bot.py'], files: [`${SITE}/google/genai/models.py`] }, 'Python LLM SDK', 'python-llm-sdk.files'],
    ['litellm proxy', { comm: 'python3', exe: PY, argv: ['python3', '/home/u/.venv/bin/litellm', '--port', '4000'] }, 'Python LLM SDK', 'python-llm-sdk.cmdline'],
    ['python -m litellm', { comm: 'python3', exe: PY, argv: ['python3', '-m', 'litellm'] }, 'Python LLM SDK', 'python-llm-sdk.module'],
    // negatives
    ['plain node app', { argv: ['node', '/srv/app.js'] }, undefined],
    ['vim on the claude cli', { comm: 'vim', exe: '/usr/bin/vim', argv: ['vim', '/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js'] }, undefined],
    ['pip install aider', { comm: 'pip', exe: PY, argv: ['/usr/bin/python3', '/usr/bin/pip', 'install', 'aider-chat'] }, undefined],
    ['python -m aider_helper', { comm: 'python3', exe: PY, argv: ['python3', '-m', 'aider_helper'] }, undefined],
    ['python with pydantic_core only', { comm: 'python3', exe: PY, argv: ['python3', 'x.py'], files: [`${SITE}/pydantic_core/_pydantic_core.so`] }, undefined],
    ['node with the openai package of another name', { argv: ['node', '/p/node_modules/openai-compat/x.js'] }, undefined],
    ['goose-ish name', { comm: 'gooseberry', exe: '/usr/bin/gooseberry', argv: ['gooseberry'] }, undefined],
  ])('%s', (...row) => {
    const [, p, agent, rule] = row; // a rest parameter: jest would pass `done` to a 4-parameter function for 3-element rows
    const v = evaluate(builtin, proc(p));
    expect(v.agent).toBe(agent);
    if (rule) expect(v.rule?.id).toBe(rule);
  });
});

describe('isOwnProcess', () => {
  const self = { pid: 100, root: '/work/main' };
  it.each<[string, Partial<ProcessInfo> & { argv: string[] }, boolean]>([
    ['the CLI itself', { pid: 100, argv: ['node'] }, true],
    ['a pipeline stage', { argv: ['node', '/work/main/services/parser/dist/main.js'] }, true],
    ['the CLI by a relative path', { cwd: '/work/main', argv: ['node', 'services/api/bin/agentsight.js', 'trace'] }, true],
    ['the probe', { exe: '/work/main/services/probe-producer/build/probe', argv: ['probe'] }, true],
    ['a pipeline stage with node options', { argv: ['node', '--enable-source-maps', '/work/main/services/api/dist/main.js'] }, true],
    ['a test runner in the repo', { argv: ['node', '/work/main/node_modules/.bin/jest'] }, false],
    ['a test runner given a services/ filter', { cwd: '/work/main', argv: ['node', 'node_modules/.bin/jest', 'services/api/src/cli'] }, false],
    ['a relative path elsewhere', { cwd: '/home/u', argv: ['node', 'services/x.js'] }, false],
    ['an agent', { argv: ['node', '/usr/local/bin/claude'] }, false],
  ])('%s → %s', (_, p, want) => {
    expect(isOwnProcess(proc(p), self)).toBe(want);
  });
});
