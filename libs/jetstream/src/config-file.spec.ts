/**
 * The config file on real files: validation (unknown keys with the closest key, wrong types, bad JSON, secrets in a
 * file others can read) with messages that never quote a value, precedence env > file, the default location in the
 * config dir, `none`, and a service's preload reading it before anything else.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { OPTIONS } from '@agentsight/contracts';
import { applyConfigFile, closestKey, ConfigFileError, configSchema, readConfigFile } from './config-file';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'agentsight-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `doc` (JSON, or text as is) to a file in the temp dir with `mode`. */
function file(doc: unknown, mode = 0o600, name = 'config.json'): string {
  const p = join(dir, name);
  writeFileSync(p, typeof doc === 'string' ? doc : JSON.stringify(doc));
  chmodSync(p, mode);
  return p;
}

function problems(p: string): string[] {
  try {
    readConfigFile(p);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigFileError);
    return (err as ConfigFileError).problems;
  }
  return [];
}

describe('config file', () => {
  test('the schema has one property per option key (and $schema), nothing else allowed', () => {
    const s = configSchema() as { properties: Record<string, unknown>; additionalProperties: boolean };
    expect(Object.keys(s.properties).sort()).toEqual(['$schema', ...OPTIONS.map((o) => o.key)].sort());
    expect(s.additionalProperties).toBe(false);
    expect(new Set(OPTIONS.map((o) => o.key)).size).toBe(OPTIONS.length);
    expect(new Set(OPTIONS.map((o) => o.env)).size).toBe(OPTIONS.length);
  });

  test('a valid file of every type is read', () => {
    const p = file({ $schema: './schema.json', data_dir: '/var/lib/agentsight', partitions: 4, api_port: 7400, sls_audit: true, redact_at_parser: false, store_max_bytes: '20G', stream_raw_max_bytes: 1073741824, parser_idle_s: 1.5, sls_compress: 'deflate' });
    expect(readConfigFile(p)).toEqual({ data_dir: '/var/lib/agentsight', partitions: 4, api_port: 7400, sls_audit: true, redact_at_parser: false, store_max_bytes: '20G', stream_raw_max_bytes: 1073741824, parser_idle_s: 1.5, sls_compress: 'deflate' });
  });

  test('an unknown key is an error naming it and the closest key; a variable name points to its key', () => {
    expect(problems(file({ partitons: 4, NATS_URL: 'nats://x', AGENTSIGHT_DATA_DIR: '/d', zzzzzz: 1 }))).toEqual([
      'unknown key "partitons" (did you mean "partitions"?)',
      'unknown key "NATS_URL" (did you mean "nats_url"?)',
      'unknown key "AGENTSIGHT_DATA_DIR" (did you mean "data_dir"?)',
      'unknown key "zzzzzz"',
    ]);
    expect(closestKey('sls-endpoint')).toBe('sls_endpoint');
    expect(closestKey('retention')).toBeUndefined();
  });

  test('a wrong type is an error naming the key and what it must be, never the value', () => {
    const p = file({ partitions: '8', api_port: 0, sls_audit: 'yes', store_max_bytes: 'lots', sls_compress: 'zip', data_dir: '', ui_token: 12345 });
    const got = problems(p);
    expect(got).toEqual(expect.arrayContaining([
      '"partitions" must be an integer ≥ 1',
      '"api_port" must be a port number (1..65535)',
      '"sls_audit" must be true or false',
      '"store_max_bytes" must be a size: bytes as an integer, or a string such as "2G" (K/M/G/T, powers of 1024)',
      '"sls_compress" must be one of "lz4", "deflate"',
      '"data_dir" must be a non-empty string',
      '"ui_token" must be a non-empty string',
    ]));
    expect(got.join(' ')).not.toMatch(/12345|lots|zip/);
    expect(problems(file([1, 2]))).toEqual(['must be a JSON object of settings']);
  });

  test('bad JSON says where, without quoting the text', () => {
    const got = problems(file('{\n  "ui_token": sk-live-secret\n}'));
    expect(got).toHaveLength(1);
    expect(got[0]).toMatch(/^not valid JSON/);
    expect(got[0]).not.toContain('sk-live');
  });

  test('a file holding a secret must not be readable by group or others; one without secrets may be', () => {
    expect(problems(file({ ui_token: 't0ken', alibaba_cloud_access_key_secret: 's3cret' }, 0o640))).toEqual([
      'holds secrets (ui_token, alibaba_cloud_access_key_secret) but is readable by group or others (mode 0640): chmod 600 it',
    ]);
    expect(problems(file({ ui_token: 't0ken' }, 0o600))).toEqual([]);
    expect(problems(file({ partitions: 2 }, 0o644))).toEqual([]);
  });

  test('the file fills unset and empty variables only (env > file), as text, and records its path', () => {
    const p = file({ partitions: 4, host: 'from-file', sls_audit: true, redact_at_parser: false, store_max_bytes: 1024, nats_url: 'nats://10.0.0.1:4222' });
    const env: NodeJS.ProcessEnv = { AGENTSIGHT_HOST: 'from-env', NATS_URL: '' };
    const r = applyConfigFile(env, p);
    expect(r).toEqual({ file: p, applied: ['partitions', 'sls_audit', 'redact_at_parser', 'store_max_bytes', 'nats_url'] });
    expect(env).toEqual({
      AGENTSIGHT_HOST: 'from-env', AGENTSIGHT_PARTITIONS: '4', AGENTSIGHT_SLS_AUDIT: '1', AGENTSIGHT_REDACT_AT_PARSER: '0',
      AGENTSIGHT_STORE_MAX_BYTES: '1024', NATS_URL: 'nats://10.0.0.1:4222', AGENTSIGHT_CONFIG_FILE: p,
    });
  });

  test('default location: <config dir>/config.json, absent = no file; a named file must exist; none = no file', () => {
    expect(applyConfigFile({ AGENTSIGHT_CONFIG_DIR: dir })).toEqual({ file: null, applied: [] });
    const p = file({ partitions: 3 });
    const env: NodeJS.ProcessEnv = { AGENTSIGHT_CONFIG_DIR: dir };
    expect(applyConfigFile(env).file).toBe(p);
    expect(env.AGENTSIGHT_PARTITIONS).toBe('3');
    expect(() => applyConfigFile({ AGENTSIGHT_CONFIG_FILE: join(dir, 'nope.json') })).toThrow(/nope\.json: cannot be read \(ENOENT\)/);
    expect(applyConfigFile({ AGENTSIGHT_CONFIG_DIR: dir, AGENTSIGHT_CONFIG_FILE: 'none' })).toEqual({ file: null, applied: [] });
  });

  test("a service's preload applies the file before its modules load, and a bad file stops it", () => {
    const preload = resolve(__dirname, '../dist/preload-config.js');
    const run = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, ['-e', `require(${JSON.stringify(preload)}); console.log(process.env.AGENTSIGHT_PARTITIONS)`], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
    file({ partitions: 5 });
    expect(run({ AGENTSIGHT_CONFIG_DIR: dir }).stdout.trim()).toBe('5');
    expect(run({ AGENTSIGHT_CONFIG_DIR: dir, AGENTSIGHT_PARTITIONS: '7' }).stdout.trim()).toBe('7');
    file({ partitions: 5, partition: 2 });
    const bad = run({ AGENTSIGHT_CONFIG_DIR: dir });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('unknown key "partition" (did you mean "partitions"?)');
  });
});
