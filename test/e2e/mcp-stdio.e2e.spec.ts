/**
 * Real capture of MCP over stdio: the probe traces a real MCP client (MCP TypeScript SDK `Client`) that spawns a
 * real MCP stdio server (`McpServer` + `StdioServerTransport`, tool `echo`) and calls `tools/call`; the raw stdio
 * records must hold the JSON-RPC bytes, and the built parser (on a private NATS + Redis) must publish the ToolUse
 * exactly once, also after its inputs are redelivered (kill -9, consumers reset; with and without its Redis state).
 * A second run wires client and server through FIFOs so both ends' stdio are captured: still one ToolUse per call.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { decode, deriveId, RawProcRecord, RawRecord, RawStdioRecord, ToolUse } from '@agentsight/contracts';
import { connectNats, Nats } from '@agentsight/jetstream';
import { DeliverPolicy } from '@nats-io/jetstream';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { describeCapture, Infra, PROBE, ROOT, Stages, startInfra } from './harness';

const HOST = 'e2e-host';

async function waitStopped(pid: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`process ${pid} did not stop`);
}

/** Runs `sh -c script` (started stopped) under the probe; resolves once both exited. */
async function traced(infra: Infra, script: string, cwd: string): Promise<{ pid: number; code: number | null; stdout: string; stderr: string; stopped: Record<string, number> }> {
  const sh = spawn('sh', ['-c', `kill -STOP $$; ${script}`], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  sh.stdout!.on('data', (d) => (stdout += d));
  sh.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<number | null>((r) => sh.on('exit', (c) => r(c)));
  await waitStopped(sh.pid!);
  const probe: ChildProcess = spawn(PROBE, ['--pid', String(sh.pid), '--host', HOST, '--nats-url', infra.natsUrl, '--stats-interval-ms', '1000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let pout = '';
  let perr = '';
  probe.stdout!.on('data', (d) => (pout += d));
  probe.stderr!.on('data', (d) => (perr += d));
  const line = async (event: string) => {
    for (let i = 0; i < 1200; i++) {
      const l = pout.split('\n').filter(Boolean).map((x) => JSON.parse(x)).find((x) => x.event === event);
      if (l) return l;
      if (probe.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no ${event} line from the probe; stderr:\n${perr}`);
  };
  expect(await line('ready')).toMatchObject({ stdio_events: true });
  process.kill(sh.pid!, 'SIGCONT');
  const timer = setTimeout(() => sh.kill('SIGKILL'), 60_000);
  const code = await done;
  clearTimeout(timer);
  probe.kill('SIGINT');
  const stopped = await line('stopped');
  await new Promise((r) => (probe.exitCode !== null ? r(null) : probe.on('exit', r)));
  return { pid: sh.pid!, code, stdout, stderr, stopped };
}

/** Every message of `stream` whose subject matches `filter`, decoded. */
async function readAll<T>(nats: Nats, stream: string, filter: string): Promise<Array<{ subject: string; msgId: string; value: T }>> {
  const info = await nats.jsm.streams.info(stream);
  const out: Array<{ subject: string; msgId: string; value: T }> = [];
  if (!info.state.messages) return out;
  const c = await nats.js.consumers.get(stream, { filter_subjects: filter, deliver_policy: DeliverPolicy.All });
  for (;;) {
    const batch = await c.fetch({ max_messages: 1000, expires: 1000 });
    let n = 0;
    for await (const m of batch) {
      n++;
      out.push({ subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') ?? '', value: decode<T>(m.data) });
    }
    if (n === 0) break;
  }
  await c.delete().catch(() => undefined);
  return out;
}

/** Reassembles each (pid, fd, dir) stream of `recs`, checking that stream offsets are contiguous. */
function streams(recs: RawStdioRecord[]): Map<string, { rec: RawStdioRecord; bytes: Buffer }> {
  const by = new Map<string, RawStdioRecord[]>();
  for (const r of recs) {
    const k = `${r.pid}/${r.fd}/${r.dir}`;
    if (!by.has(k)) by.set(k, []);
    by.get(k)!.push(r);
  }
  const out = new Map<string, { rec: RawStdioRecord; bytes: Buffer }>();
  for (const [k, list] of by) {
    list.sort((a, b) => a.stream_offset - b.stream_offset);
    let next = 0;
    for (const r of list) {
      expect({ k, off: r.stream_offset }).toEqual({ k, off: next });
      expect(r.frag_offset + r.data.length).toBeLessThanOrEqual(r.frag_total);
      next += r.data.length;
    }
    out.set(k, { rec: list[0], bytes: Buffer.concat(list.map((r) => Buffer.from(r.data))) });
  }
  return out;
}

async function toolUses(nats: Nats): Promise<Array<{ msgId: string; value: ToolUse }>> {
  return readAll<ToolUse>(nats, 'AGENTSIGHT_TOOL', 'agentsight.tool.>');
}

/** Waits until the tool stream holds `n` messages (then a little longer: no more may come). */
async function waitTools(nats: Nats, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && (await nats.jsm.streams.info('AGENTSIGHT_TOOL')).state.messages < n) await new Promise((r) => setTimeout(r, 200));
}

describeCapture('MCP over stdio: capture, JSON-RPC framing, ToolUse', () => {
  let infra: Infra;
  let stages: Stages;
  let nats: Nats;
  const dir = fs.mkdtempSync(join(os.tmpdir(), 'agentsight-mcp-'));
  const mark = `mark-${randomUUID()}`;
  let run: Awaited<ReturnType<typeof traced>>;
  let stdio: RawStdioRecord[];

  beforeAll(async () => {
    infra = await startInfra();
    stages = new Stages(infra.env);
    await stages.start('parser');
    nats = await connectNats(infra.natsUrl, 'mcp-stdio-spec');
    run = await traced(infra, `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(ROOT, 'test/e2e/mcp-client.js'))} ${mark}`, dir);
    const raw = await readAll<RawRecord>(nats, 'AGENTSIGHT_RAW', 'agentsight.raw.>');
    expect(raw.length).toBe(run.stopped.last_seq + 1);
    stdio = raw.map((m) => m.value).filter((r): r is RawStdioRecord => r.kind === 'stdio');
  }, 180_000);

  afterAll(async () => {
    await nats?.nc.close();
    await stages?.stopAll();
    await infra?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs the client and server to success without losing records', () => {
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout).echo.content[0].text).toBe(`echo: ${mark}`);
    expect(run.stopped).toMatchObject({ lost_records: 0, ringbuf_drops: 0, publish_failures: 0 });
  });

  let server: { stdin: Buffer; stdout: Buffer; rec: RawStdioRecord };
  let request: { id: number | string; line: string };

  it('captures the JSON-RPC bytes the server read on stdin and wrote on stdout, contiguous per stream', () => {
    const s = streams(stdio);
    const reqStream = [...s.values()].find((x) => x.rec.fd === 0 && x.rec.dir === 'read' && x.bytes.includes('"method":"tools/call"'));
    expect(reqStream).toBeDefined();
    const pid = reqStream!.rec.pid;
    const out = s.get(`${pid}/1/write`)!;
    server = { stdin: reqStream!.bytes, stdout: out.bytes, rec: reqStream!.rec };
    expect(server.rec).toMatchObject({ ppid: run.pid, comm: 'node', ftype: 'sock', partition: pid % 8 });
    expect(server.rec.ino).toBeGreaterThan(0);
    const lines = server.stdin.toString().split('\n').filter(Boolean);
    for (const l of lines) expect(JSON.parse(l).jsonrpc).toBe('2.0'); // only newline-delimited JSON-RPC on stdin
    const callLine = lines.find((l) => l.includes('"tools/call"') && l.includes(mark))!;
    request = { id: JSON.parse(callLine).id, line: callLine };
    expect(JSON.parse(callLine).params).toEqual({ name: 'echo', arguments: { text: mark, api_key: 'sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123' } });
    const responses = server.stdout.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(responses.find((m) => m.id === request.id)).toEqual({ jsonrpc: '2.0', id: request.id, result: { content: [{ type: 'text', text: `echo: ${mark}` }] } });
    // The client's own stdout (a JSON line that is not JSON-RPC) is captured too.
    expect(s.get(`${run.pid}/1/write`)!.bytes.toString()).toContain(`echo: ${mark}`);
  });

  const expectOnce = async () => {
    await waitTools(nats, 4);
    await waitDrained(infra.env);
    const got = await toolUses(nats);
    expect(got).toHaveLength(4); // echo and fail, v1 + v3 each
    const id = deriveId('tool', 'mcp', HOST, server.rec.boot_id, `${server.rec.dev}:${server.rec.ino}`, JSON.stringify(request.id));
    const echo = got.filter((g) => g.value.id === id).sort((a, b) => a.value.version - b.value.version);
    // Nats-Msg-Id by versionedMsgId (as the analyzer's tool uses): <id>:v<version>:<8 hex of the content's hash>.
    expect(echo.map((g) => g.msgId)).toEqual([expect.stringMatching(new RegExp(`^${id}:v1:[0-9a-f]{8}$`)), expect.stringMatching(new RegExp(`^${id}:v3:[0-9a-f]{8}$`))]);
    const [v1, v2] = echo.map((g) => g.value);
    const common = { v: 1, id, source: 'mcp', host: HOST, pid: run.pid, comm: '', conversation_id: null, name: 'echo', call_id: String(request.id),
      tool_type: 'extension', arguments: JSON.stringify({ text: mark, api_key: '[REDACTED]' }), origin_llm_call_id: null, result_llm_call_id: null };
    expect(v1).toMatchObject({ ...common, version: 1, result: null, success: null, end_ns: null });
    expect(v2).toMatchObject({ ...common, version: 3, result: JSON.stringify({ content: [{ type: 'text', text: `echo: ${mark}` }] }), success: true });
    expect(v1.start_ns).toBe(v2.start_ns);
    expect(BigInt(v2.end_ns!)).toBeGreaterThanOrEqual(BigInt(v2.start_ns!));
    const fail = got.filter((g) => g.value.id !== id).map((g) => g.value).sort((a, b) => a.version - b.version);
    expect(fail.map((t) => [t.name, t.version, t.success, t.result])).toEqual([
      ['fail', 1, null, null], ['fail', 3, false, JSON.stringify({ content: [{ type: 'text', text: 'failed on purpose' }], isError: true })],
    ]);
    expect((await nats.jsm.streams.info('AGENTSIGHT_DLQ')).state.messages).toBe(0);
  };

  it('publishes each tools/call as one ToolUse (v1 at the request, v3 at the response), redacted, deterministic id', async () => {
    await expectOnce();
    const redis = (await import('ioredis')).default;
    const r = new redis(infra.env.REDIS_URL!);
    try {
      const stats = await r.hgetall(`agentsight:stdio:stats:${HOST}/${server.rec.boot_id}/${server.rec.run}/${run.pid}/fd1`);
      expect(Number(stats['write:skipped_lines'])).toBe(1); // the client's result line: JSON, not JSON-RPC
    } finally {
      r.disconnect();
    }
  }, 120_000);

  const redeliver = async (wipeState: boolean) => {
    await stages.kill9('parser');
    for (let p = 0; p < 8; p++) await nats.jsm.consumers.delete('AGENTSIGHT_RAW', `parser-stdio-p${p}`).catch(() => undefined);
    const redis = (await import('ioredis')).default;
    const r = new redis(infra.env.REDIS_URL!);
    try {
      await r.eval("for _, k in ipairs(redis.call('KEYS', 'agentsight:lease:*')) do redis.call('DEL', k) end return 0", 0);
      if (wipeState) await r.eval("for _, p in ipairs({'agentsight:stdio:*', 'agentsight:mcp:*'}) do for _, k in ipairs(redis.call('KEYS', p)) do redis.call('DEL', k) end end return 0", 0);
    } finally {
      r.disconnect();
    }
    await stages.start('parser');
  };

  it('after kill -9 and a full redelivery of the stdio records: still exactly once (Redis positions skip them)', async () => {
    await redeliver(false);
    await expectOnce();
  }, 120_000);

  it('after a full redelivery with the Redis state wiped: republished with the same ids, deduplicated', async () => {
    await redeliver(true);
    await expectOnce();
  }, 120_000);

  it('both ends on stdio (FIFOs): the client and the server each see every call, one ToolUse per call', async () => {
    const mark2 = `${mark}-fifo`;
    const before = (await toolUses(nats)).length;
    const r2 = await traced(infra, `mkfifo a b; ${JSON.stringify(process.execPath)} ${JSON.stringify(join(ROOT, 'test/e2e/mcp-echo-server.js'))} < a > b &
      exec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(ROOT, 'test/e2e/mcp-client.js'))} ${mark2} stdio > a < b`, dir);
    expect(r2.code).toBe(0);
    expect(JSON.parse(r2.stderr).echo.content[0].text).toBe(`echo: ${mark2}`);
    const all = (await readAll<RawRecord>(nats, 'AGENTSIGHT_RAW', 'agentsight.raw.>')).map((m) => m.value);
    const lastRun = Math.max(...all.map((x) => x.run)); // this second probe run
    const raw = all.filter((x) => x.run === lastRun);
    const procs = raw.filter((x): x is RawProcRecord => x.kind === 'proc');
    const recs = raw.filter((x): x is RawStdioRecord => x.kind === 'stdio' && x.fd < 2);
    const calls = recs.filter((x) => Buffer.from(x.data).includes(`"tools/call"`));
    expect(new Set(calls.map((x) => `${x.pid}/${x.fd}/${x.dir}`)).size).toBe(2); // client writes, server reads
    expect(new Set(calls.map((x) => `${x.ftype}:${x.dev}:${x.ino}`)).size).toBe(1); // the same FIFO
    expect(procs.length).toBeGreaterThan(0);
    await waitTools(nats, before + 4);
    await waitDrained(infra.env);
    const got = (await toolUses(nats)).slice(before).map((g) => g.value);
    expect(got.map((t) => [t.name, t.version]).sort()).toEqual([['echo', 1], ['echo', 3], ['fail', 1], ['fail', 3]]);
    const echo = got.find((t) => t.name === 'echo' && t.version === 3)!;
    expect(JSON.parse(echo.arguments)).toEqual({ text: mark2, api_key: '[REDACTED]' });
    expect(echo.success).toBe(true);
    expect((await nats.jsm.streams.info('AGENTSIGHT_DLQ')).state.messages).toBe(0);
  }, 180_000);
});
