/**
 * Restart policy of the stages a CLI run supervises (exec, trace, record, serve): a stage that exits or is killed
 * while the run goes on is started again after a backoff (0.5 s, doubling, at most 8 s); more than `limit` restarts of
 * one stage within `windowMs` is a crash loop, after which the run gives up on it, says so and fails. Pure: the
 * caller passes the clock.
 */
export interface RestartPolicyOptions {
  /** Restarts allowed within `windowMs` (default 5). */
  limit?: number;
  /** ms (default 60 000). */
  windowMs?: number;
  /** First backoff, ms (default 500). */
  baseMs?: number;
  /** Largest backoff, ms (default 8 000). */
  maxMs?: number;
}

/** Per-stage restart bookkeeping. */
export class RestartPolicy {
  private readonly limit: number;
  private readonly windowMs: number;
  private readonly baseMs: number;
  private readonly maxMs: number;
  private readonly history = new Map<string, number[]>();

  constructor(o: RestartPolicyOptions = {}) {
    this.limit = o.limit ?? 5;
    this.windowMs = o.windowMs ?? 60_000;
    this.baseMs = o.baseMs ?? 500;
    this.maxMs = o.maxMs ?? 8_000;
  }

  /**
   * Called when `stage` died at `nowMs`: the backoff in ms before restarting it, or null when this would be more than
   * `limit` restarts within `windowMs` (a crash loop: do not restart).
   */
  next(stage: string, nowMs: number): number | null {
    const recent = (this.history.get(stage) ?? []).filter((t) => nowMs - t < this.windowMs);
    if (recent.length >= this.limit) {
      this.history.set(stage, recent);
      return null;
    }
    recent.push(nowMs);
    this.history.set(stage, recent);
    return Math.min(this.maxMs, this.baseMs * 2 ** (recent.length - 1));
  }
}

/** One restart of a supervised stage. */
export interface StageRestart {
  stage: string;
  /** How it ended: `exit code N` or `signal SIGKILL`. */
  reason: string;
  /** ISO 8601. */
  at: string;
}

/** `analyzer restarted once (signal SIGKILL)`-style lines for the run's summary; [] without restarts. */
export function restartsText(restarts: StageRestart[]): string[] {
  const by = new Map<string, StageRestart[]>();
  for (const r of restarts) by.set(r.stage, [...(by.get(r.stage) ?? []), r]);
  return [...by].map(([stage, rs]) => `${stage} restarted ${rs.length === 1 ? 'once' : `${rs.length} times`} (${[...new Set(rs.map((r) => r.reason))].join(', ')}); its inputs resumed from the ack floor`);
}
