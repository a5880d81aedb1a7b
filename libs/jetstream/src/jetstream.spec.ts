import { randomUUID } from 'node:crypto';
import { decode, encode } from '@agentsight/contracts';
import { connectNats, ensureStreams, Nats, streamLimits } from './nats';
import { pipelineConfig } from './config';
import { pipelineStatus } from './status';
import { connectRedis, Redis } from './redis';
import { Publisher } from './publisher';
import { ConsumerLoop, Input } from './consumer';
import { assignedPartitions, PartitionGroup, PartitionWorker } from './partitions';
import { CLAIM_CHECK_HEADER, INLINE_LIMIT_BYTES } from './large';

// Real NATS JetStream and Redis (127.0.0.1, started by infra/services.sh). Each test uses its own stream.
const CONFIG = pipelineConfig();
let nats: Nats;
let redis: Redis;
let stream: string;
let subj: string;

beforeAll(async () => {
  nats = await connectNats(CONFIG.nats, 'jetstream-spec');
  redis = await connectRedis(CONFIG.redisUrl, 'jetstream-spec');
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

test('many publishes in flight get their own PubAcks, in order; a subject no stream takes is rejected, not hung', async () => {
  const pub = new Publisher(nats.js, nats.large, 300);
  const acks = await Promise.all(Array.from({ length: 500 }, (_, i) => pub.publish(`${subj}.many`, `m-${i}`, { i })));
  expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
  expect(acks.every((a) => a.stream === stream && !a.duplicate)).toBe(true);
  const stored = await nats.jsm.streams.getMessage(stream, { seq: 500 });
  expect(decode<{ i: number }>(stored!.data).i).toBe(499);
  expect(stored!.header.get('Nats-Msg-Id')).toBe('m-499');
  await expect(pub.publish(`nostream.${randomUUID().slice(0, 8)}`, 'x', { n: 1 })).rejects.toThrow(/no responders/);
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
      stage: 'probe', name: `spec-${stream}`, stream, partitions: 1, owner: `spec-${stream}`, filter: () => `${subj}.0`,
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
});

test('a batch that throws: the partition is claimed again and its inputs come again from the ack floor', async () => {
  const pub = new Publisher(nats.js, nats.large);
  for (let i = 0; i < 10; i++) await pub.publish(`${subj}.0`, `f${i}`, { i });
  const got: number[] = [];
  let failures = 0;
  const group = new PartitionGroup<{ i: number }>(nats, redis, {
    stage: 'genai', name: `spec-${stream}`, stream, partitions: 1, owner: `spec-${stream}`, filter: () => `${subj}.0`,
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

test('a slow consumer holds at most maxInFlight fetched messages / maxInFlightBytes, and still gets every message in order', async () => {
  const pub = new Publisher(nats.js, nats.large);
  await Promise.all(Array.from({ length: 400 }, (_, i) => pub.publish(`${subj}.room`, `r${i}`, { i })));
  await Promise.all(Array.from({ length: 60 }, (_, i) => pub.publish(`${subj}.roomb`, `b${i}`, { i, pad: Buffer.alloc(10_000) })));
  // Delivered and not acked (server side) = what the client holds (queued + the batch in hand) + the previous batch's
  // acks the server may not have processed yet (acks and the info request are not ordered): ≤ bound + maxBatch.
  const run = async (durable: string, filter: string, bound: { maxInFlight?: number; maxInFlightBytes?: number }, n: number) => {
    const seen: number[] = [];
    let maxHeld = 0;
    const loop = new ConsumerLoop<{ i: number }>(nats, { stream, durable, filterSubject: filter, ackWaitMs: 30_000, maxAckPending: 1000, start: 'keep', maxBatch: 5, ...bound }, {
      handle: async (batch) => {
        await new Promise((r) => setTimeout(r, 5));
        maxHeld = Math.max(maxHeld, (await nats.jsm.consumers.info(stream, durable)).num_ack_pending);
        for (const m of batch) { seen.push(m.value.i); m.ack(); }
      },
      undecodable: async () => undefined,
    });
    await loop.start();
    try {
      await waitFor(() => seen.length >= n, 30_000);
    } finally {
      await loop.stop();
    }
    return { seen, maxHeld };
  };
  const small = await run('room', `${subj}.room`, { maxInFlight: 20 }, 400);
  expect(small.seen).toEqual(Array.from({ length: 400 }, (_, i) => i));
  expect(small.maxHeld).toBeGreaterThan(0);
  expect(small.maxHeld).toBeLessThanOrEqual(20 + 5); // nats.js consume() held everything up to max_ack_pending (400)
  const big = await run('roomb', `${subj}.roomb`, { maxInFlight: 1000, maxInFlightBytes: 50_000 }, 60);
  expect(big.seen).toEqual(Array.from({ length: 60 }, (_, i) => i));
  expect(big.maxHeld).toBeLessThanOrEqual(5 + 5); // 50 kB of 10 kB messages
}, 60_000);

test('assignedPartitions: every partition has exactly one member, shares differ by at most one', () => {
  for (const n of [1, 2, 3, 5, 8, 11]) {
    const members = Array.from({ length: n }, (_, i) => `host:${(i * 7) % n}`);
    const shares = members.map((m) => assignedPartitions(m, [...members].reverse(), 8));
    expect(shares.flat().sort((a, b) => a - b)).toEqual([...Array(8).keys()]);
    const sizes = shares.map((s) => s.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  }
  // Not yet registered: counted in.
  expect(assignedPartitions('b', ['a'], 4)).toEqual([1, 3]);
});

test('two instances share 8 partitions 4/4 with never two owners at once, and one takes all when the other stops', async () => {
  const P = 8;
  const pub = new Publisher(nats.js, nats.large);
  const name = `spec-${stream}`;
  const active = new Map<number, number>();
  let overlap = 0;
  const seen = new Map<number, number[]>();
  const group = (owner: string) => new PartitionGroup<{ p: number; i: number }>(nats, redis, {
    stage: 'parser', name, stream, partitions: P, owner, filter: (p) => `${subj}.${p}`, leaseTtlMs: 1500,
    worker: async (p): Promise<PartitionWorker<{ p: number; i: number }>> => ({
      handle: async (batch) => {
        active.set(p, (active.get(p) ?? 0) + 1);
        if (active.get(p)! > 1) overlap++;
        await new Promise((r) => setTimeout(r, 5));
        for (const m of batch) {
          const list = seen.get(m.value.p) ?? [];
          if (!list.includes(m.value.i)) list.push(m.value.i);
          seen.set(m.value.p, list);
          m.ack();
        }
        active.set(p, active.get(p)! - 1);
      },
      undecodable: async () => undefined,
      close: async () => undefined,
    }),
  });
  const publishRound = async (from: number, to: number) => {
    for (let i = from; i < to; i++) for (let p = 0; p < P; p++) await pub.publish(`${subj}.${p}`, `${p}-${i}`, { p, i });
  };
  const a = group('a');
  const b = group('b');
  try {
    await a.start();
    await publishRound(0, 20);
    await waitFor(() => a.partitions().length === P);
    const joining = b.start();
    await publishRound(20, 60);
    await joining;
    await waitFor(() => a.partitions().length === P / 2 && b.partitions().length === P / 2, 10_000);
    expect(a.partitions()).toEqual([0, 2, 4, 6]);
    expect(b.partitions()).toEqual([1, 3, 5, 7]);
    await publishRound(60, 80);
    await waitFor(() => [...Array(P).keys()].every((p) => (seen.get(p)?.length ?? 0) === 80), 10_000);
    await a.stop();
    await waitFor(() => b.partitions().length === P, 10_000);
    await publishRound(80, 100);
    await waitFor(() => [...Array(P).keys()].every((p) => (seen.get(p)?.length ?? 0) === 100), 10_000);
  } finally {
    await a.stop();
    await b.stop();
  }
  expect(overlap).toBe(0);
  // Every input of every partition, first seen in publish order across both handoffs.
  for (let p = 0; p < P; p++) expect(seen.get(p)).toEqual([...Array(100).keys()]);
}, 60_000);

test('stream limits: defaults and environment overrides; bad values are refused with the variable named', () => {
  const spec = { name: 'AGENTSIGHT_RAW', subjects: ['x.>'], maxAgeHours: 72, maxBytes: 2 * 1024 ** 3 };
  expect(streamLimits(spec, {})).toEqual({ max_age: 72 * 3600e9, max_bytes: 2 * 1024 ** 3 });
  expect(streamLimits(spec, { AGENTSIGHT_RAW_MAX_BYTES: '512M', AGENTSIGHT_STREAM_MAX_AGE_HOURS: '1.5' })).toEqual({ max_age: 1.5 * 3600e9, max_bytes: 512 * 1024 ** 2 });
  expect(streamLimits(spec, { AGENTSIGHT_RAW_MAX_BYTES: '4096' }).max_bytes).toBe(4096);
  expect(() => streamLimits(spec, { AGENTSIGHT_RAW_MAX_BYTES: 'lots' })).toThrow(/AGENTSIGHT_RAW_MAX_BYTES/);
  expect(() => streamLimits(spec, { AGENTSIGHT_STREAM_MAX_AGE_HOURS: '0' })).toThrow(/AGENTSIGHT_STREAM_MAX_AGE_HOURS/);
});

test('ensureStreams updates the limits of an existing stream in place; status counts what the limits discarded', async () => {
  const name = `LIMITS_${randomUUID().slice(0, 8)}`;
  const spec = { name, subjects: [`lim.${name}.>`], maxAgeHours: 1, maxBytes: 1024 ** 3 };
  await ensureStreams(nats.jsm, [spec], {});
  try {
    const pub = new Publisher(nats.js, nats.large);
    const body = 'x'.repeat(1000);
    // A consumer that acks the first 5 of 40, then lags.
    let acked = 0;
    const loop = new ConsumerLoop<{ i: number }>(nats, { stream: name, durable: 'lagging', filterSubject: `lim.${name}.>`, ackWaitMs: 60_000, maxAckPending: 5, start: 'keep' }, {
      handle: async (batch) => { for (const m of batch) if (acked < 5) { m.ack(); acked++; } },
      undecodable: async () => undefined,
    });
    await loop.start();
    for (let i = 0; i < 40; i++) await pub.publish(`lim.${name}.a`, `l${i}`, { i, body });
    await waitFor(() => acked === 5);
    await loop.stop();
    const before = await nats.jsm.streams.info(name);
    expect(before.state.messages).toBe(40);
    // Shrink to ~10 messages: the head goes, the stored tail stays (updated, not re-created).
    await ensureStreams(nats.jsm, [spec], { [`AGENTSIGHT_${name}_MAX_BYTES`]: '11000' });
    const after = await nats.jsm.streams.info(name);
    expect(after.config.max_bytes).toBe(11000);
    expect(after.state.last_seq).toBe(40);
    expect(after.state.messages).toBeLessThan(40);
    const st = await pipelineStatus(nats.jsm, redis, { partitions: 0, specs: [spec], groups: [] });
    expect(st.streams).toHaveLength(1);
    const s = st.streams[0];
    expect(s.discarded).toBe(after.state.first_seq - 1);
    expect(s.discarded).toBeGreaterThan(20);
    expect(s.consumers.map((c) => c.durable)).toEqual(['lagging']);
    expect(s.consumers[0].pending).toBe(after.state.messages); // it had been delivered only up to seq 10
  } finally {
    await nats.jsm.streams.delete(name);
  }
});

test('status shows a partition group\'s live members and which partition each holds', async () => {
  const name = `spec-${stream}`;
  const mk = (owner: string) => new PartitionGroup<unknown>(nats, redis, {
    stage: 'parser', name, stream, partitions: 4, owner, filter: (p) => `${subj}.${p}`, leaseTtlMs: 1500,
    worker: async () => ({ handle: async () => undefined, undecodable: async () => undefined, close: async () => undefined }),
  });
  const a = mk('h:a');
  const b = mk('h:b');
  try {
    await a.start();
    await b.start();
    await waitFor(() => a.partitions().length === 2 && b.partitions().length === 2, 10_000);
    const st = await pipelineStatus(nats.jsm, redis, { partitions: 4, specs: [], groups: [name] });
    expect(st.groups).toHaveLength(1);
    expect(st.groups[0].members.map((m) => m.owner)).toEqual(['h:a', 'h:b']);
    expect(st.groups[0].owners).toEqual(['h:a', 'h:b', 'h:a', 'h:b']);
  } finally {
    await a.stop();
    await b.stop();
  }
  const gone = await pipelineStatus(nats.jsm, redis, { partitions: 4, specs: [], groups: [name] });
  expect(gone.groups).toEqual([]);
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
