/**
 * What one consumer run delivered and acked, to find acks the server lost. JetStream acks are fire-and-forget
 * (`+ACK` published on the message's reply subject, no answer): when a durable's leader changes (its NATS node lost
 * in a cluster), acks sent to the old leader that it had not replicated are gone, and the messages stay pending at
 * the server — for the stages' partition durables until their `ack_wait` (an hour), holding `num_ack_pending` up and
 * the pipeline never drained. The ledger compares the durable's state with its own: when the server counts more
 * messages pending than this run holds unacked, acks were lost, and every ack sent above the ack floor is sent again
 * (acking an acked message again does nothing). Pure bookkeeping; {@link ConsumerLoop} reads the durable and sends.
 */
export class AckLedger {
  /** Stream sequences delivered to this run and neither acked nor nak'd by it. */
  private readonly holding = new Set<number>();
  /** Acks sent, not yet known to be under the durable's ack floor: stream sequence → reply subject. */
  private readonly sent = new Map<number, string>();

  /**
   * @param maxSent most acks kept above the floor (the oldest beyond are forgotten and cannot be sent again): a
   *   parser partition whose floor is held by a long response keeps every later ack until then.
   */
  constructor(private readonly maxSent = 20_000) {}

  /** Deliveries to this run so far (a check is due when it changed, {@link ConsumerLoop}). */
  deliveries = 0;

  /** A message with stream sequence `seq` was delivered to this run. */
  delivered(seq: number): void {
    this.holding.add(seq);
    this.deliveries++;
  }

  /** The message `seq` was acked by publishing `+ACK` on `reply`. */
  acked(seq: number, reply: string): void {
    this.holding.delete(seq);
    this.sent.set(seq, reply);
    if (this.sent.size > this.maxSent) this.sent.delete(this.sent.keys().next().value!);
  }

  /** The message `seq` was nak'd (it comes again): no longer held. */
  released(seq: number): void {
    this.holding.delete(seq);
  }

  /** Reply subjects of every ack sent and not yet known to be under the floor (to send again after a reconnect). */
  unconfirmed(): string[] {
    return [...this.sent.values()];
  }

  /** Whether no sent ack awaits confirmation (nothing to check against the server). */
  get settled(): boolean {
    return this.sent.size === 0;
  }

  /** Messages held unacked by this run. */
  get held(): number {
    return this.holding.size;
  }

  /**
   * Takes the durable's `ack_floor.stream_seq` and `num_ack_pending`: forgets acks at or under the floor, and
   * returns the reply subjects of every ack above it when the server counts more pending than this run holds
   * (acks lost; send them again), else an empty list. A message delivered by the server but not arrived yet also
   * counts as pending there: the acks are then sent again for nothing, which is harmless.
   */
  reconcile(ackFloor: number, numAckPending: number): string[] {
    for (const seq of this.sent.keys()) if (seq <= ackFloor) this.sent.delete(seq);
    if (numAckPending <= this.holding.size) return [];
    return this.unconfirmed();
  }
}
