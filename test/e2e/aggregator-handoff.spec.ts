/**
 * The aggregator keeps the SSE events of an open streamed response in Redis (a list per response), and a next owner
 * rebuilds the response from it: the real aggregator service, private NATS and Redis; the events are the real parser's
 * of a recorded streamed call (307 raw records), published as HttpEventBatches cut where this test chooses. Half the
 * response goes in, the aggregator is SIGKILLed and started again, the rest comes re-cut with an overlap (as a
 * parser re-emitting from its consumed offset would): the exchange carries every SSE event once, in order.
 */
import {
  decode, hostToken, httpBatchId, Subjects, type Exchange, type HttpEvent, type HttpEventBatch,
} from '@agentsight/contracts';
import { Publisher } from '@agentsight/jetstream';
import { loadFixture, streamedCallRecords } from '@agentsight/testkit';
import { HttpStreamParser } from '../../services/parser/src/domain';
import { until, useBrokers } from './harness';

/** What an exchange keeps of an `sse_event`. */
const sseOf = (e: HttpEvent) => (e.type === 'sse_event' ? { event: e.event, data: e.data, ...(e.last_event_id === undefined ? {} : { last_event_id: e.last_event_id }) } : null);

const f = useBrokers('aggregator-handoff-spec');
beforeAll(() => f.stages.start('aggregator'), 120_000);

test('SIGKILL mid-response: the next owner rebuilds the open response from the events stored in Redis', async () => {
  const { nats, redis, stages } = f;
  // The real parser's events of one recorded streamed call (request, response_head, SSE events, response_end).
  const parser = new HttpStreamParser();
  const events: HttpEvent[] = streamedCallRecords(0, loadFixture('vercel__openai-text.chunks.txt').body, 0).flatMap((r) => parser.push(r).events);
  const [request, head] = events;
  const sse = events.filter((e) => e.type === 'sse_event');
  const end = events[events.length - 1];
  expect([request.type, head.type, end.type, sse.length]).toEqual(['request', 'response_head', 'response_end', events.length - 3]);
  expect(sse.length).toBeGreaterThan(200);
  const { conn } = request;
  const batch = (evs: HttpEvent[]): HttpEventBatch => ({ v: 2, id: httpBatchId(evs), events: evs });
  const pub = new Publisher(nats.js, nats.large);
  const send = async (b: HttpEventBatch) => pub.publish(Subjects.http(hostToken(conn.host), conn.partition), b.id, b);

  const exchanges: Exchange[] = [];
  nats.nc.subscribe(`${Subjects.exchange(hostToken(conn.host))}`, { callback: (_e, m) => void exchanges.push(decode<Exchange>(m.data)) });

  // First owner: the request, the head with events 0..49, events 50..99.
  const first = [batch([request]), batch([head, ...sse.slice(0, 50)]), batch(sse.slice(50, 100))];
  for (const b of first) await send(b);
  const list = `agentsight:agg:events:${conn.key}`;
  const durable = `aggregator-p${conn.partition}`;
  await until('the first three batches applied and acked', async () => (await nats.jsm.consumers.info('AGENTSIGHT_HTTP', durable)).ack_floor.stream_seq >= 3);
  // The list holds events 0..99, one item each.
  expect((await redis.lrangeBuffer(list, 0, -1)).map((b) => decode(b))).toEqual(sse.slice(0, 100).map(sseOf));
  expect(exchanges).toEqual([]);

  await stages.kill9('aggregator');
  await stages.start('aggregator');

  // Next owner: a re-cut with an overlap (events 90..99 again), then the rest in batches of 60, the last with the end.
  for (let i = 90; i < sse.length; i += 60) await send(batch([...sse.slice(i, i + 60), ...(i + 60 >= sse.length ? [end] : [])]));
  await until('the exchange published', () => exchanges.length > 0, 90_000);
  await new Promise((r) => setTimeout(r, 500));
  expect(new Set(exchanges.map((e) => e.id)).size).toBe(1);
  const ex = exchanges[0];
  expect(ex.response?.streaming).toBe(true);
  expect(ex.response?.events).toEqual(sse.map(sseOf));
  expect(ex.request.method).toBe('POST');
  // The response ended: its list is gone.
  expect(await redis.exists(list)).toBe(0);
}, 180_000);
