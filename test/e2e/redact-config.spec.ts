/**
 * AGENTSIGHT_REDACT_PATTERNS at startup: every stage service, the api service and the CLI refuse to start on an
 * invalid file, with a message naming the file and the problem (never a silent fallback to the built-ins), before
 * connecting to anything. Runs the built services (`npm run setup`); no NATS, Redis or eBPF needed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT } from './harness';

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [file, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('exit', (code) => { clearTimeout(t); resolve({ code, stderr }); });
  });
}

describe('a bad AGENTSIGHT_REDACT_PATTERNS file is a startup error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentsight-redact-e2e-'));
  const bad = join(dir, 'redact.json');
  writeFileSync(bad, JSON.stringify({ patterns: [{ name: 'acme', regex: 'acme_[A-Z' }] }));
  // Unreachable NATS/Redis/ClickHouse: if the config were not checked first, the failure would be a connection error.
  const env = { AGENTSIGHT_REDACT_PATTERNS: bad, NATS_URL: 'nats://127.0.0.1:1', REDIS_URL: 'redis://127.0.0.1:1', CLICKHOUSE_URL: 'http://127.0.0.1:1', AGENTSIGHT_DATA_DIR: dir };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each(['parser', 'aggregator', 'analyzer', 'genai', 'api'])('%s service', async (name) => {
    const r = await run(join(ROOT, `services/${name}/dist/main.js`), [], env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`RedactionConfigError: AGENTSIGHT_REDACT_PATTERNS=${bad}: pattern "acme": invalid regex`);
  });

  test('the agentsight CLI', async () => {
    const r = await run(CLI, ['calls'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`agentsight: AGENTSIGHT_REDACT_PATTERNS=${bad}: pattern "acme": invalid regex`);
  });
});
