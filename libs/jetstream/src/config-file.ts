/**
 * The config file: `<AGENTSIGHT_CONFIG_DIR>/config.json` (default `/etc/agentsight/config.json`), or the file named by
 * `--config FILE` / `AGENTSIGHT_CONFIG_FILE`. A JSON object whose keys are the {@link OPTIONS} keys; validated against
 * the JSON Schema generated from them ({@link configSchema}, ajv): an unknown key is an error naming the key and the
 * closest known one, a value of the wrong type an error naming the key and the type wanted (values are never quoted
 * back, since some are secrets). A file holding a secret key must not be readable by group or others.
 *
 * {@link applyConfigFile} fills the variables the environment leaves unset (or empty) from the file, so precedence is
 * flag (the CLI sets the variable) > environment > file > default (the reading code's). It records the file's path
 * in `AGENTSIGHT_CONFIG_FILE`, so the services a CLI run starts read the same file.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import { OPTIONS, optionByKey, type OptionSpec } from '@agentsight/contracts';
import { configDir } from './config';

/** Variable naming the config file (no key: the file cannot name itself). `none` = read no file. */
export const CONFIG_FILE_ENV = 'AGENTSIGHT_CONFIG_FILE';

/** A config file that cannot be used: unreadable, not JSON, unknown keys, wrong types, secrets readable by others. */
export class ConfigFileError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`config file ${file}: ${problems.join('; ')}`);
    this.name = 'ConfigFileError';
  }
}

/** The values of a valid config file, by key (JSON types: string, number, boolean). */
export type ConfigValues = Record<string, string | number | boolean>;

const SIZE_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*[KMGTkmgt]?(i?[Bb])?\\s*$';

/** JSON Schema (draft-07) of one option's value. */
function valueSchema(o: OptionSpec): Record<string, unknown> {
  const desc = { description: o.doc };
  if (o.enum) return { ...desc, type: 'string', enum: [...o.enum] };
  switch (o.type) {
    case 'integer': return { ...desc, type: 'integer', minimum: o.min ?? 0 };
    case 'number': return { ...desc, type: 'number', exclusiveMinimum: 0 };
    case 'port': return { ...desc, type: 'integer', minimum: 1, maximum: 65535 };
    case 'boolean': return { ...desc, type: 'boolean' };
    case 'size': return { ...desc, oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: SIZE_PATTERN }] };
    default: return { ...desc, type: 'string', minLength: 1 };
  }
}

/** The config file's JSON Schema (draft-07), generated from {@link OPTIONS}. `$schema` is allowed, for editors. */
export function configSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'agentsight config file',
    type: 'object',
    properties: { $schema: { type: 'string' }, ...Object.fromEntries(OPTIONS.map((o) => [o.key, valueSchema(o)])) },
    additionalProperties: false,
  };
}

/** What a value of `o` must be, for error messages. */
function expected(o: OptionSpec): string {
  if (o.enum) return `one of ${o.enum.map((e) => `"${e}"`).join(', ')}`;
  switch (o.type) {
    case 'integer': return `an integer ≥ ${o.min ?? 0}`;
    case 'number': return 'a positive number';
    case 'port': return 'a port number (1..65535)';
    case 'boolean': return 'true or false';
    case 'size': return 'a size: bytes as an integer, or a string such as "2G" (K/M/G/T, powers of 1024)';
    default: return 'a non-empty string';
  }
}

/** Edit distance (Levenshtein) of two strings. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The known key closest to `key`: within an edit distance of a third of its length (at least 2), or the key whose
 * variable `key` names (`AGENTSIGHT_DATA_DIR` → `data_dir`); undefined when none is close.
 */
export function closestKey(key: string): string | undefined {
  const byEnv = OPTIONS.find((o) => o.env === key || o.env.toLowerCase() === key.toLowerCase());
  if (byEnv) return byEnv.key;
  const norm = key.toLowerCase().replace(/[-.\s]/g, '_');
  let best: { key: string; d: number } | undefined;
  for (const o of OPTIONS) {
    const d = distance(norm, o.key);
    if (!best || d < best.d) best = { key: o.key, d };
  }
  return best && best.d <= Math.max(2, Math.floor(key.length / 3)) ? best.key : undefined;
}

let validator: ReturnType<Ajv['compile']> | undefined;

/** Problems of a parsed config document (empty = valid); each names its key, never its value. */
export function configProblems(doc: unknown): string[] {
  validator ??= new Ajv({ allErrors: true, strict: true }).compile(configSchema());
  if (validator(doc)) return [];
  const out = new Set<string>();
  for (const e of validator.errors ?? []) out.add(problemText(e));
  return [...out];
}

function problemText(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties') {
    const key = String((e.params as { additionalProperty: string }).additionalProperty);
    const near = closestKey(key);
    return `unknown key "${key}"${near ? ` (did you mean "${near}"?)` : ''}`;
  }
  const key = e.instancePath.split('/')[1];
  if (!key) return 'must be a JSON object of settings';
  const o = optionByKey(key);
  return o ? `"${key}" must be ${expected(o)}` : `"${key}" ${e.message ?? 'is invalid'}`;
}

/** Reads and validates a config file. Throws {@link ConfigFileError}; an absent file is an error too (ENOENT in the message). */
export function readConfigFile(file: string): ConfigValues {
  let text: string;
  let mode: number;
  try {
    text = readFileSync(file, 'utf8');
    mode = statSync(file).mode;
  } catch (err) {
    throw new ConfigFileError(file, [`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    // JSON.parse's message may quote the text (a secret): say where only.
    const pos = /position (\d+)/.exec((err as Error).message);
    const at = pos ? (() => {
      const before = text.slice(0, Number(pos[1]));
      const lines = before.split('\n');
      return ` at line ${lines.length}, column ${lines[lines.length - 1].length + 1}`;
    })() : '';
    throw new ConfigFileError(file, [`not valid JSON${at}`]);
  }
  const problems = configProblems(doc);
  if (problems.length) throw new ConfigFileError(file, problems);
  const values = { ...(doc as ConfigValues) };
  delete values.$schema;
  const secrets = Object.keys(values).filter((k) => optionByKey(k)?.secret);
  if (secrets.length && (mode & 0o077) !== 0) {
    throw new ConfigFileError(file, [`holds secrets (${secrets.join(', ')}) but is readable by group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): chmod 600 it`]);
  }
  return values;
}

/** The variable's text for a config value: booleans `1`/`0`, numbers in decimal, strings as they are. */
export function envText(value: string | number | boolean): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  return String(value);
}

/** Where the config file is: `explicit` (`--config`), else `AGENTSIGHT_CONFIG_FILE`, else `<config dir>/config.json`. */
export function configFilePath(env: NodeJS.ProcessEnv, explicit?: string): { file: string | null; explicit: boolean } {
  if (explicit) return { file: explicit, explicit: true };
  const named = env[CONFIG_FILE_ENV];
  if (named === 'none') return { file: null, explicit: true };
  if (named) return { file: named, explicit: true };
  return { file: join(configDir(env), 'config.json'), explicit: false };
}

/** What {@link applyConfigFile} did. */
export interface AppliedConfig {
  /** The file read, or null (none named and the default absent). */
  file: string | null;
  /** Keys whose variable the file set (the others were set in the environment already). */
  applied: string[];
  /** Set when the default file exists but cannot be read (not root): the run goes on without it. */
  warning?: string;
}

/**
 * Fills the unset (or empty) variables of `env` from the config file ({@link configFilePath}) and records its path in
 * `AGENTSIGHT_CONFIG_FILE`. A named file must exist; the default one may be absent. Throws {@link ConfigFileError}.
 */
export function applyConfigFile(env: NodeJS.ProcessEnv = process.env, explicit?: string): AppliedConfig {
  const { file, explicit: named } = configFilePath(env, explicit);
  if (!file) return { file: null, applied: [] };
  if (!named) {
    try {
      statSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return { file: null, applied: [] };
      return { file: null, applied: [], warning: `config file ${file} not read (${code}); run as root, or name another with --config / ${CONFIG_FILE_ENV}` };
    }
  }
  const values = readConfigFile(file);
  const applied: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    const o = optionByKey(key)!;
    if (env[o.env] !== undefined && env[o.env] !== '') continue;
    env[o.env] = envText(value);
    applied.push(key);
  }
  env[CONFIG_FILE_ENV] = file;
  return { file, applied };
}

/** Markdown table of every option (README "Configuration"), generated from {@link OPTIONS}. */
export function configTableMarkdown(): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const rows = OPTIONS.map((o) => {
    const flag = o.flag ? `\`${o.flag}\`${o.commands ? ` (${o.commands.join(', ')})` : ''}` : '';
    const type = o.enum ? o.enum.map((e) => `\`${e}\``).join(' / ') : o.type;
    return `| \`${o.key}\` | \`${o.env}\` | ${flag} | ${type} | ${cell(o.default)} | ${cell(o.doc)}${o.secret ? ' (secret)' : ''} |`;
  });
  return ['| key | variable | flag | type | default | meaning |', '|---|---|---|---|---|---|', ...rows].join('\n');
}

/**
 * `readme` (the README's text) with its configuration table, between the `config-table` markers, replaced by
 * {@link configTableMarkdown}'s (infra/config-table.ts writes it; the CLI's settings spec compares).
 */
export function withConfigTable(readme: string): string {
  return readme.replace(/(<!-- config-table:begin[^\n]*-->\n)[\s\S]*?(<!-- config-table:end -->)/, (_m, a: string, b: string) => `${a}${configTableMarkdown()}\n${b}`);
}
