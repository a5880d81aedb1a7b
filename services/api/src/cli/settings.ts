/**
 * The CLI's settings: before every command, the flags of {@link OPTIONS} that were given set their variables, then the
 * config file (`--config FILE`, else `AGENTSIGHT_CONFIG_FILE`, else `/etc/agentsight/config.json`) fills the variables
 * still unset, so precedence is flag > environment > file > default, and the services a run starts inherit the result.
 * `agentsight config` shows each setting and where it came from.
 */
import type { Command } from 'commander';
import { flagAttribute, OPTIONS, type OptionSpec } from '@agentsight/contracts';
import { applyConfigFile, CONFIG_FILE_ENV } from '@agentsight/jetstream';

/** Where a setting's value came from. */
export type SettingSource = 'flag' | 'env' | 'file' | 'default';

/** One row of `agentsight config`. */
export interface SettingRow {
  key: string;
  env: string;
  /** The value in force (secrets: `[set]`); null = unset, the default applies. */
  value: string | null;
  source: SettingSource;
  /** The default (documentation text). */
  default: string;
}

/** What the CLI set in its own environment (flags, file) and the file read; kept for `config` and {@link agentEnv}. */
const applied = { flags: new Set<string>(), file: new Set<string>(), path: null as string | null };

/**
 * Applies the given flags of `action` (the command being run) and then the config file to `env`. Throws the config
 * file's error ({@link applyConfigFile}); an unreadable default file is a warning through `warn`.
 */
export function applyCliSettings(root: Command, action: Command, env: NodeJS.ProcessEnv = process.env, warn: (s: string) => void = () => {}): void {
  applied.flags.clear();
  applied.file.clear();
  for (const o of OPTIONS) {
    if (!o.flag || (o.commands && !o.commands.includes(action.name()))) continue;
    const attr = flagAttribute(o.flag);
    if (action.getOptionValueSource(attr) !== 'cli') continue;
    const v = action.getOptionValue(attr) as unknown;
    env[o.env] = typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
    applied.flags.add(o.env);
  }
  const r = applyConfigFile(env, (root.opts() as { config?: string }).config);
  if (r.warning) warn(r.warning);
  applied.path = r.file;
  for (const key of r.applied) applied.file.add(OPTIONS.find((o) => o.key === key)!.env);
}

/**
 * The environment for a program the CLI runs on the user's behalf (the command of `exec`): `env` without the variables
 * the CLI set from flags and the config file (credentials of the exports must not reach the traced agent).
 */
export function agentEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const v of [...applied.flags, ...applied.file, CONFIG_FILE_ENV]) delete out[v];
  return out;
}

function row(o: OptionSpec, env: NodeJS.ProcessEnv): SettingRow {
  const v = env[o.env];
  const set = v !== undefined && v !== '';
  const source: SettingSource = !set ? 'default' : applied.flags.has(o.env) ? 'flag' : applied.file.has(o.env) ? 'file' : 'env';
  return { key: o.key, env: o.env, value: !set ? null : o.secret ? '[set]' : v, source, default: o.default };
}

/** Every setting with its value in force and its source (after {@link applyCliSettings}); secrets shown as `[set]`. */
export function settingRows(env: NodeJS.ProcessEnv = process.env): SettingRow[] {
  return OPTIONS.map((o) => row(o, env));
}

/** The config file read by {@link applyCliSettings}, or null. */
export function configFileRead(): string | null {
  return applied.path;
}
