/**
 * Issue 15, network bytes end to end: `agentsight exec -- sh -c 'node net-tool.js; sleep 3'` under real capture,
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
 * other inet traffic (no DNS: the address is a literal).
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

describeCapture('agentsight exec: per-process network bytes of a tool, stored with its resource samples', () => {
  let infra: Infra;
  let server: net.Server;
  let otlp: OtlpReceiver;
  let serverGot = 0;
  let exec: { code: number | null; stdout: string; stderr: string };
  let tool: { pid: number; sent: number; recv: number };
  let rows: Row[];
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
    const script = `SEND=${SEND} PORT=${port} HOLD_MS=3500 OUT=${out} node ${join(ROOT, 'test/e2e/net-tool.js')}; sleep 3`;
    exec = await runCli(['exec', '--', 'sh', '-c', script], { ...infra.env, AGENTSIGHT_SAMPLE_IDLE_MAX_MS: '1000', OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, AGENTSIGHT_EXPORT_SETTLE_S: '2' });
    tool = JSON.parse(readFileSync(out, 'utf8').trim());
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

  test('after the tool exits, its bytes are the shell\'s children\'s: the tree\'s totals keep them', () => {
    const roots = rows.filter((r) => r.pid === r.root_pid);
    const last = roots[roots.length - 1];
    expect(rows.some((r) => r.sample_id === last.sample_id && r.pid === tool.pid)).toBe(false); // the tool is gone
    expect([last.net_sent_bytes, last.net_recv_bytes]).toEqual([0, 0]); // the shell made no inet traffic itself
    expect([last.children_net_sent_bytes, last.children_net_recv_bytes]).toEqual([SEND, RECV]);
    expect([last.subtree_net_sent_bytes, last.subtree_net_recv_bytes]).toEqual([SEND, RECV]);
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
