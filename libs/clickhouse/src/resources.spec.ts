/** `resource_samples` on embedded chDB: rows with subtree totals, idempotent writes, and attribution to windows. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resourceSampleId, type ProcResourceSample, type RawResourceSample } from '@agentsight/contracts';
import { openClickHouse, type ClickHouseClient } from './client';
import { resourceSampleRows, resourceSeries, resourceUsage, windowUsage, withResources, type SubtreePoint } from './resources';
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
  expect(u).toEqual({ cpu_s: (1800 - 200) / 1000, peak_rss_bytes: 350 * 1048576, samples: 5, resources_note: null });
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
  expect(tool).toEqual({ cpu_s: 1.6, peak_rss_bytes: 350 * 1048576, samples: 5, resources_note: null });
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
