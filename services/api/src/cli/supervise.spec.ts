import { RestartPolicy, restartsText } from './supervise';

test('backoff doubles from 0.5 s up to 8 s; the sixth death within a minute is a crash loop', () => {
  const p = new RestartPolicy();
  expect([0, 1, 2, 3, 4].map((i) => p.next('analyzer', 1000 + i))).toEqual([500, 1000, 2000, 4000, 8000]);
  expect(p.next('analyzer', 1010)).toBeNull();
  expect(p.next('parser', 1010)).toBe(500); // per stage
});

test('deaths older than the window no longer count', () => {
  const p = new RestartPolicy({ limit: 2, windowMs: 10_000, baseMs: 100, maxMs: 1000 });
  expect(p.next('api', 0)).toBe(100);
  expect(p.next('api', 1)).toBe(200);
  expect(p.next('api', 2)).toBeNull();
  expect(p.next('api', 20_000)).toBe(100);
});

test('restarts are summarised per stage with how they ended', () => {
  expect(restartsText([])).toEqual([]);
  expect(restartsText([
    { stage: 'analyzer', reason: 'signal SIGKILL', at: 'x' },
    { stage: 'parser', reason: 'exit code 1', at: 'y' },
    { stage: 'parser', reason: 'exit code 1', at: 'z' },
  ])).toEqual([
    'analyzer restarted once (signal SIGKILL); its inputs resumed from the ack floor',
    'parser restarted 2 times (exit code 1); its inputs resumed from the ack floor',
  ]);
});
