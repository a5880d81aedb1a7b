import type { RawRecord } from '@agentsight/contracts';
import type { Input, PartitionWorker, StageRuntime, UndecodableInput } from '@agentsight/jetstream';

/**
 * Plumbing shared by the parser's partition workers (TLS: {@link ParserWorker}, stdio: {@link StdioWorker}): batches
 * and evictions run one at a time; the worker's clock is the newest record time it has seen (wall ns), so a replay of
 * old records evicts as it did live; idle state is evicted when that clock has moved a tenth of the idle time since the
 * last eviction; and a partition that has been silent for the idle time (local time) while still holding state has its
 * clock advanced past the idle limit, so unfinished work is finished and the ack floor moves on.
 *
 * Subclasses implement {@link process} (one batch; keep {@link newestNs} up to date), {@link evict},
 * {@link holdsState} and {@link release}.
 */
export abstract class ClockedPartitionWorker implements PartitionWorker<RawRecord> {
  /** Newest record time seen, wall-clock ns: the worker's clock. */
  protected newestNs = 0n;
  private lastEvictNs = 0n;
  /** Local time (ms) of the last batch. */
  private lastBatchAt = Date.now();
  private busy: Promise<void> = Promise.resolve();
  private readonly quietTimer: NodeJS.Timeout;

  /**
   * @param idleNs state idle this long (record time, ns) is evicted; a partition silent this long (local time) is
   *   checked every `min(30 s, idleNs / 4)`.
   * @param name log prefix of failed idle evictions, e.g. `parser`.
   */
  constructor(
    protected readonly rt: StageRuntime,
    protected readonly idleNs: bigint,
    private readonly name: string,
  ) {
    this.quietTimer = setInterval(() => void this.whenQuiet(), Math.min(30_000, Number(idleNs / 4_000_000n))).unref();
  }

  /** Processes a batch after the previous one (and any eviction) finished; then evicts when the clock moved enough. */
  handle(batch: Input<RawRecord>[]): Promise<void> {
    return this.serial(async () => {
      this.lastBatchAt = Date.now();
      await this.process(batch);
      if (this.newestNs - this.lastEvictNs > this.idleNs / 10n) await this.runEviction(this.newestNs);
    });
  }

  undecodable(input: UndecodableInput): Promise<void> {
    return this.rt.undecodable(input);
  }

  /** Stops the idle check, waits for the batch in progress, then drops the in-memory state ({@link release}). */
  async close(): Promise<void> {
    clearInterval(this.quietTimer);
    await this.busy;
    this.release();
  }

  /** One batch: parse, publish, commit positions and ack what they cover. Throwing leaves the batch unacked. */
  protected abstract process(batch: Input<RawRecord>[]): Promise<void>;
  /** Drops state idle since before `nowNs - idleNs` (wall-clock ns), finishing, publishing and acking what it held. */
  protected abstract evict(nowNs: bigint): Promise<void>;
  /** Whether in-memory state (unacked inputs, open streams) is held: only then does a silent partition evict. */
  protected abstract holdsState(): boolean;
  /** Drops the in-memory state (unacked inputs will be redelivered to the next owner). */
  protected abstract release(): void;

  private serial(f: () => Promise<void>): Promise<void> {
    const run = this.busy.then(f);
    this.busy = run.catch(() => undefined);
    return run;
  }

  private runEviction(nowNs: bigint): Promise<void> {
    this.lastEvictNs = nowNs;
    return this.evict(nowNs);
  }

  private async whenQuiet(): Promise<void> {
    if (!this.holdsState() || Date.now() - this.lastBatchAt < Number(this.idleNs / 1_000_000n)) return;
    await this.serial(() => this.runEviction(this.newestNs + this.idleNs + 1n)).catch((e) => console.error(`[${this.name}] idle eviction failed:`, e));
  }
}
