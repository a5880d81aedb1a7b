import { connectNats, connectRedis, pipelineConfig, pipelineStatus, type PipelineStatus } from '@agentsight/jetstream';
import { table } from './format';

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

/**
 * `agentsight status [--json]`: the broker side of the pipeline, read from NATS and Redis (`NATS_URL`,
 * `REDIS_URL`): every stream's size, limits and what its limits discarded, each durable's lag, and which live
 * instance of each partitioned stage holds which partitions. Returns the exit code; throws when NATS or Redis is
 * unreachable.
 */
export async function statusCommand(o: { json?: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const config = pipelineConfig(env);
  const nats = await connectNats(config.nats, 'agentsight-status');
  const redis = await connectRedis(config.redisUrl, 'agentsight-status');
  try {
    const s = await pipelineStatus(nats.jsm, redis, { partitions: config.partitions });
    process.stdout.write((o.json ? JSON.stringify(s, null, 2) : statusText(s)) + '\n');
    return 0;
  } finally {
    await nats.nc.close();
    redis.disconnect();
  }
}
