/**
 * The systemd units of infra/systemd (daemon mode) pass `systemd-analyze verify` with no warning, with the install
 * prefix /opt/agentsight pointed at this checkout (verify checks that the executables exist) and every stage instance
 * of the template; a unit with a misplaced key is reported, so the check can fail. Skipped, saying why, where
 * systemd-analyze is not installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const UNITS = join(ROOT, 'infra/systemd');
const STAGES = ['parser', 'aggregator', 'analyzer', 'genai', 'api', 'exporter'];
const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const why = analyze.error ? `systemd-analyze is not available (${analyze.error.message})` : null;
if (why) console.warn(`skipping the systemd unit checks: ${why}`);

function verify(dir: string, files: string[]): { code: number | null; out: string } {
  const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...files.map((f) => join(dir, f))], { encoding: 'utf8', cwd: dir });
  return { code: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

/** The units in a temp dir, /opt/agentsight → this checkout, with one link per stage instance of the template. */
function staged(edit: (name: string, text: string) => string = (_n, t) => t): { dir: string; files: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'agentsight-units-'));
  for (const f of readdirSync(UNITS)) writeFileSync(join(dir, f), edit(f, readFileSync(join(UNITS, f), 'utf8').replaceAll('/opt/agentsight', ROOT)));
  for (const s of STAGES) symlinkSync('agentsight@.service', join(dir, `agentsight@${s}.service`));
  return { dir, files: readdirSync(dir).filter((f) => f !== 'agentsight@.service') };
}

(why ? describe.skip : describe)('systemd units (infra/systemd)', () => {
  test('every unit and stage instance passes systemd-analyze verify without a warning', () => {
    const { dir, files } = staged();
    try {
      expect(files).toEqual(expect.arrayContaining(['agentsight.target', 'agentsight-nats.service', 'agentsight-redis.service', ...STAGES.map((s) => `agentsight@${s}.service`)]));
      expect(verify(dir, files)).toEqual({ code: 0, out: '' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the target wants every stage, and each stage requires the brokers and restarts on failure', () => {
    const target = readFileSync(join(UNITS, 'agentsight.target'), 'utf8');
    for (const s of STAGES) expect(target).toContain(`agentsight@${s}.service`);
    const stage = readFileSync(join(UNITS, 'agentsight@.service'), 'utf8');
    expect(stage).toMatch(/^Requires=agentsight-nats\.service agentsight-redis\.service$/m);
    expect(stage).toMatch(/^Restart=on-failure$/m);
    expect(stage).toMatch(/^MemoryMax=/m);
    // The probe: `trace --daemon` into the running pipeline, after its api, restarted when it exits 1.
    expect(target).toContain('agentsight-probe.service');
    const probe = readFileSync(join(UNITS, 'agentsight-probe.service'), 'utf8');
    expect(probe).toMatch(/^ExecStart=\/usr\/bin\/node \/opt\/agentsight\/services\/api\/bin\/agentsight\.js trace --daemon /m);
    expect(probe).toMatch(/^After=.*agentsight@api\.service/m);
    expect(probe).toMatch(/^Restart=on-failure$/m);
  });

  test('a broken unit is reported (the check can fail)', () => {
    const { dir, files } = staged((n, t) => (n === 'agentsight@.service' ? t.replace('[Service]', '[Service]\nRestartt=always') : t));
    try {
      expect(verify(dir, files).out).toMatch(/Unknown key( name)? 'Restartt'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('`agentsight service install --root DIR` installs them pointed at this checkout, and they verify', () => {
    const root = mkdtempSync(join(tmpdir(), 'agentsight-root-'));
    try {
      const cli = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'services/api/bin/agentsight.js'), ...args], { encoding: 'utf8', env: { ...process.env, AGENTSIGHT_CONFIG_FILE: 'none' } });
      const r = cli(['service', 'install', '--root', root]);
      expect(r.status).toBe(0);
      const dir = join(root, 'etc/systemd/system');
      expect(readdirSync(dir).sort()).toEqual(readdirSync(UNITS).sort());
      for (const f of readdirSync(dir)) expect(readFileSync(join(dir, f), 'utf8')).not.toContain('/opt/agentsight');
      expect(readFileSync(join(dir, 'agentsight@.service'), 'utf8')).toContain(`ExecStart=/usr/bin/node ${ROOT}/services/%i/dist/main.js`);
      for (const s of STAGES) symlinkSync('agentsight@.service', join(dir, `agentsight@${s}.service`));
      expect(verify(dir, readdirSync(dir).filter((f) => f !== 'agentsight@.service'))).toEqual({ code: 0, out: '' });
      const bad = cli(['service', 'install', '--root', root, '--prefix', root]);
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain(`${root} is not a built checkout`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
