/**
 * `agentsight trace --pid P --sls-* --export-wait S` with OTLP configured too, under real capture, stopped with
 * Ctrl-C (SIGINT), the counterpart of exec-sls-wait.e2e.spec.ts (issue 12: "`trace` does the same at Ctrl-C"):
 * - both exports failing (the fake SLS and the OTLP collector answer every request 503, which the exporter retries
 *   with backoff, acking nothing): after SIGINT, trace waits the bound (3 s) for them, then says the exports were not
 *   delivered after 3 s and what is still pending per target (`sls`, `otlp`), stores what it captured all the same,
 *   and exits 0 (a capture that stored everything did not fail);
 * - both answering 200: a second trace delivers, before it exits, the call it captured and the one the first run left
 *   pending (nothing lost), and says `exports delivered (…)` for both targets.
 * The call is made by a node client the trace follows by pid, started before the trace and told to call once the trace
 * runs.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { startFakeSls, startReplayServer, type FakeSls, type ReplayServer } from '@agentsight/testkit';
import { startOtlpReceiver, type OtlpReceiver } from '../../services/exporter/src/otlp-receiver.test';
import { CLI, describeCapture, Infra, runCli, startInfra } from './harness';

type Row = Record<string, any>;
const FIXTURE = 'vercel__openai-text.json';
const KEY_ID = 'LTAI-e2e-trace-wait';
const SECRET = 'trace-wait-secret-never-printed-9c4d';
const BOUND_S = 3;

/** A node client that POSTs the fixture's request when it reads a line on stdin, then exits; resolves once it waits. */
async function client(server: ReplayServer): Promise<ChildProcess> {
  const body = JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Invent a new holiday' }] });
  const script = `process.stdin.once('data', () => { require('node:https').request('${server.url}/v1/chat/completions', `
    + `{ method: 'POST', ca: require('node:fs').readFileSync('${server.caPath}'), agent: false, headers: { 'content-type': 'application/json', 'x-replay-fixture': '${FIXTURE}' } }, `
    + `(r) => { r.resume(); r.on('end', () => process.exit(0)); }).end(${JSON.stringify(body)}); }); console.log('ready');`;
  const c = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((res, rej) => {
    c.stdout!.once('data', () => res());
    c.once('exit', (code) => rej(new Error(`client exited early (${code})`)));
  });
  return c;
}

/** Stderr lines of a trace run, each with the ms (Date.now) it arrived at. */
type Timed = Array<{ at: number; line: string }>;

/**
 * `agentsight trace --pid <client> …args` until the client made its call, then SIGINT; resolves with its exit code,
 * its stderr lines (timed) and when SIGINT was sent.
 */
async function traceOneCall(env: NodeJS.ProcessEnv, server: ReplayServer, args: string[]): Promise<{ code: number | null; lines: Timed; sigintAt: number; pid: number }> {
  const c = await client(server);
  const trace = spawn(process.execPath, [CLI, 'trace', '--pid', String(c.pid), ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: Timed = [];
  let buf = '';
  trace.stderr!.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const line of parts) lines.push({ at: Date.now(), line });
  });
  const done = new Promise<number | null>((res) => trace.on('exit', (code) => res(code)));
  for (let i = 0; !lines.some((l) => /\] tracing --pid/.test(l.line)); i++) {
    if (trace.exitCode !== null || i > 1200) throw new Error(`trace did not start:\n${lines.map((l) => l.line).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  c.stdin!.write('go\n');
  await new Promise((r) => c.once('exit', r));
  await new Promise((r) => setTimeout(r, 1500)); // the call's records reach the probe's ring buffer
  const sigintAt = Date.now();
  trace.kill('SIGINT');
  const code = await done;
  if (buf) lines.push({ at: Date.now(), line: buf });
  return { code, lines, sigintAt, pid: c.pid! };
}

describeCapture('agentsight trace: at Ctrl-C, the bounded wait for the exports (SLS logstore and OTLP)', () => {
  let infra: Infra;
  let server: ReplayServer;
  let sls: FakeSls;
  let otlp: OtlpReceiver;
  let env: NodeJS.ProcessEnv;
  let first: Awaited<ReturnType<typeof traceOneCall>>;
  let calls: Row[];

  beforeAll(async () => {
    infra = await startInfra();
    server = await startReplayServer();
    sls = await startFakeSls({ accessKeyId: KEY_ID, accessKeySecret: SECRET, logstore: 'agentsight' });
    otlp = await startOtlpReceiver();
    sls.respond = () => ({ status: 503, errorCode: 'ServiceUnavailable', errorMessage: 'scripted 503' });
    otlp.status = () => 503;
    env = {
      ...infra.env, ALIBABA_CLOUD_ACCESS_KEY_ID: KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: SECRET, AGENTSIGHT_EXPORT_SETTLE_S: '2',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${otlp.url}/v1/traces`, OTEL_METRICS_EXPORTER: 'none', OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
    };
    first = await traceOneCall(env, server, ['--sls-endpoint', sls.url, '--sls-project', 'e2e-project', '--sls-logstore', 'agentsight', '--export-wait', String(BOUND_S)]);
    calls = JSON.parse((await runCli(['calls', '--json'], infra.env)).stdout);
  }, 300_000);

  afterAll(async () => {
    await otlp?.close();
    await sls?.close();
    await server?.close();
    await infra?.stop();
  });

  const text = (lines: Timed) => lines.map((l) => l.line).join('\n');

  test('both exports were tried and refused every request with 503 (nothing delivered)', () => {
    expect(sls.problems).toEqual([]);
    expect(sls.requests.length).toBeGreaterThan(0);
    expect(sls.accepted()).toEqual([]);
    expect(otlp.requests.length).toBeGreaterThan(0);
    expect(otlp.accepted()).toEqual([]);
  });

  test(`after SIGINT, trace waits ${BOUND_S} s for the exports, then says they were not delivered and what is pending per target`, () => {
    const warn = first.lines.find((l) => l.line === `[agentsight] warning: exports not delivered after ${BOUND_S} s (--export-wait); the exporter goes on at the next run (nothing is lost: inputs stay unacked):`);
    expect(warn).toBeDefined();
    // The wait came after the capture stopped and the drain, and lasted the bound.
    const stopped = first.lines.find((l) => /\] capture stopped: /.test(l.line))!;
    expect(stopped.at).toBeGreaterThanOrEqual(first.sigintAt);
    expect(warn!.at - stopped.at).toBeGreaterThanOrEqual(BOUND_S * 1000);
    expect(warn!.at - first.sigintAt).toBeLessThan(BOUND_S * 1000 + 60_000);
    const pending = [...text(first.lines).matchAll(/^\[agentsight\] {3}(\S+) \((.*)\): (\d+) not delivered, (\d+) waiting to settle$/gm)];
    expect(pending.map((m) => m[1]).sort()).toEqual(['otlp', 'sls']);
    for (const m of pending) expect(Number(m[3]) + Number(m[4])).toBeGreaterThanOrEqual(1);
    expect(pending.find((m) => m[1] === 'sls')![2]).toMatch(new RegExp(`^SLS logstore ${sls.url}/logstores/agentsight \\(project e2e-project\\)`));
    expect(text(first.lines)).not.toMatch(/exports delivered/);
  });

  test('what was captured is stored all the same; trace exits 0; the secret is in no output', () => {
    expect(calls.filter((c) => c.pid === first.pid)).toHaveLength(1);
    expect(first.code).toBe(0);
    expect(text(first.lines)).not.toContain(SECRET);
  });

  test('with both answering 200, the next trace delivers before it exits what it captured and what the first left pending', async () => {
    sls.respond = () => ({ status: 200 });
    otlp.status = () => 200;
    const next = await traceOneCall(env, server, ['--sls-endpoint', sls.url, '--sls-project', 'e2e-project', '--sls-logstore', 'agentsight']);
    expect(next.code).toBe(0);
    const delivered = next.lines.find((l) => /^\[agentsight\] exports delivered \(/.test(l.line));
    expect(delivered?.line.replace(/^.*\((.*)\)$/, '$1').split(', ').sort()).toEqual(['otlp', 'sls']);
    const all: Row[] = JSON.parse((await runCli(['calls', '--json'], infra.env)).stdout);
    const ids = [first.pid, next.pid].map((pid) => all.find((c) => c.pid === pid)?.call_id).sort();
    expect(ids.every(Boolean)).toBe(true);
    // Both calls went out (SLS: one inference log each; OTLP: one chat span each), the first one's once.
    const inference = sls.accepted().filter((l) => l.contents['agentsight.event.kind'] === 'inference');
    expect(inference.map((l) => l.contents['agentsight.llm_call.id']).sort()).toEqual(ids);
    const chat = otlp.accepted().filter((s) => s.name.startsWith('chat '));
    expect(chat).toHaveLength(2);
    expect(new Set(chat.map((s) => s.attributes['agentsight.event.id'])).size).toBe(2);
  }, 300_000);
});
