import { readFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { credsAuthenticator } from '@nats-io/nats-core';
import type { ConnectionOptions, NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { Objm, StorageType } from '@nats-io/obj';
import type { ObjectStore } from '@nats-io/obj';
import { DEFAULT_STREAM_REPLICAS, DUPLICATE_WINDOW_NS, LARGE_PAYLOAD_BUCKET, STREAMS } from '@agentsight/contracts';
import type { StreamSpec } from '@agentsight/contracts';
import type { NatsTarget } from './config';
import type { ReplayScope } from './replay';

/** Retention of the large-payload bucket (claim-checked bodies of any stream): 7 days, in ns. */
export const RETENTION_NS = 7 * 24 * 3600 * 1e9;
/** JetStream duplicate window of every stream (Nats-Msg-Id de-duplication), ns: the topology's (libs/contracts topology.ts). */
export { DUPLICATE_WINDOW_NS };

/** A NATS connection with its JetStream client, manager and the large-payload object store. */
export interface Nats {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  large: ObjectStore;
  /** Set in the services of a replay: their consumers and outputs are the replay's (see {@link ReplayScope}). */
  scope?: ReplayScope | null;
}

/**
 * The servers of a NATS URL setting: `NATS_URL` (and `--nats-url`) may list several seed servers of a cluster,
 * separated by commas (`nats://10.0.0.1:4222,nats://10.0.0.2:4222`); nats.js (and nats.c) take a list, not such a
 * string. Blanks around the entries are dropped. Throws on a setting without any server.
 */
export function natsServers(url: string): string[] {
  const servers = url.split(',').map((s) => s.trim()).filter(Boolean);
  if (!servers.length) throw new Error(`no NATS server in ${JSON.stringify(url)}`);
  return servers;
}

/** Largest replica count of a JetStream stream. */
const MAX_REPLICAS = 5;

/**
 * `AGENTSIGHT_STREAM_REPLICAS`: replicas of every pipeline stream and of the large-payload object store (default 1;
 * 3 on a 3-node JetStream cluster, so a stream survives the loss of a node). Throws on a value outside 1..5.
 */
export function streamReplicas(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.AGENTSIGHT_STREAM_REPLICAS;
  if (v === undefined || v.trim() === '') return DEFAULT_STREAM_REPLICAS;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_REPLICAS) throw new Error(`AGENTSIGHT_STREAM_REPLICAS must be a whole number from 1 to ${MAX_REPLICAS}, got "${v}"`);
  return n;
}

/**
 * nats.js connection options for `target` (a plain URL string = no credentials beyond what it carries): servers
 * ({@link natsServers}), user/password or the `.creds` file's JWT authenticator, and the inbox prefix.
 */
export function natsConnectOptions(target: NatsTarget | string): ConnectionOptions {
  const t: NatsTarget = typeof target === 'string' ? { url: target, managed: false } : target;
  const o: ConnectionOptions = { servers: natsServers(t.url) };
  if (t.credsFile) o.authenticator = credsAuthenticator(readFileSync(t.credsFile));
  else if (t.user !== undefined) Object.assign(o, { user: t.user, pass: t.pass ?? '' });
  if (t.inboxPrefix) o.inboxPrefix = t.inboxPrefix;
  return o;
}

/**
 * Connects to NATS (reconnecting forever) with `target`'s credentials ({@link natsConnectOptions}), and makes sure
 * every pipeline stream and the large-payload bucket exist. Throws when the first connection fails (including an
 * authorization error) or JetStream is not enabled on the server; the connection is closed before it throws.
 */
export async function connectNats(target: NatsTarget | string, name: string): Promise<Nats> {
  // noAsyncTraces: nats.js otherwise builds an Error (with a stack trace) for every request, i.e. every JetStream
  // publish, in case it times out; that was a fifth of the parser's CPU under load (bench/README.md, 2026-12-03).
  const nc = await connect({ ...natsConnectOptions(target), name, maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true });
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStreams(jsm);
    const replicas = streamReplicas();
    const large = await new Objm(nc).create(LARGE_PAYLOAD_BUCKET, { ttl: RETENTION_NS, storage: StorageType.File, replicas });
    // An existing bucket is opened as it is: bring its replica count to the setting (an update, in place).
    const bucket = await jsm.streams.info(`OBJ_${LARGE_PAYLOAD_BUCKET}`);
    if (bucket.config.num_replicas !== replicas) await jsm.streams.update(bucket.config.name, { ...bucket.config, num_replicas: replicas });
    return { nc, js: jetstream(nc), jsm, large };
  } catch (err) {
    // The connection is the caller's only once this resolves: closed here, or it would reconnect forever (a caller
    // retrying connectNats, e.g. while a cluster elects its meta leader, left one such connection per attempt, and its
    // reconnect timer kept the process alive after the servers were gone: the open handle that held Jest in CI).
    await nc.close().catch(() => undefined);
    throw err;
  }
}

/** Limits of one stream as JetStream takes them. */
export interface StreamLimits {
  /** ns. */
  max_age: number;
  /** bytes. */
  max_bytes: number;
}

/**
 * The limits of stream `spec` from its defaults ({@link StreamSpec}) and the environment:
 * `AGENTSIGHT_STREAM_MAX_AGE_HOURS` (every stream) and `AGENTSIGHT_<NAME>_MAX_BYTES` per stream, `<NAME>` being
 * the stream name without `AGENTSIGHT_` (e.g. `AGENTSIGHT_RAW_MAX_BYTES=4G`; a number of bytes with an optional
 * K/M/G/T suffix, powers of 1024). Throws on a value that is not a positive size.
 */
export function streamLimits(spec: StreamSpec, env: NodeJS.ProcessEnv = process.env): StreamLimits {
  const hoursVar = env.AGENTSIGHT_STREAM_MAX_AGE_HOURS;
  const hours = hoursVar ? Number(hoursVar) : spec.maxAgeHours;
  if (!(hours > 0)) throw new Error(`AGENTSIGHT_STREAM_MAX_AGE_HOURS must be a positive number of hours, got "${hoursVar}"`);
  const bytesName = `AGENTSIGHT_${spec.name.replace(/^AGENTSIGHT_/, '')}_MAX_BYTES`;
  const bytes = env[bytesName] ? parseSize(env[bytesName]!, bytesName) : spec.maxBytes;
  return { max_age: Math.round(hours * 3600 * 1e9), max_bytes: bytes };
}

function parseSize(text: string, name: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$/i.exec(text);
  const n = m ? Number(m[1]) * 1024 ** ' KMGT'.indexOf((m[2] || ' ').toUpperCase()) : NaN;
  if (!(n > 0)) throw new Error(`${name} must be a positive size in bytes (e.g. 2147483648 or 2G), got "${text}"`);
  return Math.floor(n);
}

/**
 * Creates the streams of `specs` that are missing, with their {@link streamLimits} and {@link streamReplicas}; on
 * existing streams brings `max_age`, `max_bytes` and `num_replicas` to those (an update, never a re-create: stored
 * messages stay; JetStream moves a stream to more or fewer replicas in place) and leaves the rest of their
 * configuration as it is.
 */
export async function ensureStreams(jsm: JetStreamManager, specs: readonly StreamSpec[] = STREAMS, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const num_replicas = streamReplicas(env);
  for (const s of specs) {
    const limits = { ...streamLimits(s, env), num_replicas };
    let info = await jsm.streams.info(s.name).catch(() => null);
    if (!info) {
      const cfg: Partial<StreamConfig> & { name: string } = {
        name: s.name,
        subjects: s.subjects,
        ...limits,
        duplicate_window: DUPLICATE_WINDOW_NS,
      };
      try {
        await jsm.streams.add(cfg);
        continue;
      } catch (err) {
        // Another component may have created it in between.
        info = await jsm.streams.info(s.name).catch(() => { throw err; });
      }
    }
    if (info.config.max_age !== limits.max_age || info.config.max_bytes !== limits.max_bytes || info.config.num_replicas !== num_replicas) {
      await jsm.streams.update(s.name, { ...info.config, ...limits });
    }
  }
}
