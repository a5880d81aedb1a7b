/**
 * RebuildGate and readStreamRange (issue 10) on a private nats-server (JetStream) and a private redis-server: the
 * range read's bounds (from `sinceNs`, up to the last sequence at the call), its filters merged in stream order, its
 * batches, and that it leaves no consumer; the gate's single shared rebuild, its marker, a rebuild again once the
 * marker is lost, and a failing rebuild given up (marker set, counted) instead of rejected.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, tcpOpen } from '@agentsight/testkit';
import { connectNats, type Nats } from './nats';
import { connectRedis, type Redis } from './redis';
import { Publisher } from './publisher';
import { readStreamMsgIds, readStreamRange, RebuildGate, type RangeMessage } from './rebuild';
import { BATCH_METRICS_SUBJECT, batchMetrics, type BatchMetricsReport } from './batch-metrics';

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('readStreamRange and RebuildGate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentsight-rebuild-'));
  let nats: Nats;
  let redis: Redis;
  let pub: Publisher;
  const procs: ChildProcess[] = [];

  beforeAll(async () => {
    const natsPort = await freePort();
    const redisPort = await freePort();
    procs.push(spawn('nats-server', ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', join(dir, 'nats')], { stdio: 'ignore' }));
    procs.push(spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(redisPort), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' }));
    await waitFor(() => tcpOpen(natsPort), 15_000, 'nats-server to listen');
    await waitFor(() => tcpOpen(redisPort), 15_000, 'redis-server to listen');
    nats = await connectNats(`nats://127.0.0.1:${natsPort}`, 'rebuild-spec');
    redis = await connectRedis(`redis://127.0.0.1:${redisPort}`, 'rebuild-spec');
    pub = new Publisher(nats.js, nats.large);
    await nats.jsm.streams.add({ name: 'RANGE_SPEC', subjects: ['range.>'] });
    await nats.jsm.streams.add({ name: 'RANGE_EMPTY', subjects: ['empty.>'] });
  }, 60_000);

  afterAll(async () => {
    await nats?.nc.close();
    redis?.disconnect();
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(null) : p.once('exit', r)))));
    rmSync(dir, { recursive: true, force: true });
  });

  describe('readStreamRange', () => {
    let sinceNs: bigint;
    beforeAll(async () => {
      // seq 1-4: before sinceNs; seq 5-12: a, b, a, b, … (i = 0..7) after it.
      for (let i = 0; i < 4; i++) await pub.publish(`range.${i % 2 ? 'b' : 'a'}`, `old${i}`, { i: -1 - i });
      await sleep(50);
      sinceNs = BigInt(Date.now()) * 1_000_000n;
      await sleep(50);
      for (let i = 0; i < 8; i++) await pub.publish(`range.${i % 2 ? 'b' : 'a'}`, `new${i}`, { i });
    });

    test('two filters: the messages at or after sinceNs in stream order, in batches; none published during the read; no consumer left', async () => {
      const batches: RangeMessage<{ i: number }>[][] = [];
      let extra = 0;
      const r = await readStreamRange<{ i: number }>(nats, { stream: 'RANGE_SPEC', filter: ['range.a', 'range.b'], sinceNs, batch: 3 }, async (b) => {
        batches.push(b);
        if (extra++ < 2) await pub.publish('range.a', `during${extra}`, { i: 100 + extra });
      });
      expect(r).toEqual({ read: 8, lastSeq: 12 });
      expect(batches.map((b) => b.length)).toEqual([3, 3, 2]);
      const all = batches.flat();
      expect(all.map((m) => m.value.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(all.map((m) => m.seq)).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
      expect(all.map((m) => m.subject)).toEqual(['range.a', 'range.b', 'range.a', 'range.b', 'range.a', 'range.b', 'range.a', 'range.b']);
      for (const m of all) expect(m.timeNs).toBeGreaterThanOrEqual(sinceNs);
      expect((await nats.jsm.streams.info('RANGE_SPEC')).state.last_seq).toBe(14);
      await waitFor(async () => (await nats.jsm.consumers.list('RANGE_SPEC').next()).length === 0, 10_000, 'the range consumers to be gone');
    }, 60_000);

    test('one filter, and no filter: only its subject; from the stream start when sinceNs is 0', async () => {
      const a: number[] = [];
      const ra = await readStreamRange<{ i: number }>(nats, { stream: 'RANGE_SPEC', filter: 'range.a', sinceNs }, async (b) => void a.push(...b.map((m) => m.value.i)));
      expect(a).toEqual([0, 2, 4, 6, 101, 102]);
      expect(ra.read).toBe(6);
      const every: number[] = [];
      const rall = await readStreamRange<{ i: number }>(nats, { stream: 'RANGE_SPEC', sinceNs: 0n }, async (b) => void every.push(...b.map((m) => m.seq)));
      expect(rall).toEqual({ read: 14, lastSeq: 14 });
      expect(every).toEqual([...Array(14).keys()].map((k) => k + 1));
    }, 60_000);

    test('readStreamMsgIds: the same bounds and order, each message as its Nats-Msg-Id header', async () => {
      const ids: Array<[number, string | null]> = [];
      const r = await readStreamMsgIds(nats, { stream: 'RANGE_SPEC', filter: 'range.b', sinceNs, batch: 2 }, async (b) => void ids.push(...b.map((m) => [m.seq, m.msgId] as [number, string | null])));
      expect(r).toEqual({ read: 4, lastSeq: 14 });
      expect(ids).toEqual([[6, 'new1'], [8, 'new3'], [10, 'new5'], [12, 'new7']]);
      await waitFor(async () => (await nats.jsm.consumers.list('RANGE_SPEC').next()).length === 0, 10_000, 'the range consumers to be gone');
    }, 60_000);

    test('an empty stream, and nothing after sinceNs: read 0', async () => {
      const each = jest.fn(async () => undefined);
      expect(await readStreamRange(nats, { stream: 'RANGE_EMPTY', sinceNs: 0n }, each)).toEqual({ read: 0, lastSeq: 0 });
      const future = BigInt(Date.now() + 3_600_000) * 1_000_000n;
      expect(await readStreamRange(nats, { stream: 'RANGE_SPEC', filter: ['range.a', 'range.b'], sinceNs: future }, each)).toEqual({ read: 0, lastSeq: 14 });
      expect(each).not.toHaveBeenCalled();
      await waitFor(async () => (await nats.jsm.consumers.list('RANGE_SPEC').next()).length === 0, 10_000, 'the range consumers to be gone');
    }, 60_000);

    test('what `each` throws is thrown, and the consumers are still deleted', async () => {
      await expect(readStreamRange(nats, { stream: 'RANGE_SPEC', filter: ['range.a', 'range.b'], sinceNs: 0n }, async () => {
        throw new Error('each failed');
      })).rejects.toThrow('each failed');
      await waitFor(async () => (await nats.jsm.consumers.list('RANGE_SPEC').next()).length === 0, 10_000, 'the range consumers to be gone');
    }, 60_000);
  });

  describe('RebuildGate', () => {
    beforeEach(async () => void (await redis.flushall()));

    test('concurrent callers share one rebuild; the marker is set; no second rebuild; a lost marker rebuilds again', async () => {
      let runs = 0;
      let release!: () => void;
      const gate = new RebuildGate(redis, async () => {
        runs++;
        await new Promise<void>((r) => (release = r));
      }, { builtKey: 'spec:built', label: '[spec]' });
      const callers = [gate.ensureBuilt(), gate.ensureBuilt(), gate.ready()];
      await waitFor(() => runs === 1, 5_000, 'the rebuild to start');
      expect(gate.rebuilding).toBe(true);
      let readyDone = false;
      const waiting = gate.ready().then(() => (readyDone = true));
      await sleep(100);
      expect(readyDone).toBe(false);
      expect(await redis.exists('spec:built')).toBe(0);
      release();
      await Promise.all([...callers, waiting]);
      expect(readyDone).toBe(true);
      expect(gate.rebuilding).toBe(false);
      expect(runs).toBe(1);
      expect(await redis.exists('spec:built')).toBe(1);
      await gate.ensureBuilt();
      await gate.ready();
      expect(runs).toBe(1);
      await redis.flushall();
      const again = gate.ready();
      await waitFor(() => runs === 2, 5_000, 'the second rebuild');
      release();
      await again;
      expect(await redis.exists('spec:built')).toBe(1);
      expect(gate.gaveUp).toBe(0);
    }, 30_000);

    test('a failing rebuild is retried, then given up: the promise resolves, the marker is set, gaveUp and the stage counter count it', async () => {
      let runs = 0;
      const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      const reports: BatchMetricsReport[] = [];
      const sub = nats.nc.subscribe(BATCH_METRICS_SUBJECT, {
        callback: (_err, m) => void reports.push(JSON.parse(new TextDecoder().decode(m.data)) as BatchMetricsReport),
      });
      batchMetrics.nats = nats;
      const given = () => reports.at(-1)?.events?.find((e) => e.name === 'agentsight_cache_rebuilds_given_up_total' && e.labels.cache === 'spec:given')?.value;
      try {
        const gate = new RebuildGate(redis, async () => {
          runs++;
          throw new Error('stream gone');
        }, { builtKey: 'agentsight:spec:given:built', label: '[spec]', retryForMs: 500 });
        // Declared at 0 before anything gave up, so the family is scraped before the first give-up.
        batchMetrics.flush();
        await waitFor(() => given() === 0, 5_000, 'the counter declared at 0');
        await expect(gate.ensureBuilt()).resolves.toBeUndefined();
        expect(runs).toBeGreaterThanOrEqual(2);
        expect(gate.gaveUp).toBe(1);
        expect(await redis.exists('agentsight:spec:given:built')).toBe(1);
        const logged = errors.mock.calls.map((c) => String(c[0])).join('\n');
        expect(logged).toMatch(/\[spec\]: rebuild failed, retrying for up to 0.5 s: stream gone/);
        expect(logged).toMatch(/\[spec\]: rebuild gave up after [\d.]+ s: stream gone/);
        batchMetrics.flush();
        await waitFor(() => given() === 1, 5_000, 'the give-up reported');
        // Cumulative: a report without a new give-up says 1 again, it never goes back to 0.
        batchMetrics.count('agentsight_cache_rebuilds_given_up_total', { cache: 'other' }, 0);
        batchMetrics.flush();
        await waitFor(() => reports.at(-1)?.events?.some((e) => e.labels.cache === 'other') === true, 5_000, 'a later report');
        expect(given()).toBe(1);
      } finally {
        errors.mockRestore();
        sub.unsubscribe();
        batchMetrics.nats = null;
      }
    }, 30_000);

    test('whenBuilt: an attempt that found the marker missing runs again once the rebuild is done', async () => {
      let runs = 0;
      const gate = new RebuildGate(redis, async () => {
        runs++;
        await redis.set('spec:cache', 'rebuilt');
      }, { builtKey: 'spec:when:built', label: '[spec]' });
      await redis.del('spec:when:built', 'spec:cache');
      const seen: Array<string | null> = [];
      // The attempt stands for a script that checks the marker: null (nothing done) while it is missing.
      const attempt = async () => {
        const v = (await redis.exists('spec:when:built')) ? await redis.get('spec:cache') : null;
        seen.push(v);
        return v;
      };
      await expect(gate.whenBuilt(attempt)).resolves.toBe('rebuilt');
      expect(seen).toEqual([null, 'rebuilt']);
      expect(runs).toBe(1);
      await expect(gate.whenBuilt(attempt)).resolves.toBe('rebuilt');
      expect(runs).toBe(1);
    }, 30_000);

    test('a rebuild that fails once is retried and succeeds: not given up', async () => {
      let runs = 0;
      const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        const gate = new RebuildGate(redis, async () => {
          if (++runs === 1) throw new Error('not yet');
        }, { builtKey: 'spec:built', label: '[spec]', retryForMs: 5_000 });
        await gate.ready();
        expect(runs).toBe(2);
        expect(gate.gaveUp).toBe(0);
        expect(await redis.exists('spec:built')).toBe(1);
      } finally {
        errors.mockRestore();
      }
    }, 30_000);
  });
});
