/** `resource_samples` on embedded chDB: rows with subtree totals, idempotent writes, and attribution to windows. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resourceSampleId, type ProcResourceSample, type RawResourceSample } from '@agentsight/contracts';
import { openClickHouse, type ClickHouseClient } from './client';
import { RESOURCE_SAMPLES_NET_COLUMNS, resourceSampleRows, resourceSeries, resourceUsage, windowUsage, withResources, type SubtreePoint } from './resources';
import { ensureSchema } from './schema';
import { BatchWriter } from './writer';

let tmp: string;
let client: ClickHouseClient;
const T0 = BigInt(Date.now() - 3_600_000) * 1_000_000n;
const S = 1_000_000_000n;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-res-'));
  client = await openClickHouse({ dataDir: path.join(tmp, 'chdb'), ownerName: 'resources.spec' });
  await ensureSchema(client);
});
afterAll(async () => {
  await client?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function proc(pid: number, ppid: number, cpuMs: number, rssMiB: number, extra: Partial<ProcResourceSample> = {}): ProcResourceSample {
  return {
    pid, ppid, comm: `p${pid}`, start_ticks: 1000 + pid, utime_ns: cpuMs * 1e6, stime_ns: 0, children_cpu_ns: 0,
    rss_bytes: rssMiB * 1048576, rss_peak_bytes: rssMiB * 1048576, threads: 1, read_bytes: 0, write_bytes: 0, rchar: 0, wchar: 0, fds: 3, ...extra,
  };
}

/** A sample of root 100 at T0 + `s` seconds with the given processes. */
function sample(s: number, procs: ProcResourceSample[]): RawResourceSample {
  const base = { host: 'h1', boot_id: 'b1', root_pid: 100, root_start_ticks: 1100, ts_boot_ns: BigInt(s) * S };
  return {
    v: 1, kind: 'resource_sample', id: resourceSampleId(base), ...base, root_comm: 'p100', ts_wall_ns: T0 + BigInt(s) * S, interval_ms: 1000,
    procs, tree: { procs: 0, cpu_ns: 0, rss_bytes: 0, threads: 0, read_bytes: 0, write_bytes: 0, fds: 0 }, cgroup: null,
    not_captured: ['net_bytes: not implemented'], sampler_cpu_ns: 1000,
  };
}

async function store(samples: RawResourceSample[]): Promise<void> {
  const w = new BatchWriter(client);
  await Promise.all(samples.flatMap((s) => resourceSampleRows(s).map((r) => new Promise<void>((res, rej) => w.add('resource_samples', r, res, rej)))));
  await w.close();
}

// Agent 100 (sh-like root) → agent node 101; tool child 102 (started at 2 s, exits after 4 s: reaped by 101).
const SAMPLES = [
  sample(0, [proc(100, 1, 0, 2), proc(101, 100, 100, 50)]),
  sample(1, [proc(100, 1, 0, 2), proc(101, 100, 200, 50)]),
  sample(2, [proc(100, 1, 0, 2), proc(101, 100, 250, 50), proc(102, 101, 300, 100)]),
  sample(3, [proc(100, 1, 0, 2), proc(101, 100, 260, 50), proc(102, 101, 1300, 300)]),
  sample(4, [proc(100, 1, 0, 2), proc(101, 100, 270, 50, { children_cpu_ns: 1400e6 })]),
  sample(5, [proc(100, 1, 0, 2), proc(101, 100, 400, 50, { children_cpu_ns: 1400e6 })]),
];

test('rows carry each process with its subtree totals; the root subtree is the whole tree', () => {
  const rows = resourceSampleRows(SAMPLES[3]);
  expect(rows.map((r) => [r.pid, r.subtree_procs, r.subtree_cpu_ns, r.subtree_rss_bytes])).toEqual([
    [100, 3, 1560e6, 352 * 1048576],
    [101, 2, 1560e6, 350 * 1048576],
    [102, 1, 1300e6, 300 * 1048576],
  ]);
  expect(rows[0].ts).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}$/);
  expect(() => resourceSampleRows({ kind: 'other' } as unknown as RawResourceSample)).toThrow(/not a resource sample/);
});

test('windows: CPU between the bracketing samples, peak RSS among them; nulls and partial figures say why', () => {
  const pts: SubtreePoint[] = SAMPLES.map((s) => {
    const r = resourceSampleRows(s).find((x) => x.pid === 101)!;
    return { ts_ns: T0 + s.ts_boot_ns, start_ticks: r.start_ticks, cpu_ns: r.subtree_cpu_ns, rss_bytes: r.subtree_rss_bytes };
  });
  // Tool from 1.5 s to 4.5 s: samples at 1 s and 5 s bracket it.
  const u = windowUsage(pts, T0 + 1500_000_000n, T0 + 4500_000_000n);
  // v1 samples: no network figures, so none over the window (null, not 0).
  expect(u).toEqual({ cpu_s: (1800 - 200) / 1000, peak_rss_bytes: 350 * 1048576, net_sent_bytes: null, net_recv_bytes: null, samples: 5, resources_note: null });
  // Ends after the last sample: partial, said.
  const p = windowUsage(pts, T0 + 1500_000_000n, T0 + 9n * S);
  expect(p.cpu_s).toBeCloseTo(1.6);
  expect(p.resources_note).toMatch(/^partial/);
  expect(windowUsage([], T0, T0 + S)).toMatchObject({ cpu_s: null, peak_rss_bytes: null, resources_note: expect.stringMatching(/no resource samples/) });
  expect(windowUsage(pts, null, T0).resources_note).toMatch(/no start/);
  // A later process with the same pid (other start ticks) is never mixed in.
  const reused = [...pts, { ts_ns: T0 + 6n * S, start_ticks: 9999, cpu_ns: 0, rss_bytes: 1 }];
  expect(windowUsage(reused, T0 + 1500_000_000n, T0 + 7n * S).cpu_s).toBeCloseTo(1.6);
});

test('stored twice, read once; windows attributed from the store, for entries with ns or ISO times', async () => {
  await store(SAMPLES);
  await store(SAMPLES);
  const rs = await client.query({ query: 'SELECT count() AS n FROM agentsight.resource_samples FINAL', format: 'JSONEachRow' });
  expect(Number(((await rs.json()) as Array<{ n: string }>)[0].n)).toBe(SAMPLES.reduce((a, s) => a + s.procs.length, 0));
  const [tool, session, other, unknown] = await resourceUsage(client, [
    { host: 'h1', pid: 101, start_ns: String(T0 + 1500_000_000n), end_ns: String(T0 + 4500_000_000n) },
    { host: 'h1', pid: 100, start_time: new Date(Number(T0 / 1_000_000n)).toISOString(), end_time: new Date(Number((T0 + 5n * S) / 1_000_000n)).toISOString() },
    { host: 'h2', pid: 101, start_ns: String(T0), end_ns: String(T0 + S) },
    { host: 'h1', pid: 101, start_ns: null, end_ns: null },
  ]);
  expect(tool).toEqual({ cpu_s: 1.6, peak_rss_bytes: 350 * 1048576, net_sent_bytes: null, net_recv_bytes: null, samples: 5, resources_note: null });
  expect(session.cpu_s).toBeCloseTo(1.7);
  expect(session.peak_rss_bytes).toBe(352 * 1048576);
  expect(other.cpu_s).toBeNull();
  expect(other.resources_note).toMatch(/no resource samples/);
  expect(unknown.resources_note).toMatch(/no start/);
  const [withCols] = await withResources(client, [{ host: 'h1', pid: 101, start_ns: String(T0 + 1500_000_000n), end_ns: String(T0 + 4500_000_000n), name: 'bash' }]);
  expect(withCols).toMatchObject({ name: 'bash', cpu_s: 1.6, peak_rss_bytes: 350 * 1048576, resources_note: null });
  expect(await withResources(client, [])).toEqual([]);
});

test("resourceSeries: a process' subtree as chart points, CPU % between consecutive samples, one identity", async () => {
  await store(SAMPLES);
  const pts = await resourceSeries(client, { host: 'h1', pid: 100, fromNs: T0, toNs: T0 + 5n * S });
  expect(pts.map((p) => p.cpu_pct)).toEqual([null, 10, 35, 101, 11, 13]);
  expect(pts[0]).toEqual({ ts: new Date(Number(T0 / 1_000_000n)).toISOString(), ts_ns: T0.toString(), cpu_pct: null, rss_bytes: 52 * 1048576, procs: 2 });
  expect(pts[3]).toMatchObject({ rss_bytes: 352 * 1048576, procs: 3 });
  expect(await resourceSeries(client, { host: 'h1', pid: 100, fromNs: T0 + 2n * S, toNs: T0 + 3n * S })).toHaveLength(2);
  expect(await resourceSeries(client, { host: 'h2', pid: 100, fromNs: T0, toNs: T0 + 5n * S })).toEqual([]);
});

// Network bytes (contract v2): root 100 → agent 101 → tool 102, which exits after the sample at 1 s (its last count
// handed to 101 as children's bytes by the sampler), on a host of its own.
const netSample = (at: number, procs: ProcResourceSample[]): RawResourceSample => {
  const x = { ...sample(at, procs), host: 'hn', v: 2 as const, net_age_ms: 120, net_since_ticks: 1000 };
  return { ...x, id: resourceSampleId(x) };
};
const net = (sent: number | null, recv: number | null, kidsSent: number | null = 0, kidsRecv: number | null = 0): Partial<ProcResourceSample> =>
  ({ net_sent_bytes: sent, net_recv_bytes: recv, children_net_sent_bytes: kidsSent, children_net_recv_bytes: kidsRecv });
const NET_SAMPLES = [
  netSample(0, [proc(100, 1, 0, 2, net(0, 0)), proc(101, 100, 100, 50, net(1000, 2000))]),
  netSample(1, [proc(100, 1, 0, 2, net(0, 0)), proc(101, 100, 200, 50, net(1500, 2500)), proc(102, 101, 300, 100, net(300, 40_000))]),
  netSample(2, [proc(100, 1, 0, 2, net(0, 0)), proc(101, 100, 300, 50, net(1600, 2600, 700, 50_000))]),
];

test('network bytes: each row its own and its exited children\'s, the subtree sums both; not counted stays null up the tree', () => {
  const rows = resourceSampleRows(NET_SAMPLES[1]);
  expect(rows.map((r) => [r.pid, r.net_sent_bytes, r.net_recv_bytes, r.subtree_net_sent_bytes, r.subtree_net_recv_bytes, r.net_age_ms])).toEqual([
    [100, 0, 0, 1800, 42_500, 120],
    [101, 1500, 2500, 1800, 42_500, 120],
    [102, 300, 40_000, 300, 40_000, 120],
  ]);
  expect(resourceSampleRows(NET_SAMPLES[2]).map((r) => [r.pid, r.children_net_sent_bytes, r.subtree_net_sent_bytes, r.subtree_net_recv_bytes])).toEqual([
    [100, 0, 2300, 52_600],
    [101, 700, 2300, 52_600],
  ]);
  // The tool's bytes unknown (the probe did not list it): its subtree and every ancestor's are null, its siblings' not.
  const unknown = netSample(1, [proc(100, 1, 0, 2, net(0, 0)), proc(101, 100, 200, 50, net(1500, 2500)), proc(102, 101, 300, 100, net(null, null))]);
  expect(resourceSampleRows(unknown).map((r) => [r.pid, r.subtree_net_sent_bytes, r.subtree_net_recv_bytes])).toEqual([[100, null, null], [101, null, null], [102, null, null]]);
  // v1 samples have none: null columns.
  expect(resourceSampleRows(SAMPLES[0]).map((r) => [r.net_sent_bytes, r.children_net_recv_bytes, r.subtree_net_sent_bytes, r.net_age_ms])).toEqual([[null, null, null, null], [null, null, null, null]]);
});

test('network bytes stored once and attributed: a tool use gets the bytes its agent\'s subtree moved between the bracketing samples', async () => {
  await store(NET_SAMPLES);
  await store(NET_SAMPLES);
  const [tool, session] = await withResources(client, [
    { host: 'hn', pid: 101, start_ns: String(T0 + 500_000_000n), end_ns: String(T0 + 1500_000_000n) },
    { host: 'hn', pid: 100, start_ns: String(T0), end_ns: String(T0 + 2n * S) },
  ]);
  expect([tool.net_sent_bytes, tool.net_recv_bytes]).toEqual([2300 - 1000, 52_600 - 2000]);
  expect([session.net_sent_bytes, session.net_recv_bytes]).toEqual([2300 - 1000, 52_600 - 2000]);
  const rs = await client.query({ query: "SELECT pid, net_sent_bytes, subtree_net_recv_bytes FROM agentsight.resource_samples FINAL WHERE host = 'hn' AND pid = 102", format: 'JSONEachRow' });
  expect(await rs.json()).toEqual([{ pid: 102, net_sent_bytes: '300', subtree_net_recv_bytes: '40000' }]);
});

test('a resource_samples table from before the network columns gets them (same place as a new table), its rows read null', async () => {
  const db = 'agentsight_rs_old';
  await client.command({ query: `DROP DATABASE IF EXISTS ${db}` });
  await ensureSchema(client, db);
  for (const c of RESOURCE_SAMPLES_NET_COLUMNS) await client.command({ query: `ALTER TABLE ${db}.resource_samples DROP COLUMN ${c.name}` });
  const { net_sent_bytes: _a, net_recv_bytes: _b, children_net_sent_bytes: _c, children_net_recv_bytes: _d, subtree_net_sent_bytes: _e, subtree_net_recv_bytes: _f, net_age_ms: _g, ...old } = resourceSampleRows(SAMPLES[0])[0];
  await client.insert({ table: `${db}.resource_samples`, values: [old], format: 'JSONEachRow' });
  await ensureSchema(client, db);
  await ensureSchema(client, db); // idempotent
  const cols = async (d: string) => (await (await client.query({ query: `SELECT name, type FROM system.columns WHERE database = '${d}' AND table = 'resource_samples' ORDER BY position`, format: 'JSONEachRow' })).json());
  expect(await cols(db)).toEqual(await cols('agentsight'));
  const rs = await client.query({ query: `SELECT net_sent_bytes, subtree_net_recv_bytes, net_age_ms FROM ${db}.resource_samples FINAL`, format: 'JSONEachRow' });
  expect(await rs.json()).toEqual([{ net_sent_bytes: null, subtree_net_recv_bytes: null, net_age_ms: null }]);
  await client.command({ query: `DROP DATABASE ${db}` });
});
