/** Dead-letter records (subject `agentsight.dlq.<stage>.<host>`), contract v1. */
import type { Stage } from './subjects';

/**
 * Input a stage could not process. The stage publishes this, acks the input, and carries on with everything else.
 * `id` = deriveId('dlq', stage, input id, reason).
 */
export interface DeadLetter {
  v: 1;
  id: string;
  stage: Stage;
  host: string;
  /** Machine-readable cause, e.g. `not_http`, `http_parse_error`, `json_parse_error`, `decode_error`, `too_large`, `decompression_limit`, `json_depth_limit`, `contract`. */
  reason: string;
  /** Human-readable error message. */
  error: string;
  /** Subject and stream sequence of the (first) offending input. */
  input_subject: string;
  input_seq: number;
  /** Input id (raw Nats-Msg-Id, event id …) when known. */
  input_id: string | null;
  conn_key: string | null;
  /** First bytes (at most {@link DEAD_LETTER_SAMPLE_BYTES}) of the offending data, for diagnosis. */
  sample: Uint8Array;
  ts_ns: bigint;
}

/**
 * A dead letter as a stage's code knows it, before the stage runtime (`StageRuntime.deadLetter`, `@agentsight/jetstream`)
 * completes it into a {@link DeadLetter}: `reason` and `error` always, any other field when known. The runtime fills
 * `v`, `stage`, and what is missing: `host` (the stage's), `input_subject` '', `input_seq` 0, `input_id`/`conn_key`
 * null, `sample` empty (else cut to {@link DEAD_LETTER_SAMPLE_BYTES}), `ts_ns` now, `id` =
 * deriveId('dlq', stage, input_id ?? `<subject>#<seq>`, reason, conn_key ?? ''). `R` narrows `reason` to a stage's
 * own causes.
 */
export type DeadLetterDraft<R extends string = string> = Partial<Omit<DeadLetter, 'v' | 'stage' | 'reason'>> & { reason: R; error: string };

/** Most bytes of the offending input a dead letter carries as `sample` (4 KiB). */
export const DEAD_LETTER_SAMPLE_BYTES = 4096;
