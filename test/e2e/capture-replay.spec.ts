/**
 * A real eBPF capture of Claude Code (corpus: 92 SSL records; one LLM call with a 98 KB request split over two
 * writes and shortened by post-hoc redaction, a gzip + chunked SSE response over 65 reads; 8 other exchanges on
 * other connections, interleaved) published as raw records to the running pipeline — every stage a separate
 * process over real NATS JetStream, Redis and chDB — must come out as exactly the ground truth. No eBPF needed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connKey, RawSslCloseRecord, Subjects } from '@agentsight/contracts';
import { connectNats, Publisher } from '@agentsight/jetstream';
import { claudeCodeCapture, groundTruthFor } from '@agentsight/testkit';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { api, Infra, ROOT, Stages, startInfra } from './harness';

type Row = Record<string, any>;

describe('the real Claude Code capture through the whole pipeline', () => {
  let infra: Infra;
  let stages: Stages;
  const wallStartNs = BigInt(Date.now() - 60_000) * 1_000_000n;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'services/api/dist/main.js'))) throw new Error('services not built: run npm run setup');
    infra = await startInfra();
    stages = new Stages(infra.env);
    await stages.startAll();
    const cap = claudeCodeCapture({ host: 'e2e-host', partitions: 8, wallStartNs });
    const nats = await connectNats(infra.natsUrl, 'capture-replay');
    const pub = new Publisher(nats.js, nats.large);
    for (const r of cap.records) await pub.publish(Subjects.rawSsl('e2e-host', r.partition), `b00t:1:${r.seq}`, r);
    // The process exits: every connection is closed (the eval response never got its last chunk).
    let seq = cap.records.length;
    const last = cap.records[cap.records.length - 1];
    for (const ssl of cap.sslOf.values()) {
      const any = cap.records.find((r) => r.ssl === ssl)!;
      const close: RawSslCloseRecord = {
        v: 1, kind: 'ssl_close', host: 'e2e-host', boot_id: 'b00t', run: 1, seq: seq++, ts_boot_ns: last.ts_boot_ns, ts_wall_ns: last.ts_wall_ns,
        pid: any.pid, tid: any.pid, uid: any.uid, comm: any.comm, ssl, partition: any.partition, reason: 'process_exit',
        write_offset: cap.offsets.get(`${ssl}|write`) ?? 0, read_offset: cap.offsets.get(`${ssl}|read`) ?? 0,
      };
      expect(connKey(close)).toBe(connKey(any));
      await pub.publish(Subjects.rawSsl('e2e-host', close.partition), `b00t:1:${close.seq}`, close);
    }
    await nats.nc.close();
    await waitDrained(infra.env);
  }, 120_000);

  afterAll(async () => {
    await stages?.stopAll();
    await infra?.stop();
  });

  test('one LLM call, equal to the ground truth', async () => {
    const gt = groundTruthFor('agentsight__claude-code-raw.jsonl');
    const calls: Row[] = await api(infra, '/api/calls');
    expect(calls).toHaveLength(1);
    const c = calls[0];
    expect(c['gen_ai.provider.name']).toBe('anthropic');
    expect(c['gen_ai.request.model']).toBe(gt.model);
    expect(c['gen_ai.response.model']).toBe(gt.model);
    expect(c['gen_ai.response.id']).toBe(gt.response_id);
    expect(c['gen_ai.usage.input_tokens']).toBe(gt.input_tokens! + gt.cache_read_tokens! + gt.cache_creation_tokens!);
    expect(c['gen_ai.usage.output_tokens']).toBe(gt.output_tokens);
    expect(c['gen_ai.usage.cache_read.input_tokens']).toBe(gt.cache_read_tokens);
    expect(c['gen_ai.usage.cache_creation.input_tokens']).toBe(gt.cache_creation_tokens);
    expect(c.raw_usage.input_tokens).toBe(gt.input_tokens);
    expect(c['gen_ai.response.finish_reasons']).toEqual([gt.finish_reason]);
    expect(c.tool_calls).toEqual([]);
    expect(c.output_text.startsWith(gt.text_prefix!)).toBe(true);
    expect(c.process_name).toBe('HTTP Client');
    expect(c['http.response.status_code']).toBe(200);
    // Timing comes from the capture: the response took its real time to stream.
    expect(c.duration_ms).toBeGreaterThan(100);
  });

  test('all nine exchanges are stored, the short request body kept as captured', async () => {
    const list: Row[] = await api(infra, '/api/exchanges');
    expect(list.map((e) => `${e.method} ${e.target.split('?')[0].replace(/\/sdk-.*/, '/sdk-')}`).sort()).toEqual([
      'GET /api/claude_code_grove', 'GET /api/claude_code_penguin_mode', 'GET /api/oauth/account/settings',
      'GET /api/oauth/claude_cli/client_data', 'GET /v1/mcp_servers', 'POST /api/eval/sdk-', 'POST /api/event_logging/v2/batch',
      'POST /api/v2/logs', 'POST /v1/messages',
    ]);
    const llm = list.find((e) => e.target.startsWith('/v1/messages'))!;
    const ex: Row = await api(infra, `/api/exchanges/${llm.exchange_id}`);
    expect(ex.request_body_incomplete).toBe('short');
    expect(Buffer.from(ex.request_body_base64, 'base64').length).toBe(98135);
    expect(ex.streaming).toBe(true);
    expect(ex.sse_events).toBe(64);
    const logs = list.find((e) => e.target === '/api/event_logging/v2/batch')!;
    const logsEx: Row = await api(infra, `/api/exchanges/${logs.exchange_id}`);
    expect(JSON.parse(Buffer.from(logsEx.response_body_base64, 'base64').toString())).toEqual({ accepted_count: 37, rejected_count: 0 });
  });

  test('audit has the LLM call', async () => {
    const audit: Row[] = await api(infra, '/api/audit?type=llm');
    expect(audit).toHaveLength(1);
    expect(audit[0].summary).toMatch(/anthropic claude-haiku-4-5-20251001/);
  });
});
