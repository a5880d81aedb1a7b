import type { SseEvent } from '@agentsight/contracts';
import { SseDecoder, SseTooLargeError } from './sse-decoder';

function run(pieces: Array<string | Uint8Array>, max?: number): { events: SseEvent[]; discardedTail: boolean } {
  const d = new SseDecoder(max);
  const events: SseEvent[] = [];
  for (const p of pieces) d.push(typeof p === 'string' ? Buffer.from(p, 'utf8') : p, (e) => events.push(e));
  return { events, discardedTail: d.end() };
}

describe('SseDecoder (WHATWG event stream interpretation)', () => {
  it('drops a leading BOM, handles CRLF split across pushes and CR-only line ends', () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    expect(run([bom, 'data: a\r', '\n\r', '\ndata: b\r\r']).events).toEqual([
      { event: 'message', data: 'a' },
      { event: 'message', data: 'b' },
    ]);
  });

  it('decodes a UTF-8 character split across pushes', () => {
    const bytes = Buffer.from('data: 中\n\n', 'utf8');
    expect(run([bytes.subarray(0, 7), bytes.subarray(7)]).events).toEqual([{ event: 'message', data: '中' }]);
  });

  it('ignores comments, retry and unknown fields; a line without a colon is a field with an empty value', () => {
    expect(run([':c\nretry: 5\nfoo: bar\ndata\ndata\n\n']).events).toEqual([{ event: 'message', data: '\n' }]);
  });

  it('does not dispatch without data, resets the type after dispatch, keeps the last event id, ignores ids with NUL', () => {
    const { events } = run(['event: x\nid: 1\n\n', 'data: a\n\n', 'event: y\ndata: b\nid: 2\u0000\n\n']);
    expect(events).toEqual([
      { event: 'message', data: 'a', last_event_id: '1' },
      { event: 'y', data: 'b', last_event_id: '1' },
    ]);
  });

  it('discards an unterminated event at end of stream and reports it', () => {
    expect(run(['data: done\n\ndata: cut']).events).toEqual([{ event: 'message', data: 'done' }]);
    expect(run(['data: cut']).discardedTail).toBe(true);
    expect(run(['data: ok\n\n']).discardedTail).toBe(false);
  });

  it('caps a line and an event', () => {
    expect(() => run(['data: ' + 'x'.repeat(100)], 50)).toThrow(SseTooLargeError);
    expect(() => run(Array.from({ length: 20 }, () => 'data: xxxx\n'), 50)).toThrow(SseTooLargeError);
  });
});
