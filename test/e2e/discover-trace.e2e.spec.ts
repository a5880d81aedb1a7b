/**
 * `agentsight trace --discover` under real capture: agents found by the discovery rules are traced — one already
 * running when tracing starts, one started later (offered to the CLI by the probe at its exec, `--follow-exec`) — and
 * a process the rules do not match is not, though it makes the same HTTPS call.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groundTruthFor, startReplayServer, ReplayServer } from '@agentsight/testkit';
import { CLI, describeCapture, Infra, runCli, startInfra } from './harness';

type Row = Record<string, any>;
const FIXTURE = 'vercel__openai-text.json';

/** A node process (argv tagged with `tag`) that POSTs the fixture's request when it reads a line, then exits. */
function client(server: ReplayServer, tag: string): ChildProcess {
  const body = JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Invent a new holiday' }] });
  const script = `process.stdin.once('data', () => { require('node:https').request('${server.url}/v1/chat/completions', `
    + `{ method: 'POST', ca: require('node:fs').readFileSync('${server.caPath}'), agent: false, headers: { 'content-type': 'application/json', 'x-replay-fixture': '${FIXTURE}' } }, `
    + `(r) => { r.resume(); r.on('end', () => process.exit(0)); }).end(${JSON.stringify(body)}); }); console.log('ready');`;
  return spawn(process.execPath, ['-e', script, tag], { stdio: ['pipe', 'pipe', 'inherit'] });
}

async function run(c: ChildProcess): Promise<void> {
  await new Promise<void>((res, rej) => {
    c.stdout!.once('data', () => res());
    c.once('exit', (code) => rej(new Error(`client exited early (${code})`)));
  });
  c.stdin!.write('go\n');
  await new Promise((r) => c.once('exit', r));
}

describeCapture('agentsight trace --discover', () => {
  let infra: Infra;
  let server: ReplayServer;
  let work: string;
  let calls: Row[];
  let stderr = '';
  const pids: Record<string, number> = {};

  beforeAll(async () => {
    infra = await startInfra();
    server = await startReplayServer();
    work = mkdtempSync(join(tmpdir(), 'agentsight-discover-'));
    const rules = join(work, 'rules.json');
    writeFileSync(rules, JSON.stringify({ rules: [{ id: 'test.holiday', agent: 'Holiday Agent', exe: '*/node', arg: 'holiday-agent-*' }] }));

    const early = client(server, 'holiday-agent-early');
    await new Promise((r) => early.stdout!.once('data', r));
    const trace = spawn(process.execPath, [CLI, 'trace', '--discover', '--rules', rules], { env: infra.env, stdio: ['ignore', 'ignore', 'pipe'] });
    const done = new Promise<number | null>((res) => trace.on('close', (code) => res(code)));
    await new Promise<void>((res, rej) => {
      trace.stderr!.on('data', (d) => {
        stderr += d;
        if (/tracing discovered agents/.test(stderr)) res();
      });
      void done.then(() => rej(new Error(`trace exited early:\n${stderr}`)));
    });
    // Already running before the trace: found by the /proc scan.
    early.stdin!.write('go\n');
    await new Promise((r) => early.once('exit', r));
    // Started after: offered at exec, matched, traced. The other one is offered and skipped.
    const late = client(server, 'holiday-agent-late');
    const other = client(server, 'some-other-tool');
    await Promise.all([run(late), run(other)]);
    Object.assign(pids, { early: early.pid!, late: late.pid!, other: other.pid! });
    await new Promise((r) => setTimeout(r, 1500));
    trace.kill('SIGINT');
    expect(await done).toBe(0);
    calls = JSON.parse((await runCli(['calls', '--json'], infra.env)).stdout);
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    await infra?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the agent running before the trace is discovered and captured', () => {
    expect(stderr).toMatch(new RegExp(`tracing Holiday Agent \\(pid ${pids.early}, rule test.holiday\\)`));
    const mine = calls.filter((c) => c.pid === pids.early);
    expect(mine).toHaveLength(1);
    expect(mine[0]['gen_ai.response.id']).toBe(groundTruthFor(FIXTURE).response_id);
  });

  test('the agent started later is offered at its exec, matched and captured', () => {
    expect(stderr).toMatch(new RegExp(`tracing Holiday Agent \\(pid ${pids.late}, rule test.holiday\\)`));
    const mine = calls.filter((c) => c.pid === pids.late);
    expect(mine).toHaveLength(1);
    expect(mine[0]['gen_ai.usage.output_tokens']).toBe(groundTruthFor(FIXTURE).output_tokens);
  });

  test('at the end, the probe\'s per-probe counters are printed: node\'s SSL_write and SSL_read saw the two calls', () => {
    expect(stderr).toMatch(/\[agentsight\] binary\s+fn\s+records\s+fragments\s+bytes\s+lost/);
    const row = (fn: string) => stderr.split('\n').find((l) => new RegExp(`node\\s+${fn}\\s`).test(l));
    for (const fn of ['SSL_write', 'SSL_read']) {
      const cols = row(fn)?.trim().split(/\s+/) ?? [];
      expect(Number(cols[cols.length - 4])).toBeGreaterThanOrEqual(2); // records: at least one call per traced agent
      expect(cols[cols.length - 1]).toBe('0'); // lost
    }
    expect(stderr).not.toMatch(/warning: .*lost/);
  });

  test('a process the rules do not match is not captured', () => {
    expect(calls.filter((c) => c.pid === pids.other)).toHaveLength(0);
    expect(calls).toHaveLength(2);
  });
});
