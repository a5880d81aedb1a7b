/**
 * The delivery loop every export target shares (OTLP spans, SLS logs, the Logtail file), without NATS: inputs arrive as
 * {@link Delivery}s, state is Redis through {@link ExportState}, items leave through an {@link ItemSink}; what an input
 * becomes, and whether it is final, is the target's {@link ExportModel}.
 * - final inputs (inference events, `execute_tool` events at version 3, audit records other than tool versions
 *   below 3) are exported at once, in micro-batches; each input is acked only after the receiver accepted its item
 *   (and its done marker is in Redis);
 * - other versioned inputs (`execute_tool` v1/v2, `invoke_agent`, tool audit records v1/v2) are stored as pending
 *   (newest version) and acked; {@link ExportEngine.flush} exports each once no newer version came for the settle
 *   time (or at once after {@link ExportState.expedite});
 * - a receiver that fails (network, timeout, 5xx, throttling, auth) is retried with exponential backoff (1 s doubling
 *   to `maxBackoffMs`), nothing acked meanwhile (the inputs' ack wait is reset on every attempt), so nothing is lost;
 * - an item the receiver rejects as invalid (found by the sink bisecting the batch) is dead-lettered
 *   (`model.rejectedReason`), an input that cannot be an item too (`contract`); everything else of the batch goes on;
 * - an input whose item was exported already (done marker) is acked without exporting it again.
 * Handling and flushing never overlap (one lock).
 */
import { encode } from '@agentsight/contracts';
import type { DeadLetterDraft } from '@agentsight/jetstream';
import type { ExportState } from './export-state';

/** One input of {@link ExportEngine.handle}: a decoded message and its acknowledgements. */
export interface Delivery {
  value: unknown;
  subject: string;
  seq: number;
  msgId: string | null;
  ack(): void;
  working?(): void;
  nak?(): void;
}

/** Outcome of one item of a batch sent by an {@link ItemSink}. */
export type ItemOutcome = { status: 'ok' } | { status: 'rejected'; error: string } | { status: 'transient'; error: string };

/**
 * Sends item batches; `export` resolves with one outcome per item, in order, and never rejects. A sink bisects a
 * batch the receiver rejects as invalid, so only the offending items come out `rejected`.
 */
export interface ItemSink<T> {
  export(items: T[]): Promise<ItemOutcome[]>;
  shutdown(): Promise<void>;
}

/** An input made ready for export by {@link ExportModel.prepare}. */
export interface Prepared<T> {
  /** Id of the exported thing (the done marker's key): versions of one event share it. */
  id: string;
  /** 0 for immutable inputs. */
  version: number;
  /** Exported at once (true) or after it settled (false). */
  final: boolean;
  item: T;
}

/** What one export target makes of its inputs. */
export interface ExportModel<T> {
  /** What an item is called in logs: `span`, `log`. */
  item: string;
  /** Dead-letter reason of an item the receiver rejected as invalid, e.g. `otlp_rejected`, `sls_rejected`. */
  rejectedReason: string;
  /** Prepares an input (a decoded message, or a settled pending one); throws when it cannot be exported. */
  prepare(value: unknown): Prepared<T>;
  /** Short name of an item for a rejection message (e.g. the span id and event name). */
  label(item: T, value: unknown): string;
  /** Subject the input of a settled item came from (dead letters of flushed items have no delivery). */
  subjectOf(value: unknown): string;
}

/** Options of {@link ExportEngine}. */
export interface EngineOptions<T> {
  /** What inputs become (see {@link ExportModel}). */
  model: ExportModel<T>;
  /** Settle time of versioned events, ms. */
  settleMs: number;
  /** How long a claimed due event is reserved for one flush attempt, ms (retried after it when the export failed). */
  leaseMs: number;
  /** Cap of the retry backoff, ms (default 30 000). */
  maxBackoffMs?: number;
  /** Publishes a dead letter and resolves on its PubAck. */
  deadLetter(d: DeadLetterDraft): Promise<void>;
  log?: (level: 'log' | 'warn' | 'error', msg: string) => void;
  /** Clock, ms since the epoch (default Date.now). */
  now?: () => number;
}

interface Work<T> {
  id: string;
  /** 0 for immutable inputs. */
  version: number;
  value: unknown;
  item: T;
  inputs: Delivery[];
}

/** See the module doc. */
export class ExportEngine<T> {
  private lock: Promise<unknown> = Promise.resolve();
  private stopping = false;
  private wake: (() => void) | null = null;
  /** Items accepted by the receiver since start (for logs and tests). */
  exported = 0;

  constructor(private readonly state: ExportState, private readonly sink: ItemSink<T>, private readonly opts: EngineOptions<T>) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  private log(level: 'log' | 'warn' | 'error', msg: string): void {
    this.opts.log?.(level, msg);
  }

  private locked<T>(f: () => Promise<T>): Promise<T> {
    const run = this.lock.then(f, f);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Stops retrying: a handle in its retry loop naks what it holds (redelivered at once to the next consumer) and returns. */
  stop(): void {
    this.stopping = true;
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => { this.wake = null; r(); }, ms);
      this.wake = () => { clearTimeout(t); this.wake = null; r(); };
    });
  }

  private async dead(reason: string, error: string, ev: unknown, input: Delivery | null, id: string | null): Promise<void> {
    const e = ev as { host?: unknown } | null;
    let sample: Uint8Array | undefined;
    try {
      sample = encode(ev);
    } catch {
      sample = undefined;
    }
    await this.opts.deadLetter({
      reason,
      error,
      input_subject: input?.subject ?? this.opts.model.subjectOf(ev),
      input_seq: input?.seq ?? 0,
      input_id: input ? input.msgId : id,
      ...(typeof e?.host === 'string' ? { host: e.host } : {}),
      ...(sample ? { sample } : {}),
    });
  }

  /**
   * Handles a micro-batch of GenAI records (see the module doc). Resolves once every input is acked, or — after
   * {@link stop} — naked. Throws only when Redis or the dead-letter publish fails (inputs then stay unacked).
   */
  handle(batch: Delivery[]): Promise<void> {
    return this.locked(() => this.handleLocked(batch));
  }

  private async handleLocked(batch: Delivery[]): Promise<void> {
    const finals = new Map<string, Work<T>>();
    for (const d of batch) {
      let p: Prepared<T>;
      try {
        p = this.opts.model.prepare(d.value);
      } catch (err) {
        await this.dead('contract', (err as Error).message, d.value, d, null);
        d.ack();
        continue;
      }
      if (!p.final) {
        await this.state.offer(p.id, p.version, d.value, this.now() + this.opts.settleMs);
        d.ack();
        continue;
      }
      const w = finals.get(p.id);
      if (!w) finals.set(p.id, { id: p.id, version: p.version, value: d.value, item: p.item, inputs: [d] });
      else {
        w.inputs.push(d);
        if (p.version > w.version) Object.assign(w, { version: p.version, value: d.value, item: p.item });
      }
    }
    const done = await this.state.doneOf([...finals.keys()]);
    for (const id of done) {
      for (const i of finals.get(id)!.inputs) i.ack();
      finals.delete(id);
    }
    let todo = [...finals.values()];
    let backoff = 1000;
    while (todo.length) {
      if (this.stopping) {
        for (const w of todo) for (const i of w.inputs) i.nak?.();
        return;
      }
      const again = await this.exportWork(todo, true);
      if (!again.length) return;
      this.log('warn', `export of ${again.length} ${this.opts.model.item}(s) failed, retrying in ${Math.round(backoff / 1000)} s: ${again.error}`);
      for (const w of again) for (const i of w.inputs) i.working?.();
      await this.sleep(backoff);
      for (const w of again) for (const i of w.inputs) i.working?.();
      backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? 30_000);
      todo = again;
    }
  }

  /**
   * Exports `work` once: accepted items are marked done and their inputs acked, rejected ones dead-lettered (and
   * acked); returns the transient failures (with the last error) for the caller to retry.
   */
  private async exportWork(work: Array<Work<T>>, fromInputs: boolean): Promise<Array<Work<T>> & { error?: string }> {
    const outcomes = await this.sink.export(work.map((w) => w.item));
    const again: Array<Work<T>> & { error?: string } = [];
    const ok: Array<Work<T>> = [];
    const rejected: Array<{ w: Work<T>; error: string }> = [];
    work.forEach((w, i) => {
      const o = outcomes[i]!;
      if (o.status === 'ok') ok.push(w);
      else if (o.status === 'rejected') rejected.push({ w, error: o.error });
      else {
        again.push(w);
        again.error = o.error;
      }
    });
    for (const { w, error } of rejected) {
      const m = this.opts.model;
      await this.dead(m.rejectedReason, `receiver rejected ${m.item} ${m.label(w.item, w.value)}: ${error}`, w.value, fromInputs ? w.inputs[0]! : null, `${w.id}:v${w.version}`);
    }
    await this.state.finish([...ok.map((w) => ({ id: w.id, version: w.version })), ...rejected.map(({ w }) => ({ id: w.id, version: null }))]);
    for (const w of [...ok, ...rejected.map((r) => r.w)]) for (const i of w.inputs) i.ack();
    this.exported += ok.length;
    return again;
  }

  /**
   * Exports the pending versioned events whose settle time has passed (up to `limit`); see the module doc. Transient
   * failures leave them pending (claimed again once the lease has passed). Resolves with the number exported.
   */
  flush(limit = 500): Promise<number> {
    return this.locked(async () => {
      if (this.stopping) return 0;
      const claimed = await this.state.claimDue(this.now(), this.opts.leaseMs, limit);
      if (!claimed.length) return 0;
      const done = await this.state.doneOf(claimed.map((d) => d.id));
      const due = claimed.filter((d) => !done.has(d.id));
      const work: Array<Work<T>> = [];
      const forget: Array<{ id: string; version: null }> = [];
      for (const d of due) {
        if (!d.event) {
          forget.push({ id: d.id, version: null });
          continue;
        }
        try {
          const p = this.opts.model.prepare(d.event);
          work.push({ id: d.id, version: p.version, value: d.event, item: p.item, inputs: [] });
        } catch (err) {
          await this.dead('contract', (err as Error).message, d.event, null, d.id);
          forget.push({ id: d.id, version: null });
        }
      }
      await this.state.finish([...forget, ...[...done].map((id) => ({ id, version: null }))]);
      const before = this.exported;
      const again = work.length ? await this.exportWork(work, false) : [];
      if (again.length) this.log('warn', `export of ${again.length} settled ${this.opts.model.item}(s) failed, retrying in ${Math.round(this.opts.leaseMs / 1000)} s: ${again.error}`);
      return this.exported - before;
    });
  }
}
