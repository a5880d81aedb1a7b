/** The scanner against the real /proc, with real child processes. */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { builtinRules } from './command';
import { discover, parseRules } from './rules';
import { listPids, readProcess, scanProcesses } from './scan';
import { IDLE_JS, Sandbox } from './sandbox.test';

const NODE = realpathSync(process.execPath);
let sb: Sandbox;
beforeEach(() => (sb = new Sandbox()));
afterEach(() => sb.cleanup());

describe('readProcess', () => {
  it('reads pid, ppid, uid, comm, exe, cwd and argv of a live process', async () => {
    const script = sb.file('app.js', IDLE_JS());
    const c = await sb.start(process.execPath, [script, 'one arg', '--flag']);
    const p = readProcess(c.pid!)!;
    expect(p).toMatchObject({ pid: c.pid, ppid: process.pid, uid: process.getuid!(), comm: 'node', exe: NODE, cwd: realpathSync(sb.dir), argv: [process.execPath, script, 'one arg', '--flag'] });
    expect(p.files).toEqual(expect.arrayContaining([NODE]));
  });

  it('collects open files (fd links) as well as mapped ones', async () => {
    const held = sb.file('held/secret-state.db', 'x');
    const script = sb.file('hold.js', `require('fs').openSync(${JSON.stringify(held)}, 'r'); ${IDLE_JS()}`);
    const c = await sb.start(process.execPath, [script]);
    expect(readProcess(c.pid!)!.files).toContain(held);
    expect(readProcess(c.pid!, { files: false })!.files).toBeUndefined();
  });

  it('sees native modules mapped by python (what the python SDK heuristic relies on)', async () => {
    const c = await sb.start('python3', ['-c', "import _decimal, time; print('ready', flush=True); time.sleep(30)"]);
    const p = readProcess(c.pid!)!;
    expect(p.exe).toMatch(/\/python3[.\d]*$/);
    expect(p.files!.some((f) => /\/lib-dynload\/_decimal\.[^/]*\.so$/.test(f))).toBe(true);
  });

  it('returns null for a process that is gone, and for a pid that never existed', async () => {
    const c = await sb.start(process.execPath, ['-e', IDLE_JS()]);
    const pid = c.pid!;
    expect(readProcess(pid)).not.toBeNull();
    await new Promise((res) => {
      c.once('exit', res);
      c.kill('SIGKILL');
    });
    expect(readProcess(pid)).toBeNull();
    expect(readProcess(2 ** 30)).toBeNull();
  });

  it('returns an empty argv and no exe for a zombie (so rules never match it)', async () => {
    // `sleep` inherits the shell's pid and never reaps the node child, which exits at once: a zombie.
    const sh = await sb.start('/bin/sh', ['-c', `${process.execPath} -e 0 & echo ready; exec sleep 30`]);
    let zombie = null;
    for (let i = 0; i < 200 && !zombie; i++) {
      zombie = listPids().map((pid) => readProcess(pid)).find((p) => p && p.ppid === sh.pid && p.argv.length === 0) ?? null;
      if (!zombie) await new Promise((r) => setTimeout(r, 20));
    }
    expect(zombie).toMatchObject({ ppid: sh.pid, argv: [], exe: null });
    expect(discover(parseRules([{ id: 'all', agent: 'All', comm: '*' }], 't'), [zombie!]).found).toEqual([]);
  });
});

describe('scanProcesses + built-in rules on the real /proc', () => {
  it('discovers a genuine node process running @anthropic-ai/claude-code/cli.js as Claude Code, and not a plain one', async () => {
    const cli = sb.file('node_modules/@anthropic-ai/claude-code/cli.js', IDLE_JS());
    const plain = sb.file('plain/app.js', IDLE_JS());
    const claude = await sb.start(process.execPath, [cli]);
    const other = await sb.start(process.execPath, [plain]);
    const procs = scanProcesses();
    expect(procs.map((p) => p.pid)).toEqual(expect.arrayContaining([claude.pid, other.pid, process.pid]));
    const { found } = discover(builtinRules(), procs);
    const hit = found.find((f) => f.process.pid === claude.pid);
    expect(hit).toBeDefined();
    expect(hit!.verdict).toMatchObject({ agent: 'Claude Code', rule: { id: 'claude-code.node' } });
    expect(hit!.process).toMatchObject({ ppid: process.pid, exe: NODE, argv: [process.execPath, cli] });
    expect(found.find((f) => f.process.pid === other.pid)).toBeUndefined();
  });

  it('discovers a node process that set its title to claude (comm rule)', async () => {
    const c = await sb.start(process.execPath, ['-e', `process.title = 'claude'; ${IDLE_JS()}`]);
    const p = readProcess(c.pid!)!;
    expect(p.comm).toBe('claude');
    expect(discover(builtinRules(), [p]).found[0]?.verdict.rule.id).toBe('claude-code.comm');
  });

  it('discovers python with a jiter native module mapped as a Python LLM SDK (maps heuristic)', async () => {
    // A real shared object at a site-packages/jiter path, loaded with ctypes: the same mapping `import jiter` makes.
    const pyExe = execFileSync('python3', ['-c', 'import sys; print(sys.executable)']).toString().trim();
    const dynload = execFileSync(pyExe, ['-c', 'import _json; print(_json.__file__)']).toString().trim();
    const so = join(sb.dir, 'venv/lib/python3/site-packages/jiter', 'jiter.cpython-x86_64-linux-gnu.so');
    sb.file('venv/lib/python3/site-packages/jiter/__init__.py', '');
    copyFileSync(dynload, so);
    const py = await sb.start(pyExe, ['-c', `import ctypes, time; ctypes.CDLL(${JSON.stringify(so)}); print('ready', flush=True); time.sleep(30)`]);
    const bare = await sb.start(pyExe, ['-c', `import time; print('ready', flush=True); time.sleep(30)`]);
    const { found } = discover(builtinRules(), scanProcesses());
    expect(found.find((f) => f.process.pid === py.pid)?.verdict).toMatchObject({ agent: 'Python LLM SDK', rule: { id: 'python-llm-sdk.native' } });
    expect(found.find((f) => f.process.pid === bare.pid)).toBeUndefined();
  });

  it('a user file rule matches open files, and a user deny rule wins over a built-in allow', async () => {
    const cli = sb.file('node_modules/@anthropic-ai/claude-code/cli.js', IDLE_JS());
    const held = sb.file('work/agent.sock.lock', '');
    const holder = sb.file('holder.js', `require('fs').openSync(${JSON.stringify(held)}, 'r'); ${IDLE_JS()}`);
    const claude = await sb.start(process.execPath, [cli]);
    const h = await sb.start(process.execPath, [holder]);
    const user = parseRules({ rules: [
      { id: 'lock-holder', agent: 'My Agent', file: '*/work/agent.sock.lock' },
      { id: 'no-sandbox-claude', action: 'deny', agent: 'Claude Code', arg: `${sb.dir}/*` },
    ] }, 'test');
    const { found, denied } = discover([...user, ...builtinRules()], scanProcesses());
    expect(found.find((f) => f.process.pid === h.pid)?.verdict.agent).toBe('My Agent');
    expect(found.find((f) => f.process.pid === claude.pid)).toBeUndefined();
    expect(denied.find((d) => d.process.pid === claude.pid)?.verdict.denies.map((d) => d.rule.id)).toEqual(['no-sandbox-claude']);
  });

  it('survives processes exiting during the scan', async () => {
    // A shell that keeps forking short-lived processes while we scan repeatedly.
    const churn = spawn('/bin/sh', ['-c', 'while :; do /bin/true & /bin/true & wait; done'], { stdio: 'ignore' });
    try {
      let vanished = 0;
      for (let i = 0; i < 50 && vanished < 5; i++) {
        // listed, then gone before (or while) being read: readProcess must answer null, not throw
        vanished += listPids().map((pid) => readProcess(pid)).filter((p) => p === null).length;
        const procs = scanProcesses();
        expect(procs.find((p) => p.pid === process.pid)).toBeDefined();
        expect(procs.every((p) => p !== null && Number.isInteger(p.pid) && Array.isArray(p.argv))).toBe(true);
      }
      expect(vanished).toBeGreaterThan(0); // the race was really exercised
    } finally {
      churn.kill('SIGKILL');
    }
  });

  it('lists the pids of /proc, sorted', async () => {
    const c = await sb.start(process.execPath, ['-e', IDLE_JS()]);
    const pids = listPids();
    expect(pids).toEqual(expect.arrayContaining([process.pid, c.pid]));
    expect(pids).toEqual([...pids].sort((x, y) => x - y));
    expect(pids.every((p) => Number.isInteger(p) && p > 0)).toBe(true);
  });
});
