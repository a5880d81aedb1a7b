import { headers } from '@nats-io/nats-core';
import type { MsgHdrs } from '@nats-io/nats-core';
import type { ObjectStore } from '@nats-io/obj';

/**
 * Claim checks for payloads larger than one NATS message (the server's `max_payload`, 1 MiB by default): the
 * payload goes to the JetStream object store under the message's id and the message carries only the header
 * `Agentsight-Claim-Check: <object name>`. Transparent to every stage: {@link Publisher} and {@link payloadOf}
 * do it.
 */
export const CLAIM_CHECK_HEADER = 'Agentsight-Claim-Check';

/** Payloads above this many bytes are sent by claim check. */
export const INLINE_LIMIT_BYTES = 768 * 1024;

/** Object names allow only a restricted set of characters; message ids may contain `:` etc. */
export function objectName(msgId: string): string {
  return msgId.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** A claim check whose object is no longer in the large-payload bucket (expired, or never stored). */
export class MissingClaimCheckError extends Error {}

/**
 * Returns the message payload, fetching it from the object store when the message is a claim check. Throws
 * {@link MissingClaimCheckError} when the object is gone, and whatever the object store throws when it does not answer.
 */
export async function payloadOf(
  msg: { data: Uint8Array; headers?: MsgHdrs },
  store: ObjectStore,
): Promise<Uint8Array> {
  const ref = msg.headers?.get(CLAIM_CHECK_HEADER);
  if (!ref) return msg.data;
  const data = await store.getBlob(ref);
  if (!data) throw new MissingClaimCheckError(`claim check ${ref}: object missing from the large-payload bucket (expired?)`);
  return data;
}

/** Builds the headers of a claim-check message after storing `payload` under `name`. */
export async function storeClaimCheck(store: ObjectStore, name: string, payload: Uint8Array): Promise<MsgHdrs> {
  await store.putBlob({ name }, payload);
  const h = headers();
  h.set(CLAIM_CHECK_HEADER, name);
  return h;
}
