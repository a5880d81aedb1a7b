/**
 * The workspace's Jest run ends by itself or fails naming what holds it (test/jest-exit-check.js, in jest.config.js
 * instead of forceExit): a throwaway Jest project with that reporter and one suite leaves a referenced interval (a
 * stand-in for a connection still reconnecting) and fails, with the open resource in its message, shortly after its
 * grace time; the same suite without the leak exits 0 at once.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const JEST = join(ROOT, 'node_modules/jest/bin/jest.js');

function runJest(dir: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string; ms: number }> {
  return new Promise((res) => {
    const t0 = Date.now();
    const p = spawn(process.execPath, [JEST, '--config', join(dir, 'jest.config.json'), '--runInBand'], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    const kill = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('exit', (code) => {
      clearTimeout(kill);
      res({ code, out, ms: Date.now() - t0 });
    });
  });
}

describe('jest-exit-check reporter', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'agentsight-exit-check-'));
    writeFileSync(join(dir, 'jest.config.json'), JSON.stringify({
      rootDir: dir, testEnvironment: 'node', testMatch: ['**/*.test.js'], reporters: ['default', join(ROOT, 'test/jest-exit-check.js')],
    }));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('a suite that leaves a referenced timer fails the run, naming it, after the grace time', async () => {
    writeFileSync(join(dir, 'leak.test.js'), "test('leaks', () => { setInterval(() => undefined, 1000); expect(1).toBe(1); });\n");
    const r = await runJest(dir, { AGENTSIGHT_EXIT_GRACE_MS: '1500' });
    expect(r.out).toMatch(/1 passed/);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/jest-exit-check: Jest has not exited 1\.5 s after every suite reported; still open: \[.*"Timeout"/);
  }, 90_000);

  test('with AGENTSIGHT_HANDLE_STACKS=1 it says where the handle was created', async () => {
    writeFileSync(join(dir, 'leak.test.js'), "function leakyHelper() { setInterval(() => undefined, 1000); }\ntest('leaks', () => { leakyHelper(); });\n");
    const r = await runJest(dir, { AGENTSIGHT_EXIT_GRACE_MS: '1500', AGENTSIGHT_HANDLE_STACKS: '1' });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/Timeout \(created during .*leak\.test\.js\)\n[^]*leakyHelper/);
  }, 90_000);

  test('the same suite without the leak exits 0 well before the grace time', async () => {
    writeFileSync(join(dir, 'clean.test.js'), "test('clean', () => { const t = setInterval(() => undefined, 1000); clearInterval(t); });\n");
    const r = await runJest(dir, { AGENTSIGHT_EXIT_GRACE_MS: '30000' });
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(/jest-exit-check/);
    expect(r.ms).toBeLessThan(30_000);
  }, 90_000);
});
