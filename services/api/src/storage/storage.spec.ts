/**
 * What the api logs of a size-cap check (capText): nothing when nothing was dropped, else the days dropped and why
 * (the store's bytes against the cap), on a cluster each node's share, and a store left over the cap.
 */
import type { CapResult } from '@agentsight/clickhouse';
import { capText } from './storage';

const none: CapResult = { before: 10, after: 10, days: [], rows: 0, bytes: 0, over: false, nodes: [], note: null };

test('nothing dropped, within the cap: nothing logged', () => {
  expect(capText(none, 100)).toBe('');
});

test('one server: the days dropped, oldest first, and why', () => {
  const text = capText({ ...none, before: 300, after: 90, days: ['20261201', '20261202'], rows: 40, bytes: 210 }, 100);
  expect(text).toBe('storage: store 300 bytes over the cap of 100 (AGENTSIGHT_STORE_MAX_BYTES): dropped day(s) 20261201, 20261202, oldest first (40 rows, 210 bytes); now 90 bytes\n');
});

test('a cluster: every node named with what it lost; still over the cap with only the newest day', () => {
  const r: CapResult = {
    ...none, before: 300, after: 150, days: ['20261201'], rows: 30, bytes: 150, over: true,
    nodes: [{ node: 'ch-1:9000', rows: 12, bytes: 70 }, { node: 'ch-2:9000', rows: 18, bytes: 80 }],
  };
  const [drop, over] = capText(r, 100).trimEnd().split('\n');
  expect(drop).toMatch(/dropped day\(s\) 20261201, oldest first \(30 rows, 150 bytes\) on every node of the cluster \(ch-1:9000: 12 rows, 70 bytes; ch-2:9000: 18 rows, 80 bytes\); now 150 bytes$/);
  expect(over).toBe('storage: store still over the cap (150 > 100 bytes) with only its newest day left');
});
