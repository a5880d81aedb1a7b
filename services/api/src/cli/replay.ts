import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPLAY_STREAM, STREAMS } from '@agentsight/contracts';
import { mergeReplaced, openClickHouse, timeToNs } from '@agentsight/clickhouse';
import { connectNats, connectRedis, FROM_STREAM, natsTarget, privateDir, redisUrl, ReplayScope, writePrivateFile, type ReplayFrom, type ReplaySpec } from '@agentsight/jetstream';
import { stopChild, type Child } from './children';
import { ensureInfra, runningApi, sameDir, startStage, stagesFor, waitDrained } from './pipeline';
import { cliToken } from './serve';
import { apiPort, dataDir } from './paths';

/** Options of `agentsight replay`. */
export interface ReplayOptions {
  /** ISO 8601 or back from now (30m, 2h, 7d): first message time. */
  since?: string;
  /** First stream sequence of the from-stage's stream. */
  fromSeq?: string;
  /** Last message time (ISO 8601 or back from now); default: the replay's start. */
  until?: string;
  /** Default `raw`. */
  fromStage?: string;
  /** Resume the interrupted replay with this id. */
  resume?: string;
  dataDir?: string;
}

const FROM: readonly ReplayFrom[] = ['raw', 'http', 'exchange', 'llm', 'genai'];

/**
 * The {@link ReplaySpec} of a new replay from the command's options (times resolved now; `--from-seq` also gives
 * the start time of the other live streams: that message's time). Throws on a bad option.
 */
export async function replaySpec(env: NodeJS.ProcessEnv, o: ReplayOptions, now = Date.now()): Promise<ReplaySpec> {
  const from = (o.fromStage ?? 'raw') as ReplayFrom;
  if (!FROM.includes(from)) throw new Error(`--from-stage must be one of ${FROM.join(', ')}, got "${o.fromStage}"`);
  if (o.since && o.fromSeq) throw new Error('--since and --from-seq exclude each other');
  const id = `r${new Date(now).toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}_${randomBytes(3).toString('hex')}`;
  const spec: ReplaySpec = { id, from, untilNs: (o.until ? timeToNs(o.until, now) : BigInt(now) * 1_000_000n).toString() };
  if (o.since) spec.sinceNs = timeToNs(o.since, now).toString();
  if (o.fromSeq) {
    const seq = Number(o.fromSeq);
    if (!Number.isInteger(seq) || seq < 1) throw new Error(`--from-seq must be a stream sequence (1, 2, …), got "${o.fromSeq}"`);
    const nats = await connectNats(natsTarget(env), 'agentsight-replay');
    try {
      const m = await nats.jsm.streams.getMessage(FROM_STREAM[from], { seq }).catch(() => null);
      if (!m) throw new Error(`${FROM_STREAM[from]} holds no message ${seq} (gone by its limits, or not yet written): see agentsight status`);
      spec.fromSeq = seq;
      spec.sinceNs = (BigInt(m.time.getTime()) * 1_000_000n).toString();
    } finally {
      await nats.nc.close();
    }
  }
  if (spec.sinceNs && BigInt(spec.sinceNs) > BigInt(spec.untilNs)) throw new Error('the replay would end before it starts (--until before --since)');
  return spec;
}

/** Where a replay's spec is kept while it runs, so `--resume ID` continues it: `<data dir>/replays/<id>.json` (0600). */
function specFile(dir: string, id: string): string {
  return join(privateDir(join(dir, 'replays')), `${id}.json`);
}

/**
 * Where an interrupted replay keeps how many live inputs its runs so far read (a decimal count, 0600):
 * `<data dir>/replays/<id>.read`, written on each interruption, read by `--resume`, deleted when the replay is done.
 */
function readsFile(dir: string, id: string): string {
  return join(privateDir(join(dir, 'replays')), `${id}.read`);
}

/** Thrown inside {@link replayCommand} to skip the wait when Ctrl-C came while its stages started. */
const INTERRUPTED = Symbol('interrupted');

/**
 * `agentsight replay`: re-derives storage from the retained streams through the same stage services, started in a
 * replay's namespace ({@link ReplayScope}: own durables, own subjects in `AGENTSIGHT_REPLAY`, own msg ids, own Redis
 * key prefix), so the live pipeline (its durables, its Redis state, its streams) is untouched. Derived ids are the
 * live ones, so stored rows replace the rows of the same events (ReplacingMergeTree), never add to them. Shows
 * progress every 5 s (what the replay's consumers still have to read, {@link toGoText}); on Ctrl-C (SIGINT, SIGTERM),
 * also while its stages are starting, it stops its stages, then says what is left to go and how to resume;
 * `--resume ID` starts by saying what it goes on with. When done it says how many live inputs it read (a resumed run:
 * since the resume, the runs before in brackets) and deletes its consumers, its subjects in `AGENTSIGHT_REPLAY` and
 * its Redis keys. Returns the exit code.
 */
export async function replayCommand(o: ReplayOptions, baseEnv: NodeJS.ProcessEnv = process.env, say: (line: string) => void = (l) => process.stderr.write(`[agentsight] ${l}\n`)): Promise<number> {
  const dir = dataDir(baseEnv, o.dataDir);
  privateDir(dir);
  const base: NodeJS.ProcessEnv = { ...baseEnv, AGENTSIGHT_DATA_DIR: dir };
  // The replay's own api stores into this data dir's embedded store, which has one writer: refused while this data
  // dir's api runs. An api of another data dir (its port given to this run too) is no obstacle: its store is not this one.
  const running = base.CLICKHOUSE_URL ? null : await runningApi(base, cliToken(base, dir));
  if (running && !(running.dataDir && !sameDir(running.dataDir, dir))) {
    say(`error: an agentsight api runs on 127.0.0.1:${apiPort(base)} (agentsight serve?)${running.dataDir ? ` for this data dir` : ''}: the embedded store has one writer, so stop it for the replay (or store into a ClickHouse server, CLICKHOUSE_URL)`);
    return 1;
  }
  await ensureInfra(base);
  let spec: ReplaySpec;
  if (o.resume) {
    const f = specFile(dir, o.resume);
    if (!existsSync(f)) {
      say(`error: no interrupted replay ${o.resume} in ${join(dir, 'replays')}`);
      return 1;
    }
    spec = JSON.parse(readFileSync(f, 'utf8')) as ReplaySpec;
  } else {
    spec = await replaySpec(base, o);
    writePrivateFile(specFile(dir, spec.id), JSON.stringify(spec));
  }
  const scope = new ReplayScope(spec);
  const mine = (name: string) => name.startsWith(scope.durablePrefix);
  const nats = await connectNats(natsTarget(base), 'agentsight-replay');
  // What the consumers of the interrupted run were delivered, so this run counts its own reads (see readsSince); the
  // count of the runs before, as the last interruption wrote it (else, say after a kill -9, what their consumers show).
  const before = await liveReads(nats, scope);
  const readBefore = o.resume ? (existsSync(readsFile(dir, spec.id)) ? Number(readFileSync(readsFile(dir, spec.id), 'utf8')) : sumReads(before)) : 0;
  const env: NodeJS.ProcessEnv = { ...base, AGENTSIGHT_REPLAY_SPEC: JSON.stringify(spec), AGENTSIGHT_INSTANCE: 'replay', AGENTSIGHT_API_PORT: '0' };
  const logDir = join(dir, 'logs', `replay-${spec.id}`);
  const services = stagesFor({}).filter((s) => ReplayScope.runs(s, spec.from));
  const from = spec.fromSeq ? `seq ${spec.fromSeq} of ${FROM_STREAM[spec.from]}` : spec.sinceNs ? new Date(Number(BigInt(spec.sinceNs) / 1_000_000n)).toISOString() : `the first retained message of ${FROM_STREAM[spec.from]}`;
  say(`replay ${spec.id}${o.resume ? ' (resumed)' : ''}: from ${from} to ${new Date(Number(BigInt(spec.untilNs) / 1_000_000n)).toISOString()}, through ${services.join(', ')}; logs in ${logDir}`);
  if (o.resume) say(`replay ${spec.id} resumed with ${toGoText(await pendingOf(nats, mine, scope))} (${readBefore} live input(s) read before)`);

  const children: Child[] = [];
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let progress: NodeJS.Timeout | undefined;
  const gone = () => children.find((c) => c.proc.exitCode !== null || c.proc.signalCode !== null);
  let dead: Child | undefined;
  try {
    for (const s of services) {
      if (interrupted) break;
      try {
        children.push(await startStage(s, env, logDir));
      } catch (err) {
        // Ctrl-C reaches the stages too: one that was starting exits before its ready line. Interrupted, not failed.
        if (interrupted) break;
        throw err;
      }
    }
    if (interrupted) throw INTERRUPTED;
    progress = setInterval(() => void pendingOf(nats, mine, scope).then((p) => say(`replay ${spec.id}: ${toGoText(p)}`)).catch(() => undefined), 5000);
    // The live streams it reads may go on growing (capture continues): it is done with them at their last message now.
    const upTo: Record<string, number> = {};
    for (const st of STREAMS) if (scope.readsLive(st.name)) upTo[st.name] = (await nats.jsm.streams.info(st.name)).state.last_seq;
    const drained = waitDrained(base, 7 * 24 * 3600_000, mine, upTo);
    const stopped = new Promise<void>((res) => {
      const t = setInterval(() => {
        if (interrupted || gone()) {
          clearInterval(t);
          res();
        }
      }, 200);
      void drained.finally(() => clearInterval(t));
    });
    await Promise.race([drained, stopped]);
    if (!interrupted) dead = gone();
  } catch (err) {
    if (err !== INTERRUPTED) {
      await nats.nc.close().catch(() => undefined);
      throw err;
    }
  } finally {
    if (progress) clearInterval(progress);
    for (const c of [...children].reverse()) await stopChild(c);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const read = readsSince(before, await liveReads(nats, scope));
  if (interrupted || dead) {
    // Counted once every stage stopped: what the resume starts from (their unacked inputs are read again).
    const left = await pendingOf(nats, mine, scope);
    writePrivateFile(readsFile(dir, spec.id), String(readBefore + read));
    await nats.nc.close();
    // Stopped before every stage was ready: the consumers of those not started do not exist yet, so the figure is
    // what the ones made so far have to go.
    const starting = children.length < services.length ? ` while its stages started (${children.length} of ${services.length} ready)` : '';
    const what = starting ? `${starting}, ${toGoText(left)} on the consumers made so far` : ` with ${toGoText(left)}`;
    say(`${dead ? `error: ${dead.name} stopped (see ${join(logDir, `${dead.name}.log`)}); ` : ''}replay ${spec.id} interrupted${what}: continue it with \`agentsight replay --resume ${spec.id}\` (rows stored so far stay; nothing is stored twice)`);
    return 1;
  }
  await cleanUp(nats, base, scope);
  await nats.nc.close();
  rmSync(specFile(dir, spec.id), { force: true });
  rmSync(readsFile(dir, spec.id), { force: true });
  say(`replay ${spec.id} done: ${read} input message(s) read from the live streams${o.resume ? ` since the resume (${readBefore} before it)` : ''}, everything derived from them stored`);
  say(await mergeText(base, dir));
  return 0;
}

/**
 * Merges away the rows the replay replaced ({@link mergeReplaced}: until their parts merge, the replaced versions
 * stay on disk beside the new ones) and says what it did. The replay's api has stopped, so the embedded store is
 * opened here; a ClickHouse server's is merged while its live writers go on.
 */
async function mergeText(env: NodeJS.ProcessEnv, dir: string): Promise<string> {
  let ch: Awaited<ReturnType<typeof openClickHouse>> | undefined;
  try {
    ch = await openClickHouse({ url: env.CLICKHOUSE_URL, dataDir: join(dir, 'chdb') });
    const m = await mergeReplaced(ch);
    if (m.note) return `replaced rows not merged here: ${m.note}`;
    return `merged ${m.merged.length} partition(s) holding replaced rows: ${Math.max(0, m.rowsBefore - m.rowsAfter)} replaced row version(s) removed from disk`;
  } catch (err) {
    return `warning: replaced rows not merged (${(err as Error).message.split('\n')[0]}): readers see the new rows (FINAL); the old versions stay on disk until ClickHouse merges them`;
  } finally {
    await ch?.close();
  }
}

/**
 * What a replay's consumers still have to do, in messages (each consumer's not yet delivered + delivered and not yet
 * acked): `live` on the live streams it reads (the from-stage's and those upstream; messages stored there after the
 * replay's end count too, its readers ack them unseen), `derived` on its own subjects in `AGENTSIGHT_REPLAY` (what
 * its stages published and the next ones have not yet handled). Consumers not yet made (a stage not yet started)
 * count nothing.
 */
export interface Pending {
  live: number;
  derived: number;
}

/** {@link Pending} of the consumers `mine` picks (a replay's, `replay-<id>-…`) in `scope`. */
async function pendingOf(nats: Awaited<ReturnType<typeof connectNats>>, mine: (n: string) => boolean, scope: ReplayScope): Promise<Pending> {
  const p: Pending = { live: 0, derived: 0 };
  for (const s of STREAMS) {
    for await (const ci of nats.jsm.consumers.list(s.name)) {
      if (mine(ci.name)) p[s.name !== REPLAY_STREAM && scope.readsLive(s.name) ? 'live' : 'derived'] += ci.num_pending + ci.num_ack_pending;
    }
  }
  return p;
}

/** `<live> live input(s) and <derived> derived message(s) to go`: the progress, interruption and resume lines' figure. */
export function toGoText(p: Pending): string {
  return `${p.live} live input(s) and ${p.derived} derived message(s) to go`;
}

/**
 * Messages a replay's consumers on live streams were delivered (`delivered.consumer_seq`: redeliveries included),
 * by `<stream>/<consumer name>`, with the consumer's creation time (ISO, as JetStream gives it): a partition consumer
 * is made again on every claim (at its ack floor + 1) and counts from 0 again, the others go on counting.
 */
export type Reads = Map<string, { created: string; delivered: number }>;

async function liveReads(nats: Awaited<ReturnType<typeof connectNats>>, scope: ReplayScope): Promise<Reads> {
  const out: Reads = new Map();
  for (const s of STREAMS) {
    if (s.name === REPLAY_STREAM || !scope.readsLive(s.name)) continue;
    for await (const ci of nats.jsm.consumers.list(s.name)) {
      if (ci.name.startsWith(scope.durablePrefix)) out.set(`${s.name}/${ci.name}`, { created: ci.created, delivered: ci.delivered.consumer_seq });
    }
  }
  return out;
}

/** Every count of `r` added up. */
function sumReads(r: Reads): number {
  let n = 0;
  for (const c of r.values()) n += c.delivered;
  return n;
}

/**
 * Live inputs read between two {@link liveReads}: a consumer still the one of `before` (same creation time) counts
 * what it was delivered since, one made since counts all it was delivered. (A consumer made again twice in between
 * counts its last incarnation only.)
 */
export function readsSince(before: Reads, now: Reads): number {
  let n = 0;
  for (const [name, c] of now) {
    const b = before.get(name);
    n += b && b.created === c.created ? Math.max(0, c.delivered - b.delivered) : c.delivered;
  }
  return n;
}

/** Deletes what a finished replay leaves: its consumers, its subjects in `AGENTSIGHT_REPLAY`, its Redis keys (`agentsight:replay:<id>:*`). */
async function cleanUp(nats: Awaited<ReturnType<typeof connectNats>>, env: NodeJS.ProcessEnv, scope: ReplayScope): Promise<void> {
  for (const s of STREAMS) {
    const names: string[] = [];
    for await (const ci of nats.jsm.consumers.list(s.name)) if (ci.name.startsWith(scope.durablePrefix)) names.push(ci.name);
    for (const n of names) await nats.jsm.consumers.delete(s.name, n);
  }
  await nats.jsm.streams.purge(REPLAY_STREAM, { filter: `${scope.subjectPrefix}>` });
  const redis = await connectRedis(redisUrl(env), 'agentsight-replay');
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${scope.redisPrefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
