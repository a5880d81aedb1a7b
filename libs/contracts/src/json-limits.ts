/**
 * Limit on untrusted JSON (captured bodies, SSE `data:`, NDJSON lines, event-stream payloads, JSON-RPC frames): how
 * deeply arrays and objects may nest. V8's `JSON.parse` copes with any depth (its memory is bounded by the text, which
 * the parser's size limits bound), but every recursive walk after it (redaction, msgpack encoding, request
 * normalisation) overflows the stack at a few thousand levels. So a parsed document is checked
 * ({@link jsonTooDeep}) before anything walks it, and a deeper one is refused: a dead letter with reason
 * {@link JSON_DEPTH_REASON}.
 */

/**
 * Deepest nesting accepted (arrays + objects, the outermost counts 1). Real LLM requests stay far below (JSON Schemas of
 * tool definitions nest a few dozen levels at most); RFC 8259 §9 lets a parser set such a limit.
 */
export const MAX_JSON_DEPTH = 256;

/** Dead-letter reason of JSON nested deeper than {@link MAX_JSON_DEPTH}. */
export const JSON_DEPTH_REASON = 'json_depth_limit';

/**
 * True when the parsed JSON value `value` nests more than `max` arrays/objects. Iterative (an explicit stack, so any
 * depth is safe), stops at the first node too deep; cost about a quarter of the `JSON.parse` that made the value.
 * `textLength` (the parsed text's length), when given, skips the walk when the text is too short to be that deep.
 */
export function jsonTooDeep(value: unknown, max: number = MAX_JSON_DEPTH, textLength = Infinity): boolean {
  if (value === null || typeof value !== 'object' || textLength < 2 * (max + 1)) return false;
  const nodes: object[] = [value];
  const depths: number[] = [1];
  while (nodes.length) {
    const v = nodes.pop() as Record<string, unknown> | unknown[];
    const d = depths.pop()!;
    if (d > max) return true;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (x !== null && typeof x === 'object') nodes.push(x), depths.push(d + 1);
      }
    } else {
      for (const k in v) {
        const x = v[k];
        if (x !== null && typeof x === 'object') nodes.push(x), depths.push(d + 1);
      }
    }
  }
  return false;
}

/** The error text of a {@link JSON_DEPTH_REASON} dead letter. */
export function jsonDepthError(max: number = MAX_JSON_DEPTH): string {
  return `JSON nested deeper than ${max} levels`;
}
