/** `agentResourceTotals` on embedded chDB: per (host, agent name, executable) CPU of every stored root, RSS of the live ones. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resourceSampleId, type ProcResourceSample, type RawResourceSample } from '@agentsight/contracts';
import { genaiEvent, T0 } from '../test/fixtures';
import { agentResourceTotals, liveWithinNs } from './agent-resources';
import { openClickHouse, type ClickHouseClient } from './client';
import { resourceSampleRows } from './resources';
import { llmCallRow } from './rows';
import { ensureSchema } from './schema';

let tmp: string;
let client: ClickHouseClient;
const S = 1_000_000_000n;
const at = (s: number) => T0 + BigInt(s) * S;
const MiB = 1048576;

function proc(pid: number, ppid: number, cpuMs: number, rssMiB: number, comm = 'node'): ProcResourceSample {
  return { pid, ppid, comm, start_ticks: 500 + pid, utime_ns: cpuMs * 1e6, stime_ns: 0, children_cpu_ns: 0, rss_bytes: rssMiB * MiB, rss_peak_bytes: rssMiB * MiB, threads: 1, read_bytes: 0, write_bytes: 0, rchar: 0, wchar: 0, fds: 3 };
}

/** A sample at `s` seconds of root procs[0] on boot `boot`, taken `intervalMs` after the previous one. */
function sample(s: number, procs: ProcResourceSample[], boot = 'b1', intervalMs = 1000): RawResourceSample {
  const root = procs[0];
  const base = { host: 'devbox', boot_id: boot, root_pid: root.pid, root_start_ticks: root.start_ticks, ts_boot_ns: BigInt(s + 10_000) * S };
  return {
    v: 1, kind: 'resource_sample', id: resourceSampleId(base), ...base, root_comm: root.comm, ts_wall_ns: at(s), interval_ms: intervalMs, procs,
    tree: { procs: procs.length, cpu_ns: 0, rss_bytes: 0, threads: 0, read_bytes: 0, write_bytes: 0, fds: 0 }, cgroup: null, not_captured: [], sampler_cpu_ns: 0,
  };
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-agent-res-'));
  client = await openClickHouse({ dataDir: path.join(tmp, 'chdb'), ownerName: 'agent-resources.spec' });
  await ensureSchema(client, undefined, { retentionDays: 3650 });
  const ins = (table: string, values: unknown[]) => client.insert({ table: `agentsight.${table}`, values, format: 'JSONEachRow' });
  // Root 4242 (node) with its child 5000 (which made the named call); root 8888 (python3) made no call; root 4242 of
  // another boot (pid reused) made a call named otherwise; a call by 4242 an hour before its samples names nothing.
  await ins('resource_samples', [
    sample(1, [proc(4242, 1, 100, 50)]),
    sample(2, [proc(4242, 1, 300, 50), proc(5000, 4242, 300, 100)]),
    sample(3, [proc(4242, 1, 400, 60), proc(5000, 4242, 700, 200)]),
    sample(3, [proc(8888, 1, 10, 20, 'python3')], 'b1', 4000),
    sample(-100, [proc(4242, 1, 2000, 10)], 'b0'),
  ].flatMap(resourceSampleRows));
  await ins('llm_calls', [
    llmCallRow(genaiEvent({ id: 'g1', llm_call_id: 'c1', pid: 5000, start_ns: at(2), end_ns: at(3), attrs: { 'gen_ai.agent.name': 'claude-code' } })),
    llmCallRow(genaiEvent({ id: 'g2', llm_call_id: 'c2', pid: 4242, start_ns: at(-3600), end_ns: at(-3599), attrs: { 'gen_ai.agent.name': 'stale' } })),
    llmCallRow(genaiEvent({ id: 'g3', llm_call_id: 'c3', pid: 4242, start_ns: at(-100), end_ns: at(-99), attrs: { 'gen_ai.agent.name': 'codex' } })),
  ]);
});
afterAll(async () => {
  await client?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('liveness bound: twice the last interval (at least 1 s) plus 2 s', () => {
  expect(liveWithinNs(1000)).toBe(4n * S);
  expect(liveWithinNs(8000)).toBe(18n * S);
  expect(liveWithinNs(0)).toBe(4n * S);
});

test('CPU of every root at its last sample by agent name (calls of its tree in its span); RSS and processes of the live ones', async () => {
  const rows = await agentResourceTotals(client, { nowNs: at(3) + 3n * S });
  expect(rows).toEqual([
    { host: 'devbox', agent: '', executable: 'python3', cpu_seconds: 0.01, roots: 1, live_roots: 1, live_rss_bytes: 20 * MiB, live_procs: 1 },
    { host: 'devbox', agent: 'claude-code', executable: 'node', cpu_seconds: 1.1, roots: 1, live_roots: 1, live_rss_bytes: 260 * MiB, live_procs: 2 },
    { host: 'devbox', agent: 'codex', executable: 'node', cpu_seconds: 2, roots: 1, live_roots: 0, live_rss_bytes: 0, live_procs: 0 },
  ]);
});

test('a root whose last sample is older than its liveness bound counts for CPU only', async () => {
  // 5 s after: the 1 s root is gone (bound 4 s), the 4 s one not yet (bound 10 s).
  const rows = await agentResourceTotals(client, { nowNs: at(3) + 5n * S });
  expect(rows.map((r) => [r.agent, r.executable, r.live_roots, r.live_rss_bytes, r.cpu_seconds])).toEqual([
    ['', 'python3', 1, 20 * MiB, 0.01], ['claude-code', 'node', 0, 0, 1.1], ['codex', 'node', 0, 0, 2],
  ]);
});

test('a store that cannot be read throws (the scrape then marks its section)', async () => {
  expect(await agentResourceTotals(client, { database: 'agentsight_none' }).catch((e: Error) => e.message)).toMatch(/agentsight_none|UNKNOWN_DATABASE|does not exist/i);
});
