import { jsonTooDeep, MAX_JSON_DEPTH } from './json-limits';

const nested = (depth: number, open = '[', close = ']') => open.repeat(depth) + close.repeat(depth);

describe('jsonTooDeep', () => {
  test(`exactly ${MAX_JSON_DEPTH} levels pass, one more is too deep (arrays, objects, mixed)`, () => {
    expect(jsonTooDeep(JSON.parse(nested(MAX_JSON_DEPTH)))).toBe(false);
    expect(jsonTooDeep(JSON.parse(nested(MAX_JSON_DEPTH + 1)))).toBe(true);
    const obj = (d: number): string => (d === 0 ? '1' : `{"a":${obj(d - 1)}}`);
    expect(jsonTooDeep(JSON.parse(obj(MAX_JSON_DEPTH)))).toBe(false);
    expect(jsonTooDeep(JSON.parse(obj(MAX_JSON_DEPTH + 1)))).toBe(true);
    expect(jsonTooDeep(JSON.parse(`[1,{"x":"y"},${nested(MAX_JSON_DEPTH - 1, '{"k":[', ']}')}]`))).toBe(true);
  });

  test('any depth is checked without recursion (a million levels, as JSON.parse makes them)', () => {
    expect(jsonTooDeep(JSON.parse(nested(1_000_000)))).toBe(true);
  });

  test('brackets inside strings do not count; scalars and wide documents are never too deep', () => {
    expect(jsonTooDeep(JSON.parse(JSON.stringify({ text: nested(10_000) })))).toBe(false);
    expect(jsonTooDeep(JSON.parse(JSON.stringify(Array.from({ length: 10_000 }, (_, i) => ({ i, v: [i] })))))).toBe(false);
    for (const v of [null, 1, 'x', true]) expect(jsonTooDeep(v)).toBe(false);
  });

  test('a text too short to be that deep is not walked', () => {
    expect(jsonTooDeep(JSON.parse(nested(300)), 256, 2 * 257 - 1)).toBe(false);
    expect(jsonTooDeep(JSON.parse(nested(300)), 256, 600)).toBe(true);
  });
});
