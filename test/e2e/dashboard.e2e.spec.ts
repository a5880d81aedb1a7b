/**
 * `agentsight serve` in real Chromium (Debian's /usr/bin/chromium driven by playwright-core, headless), on data from
 * real capture: while `serve` runs, `agentsight exec` runs the example agent (official openai SDK, streamed, a tool
 * whose implementation runs `ls`) against the local replay server, and a curl call to a local HTTPS server whose
 * prompt, response, tool arguments and an argv carry planted XSS payloads (`<img onerror>`, `<script>`, a
 * `javascript:` link, ANSI escapes, a bidi override). The views must show the stored values exactly, a call made while
 * a page is open must appear without a reload within 2 s of being stored, nothing planted may run, no request may go
 * to another host, and a non-loopback `serve` must answer 401 without its token. Screenshots of every view are written
 * (to docs/screenshots/ with AGENTSIGHT_UPDATE_SCREENSHOTS=1).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_AGENT_ROUTES, groundTruthFor, makeSelfSignedCert, startReplayServer, type ReplayServer } from '@agentsight/testkit';
import type { CaptureStatus } from '@agentsight/contracts';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, describeCapture, Infra, launchChromium, ROOT, runCli, startInfra, startServe, stopServe } from './harness';

type Row = Record<string, any>;

/** Screenshots go to docs/screenshots (committed, shown in the READMEs) with AGENTSIGHT_UPDATE_SCREENSHOTS=1, else to a temp dir (a test run leaves the tree clean). */
const SHOTS = process.env.AGENTSIGHT_UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs/screenshots') : join(tmpdir(), 'agentsight-dashboard-screenshots');
const P_IMG = '<img src=x onerror="window.__xss=1">';
const P_SCRIPT = '<script>window.__xss=2</script>';
const P_JS = 'javascript:window.__xss=3';
const ESC = '\u001b';
const PAYLOAD = `${P_IMG} ${P_SCRIPT} [click](${P_JS}) ${ESC}[31mRED${ESC}[0m \u202Eevil`;
const XSS_RESPONSE_ID = 'chatcmpl-xss-planted-0001';

/** A local HTTPS server answering one non-streamed chat completion whose text and tool arguments carry the payload. */
async function startXssServer(): Promise<{ url: string; caPath: string; close(): Promise<void> }> {
  const cert = makeSelfSignedCert();
  const srv = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({
        id: XSS_RESPONSE_ID, object: 'chat.completion', created: 1764000000, model: 'gpt-4.1-nano-2025-04-14',
        choices: [{
          index: 0, finish_reason: 'tool_calls',
          message: { role: 'assistant', content: `answer ${PAYLOAD}`, tool_calls: [{ id: 'call_xss1', type: 'function', function: { name: 'run_command', arguments: JSON.stringify({ cmd: PAYLOAD }) } }] },
        }],
        usage: { prompt_tokens: 31, completion_tokens: 17, total_tokens: 48 },
      });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `https://127.0.0.1:${(srv.address() as AddressInfo).port}`, caPath: cert.certPath, close: () => new Promise((r) => srv.close(() => r())) };
}

const usd = (v: number | null) => (v === null ? 'unpriced' : `$${v.toFixed(Math.abs(v) === 0 || Math.abs(v) >= 1 ? 2 : Math.abs(v) >= 0.01 ? 4 : 6)}`);

const describeBrowser = existsSync(CHROMIUM) ? describeCapture : (name: string, fn: () => void) => describe.skip(`${name} (no ${CHROMIUM}: npm run setup installs chromium)`, fn);

describeBrowser('agentsight serve: the dashboard in Chromium on real captured data', () => {
  let infra: Infra;
  let replay: ReplayServer;
  let xss: Awaited<ReturnType<typeof startXssServer>>;
  let serve: Awaited<ReturnType<typeof startServe>>;
  let browser: Browser;
  let origin: string;
  let token: string;
  /** fetch with the read API's token (every request needs it, loopback included). */
  const authed = (url: string, init: RequestInit = {}) => fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` } });
  let calls: Row[];
  let execStderr = '';
  const foreign: string[] = [];
  const consoleErrors: string[] = [];
  const dialogs: string[] = [];

  const cliEnv = () => ({ ...infra.env, OPENAI_BASE_URL: `${replay.url}/v1`, NODE_EXTRA_CA_CERTS: replay.caPath });

  async function open(path: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('request', (r) => !r.url().startsWith(origin) && !r.url().startsWith('data:') && foreign.push(r.url()));
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${origin}${path}${path.includes('?') ? '&' : '?'}token=${token}`); // sets the cookie, redirects to the path
    return page;
  }

  async function shot(page: Page, name: string): Promise<void> {
    mkdirSync(SHOTS, { recursive: true });
    await page.waitForTimeout(300); // charts finish their first paint
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
  }

  beforeAll(async () => {
    infra = await startInfra();
    replay = await startReplayServer({ routes: EXAMPLE_AGENT_ROUTES });
    xss = await startXssServer();
    serve = await startServe(infra.env, ['--port', infra.env.AGENTSIGHT_API_PORT!]);
    origin = new URL(serve.url).origin;
    token = new URL(serve.url).searchParams.get('token')!;
    const dir = join(infra.dataDir, 'xss');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'body.json'), JSON.stringify({ model: 'gpt-4.1-nano', messages: [{ role: 'user', content: `prompt ${PAYLOAD}` }] }));
    writeFileSync(join(dir, 'run.sh'), [
      `curl -sS --http1.1 --cacert ${xss.caPath} ${xss.url}/v1/chat/completions -H 'content-type: application/json' --data-binary @${join(dir, 'body.json')} > /dev/null`,
      `/bin/echo '<img src=x onerror=window.__xss=4>' "$(printf '\\033[31mred\\342\\200\\256')" > /dev/null`,
    ].join('\n') + '\n');
    const agent = await runCli(['exec', '--', 'sh', '-c', `node ${join(ROOT, 'examples/dist/agent.js')} ${join(ROOT, 'examples')} && sh ${join(dir, 'run.sh')}`], cliEnv());
    if (agent.code !== 0) throw new Error(`exec failed (${agent.code}):\n${agent.stderr}`);
    execStderr = agent.stderr;
    calls = JSON.parse((await runCli(['calls', '--json'], infra.env)).stdout);
    browser = await launchChromium();
  }, 400_000);

  afterAll(async () => {
    await browser?.close();
    await stopServe(serve?.proc);
    await xss?.close();
    await replay?.close();
    await infra?.stop();
  }, 60_000);

  test('serve printed a loopback URL; exec printed it too; the page is served with a strict CSP', async () => {
    expect(serve.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${infra.env.AGENTSIGHT_API_PORT}/\\?token=[A-Za-z0-9_-]{40,}$`));
    expect(execStderr).toContain(`[agentsight] dashboard (while this runs): ${serve.url}`);
    // Loopback too: nothing without the token.
    expect((await fetch(origin + '/')).status).toBe(401);
    expect((await fetch(origin + '/api/llm-calls')).status).toBe(401);
    const r = await authed(origin + '/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toMatch(/default-src 'self'; script-src 'self'/);
    const html = await r.text();
    expect(html).not.toMatch(/<script>(?!<\/script>)/); // no inline script: every script has a src
    expect(html).toMatch(/<script type="module" crossorigin src="\/assets\//);
  });

  test('overview: KPI cards equal the stored calls (count, tokens, cost), charts render', async () => {
    const page = await open('/');
    const sum = (k: string) => calls.reduce((a, c) => a + (c[k] ?? 0), 0);
    await page.getByTestId('kpi-calls').getByText(String(calls.length), { exact: true }).waitFor();
    expect(await page.getByTestId('kpi-input').textContent()).toContain(sum('gen_ai.usage.input_tokens').toLocaleString('en-US'));
    expect(await page.getByTestId('kpi-output').textContent()).toContain(sum('gen_ai.usage.output_tokens').toLocaleString('en-US'));
    const priced = calls.filter((c) => c.cost_usd !== null);
    const cost = Math.round(priced.reduce((a, c) => a + c.cost_usd, 0) * 1e9) / 1e9;
    const unpriced = calls.length - priced.length;
    expect(await page.getByTestId('kpi-cost').textContent()).toContain(usd(priced.length ? cost : null));
    expect(await page.getByTestId('kpi-cost').textContent()).toContain(unpriced ? `${unpriced} unpriced` : 'all calls priced');
    await page.getByTestId('chart-tokens').locator('canvas').first().waitFor();
    await shot(page, 'overview');
    await page.close();
  });

  test('overview latency: time to first chunk of the streamed calls, each no later than its call\'s end', async () => {
    const ttfc = calls.filter((c) => c['gen_ai.response.time_to_first_chunk'] !== null);
    expect(ttfc.length).toBeGreaterThan(0); // the example agent streams
    for (const c of ttfc) {
      expect(c['gen_ai.response.time_to_first_chunk']).toBeGreaterThan(0);
      expect(c['gen_ai.response.time_to_first_chunk'] * 1000).toBeLessThanOrEqual(c.duration_ms);
    }
    const o = (await (await authed(`${origin}/api/overview?from=30d`)).json()) as { latency: Record<string, number | string | null> };
    expect(o.latency.ttft_note).toBeNull();
    const ms = ttfc.map((c) => c['gen_ai.response.time_to_first_chunk'] * 1000);
    expect(o.latency.ttft_p50_ms).toBeGreaterThanOrEqual(Math.min(...ms) - 1e-6);
    expect(o.latency.ttft_p95_ms).toBeLessThanOrEqual(Math.max(...ms) + 1e-6);
  });

  test('calls list and detail show the stored model, response id, tokens and cost exactly', async () => {
    const gt = groundTruthFor('ddtrace__completion_stream_with_tools.yaml');
    const c = calls.find((x) => x['gen_ai.response.id'] === gt.response_id)!;
    expect(c).toBeDefined();
    const page = await open('/calls');
    const table = page.getByTestId('calls-table');
    for (const x of calls) await table.getByText(x['gen_ai.response.id'], { exact: true }).waitFor();
    await shot(page, 'calls');
    await page.getByRole('link', { name: c.start_time.replace('T', ' ').replace('Z', '') }).click();
    await page.getByTestId('call-detail').waitFor();
    expect(page.url()).toBe(`${origin}/calls/${c.call_id}`);
    expect(await page.getByTestId('call-model').textContent()).toContain(c['gen_ai.response.model']);
    expect(await page.getByTestId('call-response-id').textContent()).toBe(c['gen_ai.response.id']);
    expect(await page.getByTestId('call-input-tokens').textContent()).toBe(c['gen_ai.usage.input_tokens'].toLocaleString('en-US'));
    expect(await page.getByTestId('call-output-tokens').textContent()).toBe(c['gen_ai.usage.output_tokens'].toLocaleString('en-US'));
    expect(await page.getByTestId('call-cost').textContent()).toBe(usd(c.cost_usd));
    expect(await page.getByTestId('call-usage-source').textContent()).toContain(c.usage_source);
    // Its tool use and the `ls` that tool use ran.
    await page.getByTestId('call-tools').getByText('get_current_weather', { exact: true }).waitFor();
    await page.getByTestId('caused').getByText(/exec \S*ls -la/).waitFor();
    await page.getByTestId('sse-events').waitFor();
    await shot(page, 'call-detail');
    // Back/forward work.
    await page.goBack();
    await page.getByTestId('calls-table').waitFor();
    expect(page.url()).toBe(`${origin}/calls`);
    // Sorting happens on the server and lives in the URL.
    await page.getByTestId('sort-cost').click();
    await page.waitForURL(/sort=cost&order=desc/);
    const top = [...calls].filter((x) => x.cost_usd !== null).sort((a, b) => b.cost_usd - a.cost_usd)[0];
    await page.getByTestId('calls-table').locator('tbody tr').first().getByText(top['gen_ai.response.id'], { exact: true }).waitFor();
    const sorted = (await (await authed(`${origin}/api/llm-calls?sort=cost&order=asc&limit=1`)).json()) as { items: Array<{ cost_usd: number }>; next_cursor: string | null };
    expect(sorted.items[0].cost_usd).toBe(Math.min(...calls.filter((x) => x.cost_usd !== null).map((x) => x.cost_usd)));
    expect(sorted.next_cursor).not.toBeNull();
    await page.close();
  });

  test('session: the tool call, with the `ls` it caused under it in the process tree and on the timeline', async () => {
    const sessions: Row[] = JSON.parse((await runCli(['sessions', '--json'], infra.env)).stdout);
    const s = sessions.find((x) => x.agent_name === 'agent')!;
    const page = await open('/sessions');
    await page.getByTestId('sessions-table').getByText(s.conversation_id, { exact: true }).waitFor();
    await page.getByTestId('sessions-table').getByText('What is the weather like in San Francisco, CA?').waitFor();
    await shot(page, 'sessions');
    await page.getByTestId('sessions-table').getByRole('link', { name: 'agent', exact: true }).click();
    await page.getByTestId('session-detail').waitFor();
    expect(page.url()).toBe(`${origin}/sessions/${s.conversation_id}`);
    await page.getByTestId('toolcall').getByText('get_current_weather').waitFor();
    const ls = page.getByTestId('process-tree').locator('li', { hasText: `ls -la ${join(ROOT, 'examples')}` }).first();
    await ls.waitFor();
    expect(await ls.locator('.cause').first().textContent()).toContain('tool get_current_weather');
    await page.getByTestId('timeline').getByText(/exec \S*ls -la/).waitFor();
    await page.getByTestId('waterfall').locator('canvas').first().waitFor();
    expect(await page.getByTestId('session-state').textContent()).toBe('ended'); // the agent's exit is recorded
    await shot(page, 'session-detail');
    await page.close();
  });

  test('processes and capture pages: the argv, and counters equal to the probe\'s', async () => {
    const page = await open('/processes?type=process&q=ls%20-la');
    await page.getByTestId('processes-table').getByText(`exec /usr/bin/ls -la ${join(ROOT, 'examples')}`).waitFor();
    await page.getByTestId('processes-table').getByText('get_current_weather').waitFor();
    await shot(page, 'processes');
    const cap = (await (await authed(`${origin}/api/capture`)).json()) as { producers: Array<{ records: number; lost_records: number; ringbuf_drops: number }>; not_captured: unknown[] };
    expect(cap.producers.length).toBeGreaterThan(0);
    await page.goto(origin + '/capture');
    const prod = page.getByTestId('producer').first();
    await prod.waitFor();
    expect(await prod.getByTestId('records').textContent()).toBe(cap.producers[0].records.toLocaleString('en-US'));
    expect(await prod.getByTestId('kernel-loss').textContent()).toContain(`${cap.producers[0].lost_records} lost in the kernel`);
    expect(cap.producers[0].ringbuf_drops).toBe(cap.producers[0].lost_records);
    await page.getByTestId('tables').getByText('llm_calls').waitFor();
    // The example agent's TLS all went through probed functions: nothing to report as not captured.
    expect(cap.not_captured).toEqual([]);
    await page.getByTestId('not-captured').getByText('every TLS connection seen was captured by a probe').waitFor();
    // The stages' event counters, at 0 once each stage started (declared then): nothing given up in this run.
    const { stage_events: events } = (await (await authed(`${origin}/api/capture`)).json()) as Pick<CaptureStatus, 'stage_events'>;
    expect(events).toEqual(expect.arrayContaining([
      expect.objectContaining({ stage: 'aggregator', name: 'agentsight_cache_rebuilds_given_up_total', labels: { cache: 'proc' }, value: 0 }),
      expect.objectContaining({ stage: 'genai', name: 'agentsight_cache_rebuilds_given_up_total', labels: { cache: 'session' }, value: 0 }),
    ]));
    const row = page.getByTestId('stage-events').locator('tr', { hasText: 'cache=proc' });
    await row.waitFor();
    expect(await row.textContent()).toBe('aggregatoragentsight_cache_rebuilds_given_up_totalcache=proc0');
    await shot(page, 'capture');
    await page.close();
  });

  test('a call made while the page is open appears within 2 s of being stored, without a reload', async () => {
    const page = await open('/calls');
    await page.getByTestId('calls-table').waitFor();
    await page.evaluate(() => ((globalThis as unknown as { __loaded: number }).__loaded = 1));
    await page.getByTestId('live').getByText('live').waitFor();
    const gt = groundTruthFor('vercel__anthropic-text.chunks.txt');
    const ran = await runCli(['exec', '-q', '--', 'curl', '-sS', '--http1.1', '--cacert', replay.caPath, `${replay.url}/v1/messages`, '-H', 'x-replay-fixture: vercel__anthropic-text.chunks.txt',
      '-H', 'content-type: application/json', '-H', 'anthropic-version: 2023-06-01', '-o', '/dev/null',
      '-d', '{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Hello"}]}'], cliEnv());
    expect(ran.code).toBe(0);
    const storedBy = Date.now(); // exec returns once the pipeline drained: the call is stored
    await page.getByTestId('calls-table').getByText(gt.response_id!, { exact: true }).waitFor({ timeout: 2000 });
    expect(Date.now() - storedBy).toBeLessThanOrEqual(2000);
    expect(await page.evaluate(() => (globalThis as unknown as { __loaded?: number }).__loaded)).toBe(1); // same document: no reload
    await page.close();
  });

  test('planted payloads in a prompt, a response, a tool argument and an argv show as text and run nothing', async () => {
    const x = (JSON.parse((await runCli(['calls', '--json'], infra.env)).stdout) as Row[]).find((c) => c['gen_ai.response.id'] === XSS_RESPONSE_ID)!;
    expect(x).toBeDefined();
    const pages: Page[] = [];
    const check = async (page: Page) => {
      pages.push(page);
      await page.waitForTimeout(300);
      expect(await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss)).toBeUndefined();
      expect(await page.locator('img[src="x"], main script, a[href^="javascript:"]').count()).toBe(0);
    };
    // Call detail: the response text, the request body (prompt) and the tool arguments.
    const call = await open(`/calls/${x.call_id}`);
    await call.getByTestId('call-detail').waitFor();
    const text = (await call.locator('main').innerText());
    expect(text).toContain(P_IMG);
    expect(text).toContain(P_SCRIPT);
    expect(text).toContain(P_JS);
    expect(text).toContain('␛[31mRED␛[0m'); // ANSI escapes inert and visible
    expect(text).toContain('⟨U+202E⟩evil'); // bidi override inert and visible
    expect(await call.locator('.ctl').count()).toBeGreaterThan(0);
    await check(call);
    await shot(call, 'xss-inert');
    // The sessions list (first prompt) and the session's conversation.
    const list = await open('/sessions?q=onerror');
    await list.getByTestId('sessions-table').getByText(P_IMG, { exact: false }).first().waitFor();
    await check(list);
    // The argv on the processes page.
    const procs = await open('/processes?type=process&q=echo');
    await procs.getByTestId('processes-table').getByText('<img src=x onerror=window.__xss=4>', { exact: false }).first().waitFor();
    expect(await procs.locator('main').innerText()).toContain('red⟨U+202E⟩');
    await check(procs);
    expect(dialogs).toEqual([]);
    for (const p of pages) await p.close();
  });

  test('bad query parameters get a 400 with the reason; OpenAPI is at /api/docs', async () => {
    const r = await authed(`${origin}/api/llm-calls?limit=0`);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { message: string }).message).toMatch(/limit must be an integer/);
    const t = await authed(`${origin}/api/overview?from=yesterday-ish`);
    expect(t.status).toBe(400);
    expect(((await t.json()) as { message: string }).message).toMatch(/not a time/);
    const c = await authed(`${origin}/api/llm-calls?cursor=Zm9v`);
    expect(c.status).toBe(400);
    const so = await authed(`${origin}/api/agent-sessions?sort=nope`);
    expect(so.status).toBe(400);
    expect(((await so.json()) as { message: string }).message).toMatch(/sort must be one of/);
    const doc = await authed(`${origin}/api/docs-json`);
    expect(doc.status).toBe(200);
    expect(Object.keys(((await doc.json()) as { paths: Record<string, unknown> }).paths)).toEqual(expect.arrayContaining(['/api/overview', '/api/timeseries', '/api/llm-calls', '/api/llm-calls/{id}', '/api/agent-sessions', '/api/capture', '/api/live']));
  });

  test('the pages requested nothing from any other host and violated no CSP rule', () => {
    expect(foreign).toEqual([]);
    expect(consoleErrors.filter((e) => /Content Security Policy|Refused to/.test(e))).toEqual([]);
  });

  test('a non-loopback serve answers 401 without its token (pages, API, live channel), a ?token= visit sets a strict cookie', async () => {
    const other = await startInfra();
    const port = Number(other.env.AGENTSIGHT_API_PORT);
    let s: Awaited<ReturnType<typeof startServe>> | undefined;
    try {
      s = await startServe({ ...other.env, AGENTSIGHT_UI_TOKEN: '' }, ['--host', '0.0.0.0', '--port', String(port)]);
      const token = new URL(s.url).searchParams.get('token');
      expect(token).toMatch(/^[A-Za-z0-9_-]{24,}$/);
      const base = `http://127.0.0.1:${port}`;
      for (const p of ['/', '/calls', '/api/overview', '/api/live', '/api/health', '/assets/x.js', `/?token=wrong${token}`]) {
        expect([p, (await fetch(base + p, { redirect: 'manual' })).status]).toEqual([p, 401]);
      }
      const first = await fetch(`${base}/calls?token=${token}`, { redirect: 'manual' });
      expect(first.status).toBe(303);
      expect(first.headers.get('location')).toBe('/calls');
      const cookie = first.headers.get('set-cookie')!;
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Strict/);
      const again = await fetch(`${base}/api/overview`, { headers: { cookie: cookie.split(';')[0] } });
      expect(again.status).toBe(200);
      expect((await fetch(`${base}/api/overview`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      // The CLI on this machine reads through it with the machine's api token (secrets.json, mode 0600).
      const cli = await runCli(['calls', '--json'], other.env);
      expect(cli.code).toBe(0);
      expect(JSON.parse(cli.stdout)).toEqual([]);
      // In the browser: one visit with the token, then the cookie carries it.
      const page = await browser.newPage();
      await page.goto(`${base}/?token=${token}`);
      await page.getByTestId('kpi-calls').waitFor();
      expect(page.url()).toBe(`${base}/`);
      await page.close();
    } finally {
      await stopServe(s?.proc);
      await other.stop();
    }
  }, 180_000);
});

