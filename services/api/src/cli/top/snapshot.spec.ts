/** `agentsight top`'s snapshot rules without a terminal: identity, CPU % sources, exited agents, sorting, filter, screen lines. */
import type { AgentActivity } from '@agentsight/clickhouse';
import { buildSnapshot, filterRows, HEADER_LINE, readLive, renderTop, sortOfKey, sortRows, type LiveReading, type SnapshotContext, type TopRow } from './snapshot';

const S = 1_000_000_000;

function activity(pid: number, over: Partial<AgentActivity> = {}): AgentActivity {
  return {
    host: 'h', pid, agent_name: 'claude-code', process_name: 'claude', model: 'claude-sonnet-4-5', llm_calls: 3, llm_errors: 0, input_tokens: 1000, output_tokens: 200,
    cost_usd: 0.012, unpriced_calls: 0, tool_uses: 2, tool_failures: 0, pending_tool: null, execs: 4, failed_exits: 0, failures: 0, files: 10, failed_files: 0,
    connections: 1, failed_connections: 0, exited: false, first_seen: '2026-12-03T10:00:00.000Z', last_seen: '2026-12-03T10:05:00.000Z',
    last_sample: { ts_ns: String(12 * S), boot_id: 'boot', start_ticks: 77, cpu_ns: 3 * S, rss_bytes: 100 << 20, procs: 2, net_sent_bytes: 5000, net_recv_bytes: 45_000 },
    prev_sample: { ts_ns: String(10 * S), boot_id: 'boot', start_ticks: 77, cpu_ns: 2 * S, rss_bytes: 90 << 20, procs: 2, net_sent_bytes: 1000, net_recv_bytes: 9000 },
    peak_rss_bytes: 150 << 20, ...over,
  };
}

const reading = (pid: number, cpuS: number, atS: number, over: Partial<LiveReading> = {}): LiveReading => ({
  pid, start_ticks: 77, state: 'S', ts_ns: BigInt(atS * S), cpu_ns: cpuS * S, rss_bytes: 200 << 20, procs: 3, ...over,
});

function ctx(live: Record<number, LiveReading | null>, over: Partial<SnapshotContext> = {}): SnapshotContext {
  return { host: 'h', bootId: 'boot', since: '1h', live: (pid) => live[pid] ?? null, prev: new Map(), all: false, nowMs: Date.parse('2026-12-03T10:05:01Z'), ...over };
}

test('a live agent: RSS and processes from /proc; CPU % from its stored samples first, then between two readings', () => {
  const first = buildSnapshot([activity(10)], ctx({ 10: reading(10, 5, 100) }));
  expect(first.snapshot.agents[0]).toMatchObject({ pid: 10, agent: 'claude-code', state: 'sleeping', cpu_pct: 50, rss_bytes: 200 << 20, procs: 3, source: 'proc', peak_rss_bytes: 200 << 20, tokens: 1200 });
  const second = buildSnapshot([activity(10)], ctx({ 10: reading(10, 6.5, 102) }, { prev: first.readings }));
  expect(second.snapshot.agents[0]).toMatchObject({ cpu_pct: 75, note: null });
});

test('network: the tree\'s bytes at its last stored sample and the rate between its last two; null when not counted, said', () => {
  const r = buildSnapshot([activity(10)], ctx({ 10: reading(10, 5, 100) }));
  // (5000 + 45000 - (1000 + 9000)) / 2 s
  expect(r.snapshot.agents[0]).toMatchObject({ net_sent_bytes: 5000, net_recv_bytes: 45_000, net_bytes_per_s: 20_000, note: null });
  const uncounted = { ts_ns: String(12 * S), boot_id: 'boot', start_ticks: 77, cpu_ns: 3 * S, rss_bytes: 1, procs: 2, net_sent_bytes: null, net_recv_bytes: null };
  const n = buildSnapshot([activity(10, { last_sample: uncounted })], ctx({ 10: reading(10, 5, 100) }));
  expect(n.snapshot.agents[0]).toMatchObject({ net_sent_bytes: null, net_bytes_per_s: null, note: expect.stringMatching(/^network: not counted/) });
  const one = buildSnapshot([activity(10, { prev_sample: null })], ctx({ 10: reading(10, 5, 100) }));
  expect(one.snapshot.agents[0]).toMatchObject({ net_sent_bytes: 5000, net_bytes_per_s: null });
});

test('without samples the first reading has no CPU % yet, and says so', () => {
  const r = buildSnapshot([activity(10, { last_sample: null, prev_sample: null })], ctx({ 10: reading(10, 5, 100) }));
  expect(r.snapshot.agents[0]).toMatchObject({ cpu_pct: null, note: expect.stringMatching(/second reading/) });
});

test('a pid running as another process (other start ticks than its samples) is an exited agent: hidden, or shown with --all', () => {
  const other = { 10: reading(10, 1, 100, { start_ticks: 999 }) };
  const hidden = buildSnapshot([activity(10)], ctx(other));
  expect(hidden.snapshot).toMatchObject({ agents: [], exited_hidden: 1 });
  expect(hidden.readings.size).toBe(0);
  const all = buildSnapshot([activity(10)], ctx(other, { all: true }));
  expect(all.snapshot.agents[0]).toMatchObject({ state: 'exited', cpu_pct: null, rss_bytes: null, source: null });
  // Not sampled, started after the agent's first activity: another process too.
  const late = buildSnapshot([activity(11, { last_sample: null, prev_sample: null })], ctx({ 11: reading(11, 1, 100, { start_ticks: 1_000_000 }) }, { bootMs: Date.parse('2026-12-03T09:00:00Z') }));
  expect(late.snapshot.exited_hidden).toBe(1);
});

test('a remote agent: figures from its stored samples; a pending tool is its state', () => {
  const r = buildSnapshot([activity(10, { host: 'other', pending_tool: 'Bash' })], ctx({}));
  expect(r.snapshot.agents[0]).toMatchObject({ host: 'other', state: 'tool Bash', cpu_pct: 50, rss_bytes: 100 << 20, source: 'samples' });
  const exited = buildSnapshot([activity(10, { host: 'other', exited: true })], ctx({}));
  expect(exited.snapshot.exited_hidden).toBe(1);
  const unsampled = buildSnapshot([activity(10, { host: 'other', last_sample: null, prev_sample: null, peak_rss_bytes: null })], ctx({}));
  expect(unsampled.snapshot.agents[0]).toMatchObject({ state: 'remote', cpu_pct: null, rss_bytes: null, note: expect.stringMatching(/no resource samples/) });
});

test('sorting: P cpu, M mem, T tokens, N network, highest first, unknown last; the filter matches agent, model, state, host or pid', () => {
  const row = (pid: number, cpu: number | null, rss: number | null, tokens: number, agent = 'a', net: number | null = null): TopRow => ({
    host: 'h', pid, agent, model: 'm', state: 'running', cpu_pct: cpu, rss_bytes: rss, peak_rss_bytes: rss, procs: 1, source: 'proc', note: null,
    net_sent_bytes: net, net_recv_bytes: net, net_bytes_per_s: net,
    input_tokens: tokens, output_tokens: 0, tokens, cost_usd: null, unpriced_calls: 0, llm_calls: 0, tool_uses: 0, execs: 0, failures: 0, files: 0, connections: 0, first_seen: '', last_seen: '',
  });
  const rows = [row(1, 5, 300, 10, 'a', 7), row(2, null, 100, 30, 'codex'), row(3, 50, null, 20, 'a', 900)];
  expect([sortOfKey('P'), sortOfKey('m'), sortOfKey('T'), sortOfKey('n'), sortOfKey('x')]).toEqual(['cpu', 'mem', 'tokens', 'net', null]);
  expect(sortRows(rows, 'net').map((r) => r.pid)).toEqual([3, 1, 2]);
  expect(sortRows(rows, 'cpu').map((r) => r.pid)).toEqual([3, 1, 2]);
  expect(sortRows(rows, 'mem').map((r) => r.pid)).toEqual([1, 2, 3]);
  expect(sortRows(rows, 'tokens').map((r) => r.pid)).toEqual([2, 3, 1]);
  expect(filterRows(rows, 'CODEX').map((r) => r.pid)).toEqual([2]);
  expect(filterRows(rows, '3').map((r) => r.pid)).toEqual([3]);
  expect(filterRows(rows, ' ')).toHaveLength(3);
});

test('the screen: summary, keys, header with the sort marked, one line per agent, cut to the terminal', () => {
  const { snapshot } = buildSnapshot([activity(10), activity(20, { agent_name: 'gemini-cli', input_tokens: 5, output_tokens: 5, cost_usd: null, unpriced_calls: 1 })], ctx({ 10: reading(10, 5, 100), 20: reading(20, 2, 100, { rss_bytes: 1 << 30 }) }));
  const view = { sort: 'mem' as const, filter: '', editing: false, all: false, width: 140, height: 40, status: '' };
  const lines = renderTop(snapshot, view);
  expect(lines[0]).toMatch(/^agentsight top - 10:05:01 UTC - host h - 2 agent\(s\) - CPU 100\.0% RSS 1\.2G - since 1h/);
  expect(lines[1]).toMatch(/\[P\]cpu \[M\]mem \[T\]tokens \[N\]net/);
  expect(lines[HEADER_LINE]).toMatch(/^\s+PID AGENT\s+MODEL\s+STATE\s+CPU%\s+RSS▼\s+NET\/s\s+TOKENS\s+COST\s+CALLS\s+TOOLS\s+EXECS\s+FAIL\s+FILES\s+CONN$/);
  expect(lines[HEADER_LINE + 1]).toMatch(/^\s+20 gemini-cli\s+claude-sonnet-4-5\s+sleeping\s+50\.0\s+1\.0G\s+19\.5K\s+10\s+\?\s+3\s+2\s+4\s+0\s+10\s+1$/);
  expect(lines[HEADER_LINE + 2]).toMatch(/^\s+10 claude-code .* 200M\s+19\.5K\s+1200\s+\$0\.01\s/);
  expect(lines.every((l) => l.length <= 140)).toBe(true);
  expect(renderTop(snapshot, { ...view, width: 60, height: 5 })).toHaveLength(5);
  expect(renderTop(snapshot, { ...view, filter: 'nothing' })).toContain('(no agent matches the filter)');
  expect(renderTop(snapshot, { ...view, editing: true, filter: 'gem' })[1]).toMatch(/^filter: gem_/);
});

test('readLive reads this process tree from /proc, and null for a pid that is not running', () => {
  const r = readLive(process.pid)!;
  expect(r.pid).toBe(process.pid);
  expect(r.rss_bytes).toBeGreaterThan(0);
  expect(r.procs).toBeGreaterThanOrEqual(1);
  expect(readLive(2 ** 22 + 1)).toBeNull();
});
