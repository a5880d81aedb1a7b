import { connectNats, connectRedis, pipelineConfig, pipelineStatus, type PipelineStatus } from '@agentsight/jetstream';
import type { CaptureStatus, StageEventEntry, StoreRetention } from '@agentsight/contracts';
import { table } from './format';
import { apiPort, dataDir } from './paths';
import { cliToken } from './serve';
import { unitsStatus, unitsText } from './service';

/** Bytes for humans, powers of 1024 (`512 B`, `3.2 MiB`). */
function bytesText(n: number): string {
  if (n < 0) return 'none';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** `agentsight status` as text: streams (size, limits, discarded by limits), durables (lag), partition groups. */
export function statusText(s: PipelineStatus): string {
  const hours = (ns: number) => (ns > 0 ? `${Math.round(ns / 3600e9)}h` : 'none');
  const out = [
    'streams:',
    table(s.streams, [
      ['stream', (x) => x.name], ['messages', (x) => x.messages], ['bytes', (x) => bytesText(x.bytes)],
      ['max_bytes', (x) => bytesText(x.max_bytes)], ['max_age', (x) => hours(x.max_age_ns)], ['discarded by limits', (x) => x.discarded],
    ]),
    '',
    'consumers (pending = not yet delivered; a stream that discarded messages while a consumer had pending ones lost inputs):',
    table(s.streams.flatMap((x) => x.consumers.map((c) => ({ stream: x.name, ...c }))), [
      ['stream', (c) => c.stream], ['durable', (c) => c.durable], ['pending', (c) => c.pending], ['ack_pending', (c) => c.ack_pending], ['ack_floor', (c) => c.ack_floor],
    ]),
    '',
    'partition groups:',
    s.groups.length
      ? table(s.groups.flatMap((g) => (g.members.length ? g.members : [{ owner: '(no live instance)', expires_ms: 0 }]).map((m) => ({ g, m }))), [
        ['group', ({ g }) => g.group], ['instance', ({ m }) => m.owner],
        ['partitions', ({ g, m }) => g.owners.flatMap((o, p) => (o === m.owner ? [p] : [])).join(',') || '-'],
        ['unowned', ({ g }) => g.owners.flatMap((o, p) => (o ? [] : [p])).join(',') || '-'],
      ])
      : '(no running partitioned stage)',
  ];
  return out.join('\n');
}

/** The store's bounds as text (`store:` section of `agentsight status`); `null` = the api does not run. */
export function storeText(r: StoreRetention | null, why: string): string {
  if (!r) return `store: ${why}`;
  const d = r.dropped;
  return [
    `store: ${r.store_bytes === null ? 'size unknown' : `${bytesText(r.store_bytes)} on disk`}, size cap ${r.max_bytes ? bytesText(r.max_bytes) : 'none'} (AGENTSIGHT_STORE_MAX_BYTES), rows kept ${r.retention_days} days (AGENTSIGHT_RETENTION_DAYS)`,
    ...(r.store_bytes === null ? [`  store size ${r.store_bytes_note ?? 'not known'}`] : []),
    d.days
      ? `  dropped by the size cap: ${d.days} day(s) up to ${d.newest_day}, ${d.rows} rows, ${bytesText(d.bytes)} (last at ${d.last})`
      : '  nothing dropped by the size cap',
    ...(r.over_cap ? ['  warning: still over the cap with only the newest day left'] : []),
  ].join('\n');
}

/** One probe's latest loss record, as `status` shows it (the `producers` of `/api/capture`). */
export type ProducerStatus = Omit<CaptureStatus['producers'][number], 'probes' | 'attach_failures'>;

/**
 * The probes' loss counters as text (`probes:` section of `agentsight status`): per host, its latest loss record's
 * records, what was published, lost in the kernel, not published, and stored out of order after a NATS restart
 * (`unknown` for a probe older than that counter); `null` = not readable, `why` says why.
 */
export function producersText(p: ProducerStatus[] | null, why: string): string {
  if (!p) return `probes: ${why}`;
  if (!p.length) return `probes: ${why || 'no loss record: no probe has run against this NATS'}`;
  return ['probes (latest loss record of each host):', table(p, [
    ['host', (x) => x.host], ['at', (x) => x.ts], ['records', (x) => x.records], ['published', (x) => x.published],
    ['lost in kernel', (x) => x.lost_records], ['publish failures', (x) => x.publish_failures],
    ['reordered', (x) => (x.publish_reordered === null ? 'unknown' : x.publish_reordered)],
  ])].join('\n');
}

/**
 * The stages' event counters as text (`stage events:` section of `agentsight status`): each one that counted
 * something, by stage and labels, else how many are at 0; `null` = not readable, `why` says why.
 */
export function stageEventsText(e: StageEventEntry[] | null, why: string): string {
  if (!e) return `stage events: ${why}`;
  if (!e.length) return 'stage events: no stage has reported to the api since it started';
  const counted = e.filter((x) => x.value > 0);
  if (!counted.length) return `stage events (since the api started): none (${e.length} counter(s) at 0)`;
  const labels = (x: StageEventEntry) => Object.entries(x.labels).map(([k, v]) => `${k}=${v}`).join(' ');
  return ['stage events (since the api started):', table(counted, [['stage', (x) => x.stage], ['event', (x) => x.name], ['labels', labels], ['count', (x) => x.value]])].join('\n');
}

/**
 * The store's bounds, the probes' loss counters and the stages' event counters from the running api
 * (`/api/capture`), or why they cannot be read.
 */
async function storeRetention(env: NodeJS.ProcessEnv): Promise<{
  r: StoreRetention | null; why: string; producers: ProducerStatus[] | null; producersWhy: string; stageEvents: StageEventEntry[] | null; stageEventsWhy: string;
}> {
  const token = cliToken(env, dataDir(env));
  try {
    const res = await fetch(`http://127.0.0.1:${apiPort(env)}/api/capture`, { signal: AbortSignal.timeout(10_000), headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (!res.ok) {
      const why = `the api on port ${apiPort(env)} answered ${res.status}`;
      return { r: null, why, producers: null, producersWhy: why, stageEvents: null, stageEventsWhy: why };
    }
    const c = (await res.json()) as Partial<Pick<CaptureStatus, 'retention' | 'producers' | 'producers_error' | 'stage_events'>>;
    const producers = c.producers?.map(({ probes: _p, attach_failures: _f, ...rest }) => ({ ...rest, publish_reordered: rest.publish_reordered ?? null })) ?? null;
    return {
      ...(c.retention ? { r: c.retention, why: '' } : { r: null, why: 'the running api is older than the store bounds' }),
      producers, producersWhy: producers ? c.producers_error ?? '' : 'the running api is older than the probes\' counters',
      stageEvents: c.stage_events ?? null, stageEventsWhy: c.stage_events ? '' : 'the running api is older than the stage event counters',
    };
  } catch {
    const why = `no api runs on port ${apiPort(env)} (sizes and drops are read from it; start \`agentsight serve\`)`;
    return { r: null, why, producers: null, producersWhy: why, stageEvents: null, stageEventsWhy: why };
  }
}

/**
 * `agentsight status [--json]`: the broker side of the pipeline, read from NATS and Redis (`NATS_URL`,
 * `REDIS_URL`): every stream's size, limits and what its limits discarded, each durable's lag, and which live
 * instance of each partitioned stage holds which partitions; from the running api, the probes' loss counters, the
 * stages' event counters, the store's size, its bounds and what its size cap dropped; and the daemon's systemd units (installed, and their state when systemd runs). Returns the exit code; throws when NATS or Redis is
 * unreachable.
 */
export async function statusCommand(o: { json?: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const config = pipelineConfig(env);
  const nats = await connectNats(config.nats, 'agentsight-status');
  const redis = await connectRedis(config.redisUrl, 'agentsight-status');
  try {
    const s = await pipelineStatus(nats.jsm, redis, { partitions: config.partitions });
    const store = await storeRetention(env);
    const units = unitsStatus();
    process.stdout.write((o.json
      ? JSON.stringify({
        ...s, store: store.r, store_error: store.r ? null : store.why, producers: store.producers, producers_error: store.producersWhy || null,
        stage_events: store.stageEvents, stage_events_error: store.stageEvents ? null : store.stageEventsWhy, units: units.units, units_note: units.why,
      }, null, 2)
      : `${statusText(s)}\n\n${producersText(store.producers, store.producersWhy)}\n\n${stageEventsText(store.stageEvents, store.stageEventsWhy)}\n\n${storeText(store.r, store.why)}\n\n${unitsText(units)}`) + '\n');
    return 0;
  } finally {
    await nats.nc.close();
    redis.disconnect();
  }
}
