import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { createInbox, headers } from '@nats-io/nats-core';
import type { Msg, MsgHdrs, NatsConnection, Subscription } from '@nats-io/nats-core';
import type { ObjectStore } from '@nats-io/obj';
import { encode } from '@agentsight/contracts';
import { INLINE_LIMIT_BYTES, objectName, storeClaimCheck } from './large';
import type { ReplayScope } from './replay';

/**
 * Durable publishing of derived events: msgpack-encodes the payload, sends it with `Nats-Msg-Id` = the event's
 * deterministic id (so a republish after redelivery or replay is dropped by the stream's duplicate window), uses a
 * claim check above {@link INLINE_LIMIT_BYTES}, and resolves only on the stream's PubAck. Transient failures (no
 * responders while the server restarts, timeouts) are retried with backoff for up to `maxRetryMs`; then it throws.
 *
 * PubAcks come back through one {@link PubAckInbox} per connection (an async PubAck window: any number of
 * publishes in flight, in call order on the wire), not through a nats.js request each (which costs a reply
 * subscription entry, a timer and, in nats.js 3, a stack-traced `RequestError` per publish even when it succeeds).
 * With a `scope` (a replay's services) subject and msg id are the replay's ({@link ReplayScope.subject}, `.msgId`).
 */
export class Publisher {
  private readonly inbox: PubAckInbox;

  constructor(
    js: JetStreamClient,
    private readonly large: ObjectStore,
    private readonly maxRetryMs = 60_000,
    private readonly scope: ReplayScope | null = null,
  ) {
    this.inbox = PubAckInbox.of((js as unknown as { nc: NatsConnection }).nc);
  }

  /** Publishes `value` on `subject` with `Nats-Msg-Id: msgId`; resolves with the PubAck. */
  async publish(liveSubject: string, liveMsgId: string, value: unknown): Promise<PubAck> {
    const subject = this.scope ? this.scope.subject(liveSubject) : liveSubject;
    const msgId = this.scope ? this.scope.msgId(liveMsgId) : liveMsgId;
    const data = encode(value);
    const deadline = Date.now() + this.maxRetryMs;
    for (let attempt = 0; ; attempt++) {
      try {
        if (data.length > INLINE_LIMIT_BYTES) {
          const h = await storeClaimCheck(this.large, objectName(msgId), data);
          h.set('Nats-Msg-Id', msgId);
          return await this.inbox.publish(subject, new Uint8Array(0), h, 10_000);
        }
        const h = headers();
        h.set('Nats-Msg-Id', msgId);
        return await this.inbox.publish(subject, data, h, 10_000);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(Math.min(2000, 50 * 2 ** attempt));
      }
    }
  }
}

interface Waiter {
  resolve(pa: PubAck): void;
  reject(err: Error): void;
  /** Date.now() after which the PubAck is given up (the publish then rejects with a timeout). */
  deadline: number;
}

/**
 * JetStream publishes whose PubAcks arrive on one wildcard inbox subscription of the connection
 * (`<inbox>.<token>`), matched to their publish by token. Errors: `no responders` (no stream for the subject, or
 * JetStream down), the stream's API error (`description (err_code N)`), a timeout after `timeoutMs`, or the
 * connection closing; each rejects only its publish. One instance per connection ({@link PubAckInbox.of}).
 */
export class PubAckInbox {
  private static readonly byConnection = new WeakMap<NatsConnection, PubAckInbox>();
  private readonly prefix: string;
  private readonly waiting = new Map<string, Waiter>();
  private readonly sub: Subscription;
  private readonly timer: NodeJS.Timeout;
  private next = 0;

  private constructor(private readonly nc: NatsConnection) {
    const inboxPrefix = (nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
    this.prefix = `${createInbox(inboxPrefix)}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => this.reply(err, msg) });
    this.timer = setInterval(() => this.expire(), 250);
    this.timer.unref();
    void this.sub.closed.then(() => this.failAll(new Error('PubAck inbox closed (connection closed)')));
  }

  /** The connection's inbox, created on first use. */
  static of(nc: NatsConnection): PubAckInbox {
    let inbox = PubAckInbox.byConnection.get(nc);
    if (!inbox || inbox.sub.isClosed()) PubAckInbox.byConnection.set(nc, (inbox = new PubAckInbox(nc)));
    return inbox;
  }

  /** Publishes `data` with `hdrs` on `subject` and resolves with its PubAck (`duplicate` true when deduplicated). */
  publish(subject: string, data: Uint8Array, hdrs: MsgHdrs, timeoutMs: number): Promise<PubAck> {
    const token = (this.next++).toString(36);
    return new Promise<PubAck>((resolve, reject) => {
      this.waiting.set(token, { resolve, reject, deadline: Date.now() + timeoutMs });
      try {
        this.nc.publish(subject, data, { reply: this.prefix + token, headers: hdrs });
      } catch (err) {
        this.waiting.delete(token);
        reject(err as Error);
      }
    });
  }

  private reply(err: Error | null, msg: Msg): void {
    if (err) return this.failAll(err);
    const token = msg.subject.slice(this.prefix.length);
    const w = this.waiting.get(token);
    if (!w) return; // answered after its timeout
    this.waiting.delete(token);
    if (msg.headers?.code === 503) return w.reject(new Error('no responders: no JetStream stream takes this subject (or JetStream is not available)'));
    if (!msg.data.length) return w.reject(new Error(`invalid PubAck (status ${msg.headers?.code ?? 'none'} ${msg.headers?.description ?? ''})`));
    try {
      const r = msg.json<{ stream?: string; seq?: number; duplicate?: boolean; domain?: string; error?: { code: number; err_code?: number; description?: string } }>();
      if (r.error) return w.reject(new Error(`${r.error.description ?? 'JetStream error'} (code ${r.error.code}, err_code ${r.error.err_code ?? '?'})`));
      if (!r.stream) return w.reject(new Error('invalid PubAck: no stream'));
      w.resolve({ stream: r.stream, seq: r.seq ?? 0, duplicate: !!r.duplicate, domain: r.domain } as PubAck);
    } catch (e) {
      w.reject(new Error(`invalid PubAck: ${(e as Error).message}`));
    }
  }

  private expire(): void {
    if (!this.waiting.size) return;
    const now = Date.now();
    for (const [token, w] of this.waiting) {
      if (w.deadline > now) continue;
      this.waiting.delete(token);
      w.reject(new Error('PubAck timeout'));
    }
  }

  private failAll(err: Error): void {
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
