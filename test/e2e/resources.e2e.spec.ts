/**
 * Issue 15's acceptance path: `agentsight exec` runs an agent-like workload (the openai SDK against the mock LLM) whose
 * tool runs a CPU-bound and memory-hungry command (test/e2e/resource-worker.js: 1.5 s of CPU, then 256 MiB held for
 * 1.5 s); the stored CPU seconds and peak RSS of the tool use must match what the command's own getrusage says, the
 * session's figures must cover the tool's, and every stored sample's tree totals must equal the sum of its processes.
 *
 * Tolerances (stated, not timed): CPU −0.1 s (10 ms clock ticks, the command's exit after its last sample) to +1.0 s
 * (the agent's own CPU in the window and in the sampling margins, at most one 1 s interval each side: when the first
 * call comes within a second of the agent's start, the margin before the window holds node's start-up, ~0.3-0.5 s); peak RSS ≥ 95 % of the command's maxRSS (it holds its peak for longer than one interval) and at most that
 * plus 400 MiB (the agent's and the shell's RSS in the same tree).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockLlm, type MockLlm } from '@agentsight/testkit';
import { openClickHouse } from '@agentsight/clickhouse';
import { describeCapture, Infra, ROOT, runCli, startInfra } from './harness';

type Row = Record<string, any>;

/** `agentsight <args> --json`, parsed; the CLI's stderr in the error when it printed no JSON. */
async function cliJson(args: string[], env: NodeJS.ProcessEnv): Promise<Row[]> {
  const r = await runCli([...args, '--json'], env);
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`agentsight ${args.join(' ')} --json exited ${r.code}: ${r.stderr}`);
  }
}

describeCapture('agentsight exec: CPU and peak RSS of an agent session and of its tool use', () => {
  let infra: Infra;
  let mock: MockLlm;
  let exec: { code: number | null; stdout: string; stderr: string };
  let worker: { pid: number; cpu_us: number; max_rss_kb: number; kept: number };
  const dir = mkdtempSync(join(tmpdir(), 'agentsight-resources-'));
  const out = join(dir, 'worker.jsonl');

  beforeAll(async () => {
    infra = await startInfra();
    const toolCommand = `CPU_MS=1500 MB=256 HOLD_MS=1500 OUT=${out} node ${join(ROOT, 'test/e2e/resource-worker.js')}`;
    mock = await startMockLlm({ dir: join(dir, 'mock'), toolCommand, answer: 'built ok' });
    exec = await runCli(['exec', '--', 'node', join(ROOT, 'test/e2e/resource-agent.js')], {
      ...infra.env,
      OPENAI_BASE_URL: `${mock.baseUrl}/v1`,
      NODE_EXTRA_CA_CERTS: mock.caPath,
      NODE_PATH: join(ROOT, 'node_modules'),
    });
    worker = JSON.parse(readFileSync(out, 'utf8').trim());
  }, 300_000);

  afterAll(async () => {
    await mock?.close();
    await infra?.stop();
  });

  test('the agent ran its tool and answered', () => {
    expect(exec.stderr).toMatch(/2 LLM call\(s\) captured/);
    expect(exec.stdout).toContain('built ok');
    expect(exec.code).toBe(0);
    expect(worker.kept).toBe(256 * 1024 * 1024);
  });

  test("the tool use's CPU seconds and peak RSS match the command's own getrusage", async () => {
    const tools: Row[] = await cliJson(['tools'], infra.env);
    expect(tools).toHaveLength(1);
    const t = tools[0];
    expect(t.name).toBe('bash');
    const cpu = worker.cpu_us / 1e6;
    process.stderr.write(`resources.e2e: tool cpu_s ${t.cpu_s} (command's getrusage ${cpu}), peak_rss ${t.peak_rss_bytes} (command's maxRSS ${worker.max_rss_kb * 1024}), note ${t.resources_note}\n`);
    expect(t.cpu_s).not.toBeNull();
    expect(t.cpu_s).toBeGreaterThanOrEqual(cpu - 0.1);
    expect(t.cpu_s).toBeLessThanOrEqual(cpu + 1.0);
    const peak = worker.max_rss_kb * 1024;
    expect(t.peak_rss_bytes).toBeGreaterThanOrEqual(peak * 0.95);
    expect(t.peak_rss_bytes).toBeLessThanOrEqual(peak + 400 * 1024 * 1024);
    // Text output carries the columns.
    const text = (await runCli(['tools'], infra.env)).stdout;
    expect(text.split('\n')[0]).toMatch(/cpu_s\s+peak_rss/);
    expect(text).toMatch(/\d+(\.\d+)?M/);
  });

  test("the session's figures cover its tool use's", async () => {
    const [tool] = await cliJson(['tools'], infra.env);
    const sessions: Row[] = await cliJson(['sessions'], infra.env);
    expect(sessions).toHaveLength(1);
    const s = sessions[0];
    expect(s.pid).toBe(tool.pid);
    expect(s.cpu_s).toBeGreaterThanOrEqual(tool.cpu_s);
    expect(s.peak_rss_bytes).toBeGreaterThanOrEqual(tool.peak_rss_bytes);
    expect((await runCli(['sessions'], infra.env)).stdout.split('\n')[0]).toMatch(/cpu_s\s+peak_rss/);
  });

  test('every stored sample: the tree totals equal the sum of its processes, the worker is in the tree, nothing silently zero', async () => {
    const [tool] = await cliJson(['tools'], infra.env);
    const client = await openClickHouse({ dataDir: join(infra.dataDir, 'chdb') });
    try {
      const rs = await client.query({ query: 'SELECT * FROM agentsight.resource_samples FINAL ORDER BY ts, pid', format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } });
      const rows = await rs.json<Row>();
      expect(rows.length).toBeGreaterThan(3);
      expect(new Set(rows.map((r) => r.root_pid))).toEqual(new Set([tool.pid]));
      const bySample = new Map<string, Row[]>();
      for (const r of rows) bySample.set(r.sample_id, [...(bySample.get(r.sample_id) ?? []), r]);
      for (const procs of bySample.values()) {
        const root = procs.find((p) => p.pid === p.root_pid)!;
        expect(root.subtree_procs).toBe(procs.length);
        expect(root.subtree_cpu_ns).toBe(procs.reduce((a, p) => a + p.utime_ns + p.stime_ns + p.children_cpu_ns, 0));
        expect(root.subtree_rss_bytes).toBe(procs.reduce((a, p) => a + (p.rss_bytes ?? 0), 0));
        expect(root.not_captured.some((n: string) => n.startsWith('net_bytes:'))).toBe(true);
      }
      expect(rows.some((r) => r.pid === worker.pid && r.comm === 'node' && r.rss_peak_bytes >= 256 * 1024 * 1024)).toBe(true);
    } finally {
      await client.close();
    }
  });
});
