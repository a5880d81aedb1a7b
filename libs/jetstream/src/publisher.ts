import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import { encode } from '@agentsight/contracts';
import { INLINE_LIMIT_BYTES, objectName, storeClaimCheck } from './large';

/**
 * Durable publishing of derived events: msgpack-encodes the payload, sends it with `Nats-Msg-Id` = the event's
 * deterministic id (so a republish after redelivery or replay is dropped by the stream's duplicate window), uses a
 * claim check above {@link INLINE_LIMIT_BYTES}, and resolves only on the stream's PubAck. Transient failures (no
 * responders while the server restarts, timeouts) are retried with backoff for up to `maxRetryMs`; then it throws.
 */
export class Publisher {
  constructor(
    private readonly js: JetStreamClient,
    private readonly large: ObjectStore,
    private readonly maxRetryMs = 60_000,
  ) {}

  /** Publishes `value` on `subject` with `Nats-Msg-Id: msgId`; resolves with the PubAck. */
  async publish(subject: string, msgId: string, value: unknown): Promise<PubAck> {
    const data = encode(value);
    const deadline = Date.now() + this.maxRetryMs;
    for (let attempt = 0; ; attempt++) {
      try {
        if (data.length > INLINE_LIMIT_BYTES) {
          const h = await storeClaimCheck(this.large, objectName(msgId), data);
          return await this.js.publish(subject, new Uint8Array(0), { msgID: msgId, headers: h, timeout: 10_000 });
        }
        return await this.js.publish(subject, data, { msgID: msgId, timeout: 10_000 });
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(Math.min(2000, 50 * 2 ** attempt));
      }
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
