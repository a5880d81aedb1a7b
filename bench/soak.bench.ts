/**
 * Soak benchmark (not a test): `npx tsx bench/soak.bench.ts [minutes=30] [calls_per_s=2]` after `npm run setup`.
 * Private NATS, Redis and chDB, the five stage services as processes (as pipeline.bench.ts, no probe).
 *
 * Steady load: every second, `calls_per_s` recorded streamed calls (vercel__openai-text.chunks.txt, 300 SSE events,
 * ~300 raw records each), each on a connection of its own, are published to the raw subjects with their records
 * interleaved, as concurrent agents would make them. Every 30 s it samples, per stage, RSS (VmRSS, MiB) and the
 * peak (VmHWM); Redis `used_memory` (bytes); the lag of every JetStream consumer (`num_pending` +
 * `num_ack_pending`, summed per stream); and the calls stored (the overview's `llm_calls`).
 *
 * At the end it waits for the lag to reach 0 and checks conservation (calls stored = calls published). What "flat"
 * means here: the RSS of each stage over the second half of the run grows by less than 10 % (a leak grows with the
 * records processed; the first half includes V8's and chDB's warm-up). Writes bench/out/soak.json (every sample) and
 * prints a summary table.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { connKey, Subjects } from '@agentsight/contracts';
import { connectNats, Publisher } from '@agentsight/jetstream';
import { loadFixture, streamedCallRecords } from '@agentsight/testkit';
import { api, startInfra, Stages } from '../test/e2e/harness';
import { rss } from './pipeline.bench';

const ARGS = process.argv.slice(2);
const MINUTES = Number(ARGS[0] || 30);
const RATE = Number(ARGS[1] || 2);
const SAMPLE_S = 30;
const FIXTURE = 'vercel__openai-text.chunks.txt';

interface Sample {
  t_s: number;
  load1: number;
  published_calls: number;
  stored_calls: number;
  rss_mib: Record<string, number>;
  redis_used_bytes: number;
  /** num_pending + num_ack_pending of every consumer, summed per stream. */
  lag: Record<string, number>;
}

async function main(): Promise<void> {
  const infra = await startInfra();
  const stages = new Stages(infra.env);
  await stages.startAll();
  const redisPort = new URL(String(infra.env.REDIS_URL)).port;
  const fixture = loadFixture(FIXTURE);
  const nats = await connectNats(infra.natsUrl, 'soak');
  const pub = new Publisher(nats.js, nats.large);
  const samples: Sample[] = [];
  let published = 0;
  const t0 = Date.now();
  const lagNow = async (): Promise<Record<string, number>> => {
    const lag: Record<string, number> = {};
    for await (const s of nats.jsm.streams.list()) {
      for await (const c of nats.jsm.consumers.list(s.config.name)) lag[s.config.name] = (lag[s.config.name] ?? 0) + c.num_pending + c.num_ack_pending;
    }
    return lag;
  };
  const stored = async () => Number((await api<{ kpis: { llm_calls: number } }>(infra, '/api/overview?from=30d')).kpis.llm_calls);
  const sample = async () => {
    const s: Sample = {
      t_s: Math.round((Date.now() - t0) / 1000),
      load1: +loadavg()[0].toFixed(1),
      published_calls: published,
      stored_calls: await stored(),
      rss_mib: Object.fromEntries([...stages.children].map(([n, c]) => [n, rss(c.proc.pid!).rss_mib])),
      redis_used_bytes: Number(/used_memory:(\d+)/.exec(execFileSync('redis-cli', ['-p', redisPort, 'info', 'memory'], { encoding: 'utf8' }))?.[1] ?? 0),
      lag: await lagNow(),
    };
    samples.push(s);
    process.stderr.write(`${JSON.stringify(s)}\n`);
  };
  try {
    await sample();
    let next = Date.now();
    let nextSample = Date.now() + SAMPLE_S * 1000;
    const end = t0 + MINUTES * 60_000;
    while (Date.now() < end) {
      // One second's calls, their records interleaved (new connections each second: connection state comes and goes).
      const batch = Array.from({ length: RATE }, (_, k) => streamedCallRecords(published + k, fixture.body, (published + k) * 10_000));
      const pending: Promise<unknown>[] = [];
      for (let k = 0; k < Math.max(...batch.map((r) => r.length)); k++) {
        for (const recs of batch) {
          const r = recs[k];
          if (r) pending.push(pub.publish(Subjects.rawSsl('bench', r.partition), `soak:${connKey(r)}:${r.seq}`, r));
        }
      }
      await Promise.all(pending);
      published += RATE;
      if (Date.now() >= nextSample) {
        await sample();
        nextSample += SAMPLE_S * 1000;
      }
      next += 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
    // Drain: lag to 0 and every call stored (at most 10 min).
    const drainStart = Date.now();
    for (;;) {
      const lag = await lagNow();
      if (Object.values(lag).every((n) => n === 0) && (await stored()) >= published) break;
      if (Date.now() - drainStart > 600_000) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const drainS = Math.round((Date.now() - drainStart) / 1000);
    await sample();
    // What Redis holds at the end: keys per prefix (the key up to its third ':'), with their total MEMORY USAGE.
    // One redis-cli for every key's MEMORY USAGE (commands on its stdin, one answer per line), not one per key.
    const redis = (args: string[], input?: string) => execFileSync('redis-cli', ['-p', redisPort, ...args], { encoding: 'utf8', input, maxBuffer: 256 << 20 });
    const keys = redis(['--scan']).split('\n').filter(Boolean);
    const usage = keys.length ? redis([], keys.map((k) => `MEMORY USAGE ${k}`).join('\n') + '\n').split('\n') : [];
    const redisKeys: Record<string, { keys: number; bytes: number }> = {};
    keys.forEach((k, i) => {
      const e = (redisKeys[k.split(':').slice(0, 3).join(':')] ??= { keys: 0, bytes: 0 });
      e.keys++;
      e.bytes += Number(usage[i]) || 0;
    });
    const peak = Object.fromEntries([...stages.children].map(([n, c]) => [n, rss(c.proc.pid!).hwm_mib]));
    const half = samples.filter((s) => s.t_s >= (MINUTES * 60) / 2);
    const first = half[0] ?? samples[0];
    const last = samples[samples.length - 1];
    const growth = Object.fromEntries(Object.keys(last.rss_mib).map((n) => [n, +((last.rss_mib[n] / first.rss_mib[n] - 1) * 100).toFixed(1)]));
    const maxLag = Math.max(...samples.map((s) => Object.values(s.lag).reduce((a, b) => a + b, 0)));
    const out = {
      date: new Date().toISOString(), minutes: MINUTES, calls_per_s: RATE, records_per_call: streamedCallRecords(0, fixture.body, 0).length,
      published_calls: published, stored_calls: last.stored_calls, conserved: last.stored_calls === published, drain_s: drainS,
      rss_growth_second_half_pct: growth, peak_rss_mib: peak, max_total_lag: maxLag,
      redis_used_bytes: { first: samples[0].redis_used_bytes, second_half_first: first.redis_used_bytes, last: last.redis_used_bytes },
      redis_keys_at_end: redisKeys,
      samples,
    };
    mkdirSync(join(__dirname, 'out'), { recursive: true });
    writeFileSync(join(__dirname, 'out/soak.json'), JSON.stringify(out, null, 2));
    const { samples: _s, ...summary } = out;
    console.log(JSON.stringify(summary, null, 2));
  } finally {
    await nats.nc.close();
    await stages.stopAll();
    await infra.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
