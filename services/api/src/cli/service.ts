/**
 * `agentsight service install`: installs the systemd units of `infra/systemd/` (the brokers, one templated unit per
 * stage, `agentsight.target`) into `<root>/etc/systemd/system/`, pointed at this checkout (the units' `/opt/agentsight`
 * replaced by `--prefix`, default the repository root), so the daemon runs the code that is built here. The stages
 * read the config file (`/etc/agentsight/config.json`) and `/etc/agentsight/agentsight.env` themselves. With the real
 * root and a running systemd it reloads systemd and, with `--enable`, enables and starts `agentsight.target`;
 * otherwise it prints the commands.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoRoot } from './paths';

/** The install prefix written into the shipped units. */
export const UNIT_PREFIX = '/opt/agentsight';

/** Options of `service install`. */
export interface ServiceInstallOptions {
  /** File system root to install under (default `/`; a directory for tests and images). */
  root?: string;
  /** Where the built checkout is (default: this repository). */
  prefix?: string;
  /** Enable and start agentsight.target (real root with systemd only). */
  enable?: boolean;
}

/** The unit files of `infra/systemd/` with `prefix` in place of {@link UNIT_PREFIX}: name → text. */
export function unitFiles(prefix: string): Map<string, string> {
  const dir = join(repoRoot(), 'infra/systemd');
  return new Map(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f), 'utf8').replaceAll(UNIT_PREFIX, prefix)]));
}

/** Installs the units (see the module comment); returns the exit code. Throws when the prefix holds no built stages. */
export function serviceInstall(o: ServiceInstallOptions, say: (s: string) => void): number {
  const root = resolve(o.root ?? '/');
  const prefix = resolve(o.prefix ?? repoRoot());
  const missing = ['parser', 'aggregator', 'analyzer', 'genai', 'api', 'exporter'].map((s) => join(prefix, 'services', s, 'dist/main.js')).filter((p) => !existsSync(p));
  if (missing.length) throw new Error(`${prefix} is not a built checkout (missing ${missing.join(', ')}): run npm run setup there, or give --prefix`);
  const dir = join(root, 'etc/systemd/system');
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of unitFiles(prefix)) {
    writeFileSync(join(dir, name), text, { mode: 0o644 });
    say(`installed ${join(dir, name)}`);
  }
  const commands = ['systemctl daemon-reload', 'systemctl enable --now agentsight.target'];
  const systemd = root === '/' && existsSync('/run/systemd/system');
  if (!systemd) {
    say(`${root === '/' ? 'systemd is not running here' : `installed under ${root}`}: then run ${commands.map((c) => `\`${c}\``).join(' and ')}`);
    return 0;
  }
  execFileSync('systemctl', ['daemon-reload'], { stdio: 'inherit' });
  if (o.enable) execFileSync('systemctl', ['enable', '--now', 'agentsight.target'], { stdio: 'inherit' });
  else say(`start it with \`${commands[1]}\``);
  return 0;
}
