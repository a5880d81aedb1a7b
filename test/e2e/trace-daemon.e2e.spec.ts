/**
 * `agentsight trace --daemon` (what `agentsight-probe.service` runs): only the probe, into a pipeline that already
 * runs (here the test's stages, as the stage units would be), never starting stages; stopped by SIGTERM with its final
 * report (exit 0); exit 1 when no api answers within the bound or when the probe dies (so systemd restarts it);
 * system-wide, the agents found running are sampled.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { api, CLI, describeCapture, usePipeline } from './harness';

const CLIENT = join(__dirname, 'client.js');

/** The CLI as a child, its stderr collected; `until(re)` resolves once stderr matches. */
function daemon(args: string[], env: NodeJS.ProcessEnv) {
  const proc = spawn(process.execPath, [CLI, 'trace', '--daemon', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
  const until = async (re: RegExp, ms = 90_000) => {
    for (const end = Date.now() + ms; !re.test(stderr); ) {
      if (Date.now() > end || proc.exitCode !== null) throw new Error(`no ${re} in the daemon's stderr:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { proc, exited, until, stderr: () => stderr };
}

/** Direct children of `pid` (every thread's). */
function children(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
}

describeCapture('agentsight trace --daemon', () => {
  const f = usePipeline();

  test('captures into the running pipeline without starting stages; SIGTERM stops it with its report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentsight-daemon-'));
    const body = `'${JSON.stringify({ model: 'gpt-4.1-nano', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })}'`;
    const agent: ChildProcess = spawn('/bin/sh', ['-c', 'kill -STOP $$; exec sh -c "$0"', `node ${CLIENT} ${f.server.url} ${f.server.caPath} post /v1/chat/completions vercel__openai-text.json ${body}`], { env: f.infra.env, stdio: 'ignore' });
    const agentExit = new Promise((r) => agent.on('exit', r));
    const d = daemon(['--pid', String(agent.pid), '--data-dir', dir], f.infra.env);
    await d.until(/tracing --pid \d+ into the running pipeline/);
    process.kill(agent.pid!, 'SIGCONT');
    await agentExit;
    d.proc.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    expect(d.stderr()).toMatch(/capture stopped: [1-9]\d* records, 0 lost in the kernel/);
    await waitDrained(f.infra.env);
    const calls: Array<Record<string, unknown>> = await api(f.infra, '/api/calls');
    expect(calls).toHaveLength(1);
    // Only the probe ran under it: its log dir holds the probe's log and no stage's.
    expect(readdirSync(join(dir, 'logs'))).toEqual(['probe.log']);
  }, 180_000);

  test('system-wide: the running agents the discovery rules find are sampled (resources stored per agent process)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentsight-daemon-'));
    mkdirSync(join(dir, 'bin'));
    // Laid out like Claude Code's npm bin, run by node: 400 ms of CPU, then idle until killed.
    writeFileSync(join(dir, 'bin', 'claude'), 'const t = Date.now(); while (Date.now() - t < 400) {} setInterval(() => {}, 1000);');
    const agent = spawn(process.execPath, [join(dir, 'bin', 'claude')], { stdio: 'ignore' });
    try {
      const d = daemon(['--data-dir', dir], { ...f.infra.env, AGENTSIGHT_AGENT_SCAN_MS: '500', AGENTSIGHT_SAMPLE_MS: '200' });
      await d.until(new RegExp(`sampling Claude Code \\(pid ${agent.pid}\\)`));
      await new Promise((r) => setTimeout(r, 1500)); // a few samples
      d.proc.kill('SIGTERM');
      expect(await d.exited).toBe(0);
      await waitDrained(f.infra.env);
      const rows: Array<Record<string, any>> = await api(f.infra, '/api/agents/activity?since=10m');
      const row = rows.find((r) => r.pid === agent.pid);
      expect(row?.last_sample).toBeTruthy();
      expect(row!.peak_rss_bytes).toBeGreaterThan(0);
    } finally {
      agent.kill('SIGKILL');
    }
  }, 180_000);

  test('no api within the bound: exit 1, saying so, nothing started', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentsight-daemon-'));
    const d = daemon(['--data-dir', dir], { ...f.infra.env, AGENTSIGHT_API_PORT: '9', AGENTSIGHT_DAEMON_API_WAIT_S: '1' });
    expect(await d.exited).toBe(1);
    expect(d.stderr()).toMatch(/no agentsight api answers on port 9: .* --daemon never starts it; nothing captured/);
    expect(() => readdirSync(join(dir, 'logs'))).toThrow();
  }, 60_000);

  test('the probe dies: exit 1 (the unit restarts it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentsight-daemon-'));
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const d = daemon(['--pid', String(sleeper.pid), '--data-dir', dir], f.infra.env);
      await d.until(/into the running pipeline/);
      const probe = children(d.proc.pid!);
      expect(probe).toHaveLength(1);
      process.kill(probe[0], 'SIGKILL');
      expect(await d.exited).toBe(1);
      expect(d.stderr()).toMatch(/the probe ended by itself \(SIGKILL\)/);
    } finally {
      sleeper.kill();
    }
  }, 120_000);
});
