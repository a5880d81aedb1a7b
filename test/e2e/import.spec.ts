/**
 * `agentsight import` of the corpus' eunomia sslsniff capture (`agentsight__claude-code-raw.jsonl`: one pid/tid, no
 * connection id, text-encoded data) through the whole pipeline — every stage a separate process over real NATS,
 * Redis and chDB — gives every exchange of the corpus README, each response with its own request, bodies decoded
 * exactly, and the one LLM call equal to the ground truth. No eBPF needed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { corpusDir, groundTruthFor } from '@agentsight/testkit';
import { api, Infra, ROOT, runCli, Stages, startInfra } from './harness';

type Row = Record<string, any>;
const FILE = join(corpusDir(), 'agentsight__claude-code-raw.jsonl');

describe('agentsight import of an sslsniff capture', () => {
  let infra: Infra;
  let stages: Stages;
  let out: { code: number | null; stdout: string; stderr: string };

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'services/api/dist/main.js'))) throw new Error('services not built: run npm run setup');
    infra = await startInfra();
    // The capture is from 2026-03-17: keep it past the default TTL.
    infra.env.AGENTSIGHT_RETENTION_DAYS = '3650';
    stages = new Stages(infra.env);
    await stages.startAll();
    out = await runCli(['import', FILE, '--host', 'laptop-b'], infra.env);
  }, 240_000);

  afterAll(async () => {
    await stages?.stopAll();
    await infra?.stop();
  });

  test('the command reports what it read and inferred', () => {
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('92 line(s), 92 TLS record(s) published as host laptop-b');
    expect(out.stdout).toContain('connections: 9 (0 from transport_handle, 9 inferred from HTTP/1.1 framing); 9 request(s), 9 response(s)');
    expect(out.stdout).toMatch(/warning: 3 record\(s\) hold characters/);
  });

  test('every exchange of the README, each response paired with its request, bodies decoded exactly', async () => {
    const list: Row[] = await api(infra, '/api/exchanges');
    const byTarget = new Map<string, Row>();
    for (const e of list) byTarget.set(`${e.method} ${e.target.split('?')[0].replace(/\/sdk-.*/, '/sdk-')}`, await api(infra, `/api/exchanges/${e.exchange_id}`));
    expect([...byTarget.keys()].sort()).toEqual([
      'GET /api/claude_code_grove', 'GET /api/claude_code_penguin_mode', 'GET /api/oauth/account/settings',
      'GET /api/oauth/claude_cli/client_data', 'GET /v1/mcp_servers', 'POST /api/eval/sdk-', 'POST /api/event_logging/v2/batch',
      'POST /api/v2/logs', 'POST /v1/messages',
    ]);
    const body = (k: string) => Buffer.from(byTarget.get(k)!.response_body_base64 ?? '', 'base64');
    expect(JSON.parse(body('GET /api/oauth/claude_cli/client_data').toString())).toEqual({ client_data: {} });
    expect(JSON.parse(body('POST /api/event_logging/v2/batch').toString())).toEqual({ accepted_count: 37, rejected_count: 0 });
    expect(byTarget.get('POST /api/v2/logs')!.status).toBe(202);
    // gzip bodies whose text-encoded bytes were decided by their CRC: they decoded, so they are JSON.
    for (const k of ['GET /v1/mcp_servers', 'GET /api/claude_code_penguin_mode', 'GET /api/oauth/account/settings', 'GET /api/claude_code_grove']) {
      expect(() => JSON.parse(body(k).toString())).not.toThrow();
    }
    expect(body('POST /v1/messages').equals(readFileSync(join(corpusDir(), 'agentsight__claude-code-raw.v1-messages-response.sse')))).toBe(true);
    const llm = byTarget.get('POST /v1/messages')!;
    expect(llm.request_body_incomplete).toBe('short');
    expect(Buffer.from(llm.request_body_base64, 'base64').length).toBe(98135);
  });

  test('the LLM call equals the ground truth, under the chosen host', async () => {
    const gt = groundTruthFor('agentsight__claude-code-raw.jsonl');
    const calls: Row[] = await api(infra, '/api/calls');
    expect(calls).toHaveLength(1);
    const c = calls[0];
    expect(c['gen_ai.response.id']).toBe(gt.response_id);
    expect(c['gen_ai.response.model']).toBe(gt.model);
    expect(c['gen_ai.usage.output_tokens']).toBe(gt.output_tokens);
    expect(c['gen_ai.usage.cache_read.input_tokens']).toBe(gt.cache_read_tokens);
    expect(c.raw_usage.input_tokens).toBe(gt.input_tokens);
    expect(c['gen_ai.response.finish_reasons']).toEqual([gt.finish_reason]);
    expect(c.output_text.startsWith(gt.text_prefix!)).toBe(true);
    expect(c.start_time.startsWith('2026-03-17T01:11:3')).toBe(true);
  });

  test('the capture page and status show the store bounds (TTL days, size cap, nothing dropped)', async () => {
    const c: Row = await api(infra, '/api/capture');
    expect(c.retention).toMatchObject({ retention_days: 3650, max_bytes: 10 * 1024 ** 3, over_cap: false, dropped: { days: 0, rows: 0, bytes: 0 } });
    expect(c.retention.store_bytes).toBeGreaterThan(0);
    const st = await runCli(['status'], infra.env);
    expect(st.stdout).toMatch(/store: .* on disk, size cap 10\.0 GiB \(AGENTSIGHT_STORE_MAX_BYTES\), rows kept 3650 days/);
    expect(st.stdout).toContain('nothing dropped by the size cap');
  });

  test('importing the same file again stores nothing twice', async () => {
    const before: Row[] = await api(infra, '/api/exchanges');
    const again = await runCli(['import', FILE, '--host', 'laptop-b'], infra.env);
    expect(again.code).toBe(0);
    const after: Row[] = await api(infra, '/api/exchanges');
    expect(after.map((e) => e.exchange_id).sort()).toEqual(before.map((e) => e.exchange_id).sort());
    expect(await api(infra, '/api/calls')).toHaveLength(1);
  });
});
