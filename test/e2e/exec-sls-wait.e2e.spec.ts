/**
 * `agentsight exec --sls-* --export-wait 2` under real capture, against the testkit's fake SLS answering every PutLogs
 * with 503 (a server error the exporter retries with backoff, acking nothing): the export wait bound is hit, so exec
 * says that the exports were not delivered after 2 s and, per target, how much is still pending
 * (`finishExports`/`waitExported`: `<target> (<where>): N not delivered, M waiting to settle`), still stores what it
 * captured, and exits with the command's exit code (README, `exec`), not with an error of its own. Then SLS answers
 * 200 and the next run delivers the pending call (nothing was lost).
 */
import { join } from 'node:path';
import { startFakeSls, startReplayServer, type FakeSls, type ReplayServer } from '@agentsight/testkit';
import { describeCapture, Infra, runCli, startInfra } from './harness';

const CLIENT = join(__dirname, 'client.js');
const KEY_ID = 'LTAI-e2e-exec-sls-wait';
const SECRET = 'exec-sls-wait-secret-never-printed-3b7e';
/** The command's own exit code: exec must pass it on whatever the exports did. */
const COMMAND_EXIT = 3;

describeCapture('agentsight exec --export-wait: the bound hit with SLS answering 503', () => {
  let infra: Infra;
  let server: ReplayServer;
  let sls: FakeSls;
  let exec: { code: number | null; stdout: string; stderr: string };
  let calls: Array<Record<string, unknown>>;

  beforeAll(async () => {
    infra = await startInfra();
    server = await startReplayServer({});
    sls = await startFakeSls({ accessKeyId: KEY_ID, accessKeySecret: SECRET, logstore: 'agentsight' });
    sls.respond = () => ({ status: 503, errorCode: 'ServiceUnavailable', errorMessage: 'scripted 503' });
    const body = `'${JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })}'`;
    const script = `node ${CLIENT} ${server.url} ${server.caPath} post /v1/messages vercel__anthropic-text.json ${body} && exit ${COMMAND_EXIT}`;
    exec = await runCli(['exec', '--sls-endpoint', sls.url, '--sls-project', 'e2e-project', '--sls-logstore', 'agentsight', '--export-wait', '2', '--', 'sh', '-c', script], {
      ...infra.env, ALIBABA_CLOUD_ACCESS_KEY_ID: KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: SECRET, AGENTSIGHT_EXPORT_SETTLE_S: '2',
    });
    calls = JSON.parse((await runCli(['calls', '--json'], infra.env)).stdout);
  }, 300_000);

  afterAll(async () => {
    await sls?.close();
    await server?.close();
    await infra?.stop();
  });

  test('the exporter tried and SLS refused every request with 503 (nothing was delivered)', () => {
    expect(sls.problems).toEqual([]);
    expect(sls.requests.length).toBeGreaterThan(0);
    expect(sls.requests.map((r) => r.answered).filter((s) => s !== 503)).toEqual([]);
    expect(sls.accepted()).toEqual([]);
  });

  test('exec says the exports were not delivered after 2 s and what is still pending, per target', () => {
    expect(exec.stderr).toContain('[agentsight] warning: exports not delivered after 2 s (--export-wait); the exporter goes on at the next run (nothing is lost: inputs stay unacked):');
    expect(exec.stdout + exec.stderr).not.toMatch(/exports delivered/);
    const pending = [...exec.stderr.matchAll(/^\[agentsight\] {3}(\S+) \((.*)\): (\d+) not delivered, (\d+) waiting to settle$/gm)];
    expect(pending.map((m) => [m[1], m[2].startsWith(`SLS logstore ${sls.url}/logstores/agentsight (project e2e-project)`)])).toEqual([['sls', true]]);
    // the captured call's event was handed to the exporter and never acked (SLS answered 503 each time)
    expect(Number(pending[0][3])).toBeGreaterThanOrEqual(1);
  });

  test('what was captured is stored all the same, and exec exits with the command\'s exit code', () => {
    expect(exec.stderr).toMatch(/1 LLM call\(s\) captured/);
    expect(calls).toHaveLength(1);
    expect(exec.code).toBe(COMMAND_EXIT);
    expect(exec.stdout + exec.stderr).not.toContain(SECRET);
  });

  // README: "nothing is lost: it goes out when the exporter next runs" (the stopped exporter nak'd what it held).
  test('nothing is lost: once SLS answers 200, the next run delivers the pending call and says so', async () => {
    sls.respond = () => ({ status: 200 });
    const next = await runCli(['exec', '--sls-endpoint', sls.url, '--sls-project', 'e2e-project', '--sls-logstore', 'agentsight', '--', 'true'], {
      ...infra.env, ALIBABA_CLOUD_ACCESS_KEY_ID: KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: SECRET, AGENTSIGHT_EXPORT_SETTLE_S: '2',
    });
    expect(next.code).toBe(0);
    expect(next.stdout + next.stderr).toMatch(/exports delivered \(sls\)/);
    const inference = sls.accepted().filter((l) => l.contents['agentsight.event.kind'] === 'inference');
    expect(inference.map((l) => l.contents['agentsight.llm_call.id'])).toEqual([calls[0].call_id]);
  }, 300_000);
});
