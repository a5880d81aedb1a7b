/** The daemon's units as `agentsight status` shows them: which, installed or not, and systemd's answer parsed. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSystemctlShow, serviceInstall, serviceUnits, unitsStatus, unitsText } from './service';

const STAGES = ['parser', 'aggregator', 'analyzer', 'genai', 'api', 'exporter'];

test('the units: brokers first, one instance per stage the target wants, the probe, the target last', () => {
  expect(serviceUnits()).toEqual(['agentsight-nats.service', 'agentsight-redis.service', ...STAGES.map((s) => `agentsight@${s}.service`), 'agentsight-probe.service', 'agentsight.target']);
});

test('systemctl show output: one map per unit, in the order asked (values may hold "=")', () => {
  // As systemd 252 prints `systemctl show --property=Id,LoadState,ActiveState,SubState,MainPID,NRestarts a b`.
  const text = [
    'MainPID=1234', 'NRestarts=2', 'Id=agentsight@parser.service', 'LoadState=loaded', 'ActiveState=active', 'SubState=running', '',
    'MainPID=0', 'NRestarts=0', 'Id=agentsight@api.service', 'LoadState=not-found', 'ActiveState=inactive', 'SubState=dead', 'Extra=a=b', '',
  ].join('\n');
  expect(parseSystemctlShow(text)).toEqual([
    { MainPID: '1234', NRestarts: '2', Id: 'agentsight@parser.service', LoadState: 'loaded', ActiveState: 'active', SubState: 'running' },
    { MainPID: '0', NRestarts: '0', Id: 'agentsight@api.service', LoadState: 'not-found', ActiveState: 'inactive', SubState: 'dead', Extra: 'a=b' },
  ]);
});

test('under a root: none installed, then every unit after `service install` (template instances by their template)', () => {
  const root = mkdtempSync(join(tmpdir(), 'agentsight-units-root-'));
  try {
    const before = unitsStatus({ root });
    expect(before.units.every((u) => !u.installed && u.active === null)).toBe(true);
    expect(before.why).toContain(`installed under ${root}`);
    serviceInstall({ root }, () => undefined);
    const after = unitsStatus({ root });
    expect(after.units.map((u) => [u.unit, u.installed])).toEqual(serviceUnits().map((u) => [u, true]));
    const text = unitsText(after);
    expect(text).toMatch(/^agentsight@genai\.service\s+installed\s+-\s+-\s+-\s+-$/m);
    expect(text).toContain(`(installed under ${root}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

(existsSync('/run/systemd/system') ? test.skip : test)('the real root without systemd: installed or not, and why there is no state', () => {
  const s = unitsStatus();
  expect(s.units.map((u) => u.unit)).toEqual(serviceUnits());
  expect(s.why).toMatch(/systemd is not running here/);
  expect(s.units.every((u) => u.load === null && u.pid === null)).toBe(true);
});
