/**
 * `agentsight top`: the live view of the traced agents (`screen.ts`), or with `--once` one snapshot on stdout (text,
 * or `--json`: a {@link TopSnapshot}). Data: {@link Reader.agentActivity} (the running api, else the store) and the
 * agents' trees in `/proc` ({@link readLive}); see `snapshot.ts` for what each figure is.
 */
import { hostname } from 'node:os';
import { timeToNs } from '@agentsight/clickhouse';
import { dataDir } from '../paths';
import { Reader } from '../read';
import { bootId } from '../resources/sampler';
import { bootTimeMs, buildSnapshot, filterRows, readLive, renderTop, sortRows, TOP_SORTS, type LiveReading, type TopSnapshot, type TopSort } from './snapshot';

/** Options of `agentsight top`. */
export interface TopOptions {
  dataDir?: string;
  once?: boolean;
  json?: boolean;
  /** cpu | mem | tokens (default cpu). */
  sort?: string;
  filter?: string;
  all?: boolean;
  /** Activity window: ISO 8601 or back from now (default 1h). */
  since?: string;
  /** Refresh interval, s (default 2); with --once, how long CPU % is measured over. */
  delay?: string;
}

/** A source of snapshots: each call reads storage and `/proc` again, CPU % against the previous call's readings. */
export interface Snapshotter {
  /** `all`: keep the exited agents in the snapshot. */
  next(all: boolean): Promise<TopSnapshot>;
  close(): Promise<void>;
}

/** Opens the reader of the data dir and returns a {@link Snapshotter}. Throws when there is no data yet. */
export async function snapshotter(env: NodeJS.ProcessEnv, dir: string, opts: { since: string }): Promise<Snapshotter> {
  const reader = await Reader.open(env, dir);
  const host = env.AGENTSIGHT_HOST || hostname();
  const boot = bootId();
  const bootMs = bootTimeMs();
  let prev = new Map<number, LiveReading>();
  return {
    async next(all) {
      const activity = await reader.agentActivity({ since: opts.since });
      const { snapshot, readings } = buildSnapshot(activity, { host, bootId: boot, since: opts.since, live: (pid) => readLive(pid), prev, all, bootMs });
      prev = readings;
      return snapshot;
    },
    close: () => reader.close(),
  };
}

/** Validated options: sort key, delay in ms, window. Throws a readable error on a bad value. */
export function topSettings(opts: TopOptions): { sort: TopSort; delayMs: number; since: string } {
  const sort = (opts.sort ?? 'cpu') as TopSort;
  if (!TOP_SORTS.includes(sort)) throw new Error(`--sort must be one of ${TOP_SORTS.join(', ')}: ${opts.sort}`);
  const delay = Number(opts.delay ?? '2');
  if (!Number.isFinite(delay) || delay < 0.2 || delay > 3600) throw new Error(`--delay must be a number of seconds from 0.2 to 3600: ${opts.delay}`);
  const since = opts.since ?? '1h';
  timeToNs(since);
  return { sort, delayMs: Math.round(delay * 1000), since };
}

/** Runs `agentsight top`; resolves with the exit code. */
export async function topCommand(opts: TopOptions): Promise<number> {
  const { sort, delayMs, since } = topSettings(opts);
  const src = await snapshotter(process.env, dataDir(process.env, opts.dataDir), { since });
  try {
    if (opts.once) {
      // Two readings `delay` apart, so CPU % is measured now, as top's second screen is.
      const all = Boolean(opts.all);
      await src.next(all);
      await new Promise((r) => setTimeout(r, delayMs));
      const s = await src.next(all);
      const agents = sortRows(filterRows(s.agents, opts.filter ?? ''), sort);
      if (opts.json) process.stdout.write(JSON.stringify({ ...s, sort, filter: opts.filter ?? '', agents }, null, 2) + '\n');
      else process.stdout.write(renderTop({ ...s, agents }, { sort, filter: '', editing: false, all: Boolean(opts.all), width: process.stdout.columns || 160, height: 10_000, status: '' }).join('\n') + '\n');
      return 0;
    }
    if (!process.stdout.isTTY || !process.stdin.isTTY) throw new Error('top needs a terminal (use --once [--json] in scripts)');
    const { runScreen } = await import('./screen');
    await runScreen(src, { sort, filter: opts.filter ?? '', all: Boolean(opts.all), delayMs, since });
    return 0;
  } finally {
    await src.close();
  }
}
