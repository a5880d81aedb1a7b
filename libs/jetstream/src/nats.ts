import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { Objm, StorageType } from '@nats-io/obj';
import type { ObjectStore } from '@nats-io/obj';
import { LARGE_PAYLOAD_BUCKET, STREAMS } from '@agentsight/contracts';

/** Retention of every pipeline stream and of the large-payload bucket: 7 days, in ns. */
export const RETENTION_NS = 7 * 24 * 3600 * 1e9;
/** JetStream duplicate window of every stream (Nats-Msg-Id de-duplication): 10 minutes, in ns. */
export const DUPLICATE_WINDOW_NS = 10 * 60 * 1e9;

/** A NATS connection with its JetStream client, manager and the large-payload object store. */
export interface Nats {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  large: ObjectStore;
}

/**
 * Connects to NATS (reconnecting forever), and makes sure every pipeline stream and the large-payload bucket
 * exist. Throws when the first connection fails or JetStream is not enabled on the server.
 */
export async function connectNats(url: string, name: string): Promise<Nats> {
  const nc = await connect({ servers: url, name, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const jsm = await jetstreamManager(nc);
  await ensureStreams(jsm);
  const large = await new Objm(nc).create(LARGE_PAYLOAD_BUCKET, { ttl: RETENTION_NS, storage: StorageType.File });
  return { nc, js: jetstream(nc), jsm, large };
}

/** Creates the streams of {@link STREAMS} that are missing; leaves existing ones as they are. */
export async function ensureStreams(jsm: JetStreamManager): Promise<void> {
  for (const s of STREAMS) {
    try {
      await jsm.streams.info(s.name);
    } catch {
      const cfg: Partial<StreamConfig> & { name: string } = {
        name: s.name,
        subjects: s.subjects,
        max_age: RETENTION_NS,
        duplicate_window: DUPLICATE_WINDOW_NS,
      };
      try {
        await jsm.streams.add(cfg);
      } catch (err) {
        // Another component may have created it in between.
        await jsm.streams.info(s.name).catch(() => { throw err; });
      }
    }
  }
}
