/**
 * Which ELF binary will run a command: the binary agentsight attaches its uprobes to (node's own binary exports
 * OpenSSL's SSL_* symbols). Follows what `execvp` and the kernel do, plus the launchers agents are installed with:
 *
 * - `$PATH` lookup (executable files only; an empty entry is the cwd), or a relative/absolute path when `cmd` has a `/`;
 * - symlinks (realpath), e.g. npm's `node_modules/.bin/<x>` → `../<pkg>/cli.js`;
 * - `#!` scripts, nested up to {@link MAX_DEPTH} levels: `#!/path/to/node`, `#!/usr/bin/env node`,
 *   `#!/usr/bin/env -S [VAR=val ...] node --flags` (env's own options and `VAR=val` words are skipped; the command
 *   is looked up like `cmd`);
 * - shell wrappers (a `#!` shell — sh, bash, dash, zsh, ksh, ash, mksh — or no `#!` at all, which the shell runs):
 *   the script's lines are scanned, in order, for one whose command word (after an optional `exec`) is
 *   `node`/`nodejs` (looked up on PATH), an absolute path ending in `/node`/`/nodejs`, or `$basedir/node`
 *   (`"$basedir/node"`, `${basedir}`; `$basedir` = the directory of the script as invoked, as in npm's cmd-shim:
 *   `if [ -x "$basedir/node" ]; then exec "$basedir/node" "$basedir/../pkg/cli.js" "$@"; else exec node ...`).
 *   The first such line whose node exists wins; a shell script with none gives `binary: null`;
 * - volta's `volta-shim` (an ELF that only execs the real tool): the node of volta's default platform
 *   (`<volta>/tools/user/platform.json`), else the newest `<volta>/tools/image/node/<v>/bin/node`;
 * - under `sudo`, a name not found on root's `$PATH` is looked up in the invoking user's installs
 *   ({@link userBinDirs}); this applies to `env` interpreters and shell-wrapper `node` too.
 *
 * Other interpreters (`#!/usr/bin/python3`, ...) resolve to the interpreter's binary.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readdirSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, delimiter, dirname, join, resolve } from 'node:path';

export interface ResolvedTarget {
  /** Real path of the ELF binary that will run the command, or null when it cannot be told. */
  binary: string | null;
  /** Every file passed through, in order: the command as found, its realpath when different, interpreters, ... */
  chain: string[];
  /** Why `binary` is null. */
  reason?: string;
}

export interface ResolveOptions {
  env: NodeJS.ProcessEnv;
  /**
   * Home of the user who ran `sudo`, whose installs are searched when a name is not on `$PATH`.
   * `undefined`: derived from `env.SUDO_USER` ({@link sudoUserHome}); `null`: no such search.
   */
  sudoUserHome?: string | null;
}

/** Nesting limit of wrappers (the kernel allows 4 levels of `#!`; shell wrappers count as one too). */
export const MAX_DEPTH = 6;

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'ash', 'mksh']);
const NODES = new Set(['node', 'nodejs']);
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const HEAD_BYTES = 1024;
/** Shell scripts bigger than this are not scanned for `node`. */
const MAX_SCRIPT_BYTES = 256 * 1024;

/** Resolves the ELF binary that will run `cmd` (see the module comment for what is followed). */
export function resolveTarget(cmd: string, opts: ResolveOptions): ResolvedTarget {
  const home = opts.sudoUserHome === undefined ? sudoUserHome(opts.env) : opts.sudoUserHome;
  const r = new Resolver(opts.env, home ? userBinDirs(home) : []);
  return r.command(cmd, 0);
}

/** The ELF binary that will run `cmd`, or null (`resolveTarget` with the sudo user's home derived from `env`). */
export function resolveBinary(cmd: string, env: NodeJS.ProcessEnv): string | null {
  return resolveTarget(cmd, { env }).binary;
}

/**
 * Home directory of the user who ran `sudo` (`SUDO_USER`, not root), from `getent passwd`, else `/etc/passwd`;
 * null when not under sudo or unknown.
 */
export function sudoUserHome(env: NodeJS.ProcessEnv): string | null {
  const user = env.SUDO_USER;
  if (!user || user === 'root' || !/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(user)) return null;
  let entry: string | undefined;
  try {
    entry = execFileSync('getent', ['passwd', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
  } catch {
    try {
      entry = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${user}:`));
    } catch {
      entry = undefined;
    }
  }
  const home = entry?.trim().split(':')[5];
  return home && home.startsWith('/') ? home : null;
}

/**
 * Where a user's own installs put commands, in search order: `~/.local/bin`, `~/.nvm/versions/node/<v>/bin`
 * (newest version first), `~/.bun/bin`, `~/.npm-global/bin`, `~/.volta/bin`. Only existing directories.
 */
export function userBinDirs(home: string): string[] {
  const nvm = join(home, '.nvm/versions/node');
  const dirs = [
    join(home, '.local/bin'),
    ...newestFirst(listDir(nvm)).map((v) => join(nvm, v, 'bin')),
    join(home, '.bun/bin'),
    join(home, '.npm-global/bin'),
    join(home, '.volta/bin'),
  ];
  return dirs.filter(isDir);
}

class Resolver {
  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly userDirs: string[],
  ) {}

  private readonly chain: string[] = [];

  /** Resolves a command word (a name looked up on PATH, or a path). */
  command(cmd: string, depth: number): ResolvedTarget {
    const path = this.lookup(cmd);
    if (!path) return this.fail(`${cmd}: not found${cmd.includes('/') ? '' : ' on PATH' + (this.userDirs.length ? ' nor in the sudo user\'s installs' : '')}`);
    return this.file(path, depth);
  }

  /** Resolves an existing file as invoked at `path` (not yet realpath'd). */
  private file(path: string, depth: number): ResolvedTarget {
    if (depth > MAX_DEPTH) return this.fail(`${path}: more than ${MAX_DEPTH} nested wrappers`);
    this.step(path);
    let real: string;
    try {
      real = realpathSync(path);
    } catch (err) {
      return this.fail(`${path}: ${(err as Error).message}`);
    }
    this.step(real);
    const head = readHead(real);
    if (!head) return this.fail(`${real}: cannot be read`);
    if (head.subarray(0, 4).equals(ELF_MAGIC)) {
      if (basename(real) === 'volta-shim') return this.volta(real, depth);
      return { binary: real, chain: this.chain };
    }
    if (head[0] === 0x23 && head[1] === 0x21) return this.shebang(path, real, head, depth);
    if (head.includes(0)) return this.fail(`${real}: neither an ELF binary nor a script`);
    // No #!: execvp has the shell run it.
    return this.shell(path, real, depth, `${real}: not an ELF binary, and a script without #! that does not run node`);
  }

  private shebang(path: string, real: string, head: Buffer, depth: number): ResolvedTarget {
    const line = head.subarray(2).toString('latin1').split('\n')[0].trim();
    const [interp, ...args] = line.split(/[ \t]+/).filter(Boolean);
    if (!interp) return this.fail(`${real}: empty #! line`);
    let name = interp;
    if (basename(interp) === 'env') {
      const target = envCommand(args);
      if (!target) return this.fail(`${real}: #!${line}: no command for env`);
      name = target;
    }
    if (SHELLS.has(basename(name))) return this.shell(path, real, depth, `${real}: a ${basename(name)} script that does not run node`);
    if (name === interp && !interp.startsWith('/')) return this.fail(`${real}: #! interpreter ${interp} is not an absolute path`);
    return this.command(name, depth + 1);
  }

  /** A shell script: the node it runs, by the pattern in the module comment. */
  private shell(path: string, real: string, depth: number, reason: string): ResolvedTarget {
    let text: string;
    try {
      if (statSync(real).size > MAX_SCRIPT_BYTES) return this.fail(`${real}: shell script too large to scan`);
      text = readFileSync(real, 'utf8');
    } catch {
      return this.fail(`${real}: cannot be read`);
    }
    const basedir = dirname(resolve(path));
    const words = shellNodeWords(text);
    for (const word of words) {
      const candidate = word.replace(/^(\$basedir|\$\{basedir\})(?=\/)/, basedir);
      if (candidate.includes('$')) continue;
      if (this.lookup(candidate)) return this.command(candidate, depth + 1);
    }
    return this.fail(words.length ? `${real}: a shell wrapper running ${words.join(' or ')}, which is not found` : reason);
  }

  /** volta-shim execs the tool of volta's default platform; for node tools (and node itself) that is its node. */
  private volta(shim: string, depth: number): ResolvedTarget {
    const volta = dirname(dirname(shim));
    const images = join(volta, 'tools/image/node');
    let version: string | undefined;
    try {
      version = JSON.parse(readFileSync(join(volta, 'tools/user/platform.json'), 'utf8'))?.node?.runtime;
    } catch {
      version = undefined;
    }
    const versions = [...(typeof version === 'string' ? [version] : []), ...newestFirst(listDir(images))];
    const node = versions.map((v) => join(images, v, 'bin/node')).find(isExecutable);
    if (!node) return this.fail(`${shim}: volta shim, but no node in ${images}`);
    return this.file(node, depth + 1);
  }

  /** Path of the executable `cmd` names: a path when it has a `/`, else searched on PATH, then the user's dirs. */
  private lookup(cmd: string): string | null {
    if (!cmd) return null;
    if (cmd.includes('/')) {
      const p = resolve(cmd);
      return isExecutable(p) ? p : null;
    }
    const dirs = [...(this.env.PATH ?? '').split(delimiter).map((d) => d || '.'), ...this.userDirs];
    for (const d of dirs) {
      const p = resolve(d, cmd);
      if (isExecutable(p)) return p;
    }
    return null;
  }

  private step(p: string): void {
    if (this.chain[this.chain.length - 1] !== p) this.chain.push(p);
  }

  private fail(reason: string): ResolvedTarget {
    return { binary: null, chain: this.chain, reason };
  }
}

/**
 * The command `#!/usr/bin/env <args>` runs: the first word that is neither an option of env nor a `VAR=val`;
 * with `-S`/`--split-string` the rest of the line is split on blanks.
 */
export function envCommand(args: string[]): string | null {
  const words = [...args];
  while (words.length) {
    const w = words.shift()!;
    if (w === '--') continue;
    if (w === '-S' || w === '--split-string') continue;
    if (w.startsWith('--split-string=')) {
      words.unshift(...w.slice('--split-string='.length).split(/\s+/).filter(Boolean));
      continue;
    }
    const glued = /^-[iv0]*S(.+)$/.exec(w);
    if (glued) {
      // -S glued to its string (`-Snode`), possibly after flag options (`-iSnode`)
      words.unshift(...glued[1].split(/\s+/).filter(Boolean));
      continue;
    }
    if (['-u', '--unset', '-C', '--chdir'].includes(w)) {
      words.shift();
      continue;
    }
    if (w.startsWith('-')) continue;
    if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) continue;
    return w;
  }
  return null;
}

/**
 * Command words of a shell script's lines that run node, in order. A line is split at `;`, `&&`, `||`; the first word
 * of each part (after `exec`, `command`, `then`, `else`, `do`), unquoted, counts when it is `node`/`nodejs`, an
 * absolute path or `$basedir/...` ending in `/node`/`/nodejs`, or `env [options] node`.
 */
export function shellNodeWords(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    for (const part of line.split(/;|&&|\|\|/)) {
      const words = part.trim().split(/[ \t]+/);
      while (words.length && ['exec', 'then', 'else', 'do', 'command'].includes(words[0])) words.shift();
      const unquote = (x: string | undefined) => (x ?? '').replace(/^(["'])(.*)\1$/, '$2');
      const w = unquote(words[0]);
      const name = w.slice(w.lastIndexOf('/') + 1);
      if (name === 'env' && (w === name || w.startsWith('/'))) {
        const target = envCommand(words.slice(1).map(unquote));
        if (target && NODES.has(target)) out.push(target);
        continue;
      }
      if (NODES.has(name) && (w === name || w.startsWith('/') || /^\$\{?basedir\}?\//.test(w))) out.push(w);
    }
  }
  return out;
}

function readHead(path: string): Buffer | null {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(HEAD_BYTES);
    const n = readSync(fd, buf, 0, HEAD_BYTES, 0);
    return buf.subarray(0, n);
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function isExecutable(p: string): boolean {
  try {
    if (!statSync(p).isFile()) return false;
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function listDir(p: string): string[] {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
}

/** Version-like names (`v20.11.1`, `22.0.0`), newest first; numeric comparison part by part. */
function newestFirst(names: string[]): string[] {
  const parts = (n: string) => n.replace(/^v/, '').split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : -1));
  return [...names].sort((a, b) => {
    const pa = parts(a);
    const pb = parts(b);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
      const d = (pb[i] ?? -1) - (pa[i] ?? -1);
      if (d) return d;
    }
    return 0;
  });
}
