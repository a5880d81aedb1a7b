/**
 * Zero-config targets under real capture: the agent's binary is always a private copy of node (an inode the probe does
 * not hook by default), so only agentsight's own resolution can make its TLS visible.
 * - `exec -- ./agent`: a `#!/usr/bin/env node` script whose `node` on PATH is that copy.
 * - `record -p <pid>`: stops by itself when the process exits; its call is stored.
 * - `record --binary-path docker://<id>`: the agent runs in a simulated container (own mount namespace where the binary
 *   exists only under /mnt, a Docker-style cgroup); its call is stored.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { groundTruthFor, startReplayServer, ReplayServer } from '@agentsight/testkit';
import { CLI, describeCapture, Infra, runCli, startInfra } from './harness';

type Row = Record<string, any>;
const FIXTURE = 'vercel__openai-text.json';
const CONTAINER_ID = 'c0ffee' + 'feedface'.repeat(7) + '00';

/** Starts `agentsight record args…`; resolves once it reports tracing, with a promise of its end. */
async function startRecord(args: string[], env: NodeJS.ProcessEnv): Promise<{ proc: ChildProcess; done: Promise<{ code: number | null; stderr: string }> }> {
  const proc = spawn(process.execPath, [CLI, 'record', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const done = new Promise<{ code: number | null; stderr: string }>((res) => proc.on('exit', (code) => res({ code, stderr })));
  await new Promise<void>((res, rej) => {
    proc.stderr!.on('data', (d) => {
      stderr += d;
      if (/tracing /.test(stderr)) res();
    });
    void done.then(() => rej(new Error(`record exited early:\n${stderr}`)));
  });
  return { proc, done };
}

/** A client that waits for a line on stdin, then POSTs the fixture's request and exits. */
function agent(cmd: string[], server: ReplayServer): ChildProcess {
  const body = JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Invent a new holiday' }] });
  const script = `process.stdin.once('data', () => { require('node:https').request('${server.url}/v1/chat/completions', `
    + `{ method: 'POST', ca: require('node:fs').readFileSync('${server.caPath}'), agent: false, headers: { 'content-type': 'application/json', 'x-replay-fixture': '${FIXTURE}' } }, `
    + `(r) => { r.resume(); r.on('end', () => process.exit(0)); }).end(${JSON.stringify(body)}); }); console.log('ready');`;
  const child = spawn(cmd[0], [...cmd.slice(1), '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  return child;
}

function ready(child: ChildProcess): Promise<void> {
  return new Promise((res, rej) => {
    child.stdout!.once('data', () => res());
    child.once('exit', (c) => rej(new Error(`agent exited early (${c})`)));
  });
}

describeCapture('zero-config targets: exec of a shebang script, record', () => {
  let infra: Infra;
  let server: ReplayServer;
  let work: string;

  beforeAll(async () => {
    infra = await startInfra();
    server = await startReplayServer();
    work = mkdtempSync(join(tmpdir(), 'agentsight-record-'));
    mkdirSync(join(work, 'app'));
    copyFileSync(process.execPath, join(work, 'app', 'agent-node'));
    execFileSync('chmod', ['+x', join(work, 'app', 'agent-node')]);
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    await infra?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function callsOf(pid: number): Promise<Row[]> {
    const calls: Row[] = JSON.parse((await runCli(['calls', '--json'], infra.env)).stdout);
    return calls.filter((c) => c.pid === pid);
  }

  test('exec -- <#!/usr/bin/env node script>: the node on PATH behind the shebang is hooked', async () => {
    const bin = join(work, 'bin');
    mkdirSync(bin, { recursive: true });
    copyFileSync(join(work, 'app', 'agent-node'), join(bin, 'node'));
    execFileSync('chmod', ['+x', join(bin, 'node')]);
    const body = JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: 'Invent a new holiday' }] });
    writeFileSync(join(bin, 'holiday-agent'), `#!/usr/bin/env node\n`
      + `require('node:https').request('${server.url}/v1/chat/completions', { method: 'POST', ca: require('node:fs').readFileSync('${server.caPath}'), agent: false, `
      + `headers: { 'content-type': 'application/json', 'x-replay-fixture': '${FIXTURE}' } }, (r) => { r.resume(); r.on('end', () => console.log('pid', process.pid)); }).end(${JSON.stringify(body)});\n`);
    execFileSync('chmod', ['+x', join(bin, 'holiday-agent')]);
    const out = await runCli(['exec', '--', 'holiday-agent'], { ...infra.env, PATH: `${bin}:${infra.env.PATH}` });
    expect(out.code).toBe(0);
    const pid = Number(/pid (\d+)/.exec(out.stdout)?.[1]);
    const calls = await callsOf(pid);
    expect(calls).toHaveLength(1);
    expect(calls[0].process_name).toBe('node');
    expect(calls[0]['gen_ai.response.id']).toBe(groundTruthFor(FIXTURE).response_id);
  }, 180_000);

  test('record -p <pid>: hooks the running process\' own binary, stops when it exits, the call is stored', async () => {
    const child = agent([join(work, 'app', 'agent-node')], server);
    await ready(child);
    const rec = await startRecord(['-p', String(child.pid)], infra.env);
    child.stdin!.write('go\n');
    const { code, stderr } = await rec.done;
    expect(code).toBe(0);
    expect(stderr).toMatch(new RegExp(`binaries: .*agent-node`));
    const calls = await callsOf(child.pid!);
    expect(calls).toHaveLength(1);
    expect(calls[0]['gen_ai.response.id']).toBe(groundTruthFor(FIXTURE).response_id);
    expect(calls[0]['gen_ai.usage.output_tokens']).toBe(groundTruthFor(FIXTURE).output_tokens);
  }, 180_000);

  test('record --binary-path docker://<id>: the agent in a container is found and captured', async () => {
    const v2 = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'].find((d) => existsSync(join(d, 'cgroup.procs')) && !existsSync(join(d, 'tasks')));
    const cgroup = v2 ? join(v2, `docker-${CONTAINER_ID}.scope`) : join('/sys/fs/cgroup/pids/docker', CONTAINER_ID);
    mkdirSync(cgroup, { recursive: true });
    const child = agent(['unshare', '-m', '--propagation', 'private', 'sh', '-c',
      `echo $$ > ${cgroup}/cgroup.procs && mount --bind ${join(work, 'app')} /mnt && exec /mnt/agent-node "$@"`, 'sh'], server);
    try {
      await ready(child);
      expect(existsSync('/mnt/agent-node')).toBe(false);
      const rec = await startRecord(['--binary-path', `docker://${CONTAINER_ID.slice(0, 12)}`], infra.env);
      child.stdin!.write('go\n');
      await new Promise((r) => child.once('exit', r));
      await new Promise((r) => setTimeout(r, 1000));
      rec.proc.kill('SIGINT');
      const { code, stderr } = await rec.done;
      expect(code).toBe(0);
      expect(stderr).toMatch(new RegExp(`container ${CONTAINER_ID.slice(0, 12)} .*/proc/${child.pid}/root/mnt/agent-node`));
      const calls = await callsOf(child.pid!);
      expect(calls).toHaveLength(1);
      expect(calls[0]['gen_ai.response.id']).toBe(groundTruthFor(FIXTURE).response_id);
    } finally {
      child.kill('SIGKILL');
      for (let i = 0; i < 100; i++) {
        try {
          rmdirSync(cgroup);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  }, 180_000);
});

