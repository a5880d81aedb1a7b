/**
 * What the `agentsight replay` e2e specs (replay, replay-rederive, replay-live, replay-resume) share: streamed LLM
 * calls published as raw records (as the probe would), a live pipeline run over them, the store's rows as they
 * compare across runs, wiping them, and the live pipeline's NATS/Redis state a replay must leave untouched.
 */
import { join } from 'node:path';
import Redis from 'ioredis';
import { openClickHouse, TABLES } from '@agentsight/clickhouse';
import { Subjects } from '@agentsight/contracts';
import { connectNats, Publisher, type Nats } from '@agentsight/jetstream';
import { loadFixture, streamedCallRecords } from '@agentsight/testkit';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { Infra, Stages } from './harness';

/** One stored row, as ClickHouse returns it (JSONEachRow). */
export type Row = Record<string, unknown>;

/** One table's rows: each row's JSON without its {@link NOT_DERIVED} columns, sorted. */
export type Rows = Record<string, string[]>;

/**
 * Columns that are not derived from the inputs, left out of {@link readRows}: when the row was stored (every table),
 * and a dead letter's time of writing and the sequence of its input in the stream the stage read (a replay's stages
 * read the replay's stream).
 */
const NOT_DERIVED: Record<string, string[]> = { dead_letters: ['ingested_at', 'ts_ns', 'input_seq'] };

let fixtureEvents: Buffer[] | undefined;

/**
 * Publishes streamed chat completions `first` … `first + count - 1` (libs/testkit `streamedCallRecords`, the
 * `vercel__openai-text` fixture's events; call `i` on connection `i`, its records' seqs from `i × 10,000`) as raw SSL
 * records on `Subjects.rawSsl`, with msg ids `<tag>:<i>:<seq>`; `prompt(i)` is call `i`'s user message (default the
 * testkit's). Resolves once JetStream acked every record; throws when a publish fails.
 */
export async function publishCalls(nats: Nats, opts: { first?: number; count: number; tag: string; prompt?: (i: number) => string }): Promise<void> {
  const pub = new Publisher(nats.js, nats.large, 30_000);
  const events = (fixtureEvents ??= loadFixture('vercel__openai-text.chunks.txt').body);
  const first = opts.first ?? 0;
  for (let i = first; i < first + opts.count; i++) {
    const recs = streamedCallRecords(i, events, i * 10_000, opts.prompt ? { prompt: opts.prompt(i) } : {});
    await Promise.all(recs.map((r) => pub.publish(Subjects.rawSsl(r.host, r.partition), `${opts.tag}:${i}:${r.seq}`, r)));
  }
}

/**
 * The live pipeline over what `feed` produces: starts the five stages on `infra`, runs `feed` (it publishes or
 * captures), waits until the pipeline drained, and stops the stages again (the embedded store has one writer, so a
 * replay's api can open it next). The stages are stopped when `feed` or the drain throws, too (the error is rethrown).
 */
export async function storeLive(infra: Infra, feed: () => Promise<void>): Promise<void> {
  const stages = new Stages(infra.env);
  try {
    await stages.startAll();
    await feed();
    await waitDrained(infra.env);
  } finally {
    await stages.stopAll();
  }
}

/**
 * Every table's rows of the embedded store in `dataDir` (closed: no api may run on it), as {@link Rows}: as readers
 * see them (`FINAL`), or with `onDisk` every row version still on disk. `tables` defaults to every table of the
 * schema; `view(table, rows)` may rewrite a table's rows before they are stringified (say to keep the final version
 * of versioned records only).
 */
export async function readRows(dataDir: string, opts: { onDisk?: boolean; tables?: readonly string[]; view?: (table: string, rows: Row[]) => Row[] } = {}): Promise<Rows> {
  const ch = await openClickHouse({ dataDir: join(dataDir, 'chdb') });
  try {
    const out: Rows = {};
    for (const t of opts.tables ?? TABLES) {
      const rs = await ch.query({ query: `SELECT * FROM agentsight.${t}${opts.onDisk ? '' : ' FINAL'}`, format: 'JSONEachRow' });
      const skip = NOT_DERIVED[t] ?? ['ingested_at'];
      const rows = ((await rs.json()) as Row[]).map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !skip.includes(k))));
      out[t] = (opts.view ? opts.view(t, rows) : rows).map((r) => JSON.stringify(r)).sort();
    }
    return out;
  } finally {
    await ch.close();
  }
}

/** Empties every table of the embedded store in `dataDir` (closed: no api may run on it). */
export async function wipeRows(dataDir: string): Promise<void> {
  const ch = await openClickHouse({ dataDir: join(dataDir, 'chdb') });
  try {
    for (const t of TABLES) await ch.command({ query: `TRUNCATE TABLE agentsight.${t}` });
  } finally {
    await ch.close();
  }
}

/** What {@link liveState} found. */
export interface LiveState {
  /** Every consumer not of a replay: `<stream>/<name>:<delivered stream seq>:<ack floor stream seq>:<num pending>`, sorted. */
  durables: string[];
  /** Every Redis key but leases and membership (those expire by themselves), sorted. */
  keys: string[];
  /** Names of the replays' consumers (`replay-…`) on any stream. */
  replayConsumers: string[];
  /** Messages in `AGENTSIGHT_REPLAY` (every replay's outputs). */
  replayMessages: number;
}

/** The live durables' positions and the live Redis keys on `infra`'s brokers, and what replays left there. */
export async function liveState(infra: Infra): Promise<LiveState> {
  const nats = await connectNats(infra.natsUrl, 'e2e-replay');
  const redis = new Redis(infra.env.REDIS_URL!);
  try {
    const durables: string[] = [];
    const replayConsumers: string[] = [];
    for (const s of await nats.jsm.streams.names().next()) {
      for await (const ci of nats.jsm.consumers.list(s)) {
        if (ci.name.startsWith('replay-')) replayConsumers.push(ci.name);
        else durables.push(`${s}/${ci.name}:${ci.delivered.stream_seq}:${ci.ack_floor.stream_seq}:${ci.num_pending}`);
      }
    }
    const keys = (await redis.keys('*')).filter((k) => !/^agentsight:(lease|members):/.test(k)).sort();
    const replayMessages = (await nats.jsm.streams.info('AGENTSIGHT_REPLAY')).state.messages;
    return { durables: durables.sort(), keys, replayConsumers, replayMessages };
  } finally {
    redis.disconnect();
    await nats.nc.close();
  }
}
