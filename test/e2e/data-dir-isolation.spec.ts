/**
 * A data dir is one installation: with the api of data dir A running (real api service, private NATS/Redis),
 * reads and captures for data dir B are refused with a message naming both dirs, instead of silently using A's
 * store; the same data dir (also through a symlink) is reused.
 */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiToken } from '@agentsight/jetstream';
import { runCli, Stages, startInfra, type Infra } from './harness';

let infra: Infra;
let stages: Stages;
let other: string;

beforeAll(async () => {
  infra = await startInfra();
  stages = new Stages(infra.env);
  await stages.start('api');
  other = mkdtempSync(join(tmpdir(), 'agentsight-other-'));
}, 120_000);
afterAll(async () => {
  await stages?.stopAll();
  await infra?.stop();
  rmSync(other, { recursive: true, force: true });
});

test('health names the data dir the api stores into', async () => {
  const r = await fetch(`http://127.0.0.1:${infra.env.AGENTSIGHT_API_PORT}/api/health`, { headers: { authorization: `Bearer ${apiToken(infra.env)}` } });
  expect(await r.json()).toEqual(expect.objectContaining({ ok: true, data_dir: infra.dataDir }));
});

test('reads of another data dir are refused, naming both; the same dir (by a symlink too) reads through the api', async () => {
  const refused = await runCli(['calls', '--data-dir', other], infra.env, 60_000);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`stores into ${infra.dataDir}`);
  expect(refused.stderr).toContain(`not ${other}`);
  const link = join(other, 'link');
  symlinkSync(infra.dataDir, link);
  const same = await runCli(['calls', '--json', '--data-dir', link], infra.env, 60_000);
  expect(same.stderr).toBe('');
  expect(same.code).toBe(0);
  expect(JSON.parse(same.stdout)).toEqual([]);
}, 120_000);

test('exec for another data dir refuses before running the command', async () => {
  const marker = join(other, 'ran');
  const r = await runCli(['exec', '--data-dir', other, '--', 'touch', marker], infra.env, 60_000);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain(`stores into ${infra.dataDir}`);
  expect(require('node:fs').existsSync(marker)).toBe(false);
}, 120_000);
