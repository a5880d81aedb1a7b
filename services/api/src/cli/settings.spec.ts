/**
 * The CLI's settings against the one definition of the options: every flag it names exists on its commands; flag >
 * env > file > default on real files through the real command line (in process, and the built CLI's `config`); what
 * the CLI set is kept from the command `exec` runs; the README's table is the generated one; every variable the
 * sources read has a key.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { OPTIONS, STREAMS } from '@agentsight/contracts';
import { withConfigTable } from '@agentsight/jetstream';
import { program } from './main';
import { agentEnv, applyCliSettings, settingRows } from './settings';

const ROOT = resolve(__dirname, '../../../..');
const CLI = join(ROOT, 'services/api/bin/agentsight.js');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'agentsight-settings-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function configFile(doc: unknown): string {
  const p = join(dir, 'config.json');
  writeFileSync(p, JSON.stringify(doc), { mode: 0o600 });
  return p;
}

/** The real program with `rootArgs` and `cmdArgs` parsed (options only; nothing runs). */
function parsed(rootArgs: string[], command: string, cmdArgs: string[]): { root: Command; cmd: Command } {
  const root = program();
  root.parseOptions(rootArgs);
  const cmd = root.commands.find((c) => c.name() === command)!;
  cmd.parseOptions(cmdArgs);
  return { root, cmd };
}

describe('CLI settings', () => {
  test('every flag of the definition exists on the commands it names (or on some command)', () => {
    const root = program();
    for (const o of OPTIONS.filter((x) => x.flag)) {
      const having = root.commands.filter((c) => c.options.some((f) => f.long === o.flag)).map((c) => c.name());
      if (o.commands) expect({ flag: o.flag, having: having.filter((c) => o.commands!.includes(c)) }).toEqual({ flag: o.flag, having: [...o.commands] });
      else expect({ flag: o.flag, any: having.length > 0 }).toEqual({ flag: o.flag, any: true });
    }
  });

  test('precedence: flag > env > file > default', () => {
    const file = configFile({ api_port: 9003, ui_host: '127.0.0.3', data_dir: join(dir, 'file-data'), sls_audit: true });
    const cases: Array<[string[], NodeJS.ProcessEnv, string | undefined]> = [
      [['--port', '9001'], { AGENTSIGHT_API_PORT: '9002' }, '9001'],
      [[], { AGENTSIGHT_API_PORT: '9002' }, '9002'],
      [[], {}, '9003'],
    ];
    for (const [args, env, port] of cases) {
      const { root, cmd } = parsed(['--config', file], 'serve', args);
      applyCliSettings(root, cmd, env);
      expect(env.AGENTSIGHT_API_PORT).toBe(port);
      expect(env.AGENTSIGHT_UI_HOST).toBe('127.0.0.3');
      expect(env.AGENTSIGHT_CONFIG_FILE).toBe(file);
    }
    const { root, cmd } = parsed(['--config', join(dir, 'empty.json')], 'serve', []);
    writeFileSync(join(dir, 'empty.json'), '{}');
    const env: NodeJS.ProcessEnv = {};
    applyCliSettings(root, cmd, env);
    expect(env.AGENTSIGHT_API_PORT).toBeUndefined(); // the default applies (serve: 7396)
    // `--host` of `import` is not the api's address: the flag sets AGENTSIGHT_UI_HOST on serve only
    const imp = parsed(['--config', join(dir, 'empty.json')], 'import', ['--host', 'h1']);
    const env2: NodeJS.ProcessEnv = {};
    applyCliSettings(imp.root, imp.cmd, env2);
    expect(env2.AGENTSIGHT_UI_HOST).toBeUndefined();
  });

  test('flags and file values are kept from the command exec runs; rows say where each value came from', () => {
    const file = configFile({ alibaba_cloud_access_key_secret: 'file-secret', partitions: 4 });
    const { root, cmd } = parsed(['--config', file], 'exec', ['--sls-logstore', 'ls', '--export-wait', '5', '--sls-audit']);
    const env: NodeJS.ProcessEnv = { PATH: '/usr/bin', AGENTSIGHT_HOST: 'env-host' };
    applyCliSettings(root, cmd, env);
    expect(env).toMatchObject({ AGENTSIGHT_SLS_LOGSTORE: 'ls', AGENTSIGHT_EXPORT_WAIT_S: '5', AGENTSIGHT_SLS_AUDIT: '1', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'file-secret', AGENTSIGHT_PARTITIONS: '4' });
    expect(agentEnv(env)).toEqual({ PATH: '/usr/bin', AGENTSIGHT_HOST: 'env-host' });
    const rows = Object.fromEntries(settingRows(env).map((r) => [r.key, [r.value, r.source]]));
    expect(rows).toMatchObject({
      sls_logstore: ['ls', 'flag'], export_wait_s: ['5', 'flag'], partitions: ['4', 'file'], host: ['env-host', 'env'],
      alibaba_cloud_access_key_secret: ['[set]', 'file'], data_dir: [null, 'default'],
    });
  });

  test('the built CLI: `--config F config --json`, an error for an unknown key, and --config after the command', () => {
    const build = spawnSync(join(ROOT, 'node_modules/.bin/tsc'), ['-b', 'services/api'], { cwd: ROOT, encoding: 'utf8' });
    expect(build.status).toBe(0);
    const file = configFile({ retention_days: 30, ui_token: 'tok-from-file' });
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dir, AGENTSIGHT_CONFIG_DIR: dir, ...env } });
    const r = run(['--config', file, 'config', '--json'], { AGENTSIGHT_STORE_CHECK_S: '5' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { file: string; settings: Array<{ key: string; value: string | null; source: string }> };
    expect(out.file).toBe(file);
    const by = Object.fromEntries(out.settings.map((s) => [s.key, [s.value, s.source]]));
    expect(by).toMatchObject({ retention_days: ['30', 'file'], store_check_s: ['5', 'env'], ui_token: ['[set]', 'file'], partitions: [null, 'default'] });
    expect(r.stdout).not.toContain('tok-from-file');
    // the default location is the config dir's config.json
    const dflt = run(['config', '--json']);
    expect((JSON.parse(dflt.stdout) as { file: string }).file).toBe(file);
    writeFileSync(file, JSON.stringify({ retention_dayz: 30 }));
    const bad = run(['calls', '--config', file]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`config file ${file}: unknown key "retention_dayz" (did you mean "retention_days"?)`);
  });

  test("the README's configuration table is the one generated from the definition", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('<!-- config-table:begin');
    // On failure: npx tsx infra/config-table.ts
    expect(readme).toBe(withConfigTable(readme));
  });

  test('every variable the sources read has a key (test-only and internal variables aside)', () => {
    const NOT_SETTINGS = new Set([
      ...STREAMS.map((s) => s.name), // stream names, not variables
      'AGENTSIGHT_CONFIG_FILE', // names the file itself
      'AGENTSIGHT_REPLAY_SPEC', // set by `replay` for its services
      'NATS_PROBE_USER', 'NATS_PIPELINE_USER', // user name constants
      'AGENTSIGHT_TOPOLOGY_H', // include guard of the generated C header (libs/contracts topology.ts)
    ]);
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (f === 'node_modules' || f === 'dist') continue;
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.tsx?$/.test(f) && !/\.(spec|test)\.ts$/.test(f)) files.push(p);
      }
    };
    for (const d of ['services/parser/src', 'services/aggregator/src', 'services/analyzer/src', 'services/genai/src', 'services/api/src', 'services/exporter/src', 'libs/contracts/src', 'libs/jetstream/src', 'libs/clickhouse/src', 'libs/pricing/src', 'libs/tokens/src']) walk(join(ROOT, d));
    const seen = new Set<string>();
    for (const f of files) for (const m of readFileSync(f, 'utf8').matchAll(/\b(?:AGENTSIGHT|NATS|REDIS|CLICKHOUSE|OTEL|ALIBABA_CLOUD)_[A-Z0-9_]*[A-Z0-9]\b/g)) seen.add(m[0]);
    const known = new Set(OPTIONS.map((o) => o.env));
    expect([...seen].filter((v) => !known.has(v) && !NOT_SETTINGS.has(v)).sort()).toEqual([]);
    expect(seen.size).toBeGreaterThan(40);
  });
});
