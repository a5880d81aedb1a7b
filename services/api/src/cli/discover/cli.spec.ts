/** The compiled `agentsight discover` command, run as a real process against the real /proc. */
import { execFileSync, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { DiscoveredJson } from './command';
import { IDLE_JS, Sandbox } from './sandbox.test';

const ROOT = resolve(__dirname, '../../../../..');
const CLI = join(ROOT, 'services/api/bin/agentsight.js');

/** Runs the built CLI; resolves with its exit code, output and pid. */
function agentsight(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string; pid: number }> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, AGENTSIGHT_DATA_DIR: join(sb.dir, 'no-data'), ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', rej);
    p.on('close', (code) => res({ code, stdout, stderr, pid: p.pid! }));
  });
}

let sb: Sandbox;
let claudePid: number;
let plainPid: number;
let cliPath: string;

beforeAll(async () => {
  try {
    execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-b', 'services/api'], { cwd: ROOT, stdio: 'pipe' });
  } catch (e) {
    const out = e as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`tsc -b services/api failed (the CLI under test could not be built):\n${out.stdout ?? ''}${out.stderr ?? ''}`);
  }
  sb = new Sandbox();
  cliPath = sb.file('node_modules/@anthropic-ai/claude-code/cli.js', IDLE_JS(120_000));
  claudePid = (await sb.start(process.execPath, [cliPath])).pid!;
  plainPid = (await sb.start(process.execPath, [sb.file('plain/app.js', IDLE_JS(120_000))])).pid!;
}, 180_000);
afterAll(() => sb?.cleanup());

describe('agentsight discover (compiled)', () => {
  it('--json lists the Claude Code process and not the plain node one', async () => {
    const r = await agentsight(['discover', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as DiscoveredJson[];
    expect(rows.find((x) => x.pid === claudePid)).toEqual({
      pid: claudePid, ppid: process.pid, uid: process.getuid!(), agent: 'Claude Code', comm: 'node', exe: expect.stringMatching(/\/node$/),
      cmdline: `${process.execPath} ${cliPath}`, rule: 'claude-code.node',
    });
    expect(rows.find((x) => x.pid === plainPid)).toBeUndefined();
    expect(rows.find((x) => x.pid === r.pid)).toBeUndefined();
  });

  it('the table and --verbose explain the match', async () => {
    const r = await agentsight(['discover', '--verbose']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^pid\s+agent\s+comm\s+exe\s+rule$/m);
    expect(r.stdout).toMatch(new RegExp(`^${claudePid}\\s+Claude Code\\s+node\\s+\\S+/node\\s+claude-code\\.node$`, 'm'));
    expect(r.stdout).toContain(`pid ${claudePid} (node) is Claude Code: rule claude-code.node [builtin]: exe "`);
    expect(r.stdout).toContain(`arg ${JSON.stringify(cliPath)} matches "*/@anthropic-ai/claude-code/*"`);
    expect(r.stdout).toMatch(/^scanned \d+ processes with the built-in rules$/m);
  });

  it('--rules: user rules merge over the built-in ones, deny wins, and agentsight never lists itself', async () => {
    const rules = sb.file('my-rules.json', JSON.stringify({ rules: [
      { id: 'any-node', agent: 'Any Node', exe: '*/node' }, // user rules come first: would win over claude-code.node
      { id: 'claude-is-not-any-node', action: 'deny', agent: 'Any Node', arg: cliPath },
      { id: 'hide-plain', action: 'deny', arg: `${sb.dir}/plain/*` },
    ] }));
    const r = await agentsight(['discover', '--json', '--verbose', '--rules', rules]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as DiscoveredJson[];
    // the deny naming "Any Node" drops that match only: the built-in rule applies
    expect(rows.find((x) => x.pid === claudePid)).toMatchObject({ agent: 'Claude Code', rule: 'claude-code.node', why: [expect.stringMatching(/^exe ".*\/node" matches "\*\/node"$/), `arg ${JSON.stringify(cliPath)} matches "*/@anthropic-ai/claude-code/*"`] });
    // a deny for any agent hides the process although "any-node" matches it
    expect(rows.find((x) => x.pid === plainPid)).toBeUndefined();
    // the jest worker is a node process: the user allow rule is in force
    expect(rows.find((x) => x.pid === process.pid)).toMatchObject({ agent: 'Any Node', rule: 'any-node' });
    // the CLI is a node process too, but agentsight's own
    expect(rows.find((x) => x.pid === r.pid)).toBeUndefined();
    const table = await agentsight(['discover', '--verbose', '--rules', rules]);
    expect(table.stdout).toContain(`pid ${plainPid} (node) not reported: matched any-node but denied by hide-plain [${rules}]: arg ${JSON.stringify(join(sb.dir, 'plain/app.js'))} matches`);
  });

  it('reads <data dir>/rules.json when present: a user rule with a built-in id overrides it', async () => {
    sb.file('data/rules.json', JSON.stringify([{ id: 'claude-code.node', disabled: true }]));
    const r = await agentsight(['discover', '--json'], { AGENTSIGHT_DATA_DIR: join(sb.dir, 'data') });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as DiscoveredJson[]).find((x) => x.pid === claudePid)).toBeUndefined();
    const listed = await agentsight(['discover', '--list-known'], { AGENTSIGHT_DATA_DIR: join(sb.dir, 'data') });
    expect(listed.stdout).toMatch(new RegExp(`^Claude Code\\s+claude-code\\.node\\s+allow \\(disabled\\)\\s+exe=\\*\\/node\\|.*\\s+${join(sb.dir, 'data/rules.json').replace(/[.]/g, '\\.')}$`, 'm'));
  });

  it('--list-known prints every built-in agent and its rules', async () => {
    const r = await agentsight(['discover', '--list-known']);
    expect(r.code).toBe(0);
    for (const agent of ['Claude Code', 'Gemini CLI', 'Qwen Code', 'Codex', 'Copilot CLI', 'Crush', 'Aider', 'OpenClaw', 'OpenCode', 'Goose', 'Cursor Agent', 'Node LLM SDK', 'Python LLM SDK']) {
      expect(r.stdout).toMatch(new RegExp(`^${agent}\\s+\\S+\\s+allow\\s+\\S`, 'm'));
    }
    expect(r.stdout).toMatch(/^Claude Code\s+claude-code\.node\s+allow\s+exe=\*\/node\|.* arg=\*\/@anthropic-ai\/claude-code\/\*\|\*\/bin\/claude$/m);
    const json = JSON.parse((await agentsight(['discover', '--list-known', '--json'])).stdout) as Array<{ id: string; source: string }>;
    expect(json.length).toBeGreaterThan(20);
    expect(json.every((x) => x.source === 'builtin')).toBe(true);
  });

  it('an invalid rules file is an error naming the file and the rule', async () => {
    const bad = sb.file('bad.json', JSON.stringify([{ id: 'x', agent: 'X', cmd: 'x' }]));
    const r = await agentsight(['discover', '--rules', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad}: rule "x": unknown key "cmd"`);
    const missing = await agentsight(['discover', '--rules', join(sb.dir, 'nope.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read rules file');
  });
});
