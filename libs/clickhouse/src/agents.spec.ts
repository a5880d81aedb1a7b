/** `agentActivity` on embedded chDB: per agent process, its calls, tools, tree's actions and samples since a time. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resourceSampleId, type RawResourceSample } from '@agentsight/contracts';
import { agentEvent, audit, genaiEvent, T0, toolUse } from '../test/fixtures';
import { agentActivity, descendantPids } from './agents';
import { openClickHouse, type ClickHouseClient } from './client';
import { resourceSampleRows } from './resources';
import { auditRow, genAiSpanRow, llmCallRow, toolUseRow } from './rows';
import { ensureSchema } from './schema';

let tmp: string;
let client: ClickHouseClient;
const S = 1_000_000_000n;
const at = (s: number) => T0 + BigInt(s) * S;

function sample(pid: number, s: number, cpuMs: number, rssMiB: number, startTicks = 500): RawResourceSample {
  const base = { host: 'devbox', boot_id: 'b1', root_pid: pid, root_start_ticks: startTicks, ts_boot_ns: BigInt(s) * S };
  const proc = { pid, ppid: 1, comm: 'node', start_ticks: startTicks, utime_ns: cpuMs * 1e6, stime_ns: 0, children_cpu_ns: 0, rss_bytes: rssMiB * 1048576, rss_peak_bytes: rssMiB * 1048576, threads: 1, read_bytes: 0, write_bytes: 0, rchar: 0, wchar: 0, fds: 3 };
  return {
    v: 1, kind: 'resource_sample', id: resourceSampleId(base), ...base, root_comm: 'node', ts_wall_ns: at(s), interval_ms: 1000, procs: [proc],
    tree: { procs: 1, cpu_ns: proc.utime_ns, rss_bytes: proc.rss_bytes, threads: 1, read_bytes: 0, write_bytes: 0, fds: 3 }, cgroup: null, not_captured: [], sampler_cpu_ns: 0,
  };
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-agents-'));
  client = await openClickHouse({ dataDir: path.join(tmp, 'chdb'), ownerName: 'agents.spec' });
  await ensureSchema(client, undefined, { retentionDays: 3650 });
  const ins = (table: string, values: unknown[]) => client.insert({ table: `agentsight.${table}`, values, format: 'JSONEachRow' });
  // Agent 4242: two calls (one priced, one failed and unpriced), a failed tool use and a pending one; its tree:
  // child 5000 (exec, 2 opens, one failed; exits 1), grandchild 5001 (exec, connect ok, connect refused). 6000 is not its.
  await ins('llm_calls', [
    llmCallRow(genaiEvent({ id: 'g1', llm_call_id: 'c1', start_ns: at(1), end_ns: at(2), cost_usd: 0.5 })),
    llmCallRow(genaiEvent({ id: 'g2', llm_call_id: 'c2', start_ns: at(10), end_ns: at(11), attrs: { 'gen_ai.response.model': 'gpt-4.1-later', 'error.type': 'rate_limit', 'gen_ai.usage.input_tokens': 7, 'gen_ai.usage.output_tokens': 3 } })),
    llmCallRow(genaiEvent({ id: 'g9', llm_call_id: 'c9', pid: 7777, start_ns: at(-3600), end_ns: at(-3599) })),
  ]);
  await ins('tool_uses', [
    toolUseRow(toolUse({ id: 't1', success: false, start_ns: at(2), end_ns: at(5) })),
    toolUseRow(toolUse({ id: 't2', name: 'Compile', result: null, success: null, start_ns: at(11), end_ns: null })),
  ]);
  await ins('genai_spans', [genAiSpanRow(agentEvent({ start_ns: at(1), end_ns: at(11) }))]);
  const ev = (id: string, over: Parameters<typeof audit>[0]) => auditRow(audit({ id, ...over }));
  await ins('audit_events', [
    ev('a0', { pid: 4242, ppid: 1, ts_ns: at(0) }),
    ev('a1', { pid: 5000, ppid: 4242, ts_ns: at(3) }),
    ev('a2', { type: 'file', action: 'open', pid: 5000, ppid: 4242, ts_ns: at(3), details: { path: '/etc/hosts', result: 3 } }),
    ev('a3', { type: 'file', action: 'open', pid: 5000, ppid: 4242, ts_ns: at(3), details: { path: '/nope', result: -2, errno: 'ENOENT' } }),
    ev('a4', { pid: 5001, ppid: 5000, ts_ns: at(4) }),
    ev('a5', { type: 'net', action: 'connect', pid: 5001, ppid: 5000, ts_ns: at(4), details: { target: '127.0.0.1:80', result: -115, errno: 'EINPROGRESS' } }),
    ev('a6', { type: 'net', action: 'connect', pid: 5001, ppid: 5000, ts_ns: at(4), details: { target: '127.0.0.1:81', result: -111, errno: 'ECONNREFUSED' } }),
    ev('a7', { action: 'exit', pid: 5000, ppid: 4242, ts_ns: at(5), details: { event: 'exit', exit_code: 1 } }),
    ev('a8', { pid: 6000, ppid: 1, ts_ns: at(4) }),
    ev('a9', { type: 'file', action: 'open', pid: 6000, ppid: 1, ts_ns: at(4), details: { path: '/x', result: 3 } }),
  ]);
  // 4242 sampled three times; 8888 is a traced root that made no call yet.
  await ins('resource_samples', [sample(4242, 1, 100, 50), sample(4242, 2, 600, 300), sample(4242, 3, 1100, 80), sample(8888, 3, 10, 20)].flatMap(resourceSampleRows));
});
afterAll(async () => {
  await client?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('descendantPids: the root and everything whose parent is in the tree, whatever the order of the edges', () => {
  expect([...descendantPids(1, [{ pid: 3, ppid: 2 }, { pid: 2, ppid: 1 }, { pid: 9, ppid: 8 }])].sort()).toEqual([1, 2, 3]);
  expect([...descendantPids(5, [{ pid: 6, ppid: 7 }, { pid: 7, ppid: 6 }])]).toEqual([5]);
});

test('one row per agent process with its calls, tools, tree counts and last two samples', async () => {
  const rows = await agentActivity(client, { since: new Date(Number(at(0) / 1_000_000n)).toISOString() });
  expect(rows.map((r) => r.pid)).toEqual([4242, 8888]);
  const a = rows[0];
  expect(a).toMatchObject({
    host: 'devbox', agent_name: 'claude-code', process_name: 'node', model: 'gpt-4.1-later',
    llm_calls: 2, llm_errors: 1, input_tokens: 127, output_tokens: 33, cost_usd: 0.5, unpriced_calls: 1,
    tool_uses: 2, tool_failures: 1, pending_tool: 'Compile',
    execs: 2, failed_exits: 1, files: 2, failed_files: 1, connections: 2, failed_connections: 1, exited: false,
    failures: 1 + 1 + 1, peak_rss_bytes: 300 * 1048576,
  });
  expect(a.last_sample).toEqual({ ts_ns: at(3).toString(), boot_id: 'b1', start_ticks: 500, cpu_ns: 1100e6, rss_bytes: 80 * 1048576, procs: 1, net_sent_bytes: null, net_recv_bytes: null }); // v1 samples: network not counted
  expect(a.prev_sample).toMatchObject({ ts_ns: at(2).toString(), cpu_ns: 600e6 });
  expect(a.first_seen).toBe(new Date(Number(at(1) / 1_000_000n)).toISOString());
  expect(rows[1]).toMatchObject({ pid: 8888, agent_name: null, process_name: 'node', llm_calls: 0, cost_usd: null, prev_sample: null, execs: 0, files: 0 });
});

test('since cuts older activity; pids narrows; an exit of the agent itself marks it exited', async () => {
  expect((await agentActivity(client, { since: new Date(Number(at(-7200) / 1_000_000n)).toISOString() })).map((r) => r.pid)).toContain(7777);
  expect((await agentActivity(client, { since: new Date(Number(at(0) / 1_000_000n)).toISOString(), pids: [8888] })).map((r) => r.pid)).toEqual([8888]);
  await client.insert({ table: 'agentsight.audit_events', values: [auditRow(audit({ id: 'ax', action: 'exit', pid: 4242, ts_ns: at(12), details: { event: 'exit', exit_code: 0 } }))], format: 'JSONEachRow' });
  const [a] = await agentActivity(client, { since: new Date(Number(at(0) / 1_000_000n)).toISOString(), pids: [4242] });
  expect(a.exited).toBe(true);
  expect(a.failed_exits).toBe(1);
});
