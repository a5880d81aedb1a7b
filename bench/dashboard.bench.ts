/**
 * Dashboard read-API benchmark (not a test): `npx tsx bench/dashboard.bench.ts [calls=100000] [audit=1000000]
 * [sessions=10000]` after `npm run setup`, as root. Writes bench/out/dashboard.json and prints a Markdown table.
 *
 * 1. Generate: a private chDB directory gets realistic rows made inside ClickHouse (`INSERT … SELECT … FROM numbers(N)`):
 *    `calls` LLM calls over 30 days (4 agents, 6 models of 3 providers, token counts and costs, 1 in 50 an error,
 *    1 in 20 unpriced), one exchange per call (a ~600-byte JSON request body with the prompt, a ~400-byte response),
 *    `sessions` agent sessions (`invoke_agent`) and their calls, 2 tool uses per 5 calls with `execute_tool` spans, and
 *    `audit` audit records (exec/exit, file opens, connects) of the sessions' process trees.
 * 2. Serve: the api service (storage sink + read API) on that directory, with private NATS and Redis.
 * 3. Measure: each view's API calls, 3 warm-ups then 20 timed requests each, one at a time; p50 and p99 of the
 *    wall-clock time to the full JSON body. Chromium's time to first content per view (playwright-core, Debian's
 *    chromium, headless): navigation start → the view's data visible, 5 loads each, median.
 */

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureSchema, openClickHouse } from '@agentsight/clickhouse';
import { apiToken } from '@agentsight/jetstream';
import { ROOT, startInfra, Stages } from '../test/e2e/harness';

const CALLS = Number(process.argv[2] || 100_000);
const AUDIT = Number(process.argv[3] || 1_000_000);
const SESSIONS = Number(process.argv[4] || 10_000);
const DB = 'agentsight';

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

/**
 * Fills `<dataDir>/chdb` with the generated rows (sizes from argv, see the file comment); returns the row count of each
 * table and `generate_ms`. Throws the ClickHouse error on failure.
 */
export async function generate(dataDir: string): Promise<Record<string, number>> {
  const ch = await openClickHouse({ dataDir: join(dataDir, 'chdb') });
  await ensureSchema(ch);
  const run = (query: string) => ch.command({ query, clickhouse_settings: { max_insert_threads: '2' } });
  const t0 = Date.now();
  // Times: spread over the last 30 days, newest = number 0. Session s = number % SESSIONS; its agent pid = 20000 + s.
  const ts = (span: string) => `now64(9) - toIntervalNanosecond(toInt64(number) * intDiv(toInt64(30 * 86400) * 1000000000, ${span}))`;
  await run(`INSERT INTO ${DB}.llm_calls (call_id, event_id, name, host, start_time, end_time, duration_ms, pid, process_name, server_address, http_status,
      operation, provider, request_model, response_model, response_id, finish_reasons, input_tokens, output_tokens, cache_read_input_tokens,
      cache_creation_input_tokens, reasoning_output_tokens, error_type, tool_calls, raw_usage, attributes, output_text, exchange_id, cost_usd, price_id,
      usage_source, conversation_id, agent_name)
    SELECT lower(hex(MD5(concat('call', toString(number))))), lower(hex(MD5(concat('ev', toString(number))))), concat('chat ', model), 'bench',
      ${ts(String(CALLS))} AS st, st + toIntervalMillisecond(200 + number % 4000), 200 + number % 4000, 20000 + number % ${SESSIONS}, agent,
      ['api.openai.com', 'api.anthropic.com', 'generativelanguage.googleapis.com'][1 + number % 3], if(number % 50 = 0, 500, 200), 'chat',
      ['openai', 'anthropic', 'gcp.gemini'][1 + number % 3], model, model, concat('resp-', toString(number)), ['stop'],
      100 + number % 9000, 10 + number % 2000, number % 500, 0, 0, if(number % 50 = 0, '500', NULL),
      if(number % 5 < 2, '[{"id":"call_x","name":"Bash","arguments":"{\\"command\\":\\"ls -la\\"}"}]', '[]'), '{}', '{}',
      concat('Answer number ', toString(number), ' about the repository layout and the failing test.'),
      lower(hex(MD5(concat('ex', toString(number))))), if(number % 20 = 0, NULL, (100 + number % 9000) * 3e-6 + (10 + number % 2000) * 15e-6),
      if(number % 20 = 0, NULL, 'bench@2026-12-01'), 'reported', concat('conv-', toString(number % ${SESSIONS})),
      ['claude', 'codex', 'opencode', 'gemini'][1 + (number % ${SESSIONS}) % 4] AS agent
    FROM (SELECT number, ['gpt-4.1', 'gpt-4.1-mini', 'claude-sonnet-4-5', 'claude-haiku-4-5', 'gemini-2.5-pro', 'gemini-2.5-flash'][1 + number % 6] AS model FROM numbers(${CALLS}))`);
  await run(`INSERT INTO ${DB}.exchanges (exchange_id, host, conn_key, pid, tid, uid, comm, process_exe, process_argv, server_address, method, target, request_version,
      request_headers, request_body, request_body_encoding, has_response, status, reason, response_headers, response_body, response_body_encoding, streaming, sse_events, start_time, end_time)
    SELECT lower(hex(MD5(concat('ex', toString(number))))), 'bench', toString(number), 20000 + number % ${SESSIONS}, 20000 + number % ${SESSIONS}, 0, 'node', '/usr/bin/node', ['node', 'agent.js'],
      'api.openai.com', 'POST', '/v1/chat/completions', 'HTTP/1.1', [('content-type', 'application/json'), ('authorization', 'Bearer [REDACTED]')],
      concat('{"model":"gpt-4.1","messages":[{"role":"system","content":"You are a coding agent. ', repeat('Follow the rules. ', 20), '"},{"role":"user","content":"Task ', toString(number), ': fix the failing test in module ', toString(number % 97), '"}]}'),
      'utf8', true, 200, 'OK', [('content-type', 'application/json')], concat('{"id":"resp-', toString(number), '","choices":[{"message":{"content":"', repeat('ok ', 100), '"}}]}'),
      'utf8', false, 0, ${ts(String(CALLS))} AS st, st + toIntervalMillisecond(300)
    FROM numbers(${CALLS})`);
  const tools = Math.floor((CALLS * 2) / 5);
  await run(`INSERT INTO ${DB}.tool_uses (id, version, source, host, pid, comm, agent_name, conversation_id, name, call_id, tool_type, arguments, result, success, start_time, end_time, duration_ms, origin_llm_call_id, result_llm_call_id)
    SELECT lower(hex(MD5(concat('tool', toString(number))))), 3, 'llm', 'bench', 20000 + c % ${SESSIONS}, 'node', ['claude', 'codex', 'opencode', 'gemini'][1 + (c % ${SESSIONS}) % 4],
      concat('conv-', toString(c % ${SESSIONS})), ['Bash', 'Read', 'Edit', 'Grep'][1 + number % 4], concat('call_', toString(number)), 'function',
      concat('{"command":"ls -la /src/', toString(number % 300), '"}'), 'total 8\\n-rw-r--r-- 1 root root 10 a.txt', number % 30 != 0,
      ${ts(String(CALLS))} AS st, st + toIntervalMillisecond(50), 50, lower(hex(MD5(concat('call', toString(c))))), lower(hex(MD5(concat('call', toString(c + 1)))))
    FROM (SELECT number, intDiv(number * 5, 2) AS c FROM numbers(${tools}))`);
  await run(`INSERT INTO ${DB}.genai_spans (id, version, kind, name, host, pid, process_name, conversation_id, agent_name, tool_use_id, tool_name, success, start_time, end_time, duration_ms, attributes)
    SELECT lower(hex(MD5(concat('span', toString(number))))), 3, 'execute_tool', concat('execute_tool ', ['Bash', 'Read', 'Edit', 'Grep'][1 + number % 4]), 'bench', 20000 + c % ${SESSIONS}, 'node',
      concat('conv-', toString(c % ${SESSIONS})), ['claude', 'codex', 'opencode', 'gemini'][1 + (c % ${SESSIONS}) % 4], lower(hex(MD5(concat('tool', toString(number))))),
      ['Bash', 'Read', 'Edit', 'Grep'][1 + number % 4], number % 30 != 0, ${ts(String(CALLS))} AS st, st + toIntervalMillisecond(50), 50, '{}'
    FROM (SELECT number, intDiv(number * 5, 2) AS c FROM numbers(${tools}))`);
  const perSession = Math.max(1, Math.floor(CALLS / SESSIONS));
  await run(`INSERT INTO ${DB}.genai_spans (id, version, kind, name, host, pid, process_name, conversation_id, agent_name, start_time, end_time, duration_ms, llm_calls, tool_uses, tool_errors, input_tokens, output_tokens, cost_usd, unpriced_calls, attributes)
    SELECT lower(hex(MD5(concat('session', toString(number))))), 10, 'invoke_agent', concat('invoke_agent ', agent), 'bench', 20000 + number, 'node', concat('conv-', toString(number)), agent,
      now64(9) - toIntervalSecond(toInt64(number) * intDiv(30 * 86400, ${SESSIONS}) + 3600) AS st, st + toIntervalSecond(3000), 3000000, ${perSession}, ${Math.floor((perSession * 2) / 5)}, 0,
      ${perSession} * 4000, ${perSession} * 900, ${perSession} * 0.02, 0, '{}'
    FROM (SELECT number, ['claude', 'codex', 'opencode', 'gemini'][1 + number % 4] AS agent FROM numbers(${SESSIONS}))`);
  await run(`INSERT INTO ${DB}.audit_events (id, type, action, host, ts, pid, ppid, comm, summary, details)
    SELECT lower(hex(MD5(concat('audit', toString(number))))), t, a, 'bench', ${ts(String(AUDIT))}, if(t = 'process', 100000 + number % 500000, 20000 + number % ${SESSIONS}), 20000 + number % ${SESSIONS},
      if(t = 'process', 'ls', 'node'),
      multiIf(a = 'exec', concat('exec /usr/bin/ls -la /src/', toString(number % 300)), a = 'exit', 'exit 0 after 3.1 ms', a = 'open', concat('open /src/file', toString(number % 5000), '.ts O_RDONLY → fd 3'), 'connect 10.0.0.1:443 → EINPROGRESS'),
      multiIf(a = 'exec', concat('{"filename":"/usr/bin/ls","argv":["ls","-la","/src/', toString(number % 300), '"],"uid":0}'), a = 'exit', '{"exit_code":0,"duration_ns":3100000}', a = 'open', concat('{"path":"/src/file', toString(number % 5000), '.ts","flags":"O_RDONLY","result":3}'), '{"address":"10.0.0.1:443","target":"10.0.0.1:443","result":-115,"errno":"EINPROGRESS"}')
    FROM (SELECT number, ['process', 'process', 'file', 'file', 'file', 'file', 'file', 'file', 'net', 'net'][1 + number % 10] AS t,
                 ['exec', 'exit', 'open', 'open', 'open', 'open', 'open', 'open', 'connect', 'connect'][1 + number % 10] AS a FROM numbers(${AUDIT}))`);
  await run(`OPTIMIZE TABLE ${DB}.audit_events FINAL`).catch(() => undefined);
  const counts: Record<string, number> = { generate_ms: Date.now() - t0 };
  for (const t of ['llm_calls', 'exchanges', 'tool_uses', 'genai_spans', 'audit_events']) {
    const rs = await ch.query({ query: `SELECT count() AS n FROM ${DB}.${t}`, format: 'JSONEachRow' });
    counts[t] = Number(((await rs.json()) as Array<{ n: string }>)[0].n);
  }
  await ch.close();
  return counts;
}

async function main(): Promise<void> {
  const infra = await startInfra();
  const stages = new Stages(infra.env);
  const out: Record<string, unknown> = { date: new Date().toISOString(), calls: CALLS, audit: AUDIT, sessions: SESSIONS };
  try {
    process.stderr.write(`generating ${CALLS} calls, ${AUDIT} audit rows, ${SESSIONS} sessions…\n`);
    out.rows = await generate(infra.dataDir);
    process.stderr.write(`generated: ${JSON.stringify(out.rows)}\n`);
    await stages.start('api');
    const base = `http://127.0.0.1:${infra.env.AGENTSIGHT_API_PORT}`;
    const get = async (p: string) => {
      const r = await fetch(base + p, { headers: { authorization: `Bearer ${apiToken(infra.env)}` } });
      if (!r.ok) throw new Error(`${p}: ${r.status} ${await r.text()}`);
      return r.json();
    };
    const page = (await get('/api/llm-calls?limit=50')) as { next_cursor: string | null; items: Array<{ call_id: string }> };
    const session = 'conv-42';
    const paths: Array<[string, string]> = [
      ['overview', '/api/overview?from=30d'], ['overview 24h', '/api/overview?from=24h'], ['timeseries 30d', '/api/timeseries?from=30d'],
      ['calls page 1', '/api/llm-calls?limit=50'], ['calls page 2 (cursor)', `/api/llm-calls?limit=50&cursor=${page.next_cursor}`],
      ['calls by model', '/api/llm-calls?limit=50&model=claude-sonnet-4-5'], ['calls search (answers + prompts)', '/api/llm-calls?limit=50&q=module%2093'],
      ['call detail', `/api/llm-calls/${page.items[0].call_id}`],
      ['sessions page 1', '/api/agent-sessions?limit=50'], ['sessions search', '/api/agent-sessions?limit=50&q=Task%201234%3A'],
      ['session detail', `/api/agent-sessions/${session}`],
      ['processes page 1', '/api/processes?limit=50'], ['processes search', '/api/processes?limit=50&q=file4242'], ['capture', '/api/capture'],
    ];
    const api: Array<{ view: string; path: string; p50_ms: number; p99_ms: number }> = [];
    for (const [view, p] of paths) {
      for (let i = 0; i < 3; i++) await get(p);
      const xs: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        await get(p);
        xs.push(performance.now() - t);
      }
      api.push({ view, path: p.replace(/cursor=[^&]+/, 'cursor=…'), p50_ms: Math.round(pct(xs, 50)), p99_ms: Math.round(pct(xs, 99)) });
      process.stderr.write(`${view}: p50 ${Math.round(pct(xs, 50))} ms, p99 ${Math.round(pct(xs, 99))} ms\n`);
    }
    out.api = api;
    if (existsSync('/usr/bin/chromium')) {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
      // Every page needs the token: each load is a first visit (`?token=`, which sets the cookie and redirects).
      const token = apiToken(infra.env);
      const views: Array<[string, string, string]> = [
        ['/', '/?range=30d', 'kpi-calls'], ['/calls', '/calls', 'calls-table'], ['/calls/<id>', `/calls/${page.items[0].call_id}`, 'call-detail'],
        ['/sessions', '/sessions', 'sessions-table'], ['/sessions/<id>', `/sessions/${session}`, 'session-detail'], ['/processes', '/processes', 'processes-table'], ['/capture', '/capture', 'tables'],
      ];
      const ui: Array<{ view: string; fcp_ms: number; data_ms: number }> = [];
      for (const [view, p, testId] of views) {
        const fcp: number[] = [];
        const data: number[] = [];
        for (let i = 0; i < 5; i++) {
          const pg = await browser.newPage();
          const t = Date.now();
          await pg.goto(`${base}${p}${p.includes('?') ? '&' : '?'}token=${token}`);
          await pg.getByTestId(testId).first().waitFor({ timeout: 30_000 });
          data.push(Date.now() - t);
          fcp.push(await pg.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1));
          await pg.close();
        }
        ui.push({ view, fcp_ms: Math.round(pct(fcp, 50)), data_ms: Math.round(pct(data, 50)) });
        process.stderr.write(`${view}: first contentful paint ${Math.round(pct(fcp, 50))} ms, data visible ${Math.round(pct(data, 50))} ms\n`);
      }
      await browser.close();
      out.chromium = ui;
    }
  } finally {
    await stages.stopAll();
    await infra.stop();
  }
  mkdirSync(join(ROOT, 'bench/out'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/out/dashboard.json'), JSON.stringify(out, null, 2));
  const api = out.api as Array<{ view: string; path: string; p50_ms: number; p99_ms: number }>;
  process.stdout.write(['| view / API call | p50 ms | p99 ms |', '| --- | --- | --- |', ...api.map((a) => `| ${a.view} (\`${a.path}\`) | ${a.p50_ms} | ${a.p99_ms} |`)].join('\n') + '\n');
  const ui = out.chromium as Array<{ view: string; fcp_ms: number; data_ms: number }> | undefined;
  if (ui) process.stdout.write(['', '| view | first contentful paint ms | data visible ms |', '| --- | --- | --- |', ...ui.map((u) => `| ${u.view} | ${u.fcp_ms} | ${u.data_ms} |`)].join('\n') + '\n');
}

if (require.main === module) {
  void main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}


