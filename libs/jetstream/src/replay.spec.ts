import { ReplayScope } from './replay';
import type { ConsumeSpec } from './consumer';

const spec = (stream: string, durable: string, filterSubject: string): ConsumeSpec => ({ stream, durable, filterSubject, ackWaitMs: 1000, maxAckPending: 10, start: 'keep' });

describe('ReplayScope', () => {
  const http = new ReplayScope({ id: 'r1', from: 'http', fromSeq: 42, sinceNs: '1000', untilNs: '2000' });

  test('consumers at or upstream of the from-stage read the live stream from the start, bounded by until', () => {
    expect(http.consume(spec('AGENTSIGHT_HTTP', 'aggregator-p3', 'agentsight.http.*.3'))).toMatchObject({
      stream: 'AGENTSIGHT_HTTP', durable: 'replay-r1-aggregator-p3', filterSubject: 'agentsight.http.*.3', first: { seq: 42 }, untilNs: 2000n,
    });
    // another live stream than the from-stage's starts at the time of --from-seq's message
    expect(http.consume(spec('AGENTSIGHT_RAW', 'aggregator-proc', 'agentsight.raw.proc.>'))).toMatchObject({ stream: 'AGENTSIGHT_RAW', durable: 'replay-r1-aggregator-proc', first: { timeNs: 1000n } });
  });

  test('downstream consumers read the replay subjects; dead letters always', () => {
    expect(http.consume(spec('AGENTSIGHT_EXCHANGE', 'analyzer', 'agentsight.exchange.>'))).toEqual({
      ...spec('AGENTSIGHT_REPLAY', 'replay-r1-analyzer', 'agentsight.replay.r1.exchange.>'),
    });
    expect(http.consume(spec('AGENTSIGHT_DLQ', 'storage-dlq', 'agentsight.dlq.>')).filterSubject).toBe('agentsight.replay.r1.dlq.>');
  });

  test('outputs are moved into the replay and inputs come back with their live subject and id', () => {
    expect(http.subject('agentsight.exchange.laptop')).toBe('agentsight.replay.r1.exchange.laptop');
    expect(http.msgId('abc')).toBe('replay.r1:abc');
    expect(http.liveSubject(http.subject('agentsight.exchange.laptop'))).toBe('agentsight.exchange.laptop');
    expect(http.liveMsgId(http.msgId('abc'))).toBe('abc');
    expect(http.liveMsgId('raw-id')).toBe('raw-id');
    expect(http.redisPrefix).toBe('agentsight:replay:r1:');
  });

  test('which services run', () => {
    expect(['parser', 'aggregator', 'analyzer', 'genai', 'api'].filter((s) => ReplayScope.runs(s, 'http'))).toEqual(['aggregator', 'analyzer', 'genai', 'api']);
    expect(['parser', 'aggregator', 'analyzer', 'genai', 'api'].filter((s) => ReplayScope.runs(s, 'genai'))).toEqual(['api']);
  });

  test('bad ids and stages are refused', () => {
    expect(() => new ReplayScope({ id: 'a-b', from: 'raw', untilNs: '1' })).toThrow(/replay id/);
    expect(() => new ReplayScope({ id: 'a', from: 'parser' as never, untilNs: '1' })).toThrow(/from-stage/);
  });
});
