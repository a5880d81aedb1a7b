/**
 * The resource sampler of a capture run (`exec`, `trace --pid`, `record -p`): samples each traced agent's process tree
 * ({@link ResourceSampler}) and publishes each sample on `agentsight.raw.resource.<host>` with `Nats-Msg-Id` = its
 * deterministic id, awaiting the PubAck, so the storage sink (`resource_samples`) gets each once.
 */
import { hostname } from 'node:os';
import { Subjects, hostToken, type RawResourceSample } from '@agentsight/contracts';
import { Publisher, connectNats, natsTarget } from '@agentsight/jetstream';
import { ResourceSampler, bootId, samplingPolicy } from './sampler';
import type { NetReadings } from './net-bytes';

/** How long a sampling run waits for the probe's first network reading before it samples without one, ms. */
const FIRST_READING_WAIT_MS = 1000;

/** A sampling run: add roots as they are traced; `stop` takes a last sample of each and awaits every publication. */
export interface SamplingRun {
  /** Starts sampling `pid`'s tree; false when it is not running or already sampled. */
  add(pid: number): boolean;
  /** The roots sampled now. */
  pids(): number[];
  /** Stops sampling; resolves with what was published and what the sampler cost, once every PubAck is in. */
  stop(): Promise<{ samples: number; sampler_cpu_ns: number; failures: number }>;
}

/**
 * Connects to the run's NATS (`env`) and returns a {@link SamplingRun}. `net`: the run's probe readings (per-process
 * network bytes; without it the samples carry none and say so). Publication failures are counted and told to `warn`
 * (a lost sample loses resolution, not totals: the counters are cumulative). Throws when NATS is unreachable or the
 * `AGENTSIGHT_SAMPLE_*` variables are invalid.
 */
export async function startSampling(env: NodeJS.ProcessEnv, warn: (s: string) => void, net?: NetReadings): Promise<SamplingRun> {
  const policy = samplingPolicy(env);
  const host = env.AGENTSIGHT_HOST || hostname();
  const nats = await connectNats(natsTarget(env), 'agentsight-sampler');
  const publisher = new Publisher(nats.js, nats.large, 10_000);
  // The probe prints its first network reading right after its ready line: wait for it (bounded), so the first
  // samples carry network bytes too.
  for (let i = 0; net && !net.latest() && i < FIRST_READING_WAIT_MS / 10; i++) await new Promise((r) => setTimeout(r, 10));
  const subject = Subjects.rawResource(hostToken(host));
  const inflight = new Set<Promise<unknown>>();
  let failures = 0;
  const sampler = new ResourceSampler({ host, boot_id: bootId(), net: net ? () => net.latest() : undefined }, policy, (s: RawResourceSample) => {
    const p = publisher.publish(subject, s.id, s);
    inflight.add(p);
    return p.then(() => undefined).finally(() => inflight.delete(p));
  }, (err) => {
    if (failures++ === 0) warn(`warning: a resource sample could not be published (${err.message}); figures lose resolution, not totals`);
  });
  return {
    add: (pid) => sampler.add(pid),
    pids: () => sampler.pids(),
    async stop() {
      await sampler.flush();
      sampler.stop();
      await Promise.allSettled([...inflight]);
      await nats.nc.drain();
      return { samples: sampler.stats.samples, sampler_cpu_ns: sampler.stats.sampler_cpu_ns, failures };
    },
  };
}
