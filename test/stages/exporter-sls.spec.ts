/**
 * SLS logstore export: the export engine with the real PutLogs client against the local fake SLS server (testkit
 * fake-sls: checks Content-MD5 and the signature with the known secret, decompresses, decodes the protobuf), real
 * Redis (keys under a per-run prefix), real GenAI events (corpus → analyzer → genai domain). Every log is compared
 * with the event it came from. The settle clock is injected; no test asserts a duration.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenAiAttr, type AuditRecord, type GenAiRecord } from '@agentsight/contracts';
import { connectRedis, redisUrl, type DeadLetterDraft, type Redis } from '@agentsight/jetstream';
import { startFakeSls, type FakeSls, type FakeSlsAnswer, type FakeSlsLog } from '@agentsight/testkit';
import type { SlsCompression, SlsLogConfig } from '../../services/exporter/src/config';
import { ExportEngine } from '../../services/exporter/src/engine';
import { ExportState } from '../../services/exporter/src/export-state';
import { fitLog, genAiLog, MAX_LOG_BYTES, packIdOf, slsAuditModel, slsGenAiModel, type SlsLog } from '../../services/exporter/src/domain/sls-logs';
import { SlsClient } from '../../services/exporter/src/sls-client';
import { LogtailSink, SLS_MAX_LOGS, SLS_MAX_RAW_BYTES, SlsSink } from '../../services/exporter/src/sls-sink';
import { delivery, events } from './session-events';

const SETTLE_MS = 300_000;
const KEY_ID = 'LTAI-sls-test-id';
const SECRET = 'sls-test-secret-0f9e8d7c';

/** What a log of `ev` must hold, computed from the event here (not by the mapping under test). */
function expectLogOf(ev: GenAiRecord, log: FakeSlsLog): void {
  const c = log.contents;
  const kind = (ev as { kind?: string }).kind ?? 'inference';
  expect(c['agentsight.event.id']).toBe(ev.id);
  expect(c['agentsight.event.kind']).toBe(kind);
  expect(c['agentsight.event.name']).toBe(ev.name);
  if (kind !== 'inference') expect(c['agentsight.event.version']).toBe(String((ev as { version: number }).version));
  for (const [k, v] of Object.entries(ev.attributes)) expect(c[k]).toBe(Array.isArray(v) ? JSON.stringify(v) : String(v));
  expect(c.instance).toBe(ev.host);
  expect(c['agentsight.pid']).toBe(String(ev.pid));
  const start = (ev as { start_ns: bigint | null }).start_ns;
  const end = (ev as { end_ns: bigint | null }).end_ns;
  const at = BigInt(start ?? end!);
  expect(BigInt(log.time) * 1_000_000_000n + BigInt(log.timeNs)).toBe(at);
  if (start !== null) expect(c['agentsight.start_timestamp_ns']).toBe(String(start));
  if (end !== null) expect(c['agentsight.end_timestamp_ns']).toBe(String(end));
  if (start !== null && end !== null) expect(c['agentsight.duration_ns']).toBe(String(BigInt(end) - BigInt(start)));
  for (const v of Object.values(c)) expect(typeof v).toBe('string');
}

describe('SLS logstore export (real Redis, PutLogs client, fake SLS)', () => {
  let redis: Redis;
  let fake: FakeSls;
  let prefix: string;
  let clock = Date.now();
  let dead: DeadLetterDraft[];

  const config = (o: Partial<SlsLogConfig> = {}): SlsLogConfig => ({
    baseUrl: fake.url, project: 'p', logstore: 'agentsight', accessKeyId: KEY_ID, accessKeySecret: SECRET, securityToken: null,
    compress: 'lz4' as SlsCompression, audit: false, timeoutMs: 1500, ...o,
  });
  const engine = (o: Partial<SlsLogConfig> = {}, model = slsGenAiModel, statePrefix = prefix) => new ExportEngine(new ExportState(redis, 3600, statePrefix), new SlsSink(new SlsClient(config(o))), {
    model, settleMs: SETTLE_MS, leaseMs: 5_000, maxBackoffMs: 200, now: () => clock, deadLetter: async (d) => { dead.push(d); },
  });
  const ids = () => fake.accepted().map((l) => l.contents['agentsight.event.id']);

  beforeAll(async () => {
    redis = await connectRedis(redisUrl(), 'exporter-sls-test');
    fake = await startFakeSls({ accessKeyId: KEY_ID, accessKeySecret: SECRET, logstore: 'agentsight' });
  });
  beforeEach(() => {
    prefix = `agentsight-test:export-sls:${randomBytes(6).toString('hex')}`;
    fake.requests.length = 0;
    fake.problems.length = 0;
    fake.respond = () => ({ status: 200 });
    dead = [];
  });
  afterEach(async () => {
    expect(fake.problems).toEqual([]);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
  });
  afterAll(async () => {
    await fake?.close();
    redis?.disconnect();
  });

  test('every event becomes one signed, lz4 PutLogs log equal to it; acked only after SLS answered 200', async () => {
    const { inference, tool, session } = events('conv-sls-1');
    const e = engine();
    const batch = [...inference, tool[2]!].map((ev) => delivery(ev, () => expect(ids()).toContain(ev.id)));
    batch.push(delivery(session[2]!)); // versioned: acked once stored as pending
    await e.handle(batch);
    expect(batch.map((d) => d.acked)).toEqual([1, 1, 1, 1]);
    // The session is versioned: it waits to settle, then goes out once.
    clock += SETTLE_MS + 1;
    expect(await e.flush()).toBe(1);
    const logs = fake.accepted();
    expect(logs).toHaveLength(4);
    for (const ev of [...inference, tool[2]!, session[2]!]) expectLogOf(ev, logs.find((l) => l.contents['agentsight.event.id'] === ev.id)!);
    const chat = logs.find((l) => l.contents['agentsight.event.id'] === inference[0]!.id)!;
    expect(chat.contents[GenAiAttr.usageInputTokens]).toBe(String(inference[0]!.attributes[GenAiAttr.usageInputTokens]));
    expect(chat.contents['agentsight.llm_call.id']).toBe((inference[0] as { llm_call_id: string }).llm_call_id);
    const t = logs.find((l) => l.contents['agentsight.event.kind'] === 'execute_tool')!;
    expect(t.contents['agentsight.tool_use.id']).toBe((tool[2] as { tool_use_id: string }).tool_use_id);
    expect(logs.find((l) => l.contents['agentsight.event.kind'] === 'invoke_agent')!.contents['agentsight.session.llm_calls']).toBe('2');
    for (const r of fake.requests) {
      expect(r.headers['x-log-compresstype']).toBe('lz4');
      expect(r.headers.authorization).toMatch(new RegExp(`^LOG ${KEY_ID}:`));
      expect(r.headers['x-acs-security-token']).toBeUndefined();
      expect(r.topic).toBe(inference[0]!.host);
      expect(r.source).toBe(inference[0]!.host);
      expect(r.tags['agentsight.host']).toBe(inference[0]!.host);
      expect(r.tags['agentsight.version']).toMatch(/^\d+\.\d+\.\d+$/);
      expect(r.tags.__pack_id__).toMatch(/^[0-9A-F]{16}-1$/);
    }
    // Redelivered: acked, not sent again.
    const again = [inference[0]!, tool[2]!].map((ev) => delivery(ev));
    await e.handle(again);
    expect(again.map((d) => d.acked)).toEqual([1, 1]);
    expect(fake.accepted()).toHaveLength(4);
  });

  test('deflate with an STS token: signed with the token header, same logs', async () => {
    await fake.close();
    fake = await startFakeSls({ accessKeyId: KEY_ID, accessKeySecret: SECRET, securityToken: 'sts-token-1', logstore: 'agentsight' });
    try {
      const { inference } = events('conv-sls-2');
      const e = engine({ compress: 'deflate', securityToken: 'sts-token-1' });
      await e.handle(inference.map((ev) => delivery(ev)));
      expect(fake.requests.map((r) => [r.headers['x-log-compresstype'], r.headers['x-acs-security-token'], r.answered])).toEqual([['deflate', 'sts-token-1', 200]]);
      for (const ev of inference) expectLogOf(ev, fake.accepted().find((l) => l.contents['agentsight.event.id'] === ev.id)!);
      expect(fake.problems).toEqual([]);
    } finally {
      await fake.close();
      fake = await startFakeSls({ accessKeyId: KEY_ID, accessKeySecret: SECRET, logstore: 'agentsight' });
    }
  });

  test('a wrong secret is refused by the fake (401) and retried, never dead-lettered', async () => {
    const { inference } = events('conv-sls-3');
    const e = engine({ accessKeySecret: 'not-the-secret' });
    const d = delivery(inference[0]!);
    const handled = e.handle([d]);
    while (fake.problems.length < 2) await new Promise((r) => setTimeout(r, 20));
    e.stop();
    await handled;
    expect([d.acked, d.naked]).toEqual([0, 1]);
    expect(fake.problems.every((p) => p.startsWith('SignatureNotMatch'))).toBe(true);
    expect(dead).toEqual([]);
    fake.problems.length = 0;
  });

  test('500, 403 WriteQuotaExceed and a slow answer in between: nothing lost, nothing duplicated, nothing acked early', async () => {
    const { inference, tool } = events('conv-sls-4');
    const script: Array<FakeSlsAnswer | 'slow'> = [{ status: 500, errorCode: 'InternalServerError' }, { status: 403, errorCode: 'WriteQuotaExceed' }, { status: 403, errorCode: 'ServerBusy' }, 'slow', { status: 503 }];
    fake.respond = async () => {
      const s = script.shift();
      if (s === 'slow') {
        await new Promise((r) => setTimeout(r, 600)); // well within this test's 10 s timeout: answered, slowly
        return { status: 200 };
      }
      return s ?? { status: 200 };
    };
    const e = engine({ timeoutMs: 10_000 });
    const first = [inference[0]!, tool[2]!].map((ev) => delivery(ev, () => expect(ids()).toContain(ev.id)));
    await e.handle(first);
    const second = [inference[1]!].map((ev) => delivery(ev, () => expect(ids()).toContain(ev.id)));
    await e.handle(second);
    expect([...first, ...second].map((d) => d.acked)).toEqual([1, 1, 1]);
    expect(fake.requests.map((r) => r.answered)).toEqual([500, 403, 403, 200, 503, 200]);
    expect(ids().sort()).toEqual([inference[0]!.id, tool[2]!.id, inference[1]!.id].sort());
    // The retried request kept its pack id: a duplicate (had SLS stored one) would be findable.
    expect(new Set(fake.requests.slice(0, 4).map((r) => r.tags.__pack_id__)).size).toBe(1);
  });

  test('an answer slower than the timeout is retried with the same __pack_id__, so the duplicate SLS keeps is findable', async () => {
    const { inference } = events('conv-sls-5');
    let n = 0;
    fake.respond = async () => {
      if (n++ === 0) await new Promise((r) => setTimeout(r, 4000)); // past the 1.5 s timeout, then stored anyway
      return { status: 200 };
    };
    const e = engine();
    const d = delivery(inference[0]!);
    await e.handle([d]);
    expect(d.acked).toBe(1);
    while (fake.requests.filter((r) => r.answered === 200).length < 2) await new Promise((r) => setTimeout(r, 50));
    const stored = fake.accepted();
    expect(stored.map((l) => l.contents['agentsight.event.id'])).toEqual([inference[0]!.id, inference[0]!.id]);
    expect(stored[0]!.packId).toBe(stored[1]!.packId);
  });

  test('a request SLS rejects as invalid is bisected: only the bad log is dead-lettered (sls_rejected)', async () => {
    const { inference, tool } = events('conv-sls-6');
    const bad = inference[1]!;
    fake.respond = (r) => (r.logs.some((l) => l.contents['agentsight.event.id'] === bad.id) ? { status: 400, errorCode: 'PostBodyInvalid' } : { status: 200 });
    const e = engine();
    const batch = [inference[0]!, bad, tool[2]!].map((ev) => delivery(ev));
    await e.handle(batch);
    expect(batch.map((d) => d.acked)).toEqual([1, 1, 1]);
    expect(ids().sort()).toEqual([inference[0]!.id, tool[2]!.id].sort());
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ reason: 'sls_rejected', input_id: batch[1]!.msgId });
    expect(dead[0]!.error).toMatch(/HTTP 400 PostBodyInvalid/);
  });

  test('an exporter restarted mid-batch (SLS down meanwhile) loses nothing: the next one exports each log once', async () => {
    const { inference, tool, session } = events('conv-sls-7');
    fake.respond = () => ({ status: 503 });
    const a = engine();
    await a.handle([delivery(session[0]!)]); // a versioned event, stored pending and acked
    const held = [inference[0]!, inference[1]!, tool[2]!].map((ev) => delivery(ev));
    const handled = a.handle(held);
    while (fake.requests.length < 2) await new Promise((r) => setTimeout(r, 20));
    a.stop();
    await handled;
    expect(held.map((d) => [d.acked, d.naked])).toEqual([[0, 1], [0, 1], [0, 1]]);
    fake.respond = () => ({ status: 200 });
    const b = engine();
    const redelivered = [inference[0]!, inference[1]!, tool[2]!].map((ev) => delivery(ev));
    await b.handle(redelivered);
    expect(redelivered.map((d) => d.acked)).toEqual([1, 1, 1]);
    clock += SETTLE_MS + 1;
    expect(await b.flush()).toBe(1);
    expect(ids().sort()).toEqual([inference[0]!.id, inference[1]!.id, tool[2]!.id, session[0]!.id].sort());
  });

  test('limits: ≤ 4096 logs and ≤ 3 MB raw per request; a log over 1 MB is cut and marked', async () => {
    const { inference } = events('conv-sls-8');
    const base = inference[0]!;
    const many = Array.from({ length: SLS_MAX_LOGS + 10 }, (_, k) => ({ ...base, id: `${base.id}-${k}`, attributes: { [GenAiAttr.operationName]: 'chat' } })) as GenAiRecord[];
    const e = engine();
    await e.handle(many.map((ev) => delivery(ev)));
    expect(fake.requests.map((r) => r.logs.length)).toEqual([SLS_MAX_LOGS, 10]);
    fake.requests.length = 0;
    const big = Array.from({ length: 8 }, (_, k) => ({ ...base, id: `${base.id}-big-${k}`, attributes: { ...base.attributes, [GenAiAttr.outputMessages]: 'x'.repeat(700_000) } })) as GenAiRecord[];
    const huge = { ...base, id: `${base.id}-huge`, attributes: { ...base.attributes, [GenAiAttr.inputMessages]: 'é'.repeat(900_000) } } as GenAiRecord;
    await e.handle([...big, huge].map((ev) => delivery(ev)));
    expect(fake.requests.length).toBeGreaterThan(2);
    for (const r of fake.requests) expect(Number(r.headers['x-log-bodyrawsize'])).toBeLessThanOrEqual(SLS_MAX_RAW_BYTES);
    const cut = fake.accepted().find((l) => l.contents['agentsight.event.id'] === huge.id)!;
    expect(cut.contents['agentsight.truncated']).toBe(`${GenAiAttr.inputMessages}:1800000`);
    expect(cut.contents[GenAiAttr.inputMessages]!.endsWith('…[cut]')).toBe(true);
    expect(Object.entries(cut.contents).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0)).toBeLessThanOrEqual(MAX_LOG_BYTES);
    expect(ids().filter((id) => id.includes('-big-') || id.endsWith('-huge'))).toHaveLength(9);
  });

  test('audit records: final ones at once, tool records settle to their newest version; values redacted again', async () => {
    const secret = 'sk-proj-' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0';
    const exec: AuditRecord = {
      v: 1, id: 'audit-exec-1', type: 'process', action: 'exec', host: 'h1', ts_ns: 1_765_000_000_123_456_789n, pid: 10, ppid: 1, comm: 'bash',
      summary: `exec curl -H "Authorization: Bearer ${secret}"`, details: { argv: ['curl', '-H', `Authorization: Bearer ${secret}`] },
    };
    const toolRec = (version: number): AuditRecord => ({
      v: 1, id: 'audit-tool-1', type: 'tool', action: 'execute_tool', host: 'h1', ts_ns: 1_765_000_001_000_000_000n, pid: 10, ppid: 1, comm: 'node',
      summary: `tool Bash v${version}`, details: { version, name: 'Bash' },
    });
    const e = engine({}, slsAuditModel);
    await e.handle([delivery(exec as never), delivery(toolRec(1) as never), delivery(toolRec(2) as never)]);
    expect(ids()).toEqual(['audit-exec-1']);
    const log = fake.accepted()[0]!;
    expect(log.contents).toMatchObject({ 'agentsight.event.kind': 'audit', 'agentsight.audit.type': 'process', 'agentsight.audit.action': 'exec', 'agentsight.ppid': '1', 'agentsight.process_name': 'bash' });
    expect(BigInt(log.time) * 1_000_000_000n + BigInt(log.timeNs)).toBe(exec.ts_ns);
    expect(JSON.stringify(log.contents)).not.toContain(secret);
    clock += SETTLE_MS + 1;
    expect(await e.flush()).toBe(1);
    const t = fake.accepted()[1]!;
    expect(t.contents).toMatchObject({ 'agentsight.event.id': 'audit-tool-1', 'agentsight.event.version': '2', 'agentsight.audit.summary': 'tool Bash v2' });
  });
});

describe('SLS log mapping and the Logtail file', () => {
  test('values are strings, arrays JSON; an event without time cannot be a log', () => {
    const { inference } = events('conv-map');
    const log = genAiLog(inference[0]!);
    const fr = inference[0]!.attributes[GenAiAttr.responseFinishReasons];
    expect(log.contents.find((c) => c.key === GenAiAttr.responseFinishReasons)?.value).toBe(JSON.stringify(fr));
    expect(() => genAiLog({ ...inference[0]!, start_ns: 0n, end_ns: 0n } as GenAiRecord)).toThrow(/no start or end time/);
    expect(() => slsGenAiModel.prepare({ ...inference[0]!, kind: 'bogus' })).toThrow(/not a GenAI record/);
  });

  test('fitLog cuts the largest values at a character boundary and lists them', () => {
    const out = fitLog([{ key: 'a', value: 'x'.repeat(100) }, { key: 'b', value: '日本'.repeat(50) }, { key: 'c', value: 'short' }], 60);
    expect(out.find((c) => c.key === 'agentsight.truncated')!.value.split(',').sort()).toEqual(['a:100', 'b:300']);
    expect(out.filter((c) => c.key !== 'agentsight.truncated').reduce((n, c) => n + Buffer.byteLength(c.key) + Buffer.byteLength(c.value), 0)).toBeLessThanOrEqual(60);
    expect(out.find((c) => c.key === 'b')!.value).not.toContain('\uFFFD');
    expect(out.find((c) => c.key === 'c')!.value).toBe('short');
  });

  test('the pack id is stable for the same logs and differs for others', () => {
    const l = (id: string): SlsLog => ({ id, host: 'h', time: 1, timeNs: 0, contents: [] });
    expect(packIdOf([l('a'), l('b')])).toBe(packIdOf([l('a'), l('b')]));
    expect(packIdOf([l('a'), l('b')])).not.toBe(packIdOf([l('a')]));
  });

  test('Logtail file: JSON lines with __time__/__topic__/__source__, rotated by size, nothing lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentsight-logtail-'));
    try {
      const path = join(dir, 'sub', 'agentsight.log');
      const sink = new LogtailSink(path, 2000, 2);
      const { inference } = events('conv-logtail');
      const logs = Array.from({ length: 12 }, (_, k) => genAiLog({ ...inference[0]!, id: `lt-${k}` } as GenAiRecord));
      for (const l of logs) expect(await sink.export([l])).toEqual([{ status: 'ok' }]);
      const files = readdirSync(join(dir, 'sub')).sort();
      expect(files).toEqual(['agentsight.log', 'agentsight.log.1', 'agentsight.log.2']);
      const lines = files.flatMap((f) => readFileSync(join(dir, 'sub', f), 'utf8').split('\n').filter(Boolean)).map((x) => JSON.parse(x) as Record<string, string>);
      const kept = new Set(lines.map((x) => x['agentsight.event.id']));
      // Only what rotated past the last kept file is gone; the newest logs are all there, once each.
      expect(lines.length).toBe(kept.size);
      expect(kept.has('lt-11')).toBe(true);
      const one = lines.find((x) => x['agentsight.event.id'] === 'lt-11')!;
      expect(one).toMatchObject({ __time__: String(logs[11]!.time), __topic__: inference[0]!.host, __source__: inference[0]!.host, 'agentsight.event.kind': 'inference' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
