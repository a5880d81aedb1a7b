/**
 * Issue 15, network bytes end to end: `agentsight exec -- sh -c 'python3 net-many.py && node net-tool.js; sleep 3'` under
 * real capture, where first a python forks 1,100 children one after another, child i sending 1 + i bytes over TCP and
 * receiving 2(1 + i) + 3 back (so the probe counts more than 1,024 processes, more than one of its lines holds), then
 * where the tool (a child of the traced shell) sends a known number of bytes over TCP to a server of this test (an
 * untraced process) and receives a known number back. The probe counts them in eBPF (sock_send_length /
 * sock_recv_length), prints them every sampling interval, the sampler merges them into each resource sample, the
 * api stores them in `resource_samples`, and the exporter sends them to an OTLP collector (a local receiver) as
 * semconv `process.network.io` (exec waits for that export before it exits).
 *
 * Tolerance: none (0 bytes). The counters are the payload bytes of successful sendmsg/recvmsg returns, which over
 * loopback TCP are exactly what the tool wrote and read; sampling stays at 1 s (idle backoff off:
 * AGENTSIGHT_SAMPLE_IDLE_MAX_MS=1000) and the tool holds 3.5 s after its transfer, so at least one sample of it comes
 * more than one interval (the reading's age) after the transfer and carries the final count; the shell stays 3 s after the
 * tool exits, so the sampler sees the exit and a reading after it and hands the tool's bytes to the shell
 * (`children_net_*`, as the kernel hands a reaped child's CPU to its parent). Neither the shell nor node makes any
 * other inet traffic (no DNS: the address is a literal). The python's children are short-lived, most exit between two
 * samples: each hands its (final) bytes to the python, a sample saw or not (the probe names each one's ancestors), and
 * with it to the shell, so its `children_net_*` = the tool's + all of theirs, exactly; the probe's
 * `stopped` line (in its log) lists every one of the 1,101 with exactly its transfer.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openClickHouse } from '@agentsight/clickhouse';
import { startOtlpReceiver, type OtlpReceiver } from '../../services/exporter/src/otlp-receiver.test';
import { describeCapture, Infra, ROOT, runCli, startInfra } from './harness';

type Row = Record<string, any>;
const SEND = 300_001; // not a multiple of any buffer size
const RECV = 1_048_583;
const MANY = 1100; // traced processes with inet bytes besides the tool: more than the 1,024 of one probe line

describeCapture('agentsight exec: per-process network bytes of a tool, stored with its resource samples', () => {
  let infra: Infra;
  let server: net.Server;
  let otlp: OtlpReceiver;
  let serverGot = 0;
  let exec: { code: number | null; stdout: string; stderr: string };
  let tool: { pid: number; sent: number; recv: number };
  let rows: Row[];
  let many: net.Server;
  /** Bytes of each of the python's children, by pid (as it wrote them). */
  let manyBytes: Map<number, { sent: number; recv: number }>;
  const dir = mkdtempSync(join(tmpdir(), 'agentsight-net-'));
  const out = join(dir, 'tool.jsonl');

  beforeAll(async () => {
    infra = await startInfra();
    otlp = await startOtlpReceiver();
    // Reads what the tool sends; once it has all of it, answers RECV bytes and closes.
    server = net.createServer((sock) => {
      sock.on('data', (d) => {
        serverGot += d.length;
        if (serverGot >= SEND) sock.end(Buffer.alloc(RECV, 0x61));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    // The python's children: each sends n bytes and shuts its side; this server answers 2n + 3 bytes and closes.
    many = net.createServer((sock) => {
      let got = 0;
      sock.on('data', (d) => (got += d.length));
      sock.on('end', () => sock.end(Buffer.alloc(2 * got + 3, 0x62)));
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => many.listen(0, '127.0.0.1', 1024, r));
    const manyEnv = `N=${MANY} PORT=${(many.address() as net.AddressInfo).port} OUT=${join(dir, 'many.json')}`;
    const script = `${manyEnv} python3 ${join(ROOT, 'test/e2e/net-many.py')} && SEND=${SEND} PORT=${port} HOLD_MS=3500 OUT=${out} node ${join(ROOT, 'test/e2e/net-tool.js')}; sleep 3`;
    exec = await runCli(['exec', '--', 'sh', '-c', script], { ...infra.env, AGENTSIGHT_SAMPLE_IDLE_MAX_MS: '1000', OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, AGENTSIGHT_EXPORT_SETTLE_S: '2' });
    tool = JSON.parse(readFileSync(out, 'utf8').trim());
    manyBytes = new Map(Object.entries(JSON.parse(readFileSync(join(dir, 'many.json'), 'utf8')) as Record<string, number>).map(([pid, n]) => [Number(pid), { sent: n, recv: 2 * n + 3 }]));
    const client = await openClickHouse({ dataDir: join(infra.dataDir, 'chdb') });
    try {
      const rs = await client.query({ query: 'SELECT * FROM agentsight.resource_samples FINAL ORDER BY ts, pid', format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
      rows = await rs.json<Row>();
    } finally {
      await client.close();
    }
  }, 300_000);

  afterAll(async () => {
    await otlp?.close();
    server?.close();
    many?.close();
    await infra?.stop();
  });

  test('the tool made its transfer under exec', () => {
    expect(exec.code).toBe(0);
    expect(tool).toMatchObject({ sent: SEND, recv: RECV });
    expect(serverGot).toBe(SEND);
  });

  test("the tool's stored rows carry its own bytes: exactly what it sent and received, once its transfer was over", () => {
    const mine = rows.filter((r) => r.pid === tool.pid);
    expect(mine.length).toBeGreaterThanOrEqual(2);
    for (const r of mine) {
      expect(r.net_sent_bytes).not.toBeNull();
      expect(r.net_sent_bytes).toBeLessThanOrEqual(SEND);
      expect(r.net_recv_bytes).toBeLessThanOrEqual(RECV);
    }
    const last = mine[mine.length - 1];
    expect([last.net_sent_bytes, last.net_recv_bytes]).toEqual([SEND, RECV]);
    expect([last.subtree_net_sent_bytes, last.subtree_net_recv_bytes]).toEqual([SEND, RECV]);
  });

  test('after the tool exits, its bytes are the shell\'s children\'s: the tree\'s totals keep them, and those of every one of the python\'s children (most of which no sample saw)', () => {
    const roots = rows.filter((r) => r.pid === r.root_pid);
    const last = roots[roots.length - 1];
    expect(rows.some((r) => r.sample_id === last.sample_id && r.pid === tool.pid)).toBe(false); // the tool is gone
    expect([last.net_sent_bytes, last.net_recv_bytes]).toEqual([0, 0]); // the shell made no inet traffic itself
    const seen = new Set(rows.map((r) => r.pid as number));
    expect([...manyBytes.keys()].filter((pid) => !seen.has(pid)).length).toBeGreaterThan(0); // children no sample saw
    const all = [...manyBytes.values()];
    const [s, r] = [SEND + all.reduce((a, b) => a + b.sent, 0), RECV + all.reduce((a, b) => a + b.recv, 0)];
    expect([last.children_net_sent_bytes, last.children_net_recv_bytes]).toEqual([s, r]);
    expect([last.subtree_net_sent_bytes, last.subtree_net_recv_bytes]).toEqual([s, r]);
  });

  test(`the probe counted ${MANY + 1} processes (more than one line's 1,024) and its stopped line lists each with exactly its transfer`, () => {
    expect(manyBytes.size).toBe(MANY);
    const stopped = readFileSync(join(infra.dataDir, 'logs', 'probe.log'), 'utf8').split('\n').filter((l) => l.startsWith('{"event":"stopped"')).map((l) => JSON.parse(l));
    const nb = stopped[stopped.length - 1].net_bytes as { pids: Array<{ pid: number; sent: number; recv: number }>; more: number };
    expect(nb.more).toBe(0);
    const got = new Map(nb.pids.map((e) => [e.pid, { sent: e.sent, recv: e.recv }]));
    expect(got).toEqual(new Map([...manyBytes, [tool.pid, { sent: SEND, recv: RECV }]]));
  });

  test('every sample: counted (no net_bytes in not_captured), the root subtree = Σ own + children over its processes, readings at most one interval old', () => {
    const bySample = new Map<string, Row[]>();
    for (const r of rows) bySample.set(r.sample_id, [...(bySample.get(r.sample_id) ?? []), r]);
    expect(bySample.size).toBeGreaterThanOrEqual(4);
    for (const procs of bySample.values()) {
      const root = procs.find((p) => p.pid === p.root_pid)!;
      expect(root.not_captured.filter((n: string) => n.startsWith('net_bytes:'))).toEqual([]);
      expect(root.subtree_net_sent_bytes).toBe(procs.reduce((a, p) => a + p.net_sent_bytes + p.children_net_sent_bytes, 0));
      expect(root.subtree_net_recv_bytes).toBe(procs.reduce((a, p) => a + p.net_recv_bytes + p.children_net_recv_bytes, 0));
      // The probe prints a reading every AGENTSIGHT_SAMPLE_MS / 4 (250 ms); its line takes a poll window (≤ 50 ms) and the pipe; slack for load.
      expect(root.net_age_ms).toBeLessThanOrEqual(1500);
    }
  });

  test("OTLP: the tool's process.network.io points (transmit, receive) are its stored bytes, the last ones exactly its transfer", () => {
    expect(exec.stderr).toMatch(/exports delivered \(otlp/);
    const points = otlp.acceptedSums().filter((p) => p.metric === 'process.network.io' && p.attributes['process.pid'] === tool.pid);
    const byDir = (d: string) => points.filter((p) => p.attributes['network.io.direction'] === d).sort((a, b) => (BigInt(a.timeUnixNano) < BigInt(b.timeUnixNano) ? -1 : 1));
    const mine = rows.filter((r) => r.pid === tool.pid);
    // One point per stored sample of the tool and direction (a resend would repeat one: same time), same values.
    const [tx, rx] = [byDir('transmit'), byDir('receive')];
    expect(new Set(tx.map((p) => p.timeUnixNano)).size).toBe(mine.length);
    expect(tx[tx.length - 1].value).toBe(SEND);
    expect(rx[rx.length - 1].value).toBe(RECV);
    for (const p of points) expect(['transmit', 'receive']).toContain(p.attributes['network.io.direction']);
    expect(tx[0]).toMatchObject({ unit: 'By', monotonic: true, temporality: 2 });
  });
});
