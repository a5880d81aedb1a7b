import { AckLedger } from './ack-ledger';

describe('AckLedger (no server)', () => {
  test('acks under the floor are forgotten; none is sent again while the server counts no more pending than held', () => {
    const l = new AckLedger();
    for (const s of [1, 2, 3, 4, 5]) l.delivered(s);
    expect(l.settled).toBe(true);
    l.acked(1, 'r1');
    l.acked(2, 'r2');
    l.acked(4, 'r4'); // 3 and 5 held (a parser waiting for the rest of a response)
    expect(l.held).toBe(2);
    expect(l.reconcile(2, 2)).toEqual([]);
    expect(l.settled).toBe(false); // 4 is above the floor (3 holds it)
    l.acked(3, 'r3');
    l.acked(5, 'r5');
    expect(l.reconcile(5, 0)).toEqual([]);
    expect(l.settled).toBe(true);
  });

  test('more pending at the server than held here: every ack above the floor is sent again', () => {
    const l = new AckLedger();
    for (const s of [10, 11, 12, 13]) l.delivered(s);
    for (const s of [10, 11, 12]) l.acked(s, `r${s}`);
    // the ack of 11 and 12 reached a leader that was lost: the floor is 10, three pending (11, 12, 13), one held
    expect(l.reconcile(10, 3)).toEqual(['r11', 'r12']);
    l.released(13); // nak'd: comes again
    expect(l.held).toBe(0);
    expect(l.reconcile(12, 1)).toEqual([]);
  });

  test('at most maxSent acks are kept above the floor, the oldest forgotten first', () => {
    const l = new AckLedger(3);
    for (let s = 1; s <= 5; s++) {
      l.delivered(s);
      l.acked(s, `r${s}`);
    }
    expect(l.reconcile(0, 9)).toEqual(['r3', 'r4', 'r5']);
  });
});
