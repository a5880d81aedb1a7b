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

/** I/O of a fixture process: storage bytes read/written (null = `io` unreadable); inet bytes own and of exited children (null = not counted). */
interface Io {
  r: number | null;
  w: number | null;
  sent?: number | null;
  recv?: number | null;
  kidsSent?: number;
  kidsRecv?: number;
}

function proc(pid: number, ppid: number, cpuMs: number, rssMiB: number, comm = 'node', io: Io = { r: 0, w: 0 }): ProcResourceSample {
  return {
    pid, ppid, comm, start_ticks: 500 + pid, utime_ns: cpuMs * 1e6, stime_ns: 0, children_cpu_ns: 0, rss_bytes: rssMiB * MiB, rss_peak_bytes: rssMiB * MiB, threads: 1,
    read_bytes: io.r, write_bytes: io.w, rchar: 0, wchar: 0, fds: 3,
    net_sent_bytes: io.sent ?? null, net_recv_bytes: io.recv ?? null,
    children_net_sent_bytes: io.sent === undefined || io.sent === null ? null : io.kidsSent ?? 0, children_net_recv_bytes: io.recv === undefined || io.recv === null ? null : io.kidsRecv ?? 0,
  };
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
  // I/O: 4242's last sample has storage bytes for both processes but no network count for 5000 (the probe had not
  // listed it: the subtree's is null), so its network figures are those of its sample at 2; python3's `io` is
  // unreadable and it has no network count; the other boot's root carries bytes of exited children.
  await ins('resource_samples', [
    sample(1, [proc(4242, 1, 100, 50, 'node', { r: 1000, w: 10, sent: 100, recv: 200 })]),
    sample(2, [proc(4242, 1, 300, 50, 'node', { r: 1500, w: 20, sent: 150, recv: 250 }), proc(5000, 4242, 300, 100, 'node', { r: 4000, w: 400, sent: 1000, recv: 2000 })]),
    sample(3, [proc(4242, 1, 400, 60, 'node', { r: 1600, w: 30, sent: 160, recv: 260 }), proc(5000, 4242, 700, 200, 'node', { r: 4100, w: 400, sent: null, recv: null })]),
    sample(3, [proc(8888, 1, 10, 20, 'python3', { r: null, w: null })], 'b1', 4000),
    sample(-100, [proc(4242, 1, 2000, 10, 'node', { r: 7, w: 9, sent: 5, recv: 6, kidsSent: 10, kidsRecv: 20 })], 'b0'),
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
  const none = { disk_read_bytes: null, disk_write_bytes: null, net_sent_bytes: null, net_recv_bytes: null };
  expect(rows).toEqual([
    { host: 'devbox', agent: '', executable: 'python3', cpu_seconds: 0.01, roots: 1, live_roots: 1, live_rss_bytes: 20 * MiB, live_procs: 1, ...none },
    {
      host: 'devbox', agent: 'claude-code', executable: 'node', cpu_seconds: 1.1, roots: 1, live_roots: 1, live_rss_bytes: 260 * MiB, live_procs: 2,
      disk_read_bytes: 1600 + 4100, disk_write_bytes: 30 + 400, net_sent_bytes: 150 + 1000, net_recv_bytes: 250 + 2000,
    },
    { host: 'devbox', agent: 'codex', executable: 'node', cpu_seconds: 2, roots: 1, live_roots: 0, live_rss_bytes: 0, live_procs: 0, disk_read_bytes: 7, disk_write_bytes: 9, net_sent_bytes: 15, net_recv_bytes: 26 },
  ]);
});

test('a root whose last sample is older than its liveness bound counts for CPU only', async () => {
  // 5 s after: the 1 s root is gone (bound 4 s), the 4 s one not yet (bound 10 s).
  const rows = await agentResourceTotals(client, { nowNs: at(3) + 5n * S });
  expect(rows.map((r) => [r.agent, r.executable, r.live_roots, r.live_rss_bytes, r.cpu_seconds])).toEqual([
    ['', 'python3', 1, 20 * MiB, 0.01], ['claude-code', 'node', 0, 0, 1.1], ['codex', 'node', 0, 0, 2],
  ]);
});

test('I/O counters: roots of one group add up; a process with unreadable io counts 0, a root without any figure adds nothing', async () => {
  // Another boot's python3 root: one readable process and one not, counted on the network; it joins the python3 group
  // (no call names it either), whose other root has no figure at all.
  const tmpDb = 'agentsight_agent_res_io';
  await ensureSchema(client, tmpDb, { retentionDays: 3650 });
  try {
    await client.insert({
      table: `${tmpDb}.resource_samples`, format: 'JSONEachRow',
      values: [
        sample(3, [proc(8888, 1, 10, 20, 'python3', { r: null, w: null })], 'b1', 4000),
        sample(5, [proc(7000, 1, 10, 20, 'python3', { r: 300, w: 30, sent: 1, recv: 2 }), proc(7001, 7000, 10, 20, 'python3', { r: null, w: null, sent: 3, recv: 4, kidsSent: 5, kidsRecv: 6 })], 'b2'),
      ].flatMap(resourceSampleRows),
    });
    const [py] = await agentResourceTotals(client, { database: tmpDb, nowNs: at(5) });
    expect(py).toMatchObject({ executable: 'python3', roots: 2, disk_read_bytes: 300, disk_write_bytes: 30, net_sent_bytes: 1 + 3 + 5, net_recv_bytes: 2 + 4 + 6 });
  } finally {
    await client.command({ query: `DROP DATABASE IF EXISTS ${tmpDb}` });
  }
});

test('a store that cannot be read throws (the scrape then marks its section)', async () => {
  expect(await agentResourceTotals(client, { database: 'agentsight_none' }).catch((e: Error) => e.message)).toMatch(/agentsight_none|UNKNOWN_DATABASE|does not exist/i);
});
