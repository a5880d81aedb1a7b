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
 * `agentsight replay`: re-derives storage from the retained streams through the same stage services, started in a
 * replay's namespace ({@link ReplayScope}: own durables, own subjects in `AGENTSIGHT_REPLAY`, own msg ids, own Redis
 * key prefix), so the live pipeline (its durables, its Redis state, its streams) is untouched. Derived ids are the
 * live ones, so stored rows replace the rows of the same events (ReplacingMergeTree), never add to them. Shows
 * progress (what the replay's consumers still have to read); on Ctrl-C it stops and says how to resume. When done it
 * deletes its consumers, its subjects in `AGENTSIGHT_REPLAY` and its Redis keys. Returns the exit code.
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
  const env: NodeJS.ProcessEnv = { ...base, AGENTSIGHT_REPLAY_SPEC: JSON.stringify(spec), AGENTSIGHT_INSTANCE: 'replay', AGENTSIGHT_API_PORT: '0' };
  const logDir = join(dir, 'logs', `replay-${spec.id}`);
  const services = stagesFor({}).filter((s) => ReplayScope.runs(s, spec.from));
  const from = spec.fromSeq ? `seq ${spec.fromSeq} of ${FROM_STREAM[spec.from]}` : spec.sinceNs ? new Date(Number(BigInt(spec.sinceNs) / 1_000_000n)).toISOString() : `the first retained message of ${FROM_STREAM[spec.from]}`;
  say(`replay ${spec.id}${o.resume ? ' (resumed)' : ''}: from ${from} to ${new Date(Number(BigInt(spec.untilNs) / 1_000_000n)).toISOString()}, through ${services.join(', ')}; logs in ${logDir}`);

  const children: Child[] = [];
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const nats = await connectNats(natsTarget(base), 'agentsight-replay');
  const mine = (name: string) => name.startsWith(scope.durablePrefix);
  let progress: NodeJS.Timeout | undefined;
  try {
    for (const s of services) children.push(await startStage(s, env, logDir));
    progress = setInterval(() => void pendingOf(nats, mine).then((n) => say(`replay ${spec.id}: ${n} message(s) to go`)).catch(() => undefined), 5000);
    // The live streams it reads may go on growing (capture continues): it is done with them at their last message now.
    const upTo: Record<string, number> = {};
    for (const st of STREAMS) if (scope.readsLive(st.name)) upTo[st.name] = (await nats.jsm.streams.info(st.name)).state.last_seq;
    const drained = waitDrained(base, 7 * 24 * 3600_000, mine, upTo);
    const stopped = new Promise<void>((res) => {
      const t = setInterval(() => {
        if (interrupted || children.some((c) => c.proc.exitCode !== null || c.proc.signalCode !== null)) {
          clearInterval(t);
          res();
        }
      }, 200);
      void drained.finally(() => clearInterval(t));
    });
    await Promise.race([drained, stopped]);
    if (interrupted || children.some((c) => c.proc.exitCode !== null || c.proc.signalCode !== null)) {
      const dead = children.find((c) => c.proc.exitCode !== null || c.proc.signalCode !== null);
      say(`${dead && !interrupted ? `error: ${dead.name} stopped (see ${join(logDir, `${dead.name}.log`)}); ` : ''}replay ${spec.id} interrupted: continue it with \`agentsight replay --resume ${spec.id}\` (rows stored so far stay; nothing is stored twice)`);
      return 1;
    }
  } finally {
    if (progress) clearInterval(progress);
    for (const c of [...children].reverse()) await stopChild(c);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const read = await cleanUp(nats, base, scope);
  await nats.nc.close();
  rmSync(specFile(dir, spec.id), { force: true });
  say(`replay ${spec.id} done: ${read} input message(s) read from the live streams, everything derived from them stored`);
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

/** Messages the replay's consumers have not yet been delivered or not yet acked. */
async function pendingOf(nats: Awaited<ReturnType<typeof connectNats>>, mine: (n: string) => boolean): Promise<number> {
  let n = 0;
  for (const s of STREAMS) for await (const ci of nats.jsm.consumers.list(s.name)) if (mine(ci.name)) n += ci.num_pending + ci.num_ack_pending;
  return n;
}

/**
 * Deletes what a finished replay leaves: its consumers (returns how many messages those on live streams were
 * delivered), its subjects in `AGENTSIGHT_REPLAY`, its Redis keys (`agentsight:replay:<id>:*`).
 */
async function cleanUp(nats: Awaited<ReturnType<typeof connectNats>>, env: NodeJS.ProcessEnv, scope: ReplayScope): Promise<number> {
  let read = 0;
  for (const s of STREAMS) {
    const names: string[] = [];
    for await (const ci of nats.jsm.consumers.list(s.name)) {
      if (!ci.name.startsWith(scope.durablePrefix)) continue;
      names.push(ci.name);
      if (s.name !== REPLAY_STREAM) read += ci.delivered.stream_seq ? ci.delivered.consumer_seq : 0;
    }
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
  return read;
}
