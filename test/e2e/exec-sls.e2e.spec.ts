/**
 * `agentsight exec --sls-endpoint … --sls-project … --sls-logstore … --sls-audit` under real capture, against the
 * testkit's fake SLS (PutLogs on 127.0.0.1, checking Content-MD5, the v1 signature with the known secret, compression
 * and the protobuf LogGroup): exec waits until the exporter delivered what the run captured, then every stored LLM call
 * is one SLS log with its id, kind and token counts, every log id is sent once, audit records come too, and the
 * AccessKey secret appears in no output or log file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeSls, startReplayServer, type FakeSls, type FakeSlsLog, type ReplayServer } from '@agentsight/testkit';
import { describeCapture, Infra, runCli, startInfra } from './harness';

type Row = Record<string, any>;
const CLIENT = join(__dirname, 'client.js');
const KEY_ID = 'LTAI-e2e-exec-sls';
const SECRET = 'exec-sls-secret-never-printed-9f1c';

describeCapture('agentsight exec --sls-*: GenAI events and audit records to the SLS logstore', () => {
  let infra: Infra;
  let server: ReplayServer;
  let sls: FakeSls;
  let exec: { code: number | null; stdout: string; stderr: string };
  let calls: Row[];
  let logs: FakeSlsLog[];

  beforeAll(async () => {
    infra = await startInfra();
    server = await startReplayServer({});
    sls = await startFakeSls({ accessKeyId: KEY_ID, accessKeySecret: SECRET, logstore: 'agentsight' });
    const body = (model: string) => `'${JSON.stringify({ model, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] })}'`;
    const node = (args: string) => `node ${CLIENT} ${server.url} ${server.caPath} ${args}`;
    const script = [
      node(`post /v1/messages vercel__anthropic-text.json ${body('claude-sonnet-4-5')}`),
      node(`post /v1/chat/completions vercel__openai-text.json ${body('gpt-4.1-nano')}`),
    ].join(' && ');
    exec = await runCli(['exec', '--sls-endpoint', sls.url, '--sls-project', 'e2e-project', '--sls-logstore', 'agentsight', '--sls-audit', '--', 'sh', '-c', script], {
      ...infra.env, ALIBABA_CLOUD_ACCESS_KEY_ID: KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET: SECRET, AGENTSIGHT_EXPORT_SETTLE_S: '2',
    });
    calls = JSON.parse((await runCli(['calls', '--json'], infra.env)).stdout);
    logs = sls.requests.filter((r) => r.answered === 200).flatMap((r) => r.logs);
  }, 300_000);

  afterAll(async () => {
    await sls?.close();
    await server?.close();
    await infra?.stop();
  });

  test('exec succeeds and every request passed the fake\'s checks (MD5, signature, compression, protobuf)', () => {
    expect(exec.stderr).toMatch(/2 LLM call\(s\) captured/);
    expect(exec.code).toBe(0);
    expect(sls.problems).toEqual([]);
    expect(sls.requests.length).toBeGreaterThan(0);
    expect(sls.requests.every((r) => r.path === '/logstores/agentsight/shards/lb')).toBe(true);
  });

  test('every stored LLM call is one log with its id, kind and token counts; no log is sent twice', () => {
    expect(calls).toHaveLength(2);
    const inference = logs.filter((l) => l.contents['agentsight.event.kind'] === 'inference');
    expect(inference.map((l) => l.contents['agentsight.llm_call.id']).sort()).toEqual(calls.map((c) => c.call_id).sort());
    for (const c of calls) {
      const l = inference.find((x) => x.contents['agentsight.llm_call.id'] === c.call_id)!;
      expect(l.contents['gen_ai.provider.name']).toBe(c['gen_ai.provider.name']);
      expect(l.contents['gen_ai.usage.input_tokens']).toBe(String(c['gen_ai.usage.input_tokens']));
      expect(l.contents['gen_ai.usage.output_tokens']).toBe(String(c['gen_ai.usage.output_tokens']));
    }
    const ids = logs.map((l) => `${l.contents['agentsight.event.kind']}:${l.contents['agentsight.event.id']}:${l.contents['agentsight.event.version'] ?? ''}`);
    expect(new Set(ids).size).toBe(ids.length);
    expect(logs.some((l) => l.contents['agentsight.event.kind'] === 'audit')).toBe(true);
  });

  test('the AccessKey secret is in no output and no log file', () => {
    expect(exec.stdout + exec.stderr).not.toContain(SECRET);
    const dir = join(infra.dataDir, 'logs');
    for (const f of readdirSync(dir)) expect(readFileSync(join(dir, f), 'utf8')).not.toContain(SECRET);
  });
});
