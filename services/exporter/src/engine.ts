/**
 * What the exporter does with GenAI events, without NATS (inputs arrive as {@link Delivery}s, state is Redis through
 * {@link ExportState}, spans leave through a {@link SpanSink}):
 * - inference events and `execute_tool` events at version 3 are final: exported at once, in micro-batches; each input
 *   is acked only after the collector accepted its span (and its done marker is in Redis);
 * - other versioned events (`execute_tool` v1/v2, `invoke_agent`) are stored as pending (newest version) and acked;
 *   {@link ExportEngine.flush} exports each once no newer version came for the settle time;
 * - a collector that fails (network, timeout, 5xx, 429, auth) is retried with exponential backoff (1 s doubling to
 *   `maxBackoffMs`), nothing acked meanwhile (the inputs' ack wait is reset on every attempt), so nothing is lost;
 * - a span the collector rejects as invalid (400/413/422, found by bisecting the batch) is dead-lettered
 *   (`otlp_rejected`), an event that cannot be a span too (`contract`); everything else of the batch goes on;
 * - an event whose span was exported already (done marker) is acked without exporting it again.
 * Handling and flushing never overlap (one lock).
 */
import { encode, hostToken, Subjects, type GenAiRecord } from '@agentsight/contracts';
import type { DeadLetterDraft } from '@agentsight/jetstream';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { isFinal, recordKind, toSpan } from './domain/spans';
import type { ExportState } from './export-state';
import type { SpanSink } from './sink';

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

/** Options of {@link ExportEngine}. */
export interface EngineOptions {
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

interface Work {
  id: string;
  /** 0 for inference events. */
  version: number;
  event: GenAiRecord;
  span: ReadableSpan;
  inputs: Delivery[];
}

const versionOf = (ev: GenAiRecord): number => (recordKind(ev) === 'inference' ? 0 : Number((ev as { version?: unknown }).version));

/** See the module doc. */
export class ExportEngine {
  private lock: Promise<unknown> = Promise.resolve();
  private stopping = false;
  private wake: (() => void) | null = null;
  /** Spans accepted by the collector since start (for logs and tests). */
  exported = 0;

  constructor(private readonly state: ExportState, private readonly sink: SpanSink, private readonly opts: EngineOptions) {}

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

  private async dead(reason: string, error: string, ev: unknown, input: Delivery | null): Promise<void> {
    const e = ev as Partial<GenAiRecord> | null;
    let sample: Uint8Array | undefined;
    try {
      sample = encode(ev);
    } catch {
      sample = undefined;
    }
    await this.opts.deadLetter({
      reason,
      error,
      input_subject: input?.subject ?? (typeof e?.host === 'string' ? Subjects.genai(hostToken(e.host)) : ''),
      input_seq: input?.seq ?? 0,
      input_id: input ? input.msgId : typeof e?.id === 'string' ? `${e.id}:v${versionOf(e as GenAiRecord)}` : null,
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
    const finals = new Map<string, Work>();
    for (const d of batch) {
      const ev = d.value as GenAiRecord;
      const kind = ev && typeof ev === 'object' ? recordKind(ev) : null;
      let span: ReadableSpan;
      try {
        if (!kind) throw new Error(`not a GenAI record (kind ${JSON.stringify((ev as { kind?: unknown })?.kind)})`);
        if (kind !== 'inference' && !Number.isFinite(versionOf(ev))) throw new Error(`${kind} event ${ev.id} without a version`);
        span = toSpan(ev);
      } catch (err) {
        await this.dead('contract', (err as Error).message, ev, d);
        d.ack();
        continue;
      }
      if (!isFinal(ev)) {
        await this.state.offer(ev as GenAiRecord & { version: number }, this.now() + this.opts.settleMs);
        d.ack();
        continue;
      }
      const w = finals.get(ev.id);
      if (!w) finals.set(ev.id, { id: ev.id, version: versionOf(ev), event: ev, span, inputs: [d] });
      else {
        w.inputs.push(d);
        if (versionOf(ev) > w.version) Object.assign(w, { version: versionOf(ev), event: ev, span });
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
      this.log('warn', `export of ${again.length} span(s) failed, retrying in ${Math.round(backoff / 1000)} s: ${again.error}`);
      for (const w of again) for (const i of w.inputs) i.working?.();
      await this.sleep(backoff);
      for (const w of again) for (const i of w.inputs) i.working?.();
      backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? 30_000);
      todo = again;
    }
  }

  /**
   * Exports `work` once: accepted spans are marked done and their inputs acked, rejected ones dead-lettered (and
   * acked); returns the transient failures (with the last error) for the caller to retry.
   */
  private async exportWork(work: Work[], fromInputs: boolean): Promise<Work[] & { error?: string }> {
    const outcomes = await this.sink.export(work.map((w) => w.span));
    const again: Work[] & { error?: string } = [];
    const ok: Work[] = [];
    const rejected: Array<{ w: Work; error: string }> = [];
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
      await this.dead('otlp_rejected', `collector rejected span ${w.span.spanContext().spanId} (${w.event.name}): ${error}`, w.event, fromInputs ? w.inputs[0]! : null);
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
      const due = await this.state.claimDue(this.now(), this.opts.leaseMs, limit);
      if (!due.length) return 0;
      const work: Work[] = [];
      const forget: Array<{ id: string; version: null }> = [];
      for (const d of due) {
        if (!d.event) {
          forget.push({ id: d.id, version: null });
          continue;
        }
        try {
          work.push({ id: d.id, version: versionOf(d.event), event: d.event, span: toSpan(d.event), inputs: [] });
        } catch (err) {
          await this.dead('contract', (err as Error).message, d.event, null);
          forget.push({ id: d.id, version: null });
        }
      }
      await this.state.finish(forget);
      const before = this.exported;
      const again = work.length ? await this.exportWork(work, false) : [];
      if (again.length) this.log('warn', `export of ${again.length} settled span(s) failed, retrying in ${Math.round(this.opts.leaseMs / 1000)} s: ${again.error}`);
      return this.exported - before;
    });
  }
}
