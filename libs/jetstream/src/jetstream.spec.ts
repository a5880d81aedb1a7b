import { randomUUID } from 'node:crypto';
import { decode, encode } from '@agentsight/contracts';
import { connectNats, Nats } from './nats';
import { connectRedis, Redis } from './redis';
import { Publisher } from './publisher';
import { ConsumerLoop, Input } from './consumer';
import { PartitionGroup, PartitionWorker } from './partitions';
import { CLAIM_CHECK_HEADER, INLINE_LIMIT_BYTES } from './large';

// Real NATS JetStream and Redis (127.0.0.1, started by infra/services.sh). Each test uses its own stream.
const NATS_URL = process.env.NATS_URL || 'nats://127.0.0.1:4222';
let nats: Nats;
let redis: Redis;
let stream: string;
let subj: string;

beforeAll(async () => {
  nats = await connectNats(NATS_URL, 'jetstream-spec');
  redis = await connectRedis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', 'jetstream-spec');
});
afterAll(async () => {
  await nats.nc.close();
  redis.disconnect();
});
beforeEach(async () => {
  const id = randomUUID().slice(0, 8);
  stream = `TEST_${id}`;
  subj = `test.${id}`;
  await nats.jsm.streams.add({ name: stream, subjects: [`${subj}.>`], duplicate_window: 60e9 });
});
afterEach(async () => {
  await nats.jsm.streams.delete(stream);
});

test('publish with the same id twice stores one message (Nats-Msg-Id dedupe)', async () => {
  const pub = new Publisher(nats.js, nats.large);
  const a = await pub.publish(`${subj}.x`, 'id-1', { n: 1 });
  const b = await pub.publish(`${subj}.x`, 'id-1', { n: 1 });
  expect(a.duplicate).toBe(false);
  expect(b.duplicate).toBe(true);
  expect((await nats.jsm.streams.info(stream)).state.messages).toBe(1);
});

test('a payload above the inline limit goes by claim check and decodes to the same bytes', async () => {
  const pub = new Publisher(nats.js, nats.large);
  const body = Buffer.alloc(2 * 1024 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7919) & 0xff;
  await pub.publish(`${subj}.big`, `big-${randomUUID()}`, { body });
  const got: Buffer[] = [];
  const loop = new ConsumerLoop<{ body: Buffer }>(nats, { stream, durable: 'big', filterSubject: `${subj}.big`, ackWaitMs: 30_000, maxAckPending: 100, start: 'keep' }, {
    handle: async (batch) => { for (const i of batch) { got.push(i.value.body); i.ack(); } },
    undecodable: async (i) => { throw i.error; },
  });
  await loop.start();
  await waitFor(() => got.length === 1);
  await loop.stop();
  expect(encode({ body }).length).toBeGreaterThan(INLINE_LIMIT_BYTES);
  expect(Buffer.compare(got[0], body)).toBe(0);
  const raw = await nats.jsm.streams.getMessage(stream, { seq: 1 });
  expect(raw?.header.get(CLAIM_CHECK_HEADER)).toBeTruthy();
  expect(raw?.data.length).toBe(0);
});

test('a partition worker that stops without acking gets its inputs again, in order, from the ack floor', async () => {
  const pub = new Publisher(nats.js, nats.large);
  for (let i = 0; i < 20; i++) await pub.publish(`${subj}.0`, `m${i}`, { i });
  const seen: number[][] = [];
  // First owner acks 0..9 only, out of order for 5..9 (acks 5..9 but not 4) → floor stays at 4.
  const run = async (ackUpTo: (i: number) => boolean) => {
    const got: number[] = [];
    const group = new PartitionGroup<{ i: number }>(nats, redis, {
      stage: 'probe', stream, partitions: 1, owner: `spec-${stream}`, filter: () => `${subj}.0`,
      worker: async (): Promise<PartitionWorker<{ i: number }>> => ({
        handle: async (batch: Input<{ i: number }>[]) => { for (const m of batch) { got.push(m.value.i); if (ackUpTo(m.value.i)) m.ack(); } },
        undecodable: async () => undefined,
        close: async () => undefined,
      }),
    });
    await group.start();
    await waitFor(() => got.length >= 20 - (seen.length ? 4 : 0));
    await new Promise((r) => setTimeout(r, 300));
    await group.stop();
    seen.push(got);
  };
  await run((i) => i < 4 || (i >= 5 && i < 10));
  await run(() => true);
  expect(seen[0]).toEqual([...Array(20).keys()]);
  // Redelivered from the floor (4): 4..19 in order, including 5..9 that had been acked beyond the floor.
  expect(seen[1]).toEqual([...Array(16).keys()].map((k) => k + 4));
  await redis.del(`agentsight:lease:probe:0`);
});

test('a batch that throws: the partition is claimed again and its inputs come again from the ack floor', async () => {
  const pub = new Publisher(nats.js, nats.large);
  for (let i = 0; i < 10; i++) await pub.publish(`${subj}.0`, `f${i}`, { i });
  const got: number[] = [];
  let failures = 0;
  const group = new PartitionGroup<{ i: number }>(nats, redis, {
    stage: 'genai', stream, partitions: 1, owner: `spec-${stream}`, filter: () => `${subj}.0`,
    worker: async (): Promise<PartitionWorker<{ i: number }>> => ({
      handle: async (batch: Input<{ i: number }>[]) => {
        for (const m of batch) {
          if (m.value.i === 5 && failures === 0) {
            failures++;
            throw new Error('simulated outage');
          }
          got.push(m.value.i);
          m.ack();
        }
      },
      undecodable: async () => undefined,
      close: async () => undefined,
    }),
  });
  const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    await group.start();
    await waitFor(() => got.includes(9), 20_000);
  } finally {
    await group.stop();
    errors.mockRestore();
  }
  expect(failures).toBe(1);
  // 0..4 before the failure; after the re-claim everything from the floor (5) again, in order.
  expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  await redis.del(`agentsight:lease:genai:0`);
}, 30_000);

test('a plain consumer loop restarts itself after a failed batch', async () => {
  const pub = new Publisher(nats.js, nats.large);
  for (let i = 0; i < 3; i++) await pub.publish(`${subj}.s`, `s${i}`, { i });
  const seen: number[] = [];
  let thrown = false;
  const loop = new ConsumerLoop<{ i: number }>(nats, { stream, durable: 'restart', filterSubject: `${subj}.s`, ackWaitMs: 1000, maxAckPending: 100, start: 'keep', restartAfterMs: 100 }, {
    handle: async (batch) => {
      if (!thrown) {
        thrown = true;
        throw new Error('simulated outage');
      }
      for (const m of batch) { seen.push(m.value.i); m.ack(); }
    },
    undecodable: async () => undefined,
  });
  const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    await loop.start();
    await waitFor(() => seen.length >= 3, 20_000);
  } finally {
    await loop.stop();
    errors.mockRestore();
  }
  expect(thrown).toBe(true);
  expect([...new Set(seen)].sort()).toEqual([0, 1, 2]);
}, 30_000);

test('decode rejects garbage with an error (never a crash)', () => {
  expect(() => decode(Buffer.from([0xc1, 0xff, 0x00]))).toThrow();
});

async function waitFor(cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
