import { hostname } from 'node:os';
import { hostToken } from '@agentsight/contracts';

/**
 * Runtime settings shared by every pipeline service, from the environment:
 * `NATS_URL` (default nats://127.0.0.1:4222), `REDIS_URL` (default redis://127.0.0.1:6379),
 * `AGENTSIGHT_INSTANCE` (this instance's name among the instances of one service on one host; default `default`;
 * a restarted instance with the same name takes its partition leases back at once), `AGENTSIGHT_PARTITIONS`
 * (number of partitions of per-connection subjects; default 8, must equal the producer's `--partitions`),
 * `AGENTSIGHT_HOST` (host name in subjects; default os.hostname()).
 */
export interface PipelineConfig {
  natsUrl: string;
  redisUrl: string;
  instance: string;
  partitions: number;
  host: string;
  hostToken: string;
}

/** Reads {@link PipelineConfig} from `env`. */
export function pipelineConfig(env: NodeJS.ProcessEnv = process.env): PipelineConfig {
  const host = env.AGENTSIGHT_HOST || hostname();
  return {
    natsUrl: env.NATS_URL || 'nats://127.0.0.1:4222',
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    instance: env.AGENTSIGHT_INSTANCE || 'default',
    partitions: Number(env.AGENTSIGHT_PARTITIONS || 8),
    host,
    hostToken: hostToken(host),
  };
}
