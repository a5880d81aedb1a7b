/** resolveTarget against real files in a temp dir: the real node binary, real scripts, real symlinks; no mocks. */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { envCommand, MAX_DEPTH, resolveBinary, resolveTarget, shellNodeWords, sudoUserHome, userBinDirs } from './resolve';

const NODE = realpathSync(process.execPath);
/** A small real ELF executable that is not node. */
const TRUE_ELF = realpathSync('/bin/true');

/** npm's cmd-shim `sh` launcher, as npm writes it into node_modules/.bin and global bin dirs. */
const NPM_SHIM = (rel: string) => `#!/bin/sh
basedir=$(dirname "$(echo "$0" | sed -e 's,\\\\,/,g')")

case \`uname\` in
    *CYGWIN*|*MINGW*|*MSYS*)
        if command -v cygpath > /dev/null 2>&1; then
            basedir=\`cygpath -w "$basedir"\`
        fi
    ;;
esac

if [ -x "$basedir/node" ]; then
  exec "$basedir/node"  "$basedir/${rel}" "$@"
else 
  exec node  "$basedir/${rel}" "$@"
fi
`;

let root: string;
let bin: string;
/** Environment whose PATH has only `bin` (where `node` is a symlink to the real node). */
let env: NodeJS.ProcessEnv;

function file(rel: string, text: string | Buffer, mode = 0o755): string {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
}

function link(rel: string, target: string): string {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  symlinkSync(target, p);
  return p;
}

function copyElf(rel: string): string {
  const p = join(root, rel);
  mkdirSync(dirname(p), { recursive: true });
  copyFileSync(TRUE_ELF, p);
  chmodSync(p, 0o755);
  return p;
}

const resolveIn = (cmd: string, e: NodeJS.ProcessEnv = env, sudoUserHome: string | null = null) => resolveTarget(cmd, { env: e, sudoUserHome });

beforeEach(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), 'agentsight-resolve-')));
  bin = join(root, 'bin');
  link('bin/node', NODE);
  env = { PATH: bin };
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('resolveTarget: binaries, PATH and symlinks', () => {
  it('finds a name on PATH and follows the symlink to the real ELF', () => {
    expect(resolveIn('node')).toEqual({ binary: NODE, chain: [join(bin, 'node'), NODE] });
  });

  it('takes the first PATH entry holding an executable of that name, skipping non-executable files', () => {
    file('first/node', 'not executable', 0o644);
    const elf = copyElf('second/node');
    expect(resolveIn('node', { PATH: [join(root, 'first'), join(root, 'second'), bin].join(':') })).toEqual({ binary: elf, chain: [elf] });
  });

  it('accepts absolute and relative paths (relative to the cwd)', () => {
    const elf = copyElf('tools/agent');
    expect(resolveIn(elf)).toEqual({ binary: elf, chain: [elf] });
    expect(resolveIn(relative(process.cwd(), elf))).toEqual({ binary: elf, chain: [elf] });
    expect(resolveIn(join(bin, 'node')).binary).toBe(NODE);
  });

  it('returns null with a reason for a missing command, and for a path that does not exist', () => {
    expect(resolveIn('no-such-agent')).toEqual({ binary: null, chain: [], reason: 'no-such-agent: not found on PATH' });
    expect(resolveIn(join(root, 'nope'))).toMatchObject({ binary: null, chain: [], reason: expect.stringMatching(/not found$/) });
    expect(resolveIn('')).toMatchObject({ binary: null, reason: expect.stringMatching(/not found/) });
  });

  it('returns null for an executable that is neither ELF nor a script', () => {
    const blob = file('bin/blob', Buffer.from([0x00, 0x01, 0x02, 0x03, 0xff, 0x00, 0x10]));
    expect(resolveIn('blob')).toEqual({ binary: null, chain: [blob], reason: `${blob}: neither an ELF binary nor a script` });
  });

  it('returns null for a text file without #! that does not run node (the shell would run it)', () => {
    const txt = file('bin/notes', 'just some text\nls -la\n');
    expect(resolveIn('notes')).toEqual({ binary: null, chain: [txt], reason: expect.stringMatching(/script without #! that does not run node/) });
  });
});

describe('resolveTarget: #! scripts', () => {
  it('#!/usr/bin/env node → the node on PATH', () => {
    const tool = file('bin/tool', '#!/usr/bin/env node\nconsole.log(1)\n');
    expect(resolveIn('tool')).toEqual({ binary: NODE, chain: [tool, join(bin, 'node'), NODE] });
  });

  it('#!/usr/bin/env -S node --flags (and VAR=val words, glued -S) → node', () => {
    const a = file('bin/a', '#!/usr/bin/env -S node --max-old-space-size=200 --no-warnings\nconsole.log(process.argv0)\n');
    const b = file('bin/b', '#!/usr/bin/env -S NODE_OPTIONS=--no-deprecation node\n');
    const c = file('bin/c', '#!/usr/bin/env -Snode --no-warnings\n');
    expect(resolveIn('a')).toEqual({ binary: NODE, chain: [a, join(bin, 'node'), NODE] });
    expect(resolveIn('b')).toEqual({ binary: NODE, chain: [b, join(bin, 'node'), NODE] });
    expect(resolveIn('c')).toEqual({ binary: NODE, chain: [c, join(bin, 'node'), NODE] });
    // The fixture is what it claims: env -S really runs the node found on PATH.
    expect(execFileSync(a, { env, encoding: 'utf8' }).trim()).toBe('node');
  });

  it('#!/absolute/path/to/node, directly or through a symlink', () => {
    const direct = file('direct', `#!${NODE}\n`);
    const viaLink = file('via-link', `#!${join(bin, 'node')} --no-warnings\n`);
    expect(resolveIn(direct)).toEqual({ binary: NODE, chain: [direct, NODE] });
    expect(resolveIn(viaLink)).toEqual({ binary: NODE, chain: [viaLink, join(bin, 'node'), NODE] });
  });

  it('other interpreters resolve to the interpreter binary', () => {
    const interp = copyElf('interp/python9');
    const script = file('bin/py-tool', `#!${interp}\nprint(1)\n`);
    expect(resolveIn('py-tool')).toEqual({ binary: interp, chain: [script, interp] });
  });

  it('follows nested wrappers: a script whose interpreter is a script whose interpreter is node', () => {
    const inner = file('wrap/inner', '#!/usr/bin/env node\n');
    const outer = file('bin/outer', `#!${inner} --flag\n`);
    expect(resolveIn('outer')).toEqual({ binary: NODE, chain: [outer, inner, join(bin, 'node'), NODE] });
  });

  it(`gives up after ${MAX_DEPTH} nested wrappers (a script that is its own interpreter)`, () => {
    const loop = join(root, 'bin/loop');
    file('bin/loop', `#!${loop}\n`);
    expect(resolveIn('loop')).toMatchObject({ binary: null, chain: [loop], reason: expect.stringMatching(/nested wrappers/) });
  });

  it('returns null when the interpreter of a script is missing', () => {
    const s = file('bin/s', '#!/usr/bin/env deno-not-installed\n');
    expect(resolveIn('s')).toEqual({ binary: null, chain: [s], reason: 'deno-not-installed: not found on PATH' });
  });
});

describe('resolveTarget: npm launchers', () => {
  it('node_modules/.bin/<x> symlink → ../<pkg>/cli.js with a node #!', () => {
    const cli = file('proj/node_modules/agent-pkg/dist/cli.js', '#!/usr/bin/env node\nconsole.log(1)\n');
    const dotBin = link('proj/node_modules/.bin/agent', '../agent-pkg/dist/cli.js');
    const e = { PATH: `${join(root, 'proj/node_modules/.bin')}:${bin}` };
    expect(resolveIn('agent', e)).toEqual({ binary: NODE, chain: [dotBin, cli, join(bin, 'node'), NODE] });
  });

  it("npm's sh shim: `$basedir/node` when it exists next to the shim", () => {
    file('global/lib/agent/cli.js', 'console.log(process.argv0)\n');
    const shim = file('global/agent', NPM_SHIM('lib/agent/cli.js'));
    const local = link('global/node', NODE);
    expect(resolveIn(shim, { PATH: '/nonexistent' })).toEqual({ binary: NODE, chain: [shim, local, NODE] });
    expect(execFileSync(shim, { env: { PATH: '/usr/bin:/bin' }, encoding: 'utf8' }).trim()).toBe(local);
  });

  it("npm's sh shim: otherwise `exec node` from PATH", () => {
    file('proj/node_modules/agent/cli.js', 'console.log(process.argv0)\n');
    const shim = file('proj/node_modules/.bin/agent', NPM_SHIM('../agent/cli.js'));
    const e = { PATH: `${join(root, 'proj/node_modules/.bin')}:${bin}:/usr/bin:/bin` };
    expect(resolveIn('agent', e)).toEqual({ binary: NODE, chain: [shim, join(bin, 'node'), NODE] });
    expect(execFileSync('agent', { env: e, encoding: 'utf8' }).trim()).toBe('node');
  });

  it('a shim that runs node, when no node is found, and a shell script that does not run node', () => {
    const shim = file('shims/agent', NPM_SHIM('../lib/cli.js'));
    expect(resolveIn('agent', { PATH: join(root, 'shims') })).toMatchObject({ binary: null, chain: [shim] });
    expect(resolveIn(shim, { PATH: join(root, 'shims') })).toEqual({
      binary: null,
      chain: [shim],
      reason: `${shim}: a shell wrapper running $basedir/node or node, which is not found`,
    });
    const plain = file('bin/plain', '#!/bin/bash\nset -e\necho hello\nexec python3 -m agent "$@"\n');
    expect(resolveIn('plain')).toEqual({ binary: null, chain: [plain], reason: `${plain}: a bash script that does not run node` });
  });

  it('hand-written shell wrappers: `#!/usr/bin/env bash` + `exec node`, an absolute node, `exec env node`', () => {
    const a = file('bin/wa', '#!/usr/bin/env bash\nexport FOO=1\nexec node --enable-source-maps "$(dirname "$0")/x.js" "$@"\n');
    const b = file('bin/wb', `#!/bin/sh\n"${NODE}" /opt/x.js "$@"\n`);
    const c = file('bin/wc', '#!/bin/sh\nexec /usr/bin/env NODE_ENV=production node /opt/x.js\n');
    expect(resolveIn('wa')).toEqual({ binary: NODE, chain: [a, join(bin, 'node'), NODE] });
    expect(resolveIn('wb')).toEqual({ binary: NODE, chain: [b, NODE] });
    expect(resolveIn('wc')).toEqual({ binary: NODE, chain: [c, join(bin, 'node'), NODE] });
  });
});

describe('resolveTarget under sudo: the invoking user’s installs', () => {
  let home: string;
  beforeEach(() => {
    home = join(root, 'home/alice');
    link('home/alice/.nvm/versions/node/v20.0.0/bin/node', NODE);
    copyElf('home/alice/.nvm/versions/node/v9.0.0/bin/node'); // older: must lose to v20
    mkdirSync(join(home, '.local/bin'), { recursive: true });
  });

  it('finds node in ~/.nvm/versions/node/<newest>/bin when root’s PATH has none', () => {
    const nvmNode = join(home, '.nvm/versions/node/v20.0.0/bin/node');
    expect(resolveIn('node', { PATH: join(root, 'empty') }, home)).toEqual({ binary: NODE, chain: [nvmNode, NODE] });
    expect(resolveIn('node', { PATH: join(root, 'empty') }, null)).toMatchObject({ binary: null, reason: 'node: not found on PATH' });
  });

  it('a ~/.local/bin launcher with `#!/usr/bin/env node` resolves node in the user’s installs too', () => {
    const cli = file('home/alice/.local/share/agent/cli.js', '#!/usr/bin/env node\n');
    const launcher = link('home/alice/.local/bin/agent', '../share/agent/cli.js');
    expect(resolveIn('agent', { PATH: join(root, 'empty') }, home)).toEqual({
      binary: NODE,
      chain: [launcher, cli, join(home, '.nvm/versions/node/v20.0.0/bin/node'), NODE],
    });
  });

  it('root’s PATH wins over the user’s installs', () => {
    expect(resolveIn('node', env, home)).toEqual({ binary: NODE, chain: [join(bin, 'node'), NODE] });
  });

  it('says where it looked when nothing is found', () => {
    expect(resolveIn('nothing', { PATH: join(root, 'empty') }, home).reason).toBe("nothing: not found on PATH nor in the sudo user's installs");
  });

  it('~/.bun/bin, ~/.npm-global/bin', () => {
    const bun = copyElf('home/alice/.bun/bin/bun');
    const npmGlobal = file('home/alice/.npm-global/bin/agent', NPM_SHIM('../lib/node_modules/agent/cli.js'));
    expect(resolveIn('bun', { PATH: join(root, 'empty') }, home)).toEqual({ binary: bun, chain: [bun] });
    expect(resolveIn('agent', { PATH: join(root, 'empty') }, home)).toEqual({
      binary: NODE,
      chain: [npmGlobal, join(home, '.nvm/versions/node/v20.0.0/bin/node'), NODE],
    });
  });

  it('~/.volta/bin: volta-shim → the node of volta’s default platform', () => {
    const shim = copyElf('home/alice/.volta/bin/volta-shim');
    const agent = link('home/alice/.volta/bin/agent', 'volta-shim');
    const v22 = link('home/alice/.volta/tools/image/node/22.1.0/bin/node', NODE);
    copyElf('home/alice/.volta/tools/image/node/18.0.0/bin/node');
    file('home/alice/.volta/tools/user/platform.json', JSON.stringify({ node: { runtime: '18.0.0', npm: null } }), 0o644);
    const v18 = join(home, '.volta/tools/image/node/18.0.0/bin/node');
    expect(resolveIn('agent', { PATH: join(root, 'empty') }, home)).toEqual({ binary: v18, chain: [agent, shim, v18] });
    rmSync(join(home, '.volta/tools/user/platform.json'));
    expect(resolveIn('agent', { PATH: join(root, 'empty') }, home)).toEqual({ binary: NODE, chain: [agent, shim, v22, NODE] });
  });

  it('userBinDirs lists the existing dirs in search order, newest nvm version first', () => {
    mkdirSync(join(home, '.volta/bin'), { recursive: true });
    link('home/alice/.nvm/versions/node/v18.19.1/bin/node', NODE);
    expect(userBinDirs(home)).toEqual([
      join(home, '.local/bin'),
      join(home, '.nvm/versions/node/v20.0.0/bin'),
      join(home, '.nvm/versions/node/v18.19.1/bin'),
      join(home, '.nvm/versions/node/v9.0.0/bin'),
      join(home, '.volta/bin'),
    ]);
    expect(userBinDirs(join(root, 'no-home'))).toEqual([]);
  });
});

describe('sudoUserHome', () => {
  it('is null outside sudo and for root', () => {
    expect(sudoUserHome({})).toBeNull();
    expect(sudoUserHome({ SUDO_USER: 'root' })).toBeNull();
    expect(sudoUserHome({ SUDO_USER: 'no-such-user-xyz' })).toBeNull();
    expect(sudoUserHome({ SUDO_USER: '../etc' })).toBeNull();
  });

  it('is the passwd home of SUDO_USER', () => {
    const entry = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l && !l.startsWith('root:') && l.split(':')[5]?.startsWith('/'))!;
    const [user, , , , , home] = entry.split(':');
    expect(sudoUserHome({ SUDO_USER: user })).toBe(home);
  });
});

describe('resolveBinary', () => {
  it('is resolveTarget(...).binary', () => {
    const tool = file('bin/tool', '#!/usr/bin/env node\n');
    expect(resolveBinary('tool', env)).toBe(NODE);
    expect(resolveBinary(tool, env)).toBe(NODE);
    expect(resolveBinary('no-such-agent', env)).toBeNull();
  });

  it('with a real SUDO_USER set, root’s PATH is still searched first', () => {
    const entry = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l && !l.startsWith('root:') && l.split(':')[5]?.startsWith('/'))!;
    // No fake users can be created without root changes, so only check that a real SUDO_USER does not break lookup.
    expect(resolveBinary('node', { ...env, SUDO_USER: entry.split(':')[0] })).toBe(NODE);
  });
});

describe('envCommand / shellNodeWords', () => {
  it('envCommand skips env options and VAR=val', () => {
    expect(envCommand(['node'])).toBe('node');
    expect(envCommand(['-S', 'node', '--flag'])).toBe('node');
    expect(envCommand(['-i', '-u', 'HOME', 'A=1', 'node'])).toBe('node');
    expect(envCommand(['--split-string=node --x'])).toBe('node');
    expect(envCommand(['-iSbun', 'run'])).toBe('bun');
    expect(envCommand(['-S', 'A=1'])).toBeNull();
  });

  it('shellNodeWords finds command words that run node', () => {
    expect(shellNodeWords(NPM_SHIM('x.js'))).toEqual(['$basedir/node', 'node']);
    expect(shellNodeWords('# node comment\necho node\nNODE=node\nif true; then exec ${basedir}/node a; fi\n/opt/n/bin/nodejs x\n')).toEqual([
      '${basedir}/node',
      '/opt/n/bin/nodejs',
    ]);
    expect(shellNodeWords('cd /x && exec node app.js\n')).toEqual(['node']);
    expect(shellNodeWords('exec ./node x\nexec "$NODE" x\n')).toEqual([]);
  });
});
