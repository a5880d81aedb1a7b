/**
 * Supervision (issue 10): during `agentsight exec` of a client making many calls, the analyzer the run started is
 * killed with SIGKILL. The run restarts it; its inputs resume from the ack floor; every call is stored exactly once;
 * the summary's count equals the stored count and reports the restart. Real capture, real stages, real brokers.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiToken } from '@agentsight/jetstream';
import { EXAMPLE_AGENT_ROUTES, startReplayServer, type ReplayServer } from '@agentsight/testkit';
import { childrenRunning, CLI, describeCapture, Infra, runCli, startInfra } from './harness';

const HALF = 12; // calls before the kill, and again after it

describeCapture('agentsight exec supervises its stages', () => {
  let infra: Infra;
  let server: ReplayServer;
  let exec: { code: number | null; stderr: string };
  let killed: number;
  let restarted: number[];
  let calls: Array<Record<string, unknown>>;

  beforeAll(async () => {
    infra = await startInfra();
    server = await startReplayServer({ routes: EXAMPLE_AGENT_ROUTES });
    const gate = join(infra.dataDir, 'go');
    const call = `curl -sS --http1.1 --cacert ${server.caPath} ${server.url}/v1/chat/completions -H 'x-replay-fixture: vercel__openai-text.json' -H 'content-type: application/json' -d '{"model":"gpt-4.1-nano","messages":[{"role":"user","content":"Invent a new holiday"}]}' > /dev/null`;
    const script = `for i in $(seq ${HALF}); do ${call}; done; while [ ! -f ${gate} ]; do sleep 0.1; done; for i in $(seq ${HALF}); do ${call}; done`;
    const p = spawn(process.execPath, [CLI, 'exec', '--', 'sh', '-c', script], { env: infra.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((res) => p.on('exit', (code) => res(code)));
    // The first half is stored: the analyzer has been working. Then kill it, no goodbye, and let the client go on.
    const stored = async () => {
      const r = await fetch(`http://127.0.0.1:${infra.env.AGENTSIGHT_API_PORT}/api/calls?limit=1000`, { headers: { authorization: `Bearer ${apiToken(infra.env)}` } }).catch(() => null);
      return r?.ok ? ((await r.json()) as unknown[]).length : 0;
    };
    while ((await stored()) < HALF) await new Promise((r) => setTimeout(r, 200));
    [killed] = childrenRunning(p.pid!, 'services/analyzer/dist/main.js');
    process.kill(killed, 'SIGKILL');
    writeFileSync(gate, '');
    exec = { code: await exited, stderr };
    restarted = childrenRunning(p.pid!, 'services/analyzer/dist/main.js'); // the run is over: none left
    calls = JSON.parse((await runCli(['calls', '--json', '--limit', '1000'], infra.env)).stdout);
  }, 400_000);

  afterAll(async () => {
    await server?.close();
    await infra?.stop();
  });

  test('the killed analyzer was restarted and the run succeeded', () => {
    expect(killed).toBeGreaterThan(0);
    expect(exec.stderr).toMatch(/warning: analyzer stopped \(signal SIGKILL\); restarting it/);
    expect(exec.stderr).toMatch(/analyzer restarted \(pid \d+\)/);
    expect(exec.stderr).not.toMatch(/restarted \(pid ${killed}\)/);
    expect(exec.stderr).not.toMatch(/not everything captured was stored|not drained/);
    expect(exec.code).toBe(0);
    expect(restarted).toEqual([]);
  });

  test('every call is stored exactly once', () => {
    expect(calls).toHaveLength(2 * HALF);
    expect(new Set(calls.map((c) => c.call_id)).size).toBe(2 * HALF);
    expect(calls.every((c) => c['gen_ai.request.model'] === 'gpt-4.1-nano')).toBe(true);
  });

  test("the summary's count equals the stored count and reports the restart", () => {
    expect(exec.stderr).toContain(`[agentsight] ${calls.length} LLM call(s) captured (1 stage restart(s) during the run)`);
    expect(exec.stderr).toContain('[agentsight] analyzer restarted once (signal SIGKILL); its inputs resumed from the ack floor');
  });
});
