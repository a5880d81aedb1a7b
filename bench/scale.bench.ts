/**
 * Horizontal scale benchmark (not a test): `npx tsx bench/scale.bench.ts [connections]` after `npm run setup` (no
 * root, no probe). For 1 and then 2 instances (separate processes, `AGENTSIGHT_INSTANCE` s0, s1), on private NATS and
 * Redis each time:
 * 1. parser alone: the raw stream is pre-filled with the raw SSL records of `connections` recorded streamed calls
 *    (the same records as pipeline.bench.ts, spread over the 8 partitions), then the parser instances are started
 *    together; the clock runs from all of them ready until every `parser-p<N>` durable has nothing pending or unacked.
 * 2. aggregator alone: fed from the HTTP stream the parser run just filled; same clock over `aggregator-p<N>`.
 * The clock includes the instances' partition handoff at start (each claims its share on its first lease tick; with
 * two, one may claim all 8 before the other registers and hand 4 over at the next tick, 2 s later).
 * Records/s = input messages ÷ seconds; MB/s = input payload (parser: the records' TLS bytes; aggregator: the HTTP
 * stream's bytes) ÷ seconds, 10^6 bytes; `cpu_s` = CPU seconds of the instances, start-up (≈1 s each) included. Writes
 * bench/out/scale.json `{"parser": {"one": {…}, "two": {…}, "ratio": two/one records/s}, "aggregator": {…}}` and
 * prints it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { connKey, Subjects } from '@agentsight/contracts';
import { connectNats, Publisher, type Nats } from '@agentsight/jetstream';
import { loadFixture, streamedCallRecords } from '@agentsight/testkit';
import { spawnReady, stopChild, type Child } from '../services/api/src/cli/children';
import { ROOT, startInfra, type Infra } from '../test/e2e/harness';
import { cpuSeconds } from './pipeline.bench';

const CONNECTIONS = Number(process.argv[2] || 200);
const FIXTURE = 'vercel__openai-text.chunks.txt';

interface Figure {
  records: number;
  seconds: number;
  records_per_s: number;
  mb_per_s: number;
  cpu_s: number;
  load_start: number;
}

/** State of `stage`'s partition durables: whether any has been delivered anything, whether all 8 are done. */
async function progress(nats: Nats, stream: string, stage: string): Promise<{ started: boolean; done: boolean }> {
  let n = 0;
  let started = false;
  let done = true;
  for await (const ci of nats.jsm.consumers.list(stream)) {
    if (!ci || !new RegExp(`^${stage}-p\\d+$`).test(ci.name)) continue;
    n++;
    if (ci.delivered.stream_seq > 0) started = true;
    if (ci.num_pending > 0 || ci.num_ack_pending > 0) done = false;
  }
  return { started, done: done && n === 8 };
}

async function run(infra: Infra, nats: Nats, stage: 'parser' | 'aggregator', stream: string, instances: number, records: number, bytes: number): Promise<Figure> {
  const load = +loadavg()[0].toFixed(1);
  const spawned = Promise.all(Array.from({ length: instances }, (_, i) => spawnReady(`${stage}-s${i}`, process.execPath, [join(ROOT, `services/${stage}/dist/main.js`)], {
    env: { ...infra.env, AGENTSIGHT_INSTANCE: `s${i}` }, logDir: join(infra.dataDir, 'logs'),
  })));
  // The clock starts at the first delivery to any instance (process start-up excluded) and stops when all is acked.
  let t0 = 0;
  for (;;) {
    const p = await progress(nats, stream, stage);
    if (!t0 && p.started) t0 = Date.now();
    if (t0 && p.done) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (Date.now() - t0) / 1000;
  const children: Child[] = await spawned;
  const cpu = children.reduce((s, c) => s + cpuSeconds(c.proc.pid!), 0);
  for (const c of children) await stopChild(c);
  return { records, seconds, records_per_s: Math.round(records / seconds), mb_per_s: +(bytes / 1e6 / seconds).toFixed(2), cpu_s: +cpu.toFixed(2), load_start: load };
}

async function measure(instances: number): Promise<{ parser: Figure; aggregator: Figure }> {
  const infra = await startInfra();
  const nats = await connectNats(infra.natsUrl, 'bench-scale');
  try {
    const fixture = loadFixture(FIXTURE);
    const pub = new Publisher(nats.js, nats.large);
    const all = Array.from({ length: CONNECTIONS }, (_, i) => streamedCallRecords(i, fixture.body, i * 10_000));
    let records = 0;
    let bytes = 0;
    const pending: Promise<unknown>[] = [];
    for (let k = 0; k < Math.max(...all.map((r) => r.length)); k++) {
      for (const recs of all) {
        const r = recs[k];
        if (!r) continue;
        records++;
        bytes += r.data.length;
        pending.push(pub.publish(Subjects.rawSsl('bench', r.partition), `bench:${connKey(r)}:${r.seq}`, r));
        if (pending.length >= 2000) await Promise.all(pending.splice(0));
      }
    }
    await Promise.all(pending);
    const parser = await run(infra, nats, 'parser', 'AGENTSIGHT_RAW', instances, records, bytes);
    const http = (await nats.jsm.streams.info('AGENTSIGHT_HTTP')).state;
    const aggregator = await run(infra, nats, 'aggregator', 'AGENTSIGHT_HTTP', instances, http.messages, http.bytes);
    return { parser, aggregator };
  } finally {
    await nats.nc.close();
    await infra.stop();
  }
}

async function main(): Promise<void> {
  const one = await measure(1);
  const two = await measure(2);
  const ratio = (s: 'parser' | 'aggregator') => +(two[s].records_per_s / one[s].records_per_s).toFixed(2);
  const out = {
    date: new Date().toISOString(), connections: CONNECTIONS, machine: `${cpus().length} cores`,
    parser: { one: one.parser, two: two.parser, ratio: ratio('parser') },
    aggregator: { one: one.aggregator, two: two.aggregator, ratio: ratio('aggregator') },
  };
  mkdirSync(join(__dirname, 'out'), { recursive: true });
  writeFileSync(join(__dirname, 'out/scale.json'), JSON.stringify(out, null, 2));
  console.log(JSON.stringify(out, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
