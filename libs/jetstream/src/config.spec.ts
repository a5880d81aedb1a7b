/** The one place for broker URLs and credentials (config.ts): modes, the probe's environment, and the C default. */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_NATS_PORT, ensureSecrets, NATS_PIPELINE_USER, NATS_PROBE_USER, natsTarget, pipelineConfig, probeNatsEnv, redactUrl, redisUrl } from './config';

const dir = mkdtempSync(join(tmpdir(), 'agentsight-config-'));
const env = { AGENTSIGHT_CONFIG_DIR: join(dir, 'etc') };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('managed mode: credentials from a generated 0600 secrets file, the probe with its own user in its environment', () => {
  expect(() => natsTarget(env)).toThrow(/no agentsight credentials/);
  const s = ensureSecrets(env);
  expect(ensureSecrets(env)).toEqual(s); // generated once
  expect((statSync(join(dir, 'etc', 'secrets.json')).mode & 0o777).toString(8)).toBe('600');
  expect((statSync(join(dir, 'etc')).mode & 0o777).toString(8)).toBe('700');
  expect(natsTarget(env)).toEqual({ url: `nats://127.0.0.1:${DEFAULT_NATS_PORT}`, user: NATS_PIPELINE_USER, pass: s.nats_pipeline_password, inboxPrefix: '_INBOX_agentsight', managed: true });
  expect(redisUrl({ ...env, AGENTSIGHT_REDIS_PORT: '9' })).toBe(`redis://:${s.redis_password}@127.0.0.1:9`);
  expect(probeNatsEnv(env)).toEqual({ NATS_URL: `nats://127.0.0.1:${DEFAULT_NATS_PORT}`, NATS_USER: NATS_PROBE_USER, NATS_PASSWORD: s.nats_probe_password });
  expect(s.nats_probe_password).not.toBe(s.nats_pipeline_password);
});

test('external mode: NATS_URL with NATS_CREDS or NATS_USER/NATS_PASSWORD, REDIS_URL as given; passwords redacted in messages', () => {
  const ext = { NATS_URL: 'nats://broker:4222', NATS_USER: 'u', NATS_PASSWORD: 'p', REDIS_URL: 'redis://:secret@r:6379' };
  expect(pipelineConfig(ext)).toEqual(expect.objectContaining({ nats: { url: 'nats://broker:4222', user: 'u', pass: 'p', managed: false }, redisUrl: 'redis://:secret@r:6379', redisManaged: false }));
  expect(natsTarget({ NATS_URL: 'nats://b', NATS_CREDS: '/x.creds' })).toEqual({ url: 'nats://b', credsFile: '/x.creds', managed: false });
  expect(probeNatsEnv(ext)).toEqual({ NATS_URL: 'nats://broker:4222', NATS_USER: 'u', NATS_PASSWORD: 'p' });
  expect(redactUrl('redis://:secret@r:6379')).toBe('redis://:***@r:6379');
  expect(redactUrl('nats://u:pw@h:1')).toBe('nats://u:***@h:1');
  expect(redactUrl('nats://h:1')).toBe('nats://h:1');
});

test("the producer's built-in default URL is the managed NATS", () => {
  const c = readFileSync(join(__dirname, '../../../services/probe-producer/src/options.c'), 'utf8');
  expect(c).toContain(`"nats://127.0.0.1:${DEFAULT_NATS_PORT}"`);
  expect(c).not.toContain('127.0.0.1:4222');
});
