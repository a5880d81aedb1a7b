/**
 * net-bytes.ts: the probe's `net_bytes` readings and their merge into sampled trees (own bytes, exited descendants'
 * bytes handed to the nearest live ancestor, refreshed by readings after the exit, reused pids, nulls with reasons).
 * Pure: the readings are the probe's line format, the trees as the sampler reads them.
 */
import type { ProcResourceSample } from '@agentsight/contracts';
import { NET_NO_PROBE, NET_NO_READING, NetReadings, TreeNet, parseNetReading, type NetReading } from './net-bytes';

const MS = 1_000_000n;
const proc = (pid: number, ppid: number): ProcResourceSample => ({
  pid, ppid, comm: `p${pid}`, start_ticks: 500 + pid, utime_ns: 0, stime_ns: 0, children_cpu_ns: 0, rss_bytes: 1, rss_peak_bytes: 1,
  threads: 1, read_bytes: 0, write_bytes: 0, rchar: 0, wchar: 0, fds: 3,
});
/** A reading at `atMs` of `[pid, sent, recv]` entries (start ticks as {@link proc} gives them unless set). */
const reading = (atMs: number, entries: Array<[number, number, number, number?]>, more = 0): NetReading =>
  parseNetReading({ pids: entries.map(([pid, sent, recv, start]) => ({ pid, start_ticks: start ?? 500 + pid, sent, recv })), more, since_ticks: 400 }, BigInt(atMs) * MS)!;
const nets = (ps: ProcResourceSample[]) => ps.map((p) => [p.pid, p.net_sent_bytes, p.net_recv_bytes, p.children_net_sent_bytes, p.children_net_recv_bytes]);

test('parseNetReading: the probe object, its missing form, and entries it cannot read counted as unknown', () => {
  const r = parseNetReading({ pids: [{ pid: 7, start_ticks: 99, sent: 10, recv: 20 }, { pid: 8, sent: 1 }], more: 2, since_ticks: 40 }, 5n)!;
  expect([...r.pids]).toEqual([[7, { start_ticks: 99, sent: 10, recv: 20, up: [] }]]);
  expect([r.more, r.since_ticks, r.missing, r.at_ns]).toEqual([3, 40, null, 5n]);
  expect(parseNetReading({ missing: 'no tracepoints' }, 1n)).toMatchObject({ missing: 'no tracepoints', pids: new Map() });
  expect(parseNetReading(undefined, 1n)).toBeNull();
  expect(parseNetReading({ pids: 'x' }, 1n)).toBeNull();
  const keep = new NetReadings();
  keep.onLine({ event: 'ready' }, 1n);
  expect(keep.latest()).toBeNull();
  keep.onLine({ event: 'net_bytes', net_bytes: { pids: [], more: 0 } }, 2n);
  keep.onLine({ event: 'stats', records: 1, net_bytes: { pids: [{ pid: 1, start_ticks: 1, sent: 3, recv: 4 }], more: 0 } }, 3n);
  expect(keep.latest()!.pids.get(1)).toEqual({ start_ticks: 1, sent: 3, recv: 4, up: [] });
  // Ancestors, parent first, flat [pid, start_ticks, …]; a malformed pair ends them.
  const up = parseNetReading({ pids: [{ pid: 9, start_ticks: 5, sent: 1, recv: 2, up: [8, 4, 7, 3, 'x', 2] }], more: 0 }, 1n)!;
  expect(up.pids.get(9)!.up).toEqual([{ pid: 8, start_ticks: 4 }, { pid: 7, start_ticks: 3 }]);
});

test('own bytes per process; a tool that exits hands its bytes to its parent, completed by the reading after its exit', () => {
  const net = new TreeNet();
  // t=1000: agent 10 and tool 11 (child); the tool has sent 600 so far.
  let ps = [proc(10, 1), proc(11, 10)];
  let r = net.apply(ps, reading(900, [[10, 50, 70], [11, 600, 6000]]), 1000n * MS);
  expect(nets(ps)).toEqual([[10, 50, 70, 0, 0], [11, 600, 6000, 0, 0]]);
  expect(r).toEqual({ tree: { sent: 650, recv: 6070 }, not_captured: null, age_ms: 100, since_ticks: 400 });
  // t=2000: the tool is gone; the latest reading predates its exit (it sent 400 more before exiting).
  ps = [proc(10, 1)];
  r = net.apply(ps, reading(1900, [[10, 50, 70], [11, 600, 6000]]), 2000n * MS);
  expect(nets(ps)).toEqual([[10, 50, 70, 600, 6000]]);
  // t=3000: a reading after the exit has the tool's last count: the parent's children figure follows it.
  r = net.apply(ps, reading(2900, [[10, 60, 80], [11, 1000, 7000]]), 3000n * MS);
  expect(nets(ps)).toEqual([[10, 60, 80, 1000, 7000]]);
  expect(r.tree).toEqual({ sent: 1060, recv: 7080 });
  // t=4000: the probe forgot the tool (LRU), its pid runs another process now (other start): the tool's bytes stay,
  // the new process has sent nothing yet (the entry is the old process').
  ps = [proc(10, 1), { ...proc(11, 10), start_ticks: 9999 }];
  r = net.apply(ps, reading(3900, [[10, 60, 80], [11, 1000, 7000]]), 4000n * MS);
  expect(nets(ps)).toEqual([[10, 60, 80, 1000, 7000], [11, 0, 0, 0, 0]]);
  expect(r.tree).toEqual({ sent: 1060, recv: 7080 });
});

test('nested exits: a grandchild\'s bytes go to its parent, and with it to the next live ancestor when the parent exits too', () => {
  const net = new TreeNet();
  net.apply([proc(10, 1), proc(11, 10), proc(12, 11)], reading(0, [[12, 5, 6], [11, 1, 2]]), 100n * MS);
  let ps = [proc(10, 1), proc(11, 10)];
  net.apply(ps, reading(500, [[12, 7, 8], [11, 1, 2]]), 600n * MS);
  expect(nets(ps)).toEqual([[10, 0, 0, 0, 0], [11, 1, 2, 7, 8]]);
  ps = [proc(10, 1)];
  net.apply(ps, reading(1000, [[12, 7, 8], [11, 3, 4]]), 1100n * MS);
  expect(nets(ps)).toEqual([[10, 0, 0, 10, 12]]);
  // Both exited in one interval with the root: still the root's, once each.
  ps = [proc(10, 1)];
  const r = net.apply(ps, reading(2000, [[12, 7, 8], [11, 3, 4]]), 2100n * MS);
  expect(r.tree).toEqual({ sent: 10, recv: 12 });
});

test('processes no sample saw (they exited between two) are credited to their nearest sampled ancestor, once, through ancestors without traffic', () => {
  /** A reading whose entries name their ancestors (`up`: pids, start ticks as {@link proc} gives them). */
  const withUp = (atMs: number, entries: Array<[number, number, number, number[]]>): NetReading =>
    parseNetReading({ pids: entries.map(([pid, sent, recv, up]) => ({ pid, start_ticks: 500 + pid, sent, recv, up: up.flatMap((a) => [a, 500 + a]) })), more: 0 }, BigInt(atMs) * MS)!;
  const net = new TreeNet();
  const ps = [proc(10, 1), proc(11, 10)];
  // Between two samples: tool 11 ran `sh` 20 (no traffic, never listed) which ran `curl` 21 (sent 300, got 4000);
  // 31, a process of another tree, and 22, a child of 11 forked during the scan, are listed too.
  const r1 = withUp(900, [[11, 5, 6, [10, 1]], [21, 300, 4000, [20, 11, 10, 1]], [31, 9, 9, [30, 1]], [22, 1, 1, [11, 10]]]);
  net.apply(ps, r1, 1000n * MS);
  expect(nets(ps)).toEqual([[10, 0, 0, 0, 0], [11, 5, 6, 0, 0]]); // found, not credited yet
  // The next sample: 21 still not there (it exited): credited to 11, its nearest sampled ancestor; 22 is in the sample.
  const ps2 = [proc(10, 1), proc(11, 10), proc(22, 11)];
  let r = net.apply(ps2, withUp(1900, [[11, 5, 6, [10, 1]], [21, 300, 4000, [20, 11, 10, 1]], [31, 9, 9, [30, 1]], [22, 1, 1, [11, 10]]]), 2000n * MS);
  expect(nets(ps2)).toEqual([[10, 0, 0, 0, 0], [11, 5, 6, 300, 4000], [22, 1, 1, 0, 0]]);
  expect(r.tree).toEqual({ sent: 306, recv: 4007 });
  // Later samples keep it once; when 11 exits it all goes to 10, and a grandchild of the gone 11 still finds 10.
  net.apply(ps2, withUp(2900, [[11, 5, 6, [10, 1]], [21, 300, 4000, [20, 11, 10, 1]], [22, 1, 1, [11, 10]]]), 3000n * MS);
  const ps3 = [proc(10, 1)];
  net.apply(ps3, withUp(3900, [[11, 5, 6, [10, 1]], [21, 300, 4000, [20, 11, 10, 1]], [22, 1, 1, [11, 10]], [23, 7, 70, [11, 10]]]), 4000n * MS);
  r = net.apply(ps3, withUp(4900, [[11, 5, 6, [10, 1]], [21, 300, 4000, [20, 11, 10, 1]], [22, 1, 1, [11, 10]], [23, 7, 70, [11, 10]]]), 5000n * MS);
  expect(nets(ps3)).toEqual([[10, 0, 0, 313, 4077]]);
  expect(r.tree).toEqual({ sent: 313, recv: 4077 });
  r = net.apply(ps3, withUp(5900, [[11, 5, 6, [10, 1]], [21, 300, 4000, [20, 11, 10, 1]], [22, 1, 1, [11, 10]], [23, 7, 70, [11, 10]]]), 6000n * MS);
  expect(r.tree).toEqual({ sent: 313, recv: 4077 });
});

test('never a silent zero: no probe, no reading yet, a kernel without the tracepoints, processes the probe did not list', () => {
  const ps = [proc(10, 1), proc(11, 10)];
  expect(new TreeNet().apply(ps, undefined, 1n)).toEqual({ tree: null, not_captured: NET_NO_PROBE, age_ms: null, since_ticks: null });
  expect(nets(ps)).toEqual([[10, null, null, null, null], [11, null, null, null, null]]);
  expect(new TreeNet().apply(ps, null, 1n).not_captured).toBe(NET_NO_READING);
  expect(new TreeNet().apply(ps, parseNetReading({ missing: 'Linux < 6.5' }, 0n), 1n).not_captured).toBe('net_bytes: Linux < 6.5');
  // The probe listed 10 and left 3 more out: 11 is unknown (null), not 0; the tree total is null too.
  const r = new TreeNet().apply(ps, reading(0, [[10, 1, 2]], 3), 1n);
  expect(nets(ps)).toEqual([[10, 1, 2, 0, 0], [11, null, null, 0, 0]]);
  expect(r.tree).toBeNull();
  expect(r.not_captured).toMatch(/^net_bytes: the probe listed 1 processes and not 3 more; 1 of this tree unknown$/);
});

/** The `net_bytes` lines of one probe round (counters.c print_net_bytes_line): at most 1,024 per line, `more` = the others. */
const roundLines = (round: number, entries: Array<{ pid: number; start_ticks: number; sent: number; recv: number }>, extra = 0) => {
  const parts = Math.max(1, Math.ceil(entries.length / 1024));
  return Array.from({ length: parts }, (_, part) => {
    const pids = entries.slice(part * 1024, (part + 1) * 1024);
    return { event: 'net_bytes', net_bytes: { pids, more: entries.length - pids.length + extra, since_ticks: 400, round, part, parts } };
  });
};

test('NetReadings: a round of 2,500 processes on 3 lines becomes one reading with every process once its last part is in', () => {
  const entries = Array.from({ length: 2500 }, (_, i) => ({ pid: 1000 + i, start_ticks: 1500 + i, sent: 7 * i + 1, recv: 11 * i + 2 }));
  const lines = roundLines(4, entries);
  expect(lines.map((l) => l.net_bytes.pids.length)).toEqual([1024, 1024, 452]);
  const keep = new NetReadings();
  keep.onLine(roundLines(3, entries.slice(0, 10))[0], 1n); // the previous round: 10 processes, one line
  keep.onLine(lines[0], 2n);
  keep.onLine(lines[1], 3n);
  // Half a round is never the reading: the previous one stays until the last part.
  expect(keep.latest()!.pids.size).toBe(10);
  keep.onLine(lines[2], 4n);
  const r = keep.latest()!;
  expect([r.pids.size, r.more, r.at_ns, r.since_ticks, r.missing]).toEqual([2500, 0, 2n, 400, null]);
  for (const e of entries) expect(r.pids.get(e.pid)).toEqual({ start_ticks: e.start_ticks, sent: e.sent, recv: e.recv, up: [] });
  // A tree of 1,100 of them (the last ones, all in later parts): every process has its own bytes, none unknown.
  const ps = entries.slice(1400).map((e, i) => ({ ...proc(e.pid, i ? entries[1400].pid : 1), start_ticks: e.start_ticks }));
  const res = new TreeNet().apply(ps, r, 5n);
  expect(res.not_captured).toBeNull();
  expect(ps.map((p) => [p.net_sent_bytes, p.net_recv_bytes])).toEqual(entries.slice(1400).map((e) => [e.sent, e.recv]));
  expect(res.tree).toEqual({ sent: entries.slice(1400).reduce((a, e) => a + e.sent, 0), recv: entries.slice(1400).reduce((a, e) => a + e.recv, 0) });
});

test('NetReadings: a round cut short is never taken; a line alone reads its round\'s other processes as unknown; a partial stats line does not replace a whole round', () => {
  const entries = Array.from({ length: 1500 }, (_, i) => ({ pid: 1 + i, start_ticks: 10, sent: i, recv: i }));
  const keep = new NetReadings();
  const [a0, a1] = roundLines(7, entries);
  keep.onLine(a0, 1n); // round 7 never gets its second part
  const [b0, b1] = roundLines(8, entries.slice(0, 1100));
  keep.onLine(b0, 2n);
  expect(keep.latest()).toBeNull();
  keep.onLine(a1, 3n); // a late part of the abandoned round does not complete round 8
  expect(keep.latest()).toBeNull();
  keep.onLine(b1, 4n);
  expect([keep.latest()!.pids.size, keep.latest()!.more]).toEqual([1100, 0]);
  // One part taken alone (an older reader): the 476 processes of the other part are unknown, not 0.
  expect(parseNetReading(a0.net_bytes, 0n)!.more).toBe(476);
  // The stats line lists 1,024 and counts 76 more: the whole round stays.
  keep.onLine({ event: 'stats', net_bytes: { pids: entries.slice(0, 1024), more: 76, since_ticks: 400 } }, 5n);
  expect(keep.latest()!.at_ns).toBe(2n);
  // Entries past what the probe could read (its `extra`) stay unknown in the assembled reading.
  for (const l of roundLines(9, entries, 3)) keep.onLine(l, 6n);
  expect([keep.latest()!.pids.size, keep.latest()!.more]).toEqual([1500, 3]);
});
