/**
 * `agentsight service install`: installs the systemd units of `infra/systemd/` (the brokers, one templated unit per
 * stage, the probe's `agentsight-probe.service` running `trace --daemon`, `agentsight.target`) into `<root>/etc/systemd/system/`, pointed at this checkout (the units' `/opt/agentsight`
 * replaced by `--prefix`, default the repository root), so the daemon runs the code that is built here. The stages
 * read the config file (`/etc/agentsight/config.json`) and `/etc/agentsight/agentsight.env` themselves. With the real
 * root and a running systemd it reloads systemd and, with `--enable`, enables and starts `agentsight.target`;
 * otherwise it prints the commands.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { repoRoot } from './paths';
import { table } from './format';

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
  const missing = [...['parser', 'aggregator', 'analyzer', 'genai', 'api', 'exporter'].map((s) => join(prefix, 'services', s, 'dist/main.js')), join(prefix, 'services/probe-producer/build/agentsight-probe')]
    .filter((p) => !existsSync(p));
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

/**
 * The units of the daemon: every unit `agentsight.target` wants, in the order it lists them (the brokers, one
 * `agentsight@<stage>.service` per stage, the probe), then the target: the shipped target is the one place.
 */
export function serviceUnits(): string[] {
  const target = unitFiles(UNIT_PREFIX).get('agentsight.target') ?? '';
  return [...(/^Wants=(.*)$/m.exec(target)?.[1].trim().split(/\s+/) ?? []), 'agentsight.target'];
}

/** One unit as `agentsight status` shows it. */
export interface UnitState {
  unit: string;
  /** Its file is in `<root>/etc/systemd/system/` (for a template instance: the template's file). */
  installed: boolean;
  /** systemd's LoadState, ActiveState, SubState (`loaded`, `active`, `running`); null without systemd. */
  load: string | null;
  active: string | null;
  sub: string | null;
  /** MainPID (null when 0 or without systemd). */
  pid: number | null;
  /** NRestarts: automatic restarts since the unit was started (null when systemd does not say). */
  restarts: number | null;
}

/** The units' state: from systemd when it runs, else which are installed and `why` there is no more. */
export interface UnitsStatus {
  units: UnitState[];
  /** Why load/active/sub/pid are null (systemd not running, systemctl failed); null when systemd answered. */
  why: string | null;
}

/**
 * Parses `systemctl show --property=… U1 U2 …`: one block of `Key=Value` lines per unit, in the order asked, blocks
 * separated by an empty line. Returns one key → value map per block.
 */
export function parseSystemctlShow(text: string): Array<Record<string, string>> {
  return text.split(/\n\s*\n/).map((b) => b.trim()).filter(Boolean).map((b) => Object.fromEntries(b.split('\n').map((l) => {
    const i = l.indexOf('=');
    return i < 0 ? [l, ''] : [l.slice(0, i), l.slice(i + 1)];
  })));
}

/** The properties `agentsight status` asks systemd for. */
const SHOW_PROPERTIES = ['Id', 'LoadState', 'ActiveState', 'SubState', 'MainPID', 'NRestarts'];

/**
 * Each of {@link serviceUnits}: installed or not (unit files under `root`), and, when systemd runs (on the real root),
 * its state from `systemctl show`. `systemctl` is the command to run (a parameter for hosts where it is elsewhere).
 */
export function unitsStatus(o: { root?: string; systemctl?: string } = {}): UnitsStatus {
  const root = resolve(o.root ?? '/');
  const dir = join(root, 'etc/systemd/system');
  const base = serviceUnits().map((unit): UnitState => ({
    unit, installed: existsSync(join(dir, unit.replace(/@[^.]+\./, '@.'))), load: null, active: null, sub: null, pid: null, restarts: null,
  }));
  if (root !== '/') return { units: base, why: `installed under ${root}: not the running system's units` };
  if (!existsSync('/run/systemd/system')) return { units: base, why: 'systemd is not running here (no /run/systemd/system): only which units are installed is shown' };
  let text: string;
  try {
    text = execFileSync(o.systemctl ?? 'systemctl', ['show', `--property=${SHOW_PROPERTIES.join(',')}`, ...base.map((u) => u.unit)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    return { units: base, why: `systemctl show failed: ${(err as Error).message.split('\n')[0]}` };
  }
  const shown = parseSystemctlShow(text);
  const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : null);
  return {
    units: base.map((u, i) => {
      const s = shown[i] ?? {};
      const pid = num(s.MainPID);
      return { ...u, load: s.LoadState ?? null, active: s.ActiveState ?? null, sub: s.SubState ?? null, pid: pid || null, restarts: num(s.NRestarts) };
    }),
    why: null,
  };
}

/** The `service units:` section of `agentsight status`. */
export function unitsText(s: UnitsStatus): string {
  return [
    'service units (agentsight service install):',
    table(s.units, [
      ['unit', (u) => u.unit], ['file', (u) => (u.installed ? 'installed' : 'not installed')], ['load', (u) => u.load],
      ['active', (u) => (u.active && u.sub ? `${u.active} (${u.sub})` : null)], ['pid', (u) => u.pid], ['restarts', (u) => u.restarts],
    ]),
    ...(s.why ? [`(${s.why})`] : []),
  ].join('\n');
}
