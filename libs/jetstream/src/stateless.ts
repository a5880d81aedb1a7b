import type { StageRuntime, DeadLetterDraft } from './stage';
import { ConsumerLoop } from './consumer';

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
 * dead-letters its input (reason `stage_error`) instead of stopping the stage. Returns the running loop.
 */
export async function runStatelessStage<T>(
  rt: StageRuntime,
  spec: { stream: string; durable: string; filterSubject: string },
  derive: (value: T) => Derived | Promise<Derived>,
): Promise<ConsumerLoop<T>> {
  const loop = new ConsumerLoop<T>(rt.nats, { ...spec, ackWaitMs: 60_000, maxAckPending: 10_000, start: 'keep' }, {
    handle: async (batch) => {
      await Promise.all(batch.map(async (input) => {
        let d: Derived;
        try {
          d = await derive(input.value);
        } catch (err) {
          d = { outputs: [], deadLetters: [{ reason: 'stage_error', error: String((err as Error)?.stack ?? err) }] };
        }
        await Promise.all([
          ...d.outputs.map((o) => rt.publisher.publish(o.subject, o.id, o.value)),
          ...(d.deadLetters ?? []).map((dl) => rt.deadLetter({ input_subject: input.subject, input_seq: input.seq, input_id: input.msgId, ...dl })),
        ]);
        input.ack();
      }));
    },
    undecodable: (i) => rt.undecodable(i),
  });
  await loop.start();
  return loop;
}
