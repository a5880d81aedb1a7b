/**
 * The export engine against real Redis (agentsight's Redis, libs/jetstream/src/config.ts redisUrl(), keys under a per-run prefix), the real OTel OTLP/HTTP
 * exporters and a local OTLP receiver; events are real GenAI events (corpus → analyzer domain → genai domain).
 * The settle clock is injected: no test waits for a timer or asserts a duration.
 */
import { randomBytes } from 'node:crypto';
import { GenAiAttr, type GenAiRecord } from '@agentsight/contracts';
import { connectRedis, redisUrl, type DeadLetterDraft, type Redis } from '@agentsight/jetstream';
import type { ExportConfig } from '../../services/exporter/src/config';
import { ExportEngine } from '../../services/exporter/src/engine';
import { ExportState } from '../../services/exporter/src/export-state';
import { OtlpSink, otlpExporter } from '../../services/exporter/src/sink';
import { spanIdOf, spanModel } from '../../services/exporter/src/domain/spans';
import { startOtlpReceiver, type OtlpReceiver } from '../../services/exporter/src/otlp-receiver.test';
import { delivery, events } from './session-events';

const SETTLE_MS = 300_000;

describe('export engine (real Redis, real OTLP exporter, local receiver)', () => {
  let redis: Redis;
  let receiver: OtlpReceiver;
  let prefix: string;
  let clock = Date.now();
  let dead: DeadLetterDraft[];

  const config = (protocol: ExportConfig['protocol'] = 'http/protobuf'): ExportConfig => ({
    target: 'otlp', url: `${receiver.url}/v1/traces`, protocol, headers: {}, timeoutMs: 1500, settleS: SETTLE_MS / 1000, ackWaitMs: 30_000,
  });
  const engine = (protocol?: ExportConfig['protocol']) => new ExportEngine(new ExportState(redis, 3600, prefix), new OtlpSink(otlpExporter(config(protocol))), {
    model: spanModel, settleMs: SETTLE_MS, leaseMs: 5_000, maxBackoffMs: 1000, now: () => clock, deadLetter: async (d) => { dead.push(d); },
  });
  const ids = () => receiver.accepted().map((s) => s.spanId);

  beforeAll(async () => {
    redis = await connectRedis(redisUrl(), 'exporter-engine-test');
    receiver = await startOtlpReceiver();
  });
  beforeEach(() => {
    prefix = `agentsight-test:export:${randomBytes(6).toString('hex')}`;
    receiver.requests.length = 0;
    receiver.status = () => 200;
    dead = [];
  });
  afterEach(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
  });
  afterAll(async () => {
    await receiver?.close();
    redis?.disconnect();
  });

  test('final events go out at once, each acked after the collector took it; copies are not exported twice', async () => {
    const { inference, tool } = events();
    const e = engine();
    const batch = [...inference, tool[2]!, inference[0]!].map((ev) => delivery(ev, () => {
      // Acked only once its span is at the collector.
      expect(ids()).toContain(spanIdOf(ev.id));
    }));
    await e.handle(batch);
    expect(batch.map((d) => d.acked)).toEqual([1, 1, 1, 1]);
    expect(ids().sort()).toEqual([inference[0]!, inference[1]!, tool[2]!].map((ev) => spanIdOf(ev.id)).sort());
    // Redelivered later (or replayed): acked, not exported again.
    const again = [inference[0]!, tool[2]!].map((ev) => delivery(ev));
    await e.handle(again);
    expect(again.map((d) => d.acked)).toEqual([1, 1]);
    expect(receiver.accepted()).toHaveLength(3);
    const chat = receiver.accepted().find((s) => s.spanId === spanIdOf(inference[0]!.id))!;
    expect(chat.attributes[GenAiAttr.usageInputTokens]).toBe(inference[0]!.attributes[GenAiAttr.usageInputTokens]);
    expect(chat.startTimeUnixNano).toBe(inference[0]!.start_ns.toString());
  });

  test('a collector answering 503 (then down) holds the acks; nothing lost, nothing duplicated', async () => {
    const { inference } = events();
    let failing = 3;
    receiver.status = () => (failing-- > 0 ? 503 : 200);
    const e = engine();
    const batch = inference.map((ev) => delivery(ev, () => expect(ids()).toContain(spanIdOf(ev.id))));
    await e.handle(batch);
    expect(receiver.requests.filter((r) => r.answered === 503).length).toBeGreaterThanOrEqual(3);
    expect(batch.map((d) => d.acked)).toEqual([1, 1]);
    expect(ids().sort()).toEqual(inference.map((ev) => spanIdOf(ev.id)).sort());
  });

  test('stopped while the collector is down: nothing acked, the inputs are handed back (nak)', async () => {
    const { inference } = events();
    receiver.status = () => 503;
    const e = engine();
    const batch = inference.map((ev) => delivery(ev));
    const handled = e.handle(batch);
    while (receiver.requests.length < 1) await new Promise((r) => setTimeout(r, 20));
    e.stop();
    await handled;
    expect(batch.map((d) => [d.acked, d.naked])).toEqual([[0, 1], [0, 1]]);
    expect(receiver.accepted()).toHaveLength(0);
  });

  test('a span the collector rejects as invalid is found by bisection and dead-lettered; the rest is exported', async () => {
    const { inference, tool } = events();
    const bad = inference[1]!;
    receiver.status = ({ spans }) => (spans.some((s) => s.spanId === spanIdOf(bad.id)) ? 400 : 200);
    const e = engine('http/json');
    const batch = [inference[0]!, bad, tool[2]!].map((ev) => delivery(ev));
    await e.handle(batch);
    expect(batch.map((d) => d.acked)).toEqual([1, 1, 1]);
    expect(ids().sort()).toEqual([inference[0]!, tool[2]!].map((ev) => spanIdOf(ev.id)).sort());
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ reason: 'otlp_rejected', input_id: batch[1]!.msgId });
    expect(dead[0]!.error).toMatch(/HTTP 400/);
  });

  test('versioned events wait to settle; the newest version is exported once, after a restart too', async () => {
    const { tool, session } = events();
    const a = engine();
    const batch = [tool[0]!, session[0]!, session[2]!, session[1]!].map((ev) => delivery(ev));
    await a.handle(batch);
    expect(batch.map((d) => d.acked)).toEqual([1, 1, 1, 1]);
    expect(await a.flush()).toBe(0);
    expect(receiver.requests).toHaveLength(0);
    clock += SETTLE_MS - 1000;
    expect(await a.flush()).toBe(0);
    // A newer version of the tool use (result only, version 2) restarts its settle time; the session does not move.
    await a.handle([delivery(tool[1]!)]);
    // Restart: a new engine over the same Redis state.
    const b = engine();
    clock += 2000;
    expect(await b.flush()).toBe(1);
    const root = receiver.accepted();
    expect(root.map((s) => s.name)).toEqual(['invoke_agent agent']);
    expect(root[0]!.attributes['agentsight.event.version']).toBe(3);
    expect(root[0]!.attributes[GenAiAttr.usageInputTokens]).toBe(300);
    expect(root[0]!.parentSpanId).toBe('');
    clock += SETTLE_MS;
    expect(await b.flush()).toBe(1);
    expect(await b.flush()).toBe(0);
    const spans = receiver.accepted();
    expect(spans).toHaveLength(2);
    const t = spans[1]!;
    expect(t).toMatchObject({ name: tool[1]!.name, spanId: spanIdOf(tool[1]!.id), parentSpanId: root[0]!.spanId, traceId: root[0]!.traceId });
    expect(t.attributes['agentsight.event.version']).toBe(2);
    // Spans are immutable: the completed version arriving after the export is dropped (acked, not exported).
    const late = delivery(tool[2]!);
    await b.handle([late, delivery(session[2]!)]);
    expect(late.acked).toBe(1);
    clock += 2 * SETTLE_MS;
    expect(await b.flush()).toBe(0);
    expect(receiver.accepted()).toHaveLength(2);
  });

  test('an event that cannot be a span is dead-lettered (contract) and acked', async () => {
    const { inference } = events();
    const e = engine();
    const bad = delivery({ ...inference[0]!, kind: 'bogus' } as never);
    const good = delivery(inference[1]!);
    await e.handle([bad, good]);
    expect([bad.acked, good.acked]).toEqual([1, 1]);
    expect(dead).toMatchObject([{ reason: 'contract', input_id: bad.msgId }]);
    expect(ids()).toEqual([spanIdOf(inference[1]!.id)]);
  });
});
