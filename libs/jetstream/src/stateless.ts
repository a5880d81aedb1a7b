import type { StageRuntime, DeadLetterDraft } from './stage';
import { ConsumerLoop, type Input } from './consumer';

/** One derived event to publish: subject, deterministic id (the `Nats-Msg-Id`), payload. */
export interface Output {
  subject: string;
  id: string;
  value: unknown;
}

/** What a stateless stage derives from one input. */
export interface Derived {
  outputs: Output[];
  deadLetters?: DeadLetterDraft[];
}

/**
 * Runs a stateless stage over one durable pull consumer (`durable` on `stream`, filtered by `filterSubject`):
 * for each input, `derive` computes its outputs; all outputs of a batch are published concurrently and each input
 * is acked only after every output and dead letter derived from it has its PubAck. A `derive` that throws
 * dead-letters its input (reason `stage_error`) instead of stopping the stage. In a replay (`rt.nats.scope`) the
 * inputs of a batch are derived one after the other in stream order, as the live stage met them one by one (a
 * replay hands over its whole backlog at once, and derivations that share Redis state, e.g. tool-use halves and
 * session totals, must see the same order to give the same versions). Returns the running loop.
 */
export async function runStatelessStage<T>(
  rt: StageRuntime,
  spec: { stream: string; durable: string; filterSubject: string },
  derive: (value: T) => Derived | Promise<Derived>,
): Promise<ConsumerLoop<T>> {
  const deriveOne = async (value: T): Promise<Derived> => {
    try {
      return await derive(value);
    } catch (err) {
      return { outputs: [], deadLetters: [{ reason: 'stage_error', error: String((err as Error)?.stack ?? err) }] };
    }
  };
  const publishAndAck = async (input: Input<T>, d: Derived): Promise<void> => {
    await Promise.all([
      ...d.outputs.map((o) => rt.publisher.publish(o.subject, o.id, o.value)),
      ...(d.deadLetters ?? []).map((dl) => rt.deadLetter({ input_subject: input.subject, input_seq: input.seq, input_id: input.msgId, ...dl })),
    ]);
    input.ack();
  };
  const ordered = Boolean(rt.nats.scope);
  const loop = new ConsumerLoop<T>(rt.nats, { ...spec, ackWaitMs: 60_000, maxAckPending: 10_000, start: 'keep' }, {
    handle: async (batch) => {
      if (!ordered) {
        await Promise.all(batch.map(async (input) => publishAndAck(input, await deriveOne(input.value))));
        return;
      }
      const derived: Derived[] = [];
      for (const input of batch) derived.push(await deriveOne(input.value));
      await Promise.all(batch.map((input, i) => publishAndAck(input, derived[i])));
    },
    undecodable: (i) => rt.undecodable(i),
  });
  await loop.start();
  return loop;
}
