/**
 * Issue 15's acceptance path: `agentsight exec` runs an agent-like workload (the openai SDK against the mock LLM) whose
 * tool runs a CPU-bound and memory-hungry command (test/e2e/resource-worker.js: 1.5 s of CPU, then 256 MiB held for
 * 1.5 s); the stored CPU seconds and peak RSS of the tool use must match what the command's own getrusage says, the
 * session's figures must cover the tool's, and every stored sample's tree totals must equal the sum of its processes.
 * The api's `/metrics`, scraped during and after the run, carries the tree's live RSS/processes and its stored CPU,
 * disk I/O (the tool also writes 8 MiB, fsync'd: its parent's `io` keeps them after it is reaped) and network bytes; the
 * dashboard (real Chromium) draws the tool's band and one band per LLM call.
 *
 * Tolerances (stated, not timed): CPU −0.1 s (10 ms clock ticks, the command's exit after its last sample) to +1.0 s
 * (the agent's own CPU in the window and in the sampling margins, at most one 1 s interval each side: when the first
 * call comes within a second of the agent's start, the margin before the window holds node's start-up, ~0.3-0.5 s); peak RSS ≥ 95 % of the command's maxRSS (it holds its peak for longer than one interval) and at most that
 * plus 400 MiB (the agent's and the shell's RSS in the same tree).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMockLlm, type MockLlm } from '@agentsight/testkit';
import { liveWithinNs, openClickHouse } from '@agentsight/clickhouse';
import { apiToken } from '@agentsight/jetstream';
import { CHROMIUM, describeCapture, Infra, launchChromium, ROOT, runCli, startInfra, startServe, stopServe } from './harness';

type Row = Record<string, any>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const parsePrometheusTextFormat = require('parse-prometheus-text-format') as (text: string) => Array<{ name: string; type: string; metrics: Array<{ value?: string; labels?: Record<string, string> }> }>;

/** The `agentsight_agent_*` samples of one `/metrics` scrape of the api on `env`'s port: `name{labels}` → value. */
async function scrapeAgentMetrics(env: NodeJS.ProcessEnv): Promise<Array<{ name: string; labels: Record<string, string>; value: number }>> {
  const r = await fetch(`http://127.0.0.1:${env.AGENTSIGHT_API_PORT}/metrics`, { headers: { authorization: `Bearer ${apiToken(env)}` } });
  if (r.status !== 200) throw new Error(`/metrics: ${r.status}`);
  return parsePrometheusTextFormat(await r.text())
    .filter((f) => f.name.startsWith('agentsight_agent_') || f.name === 'agentsight_scrape_errors')
    .flatMap((f) => f.metrics.map((m) => ({ name: f.name, labels: m.labels ?? {}, value: Number(m.value) })));
}

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
  let worker: { pid: number; cpu_us: number; max_rss_kb: number; kept: number; write_bytes: number };
  /** `/metrics` scrapes of the exec's api while the agent ran (those that answered). */
  const during: Array<Awaited<ReturnType<typeof scrapeAgentMetrics>>> = [];
  const dir = mkdtempSync(join(tmpdir(), 'agentsight-resources-'));
  const out = join(dir, 'worker.jsonl');

  beforeAll(async () => {
    infra = await startInfra();
    const toolCommand = `CPU_MS=1500 MB=256 HOLD_MS=1500 WRITE_MB=8 WRITE_FILE=${join(dir, 'written.bin')} OUT=${out} node ${join(ROOT, 'test/e2e/resource-worker.js')}`;
    mock = await startMockLlm({ dir: join(dir, 'mock'), toolCommand, answer: 'built ok' });
    const run = runCli(['exec', '--', 'node', join(ROOT, 'test/e2e/resource-agent.js')], {
      ...infra.env,
      OPENAI_BASE_URL: `${mock.baseUrl}/v1`,
      NODE_EXTRA_CA_CERTS: mock.caPath,
      NODE_PATH: join(ROOT, 'node_modules'),
    });
    // Scrape the run's api (started by exec) every 250 ms until the run ends; refusals before it listens are skipped.
    let done = false;
    void run.finally(() => (done = true));
    while (!done) {
      await scrapeAgentMetrics(infra.env).then((m) => during.push(m), () => undefined);
      await new Promise((r) => setTimeout(r, 250));
    }
    exec = await run;
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

  test('every stored sample: the tree totals (CPU, RSS, network) equal the sum of its processes, the worker is in the tree, nothing silently zero', async () => {
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
        // Network bytes are counted (the probe's readings): none missing, the subtree sums own + exited children's.
        expect(root.not_captured.filter((n: string) => n.startsWith('net_bytes:'))).toEqual([]);
        expect(root.subtree_net_sent_bytes).toBe(procs.reduce((a, p) => a + p.net_sent_bytes + p.children_net_sent_bytes, 0));
      }
      expect(rows.some((r) => r.pid === worker.pid && r.comm === 'node' && r.rss_peak_bytes >= 256 * 1024 * 1024)).toBe(true);
    } finally {
      await client.close();
    }
  });

  test("Prometheus /metrics: the agent's tree is live during the run (RSS, processes), its CPU, disk and network counters equal its last stored sample's", async () => {
    // The agent name the calls were stored with ('' when none was recognised), and the root's last stored sample.
    const client = await openClickHouse({ dataDir: join(infra.dataDir, 'chdb') });
    let name: string;
    let lastCpuNs: number;
    let lastIo: Row;
    let goneAtMs: number;
    try {
      const q = async (query: string) => (await (await client.query({ query, format: 'JSONEachRow', clickhouse_settings: { output_format_json_quote_64bit_integers: 0 } })).json<Row>())[0];
      name = (await q("SELECT coalesce(argMax(agent_name, start_time), '') AS name FROM agentsight.llm_calls FINAL")).name;
      const last = await q('SELECT argMax(subtree_cpu_ns, ts) AS cpu, argMax(interval_ms, ts) AS interval_ms, toUnixTimestamp64Milli(max(ts)) AS ts_ms FROM agentsight.resource_samples FINAL WHERE pid = root_pid');
      lastCpuNs = Number(last.cpu);
      // The root's last sample: Σ io of its processes, and its subtree's network bytes.
      lastIo = await q(`SELECT sum(read_bytes) AS r, sum(write_bytes) AS w, anyIf(subtree_net_sent_bytes, pid = root_pid) AS sent, anyIf(subtree_net_recv_bytes, pid = root_pid) AS recv
                        FROM agentsight.resource_samples FINAL WHERE ts = (SELECT max(ts) FROM agentsight.resource_samples FINAL WHERE pid = root_pid)`);
      goneAtMs = Number(last.ts_ms) + Number(liveWithinNs(Number(last.interval_ms)) / 1_000_000n);
    } finally {
      await client.close();
    }
    const agent = { gen_ai_agent_name: name };
    const mine = (m: Awaited<ReturnType<typeof scrapeAgentMetrics>>, metric: string) =>
      m.filter((x) => x.name === metric && x.labels.gen_ai_agent_name === agent.gen_ai_agent_name && x.labels.process_executable_name === 'node');
    // While it ran: some scrape saw its tree live, with its RSS and processes (the worker's tree: agent, shell, worker).
    const live = during.filter((m) => mine(m, 'agentsight_agent_live_process_trees').some((x) => x.value === 1));
    process.stderr.write(`resources.e2e: ${during.length} scrapes during the run, ${live.length} with the agent live\n`);
    expect(live.length).toBeGreaterThan(0);
    for (const m of live) {
      expect(mine(m, 'agentsight_agent_process_memory_usage_bytes')[0].value).toBeGreaterThan(10 * 1024 * 1024);
      expect(mine(m, 'agentsight_agent_processes')[0].value).toBeGreaterThanOrEqual(1);
    }
    expect(Math.max(...live.map((m) => mine(m, 'agentsight_agent_processes')[0].value))).toBeGreaterThanOrEqual(2);
    // After it (the api of `serve` over the same data dir), once past the root's liveness bound: not live; CPU = the
    // root's last stored sample.
    await new Promise((r) => setTimeout(r, Math.max(0, goneAtMs - Date.now())));
    const serve = await startServe(infra.env, ['--port', infra.env.AGENTSIGHT_API_PORT!]);
    try {
      const m = await scrapeAgentMetrics(infra.env);
      expect(m.find((x) => x.name === 'agentsight_scrape_errors' && x.labels.section === 'agent_resources')?.value).toBe(0);
      expect(mine(m, 'agentsight_agent_process_cpu_seconds_total')[0].value).toBeCloseTo(lastCpuNs / 1e9, 6);
      expect(mine(m, 'agentsight_agent_sampled_process_trees_total')[0].value).toBe(1);
      expect(mine(m, 'agentsight_agent_live_process_trees')[0].value).toBe(0);
      expect(mine(m, 'agentsight_agent_process_memory_usage_bytes')[0].value).toBe(0);
      // I/O counters = the root's last stored sample (every figure was counted there); the worker (a grandchild,
      // reaped inside the tree before the root's last sample) wrote 8 MiB: the kernel's hand-over to its parent keeps it.
      const io = (metric: string, label: string, dir: string) => mine(m, metric).filter((x) => x.labels[label] === dir).map((x) => x.value);
      process.stderr.write(`resources.e2e: last sample io ${JSON.stringify(lastIo)}, worker write_bytes ${worker.write_bytes}\n`);
      expect(io('agentsight_agent_process_disk_io_bytes_total', 'disk_io_direction', 'read')).toEqual([Number(lastIo.r)]);
      expect(io('agentsight_agent_process_disk_io_bytes_total', 'disk_io_direction', 'write')).toEqual([Number(lastIo.w)]);
      expect(worker.write_bytes).toBeGreaterThanOrEqual(8 * 1024 * 1024);
      expect(Number(lastIo.w)).toBeGreaterThanOrEqual(worker.write_bytes);
      expect(io('agentsight_agent_process_network_io_bytes_total', 'network_io_direction', 'transmit')).toEqual([Number(lastIo.sent)]);
      expect(io('agentsight_agent_process_network_io_bytes_total', 'network_io_direction', 'receive')).toEqual([Number(lastIo.recv)]);
      // The agent talked to the mock LLM over TCP: both directions are above 0.
      expect(Number(lastIo.sent)).toBeGreaterThan(0);
      expect(Number(lastIo.recv)).toBeGreaterThan(0);
      // Bounded labels: no pid, no session (the I/O counters add their semconv direction).
      const direction: Record<string, string> = { agentsight_agent_process_disk_io_bytes_total: 'disk_io_direction', agentsight_agent_process_network_io_bytes_total: 'network_io_direction' };
      for (const x of m) {
        const want = x.name === 'agentsight_scrape_errors' ? ['section'] : ['gen_ai_agent_name', 'host', 'process_executable_name', ...(direction[x.name] ? [direction[x.name]] : [])];
        expect(Object.keys(x.labels).sort()).toEqual(want.sort());
      }
    } finally {
      await stopServe(serve.proc);
    }
  });

  // The dashboard's session view over the same stored data: `serve` on the data dir, real Chromium.
  (existsSync(CHROMIUM) ? test : test.skip)("the dashboard's session view: the CPU/RSS chart with the LLM-call and tool bands, the tool use's CPU s and peak RSS", async () => {
    const [tool] = await cliJson(['tools'], infra.env);
    const [session] = await cliJson(['sessions'], infra.env);
    const serve = await startServe(infra.env, ['--port', infra.env.AGENTSIGHT_API_PORT!]);
    const browser = await launchChromium();
    try {
      const url = new URL(serve.url);
      const token = url.searchParams.get('token')!;
      const path = `/sessions/${encodeURIComponent(session.conversation_id)}`;
      const r = await fetch(`${url.origin}/api/agent-sessions/${encodeURIComponent(session.conversation_id)}/resources`, { headers: { authorization: `Bearer ${token}` } });
      expect(r.status).toBe(200);
      const res = (await r.json()) as Row;
      expect(res).toMatchObject({ pid: session.pid, note: null });
      expect(res.tool_uses).toEqual([expect.objectContaining({ name: 'bash', cpu_s: tool.cpu_s, peak_rss_bytes: tool.peak_rss_bytes, resources_note: tool.resources_note })]);
      expect(res.points.length).toBeGreaterThan(3);
      expect(Math.max(...res.points.map((p: Row) => p.rss_bytes))).toBeGreaterThanOrEqual(256 * 1024 * 1024);
      // The tool burnt CPU: its window holds the session's busiest point.
      const busiest = res.points.reduce((a: Row, p: Row) => ((p.cpu_pct ?? 0) > (a.cpu_pct ?? 0) ? p : a));
      expect(Date.parse(busiest.ts)).toBeGreaterThan(Date.parse(tool.start_time));
      expect(Date.parse(busiest.ts)).toBeLessThanOrEqual(Date.parse(tool.end_time) + 1000 * 1.5); // the sample after the window's end covers its last interval

      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(`${url.origin}${path}?token=${token}`);
      await page.getByTestId('resource-chart').locator('canvas').first().waitFor();
      const cpuText = (v: number) => `${v >= 100 ? Math.round(v) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} s`;
      expect(await page.getByTestId('tool-cpu').textContent()).toBe(cpuText(tool.cpu_s));
      expect(await page.getByTestId('tool-rss').textContent()).toBe(`${(tool.peak_rss_bytes / 1048576).toFixed(1)} MiB`);
      // The bands are drawn: light orange (tool) and light blue (LLM call) regions on the chart's canvas. The canvas
      // is transparent where nothing is drawn (the page shows through): pixels are composited over white first.
      await page.waitForTimeout(300); // the chart's first paint
      const px = await page.getByTestId('resource-chart').locator('canvas').first()// eslint-disable-next-line @typescript-eslint/no-explicit-any
      .evaluate((c: any) => {
        // The plot area only (grid top 30 px, bottom 40 px, left 60, right 70: axes, legend and zoom slider are outside it).
        const dpr = c.width / c.clientWidth;
        const [left, top] = [Math.ceil(60 * dpr), Math.ceil(30 * dpr)];
        const [w, h] = [Math.floor(c.width - 70 * dpr) - left, Math.floor(c.height - 40 * dpr) - top];
        const d = c.getContext('2d').getImageData(left, top, w, h).data;
        let orange = 0;
        // A column is an LLM band's when most of its height is band blue (a line crossing it, or a line's
        // anti-aliased edge, covers a few pixels only).
        const blueColumns: number[] = [];
        for (let x = 0; x < w; x++) {
          let blue = 0;
          for (let y = 0; y < h; y++) {
            const i = (y * w + x) * 4;
            const a = d[i + 3] / 255;
            const [r, g, b] = [0, 1, 2].map((k) => d[i + k] * a + 255 * (1 - a));
            if (r > 200 && r > b + 25 && g > b + 10) orange++;
            else if (b > r + 15 && b > 190 && r > 150) blue++; // band blue (the CPU line's own blue has r 84)
          }
          if (blue > h / 2) blueColumns.push(x);
        }
        // Runs of blue columns, gaps of up to 3 columns bridged (a band's edge over the tool's band, a line
        // crossing it); a band is at least 1/200 of the plot wide, a vertical step of the CPU line (its anti-aliased
        // edges) 3 columns at most: only runs at least 1/200 wide (less 1 for rounding) count as bands.
        const runs: Array<[number, number]> = [];
        for (const x of blueColumns) {
          const last = runs[runs.length - 1];
          if (last && x - last[1] <= 4) last[1] = x;
          else runs.push([x, x]);
        }
        const bands = runs.filter(([a, b]) => b - a + 1 >= Math.floor(w / 200) - 1);
        return { orange, plotWidth: w, runs: runs.map(([a, b]) => `${a}-${b}`).join(' '), bands: bands.length };
      });
      const shots = join(dir, 'screenshots');
      mkdirSync(shots, { recursive: true });
      await page.getByTestId('session-resources').screenshot({ path: join(shots, 'session-resources.png') });
      process.stderr.write(`resources.e2e: screenshot ${join(shots, 'session-resources.png')}, band pixels ${JSON.stringify(px)}\n`);
      // The tool's band covers most of the axis.
      expect(px.orange).toBeGreaterThan(500);
      // One blue band per LLM call of the session (the calls are ms long: each is drawn 1/200 of the axis wide,
      // the last one too, though it ends where the axis does), apart since the tool use lies between them.
      const detail = (await (await fetch(`${url.origin}/api/agent-sessions/${encodeURIComponent(session.conversation_id)}`, { headers: { authorization: `Bearer ${token}` } })).json()) as Row;
      const calls: Row[] = detail.calls;
      expect(calls).toHaveLength(2);
      expect(px.bands).toBe(calls.length);
      await page.close();
    } finally {
      await browser.close();
      await stopServe(serve.proc);
    }
  }, 300_000);
});
