import { encodeCursor } from './paging';
import { addAfterCursor, addFilter } from './sql';

describe('addAfterCursor', () => {
  test('no cursor (absent or empty) leaves the filters as they are', () => {
    for (const cursor of [undefined, '']) {
      const where = ['a = 1'];
      const params: Record<string, unknown> = { limit: 5 };
      expect(addAfterCursor(where, params, 'ts', 'id', cursor)).toBeNull();
      expect(where).toEqual(['a = 1']);
      expect(params).toEqual({ limit: 5 });
    }
  });

  test("a cursor selects the rows after its item in `time DESC, id` order and binds its ns and id", () => {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    expect(addAfterCursor(where, params, 'start_time', 'call_id', encodeCursor(1_764_000_000_123_456_789n, 'c-7'))).toEqual({ ns: '1764000000123456789', id: 'c-7' });
    expect(where).toEqual(["(start_time < fromUnixTimestamp64Nano({cns:Int64}, 'UTC') OR (start_time = fromUnixTimestamp64Nano({cns:Int64}, 'UTC') AND call_id > {cid:String}))"]);
    expect(params).toEqual({ cns: '1764000000123456789', cid: 'c-7' });
  });

  test('any other text is a bad cursor', () => {
    expect(() => addAfterCursor([], {}, 'ts', 'id', 'not-a-cursor')).toThrow('bad cursor');
  });
});

describe('addFilter', () => {
  test('a filter left out (no values object, or a value undefined, null or empty) adds nothing', () => {
    for (const values of [undefined, null, false as const, { agent: undefined }, { agent: null }, { agent: '' }, { from: '1', to: undefined }]) {
      const where = ['a = 1'];
      const params: Record<string, unknown> = { limit: 5 };
      addFilter(where, params, 'agent_name = {agent:String}', values);
      expect(where).toEqual(['a = 1']);
      expect(params).toEqual({ limit: 5 });
    }
  });

  test('a given filter adds its condition and binds its values; 0, false and an empty array count as given', () => {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    addFilter(where, params, 'pid = {pid:UInt32}', { pid: 0 });
    addFilter(where, params, 'id IN {ids:Array(String)}', { ids: [] });
    addFilter(where, params, 'ts >= {from:Int64} AND ts < {to:Int64}', { from: '1', to: '2' });
    addFilter(where, params, 'error_type IS NOT NULL', {});
    expect(where).toEqual(['pid = {pid:UInt32}', 'id IN {ids:Array(String)}', 'ts >= {from:Int64} AND ts < {to:Int64}', 'error_type IS NOT NULL']);
    expect(params).toEqual({ pid: 0, ids: [], from: '1', to: '2' });
  });
});
