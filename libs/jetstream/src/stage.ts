import { DEAD_LETTER_SAMPLE_BYTES, DeadLetter, type DeadLetterDraft, deriveId, nowNs, redactAtParserEnabled, redactSample, redactText, Stage, Subjects } from '@agentsight/contracts';
import type Redis from 'ioredis';
import { connectNats, Nats } from './nats';
import { connectRedis } from './redis';
import { pipelineConfig, PipelineConfig } from './config';
import { Publisher } from './publisher';
import { ReplayScope } from './replay';
import { batchMetrics } from './batch-metrics';
import type { UndecodableInput } from './consumer';

/** What a dead letter needs from its stage (the contract's type); the rest is filled in by {@link StageRuntime.deadLetter}. */
export type { DeadLetterDraft };

/**
 * Connections and helpers of one pipeline service: config, NATS (JetStream + large-payload store), Redis, a
 * {@link Publisher}, and dead-lettering. Created by the service's NestJS module, closed on shutdown.
 */
export class StageRuntime {
  readonly publisher: Publisher;

  private constructor(
    readonly stage: Stage,
    readonly config: PipelineConfig,
    readonly nats: Nats,
    readonly redis: Redis,
    /**
     * Early redaction is on (`AGENTSIGHT_REDACT_AT_PARSER`, {@link redactAtParserEnabled}): the stage redacts what it
     * derives from raw records before publishing it, and every dead letter's error and sample are redacted.
     */
    readonly redactEarly = false,
  ) {
    this.publisher = new Publisher(nats.js, nats.large, undefined, nats.scope ?? null);
  }

  /**
   * Connects to NATS and Redis per {@link pipelineConfig}; throws when either is unreachable at start. With
   * `AGENTSIGHT_REPLAY_SPEC` set the runtime is one replay's ({@link ReplayScope}: its consumers, subjects, msg ids
   * and Redis key prefix).
   */
  static async connect(stage: Stage, env: NodeJS.ProcessEnv = process.env): Promise<StageRuntime> {
    const config = pipelineConfig(env);
    const scope = ReplayScope.fromEnv(env);
    const nats = await connectNats(config.nats, `agentsight-${stage}`);
    nats.scope = scope;
    batchMetrics.stage = stage;
    batchMetrics.instance = config.instance;
    if (!scope) batchMetrics.nats = nats;
    const redis = await connectRedis(config.redisUrl, `agentsight-${stage}`, scope?.redisPrefix);
    return new StageRuntime(stage, config, nats, redis, redactAtParserEnabled(env));
  }

  /** Lease owner / consumer identity of this instance: `<host>:<instance>`. */
  get owner(): string {
    return `${this.config.host}:${this.config.instance}`;
  }

  /**
   * Publishes a dead letter on `agentsight.dlq.<stage>.<host>` and resolves on its PubAck. The id is
   * deterministic (stage, input, reason), so a replay does not duplicate it. With {@link redactEarly} the error and
   * the sample are redacted ({@link redactSample}, over 1 KiB more than is kept, so a secret cut by the sample's end
   * is still recognised).
   */
  async deadLetter(d: DeadLetterDraft): Promise<void> {
    let sample = d.sample ?? new Uint8Array(0);
    if (this.redactEarly) sample = redactSample(sample.subarray(0, DEAD_LETTER_SAMPLE_BYTES + 1024));
    sample = sample.subarray(0, DEAD_LETTER_SAMPLE_BYTES);
    const error = this.redactEarly ? redactText(d.error) : d.error;
    const id = d.id ?? deriveId('dlq', this.stage, d.input_id ?? `${d.input_subject}#${d.input_seq}`, d.reason, d.conn_key ?? '');
    const dl: DeadLetter = {
      v: 1,
      id,
      stage: this.stage,
      host: d.host ?? this.config.host,
      reason: d.reason,
      error,
      input_subject: d.input_subject ?? '',
      input_seq: d.input_seq ?? 0,
      input_id: d.input_id ?? null,
      conn_key: d.conn_key ?? null,
      sample,
      ts_ns: d.ts_ns ?? nowNs(),
    };
    await this.publisher.publish(Subjects.dlq(this.stage, this.config.hostToken), id, dl);
  }

  /** Dead-letters an input that did not decode (reason `contract`) and acks it. */
  async undecodable(input: UndecodableInput): Promise<void> {
    await this.deadLetter({
      reason: 'contract',
      error: `undecodable input: ${input.error.message}`,
      input_subject: input.subject,
      input_seq: input.seq,
      input_id: input.msgId,
      sample: input.data,
    });
    input.ack();
  }

  /** Drains NATS and closes Redis. */
  async close(): Promise<void> {
    await this.nats.nc.drain().catch(() => undefined);
    this.redis.disconnect();
  }
}
