/** Small, total (never-throwing) helpers for reading untrusted JSON and SSE text. */
import { JSON_DEPTH_REASON, jsonDepthError, jsonTooDeep, MAX_JSON_DEPTH, type SseEvent } from '@agentsight/contracts';

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** Decodes bytes as UTF-8 (invalid sequences become U+FFFD; never throws). */
export function decodeUtf8(bytes: Uint8Array | null | undefined): string {
  if (!bytes || bytes.length === 0) return '';
  return utf8.decode(bytes);
}

/** Outcome of {@link parseJson}: the value, or why there is none (`json_depth_limit`: nested deeper than `MAX_JSON_DEPTH`). */
export type JsonResult = { ok: true; value: unknown } | { ok: false; error: string; reason: 'json_parse_error' | typeof JSON_DEPTH_REASON };

/**
 * `JSON.parse` that reports failure instead of throwing; a document nested deeper than `MAX_JSON_DEPTH` (contracts
 * `json-limits.ts`) is refused too, before anything walks it recursively.
 */
export function parseJson(text: string): JsonResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, reason: 'json_parse_error', error: e instanceof Error ? e.message : String(e) };
  }
  if (jsonTooDeep(value, MAX_JSON_DEPTH, text.length)) return { ok: false, reason: JSON_DEPTH_REASON, error: jsonDepthError() };
  return { ok: true, value };
}

/** A plain JSON object (not an array, not null). */
export type JsonObject = Record<string, unknown>;

/** `x` when it is a plain object, else undefined. */
export function obj(x: unknown): JsonObject | undefined {
  return x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as JsonObject) : undefined;
}

/** `x` when it is an array, else an empty array. */
export function arr(x: unknown): unknown[] {
  return Array.isArray(x) ? x : [];
}

/** `x` when it is a non-empty string, else null. */
export function str(x: unknown): string | null {
  return typeof x === 'string' && x.length > 0 ? x : null;
}

/** `x` when it is a finite number, else null (token counts). */
export function num(x: unknown): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

/** True when the text looks like a JSON document (first non-blank character `{` or `[`). */
export function looksLikeJson(text: string): boolean {
  return /^\s*[[{]/.test(text);
}

/** True when the text looks like a `text/event-stream` body (starts with a `data:`/`event:`/`id:` field or a comment). */
export function looksLikeSse(text: string): boolean {
  return /^(?:\uFEFF)?(?:\s*\r?\n)*(?:data|event|id|retry)\s*:|^:/.test(text);
}

/**
 * Parses a whole `text/event-stream` body into events (WHATWG HTML "event stream interpretation": fields `event`,
 * `data` (lines joined by `\n`), `id`; comments ignored; an event is dispatched at a blank line or at end of input).
 * Used when a response carries SSE in a body the parser did not split (e.g. a wrong `Content-Type`).
 */
export function parseSseText(text: string): SseEvent[] {
  const out: SseEvent[] = [];
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  let hasData = false;
  const dispatch = () => {
    if (hasData) {
      const ev: SseEvent = { event: event || 'message', data: data.join('\n') };
      if (id !== undefined) ev.last_event_id = id;
      out.push(ev);
    }
    event = '';
    data = [];
    hasData = false;
  };
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (const line of body.split(/\r\n|\r|\n/)) {
    if (line === '') {
      dispatch();
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') {
      data.push(value);
      hasData = true;
    } else if (field === 'id' && !value.includes('\0')) id = value;
  }
  dispatch();
  return out;
}

/** First `"<key>": "<string>"` value found in (possibly truncated) JSON text: a best-effort salvage, or null. */
export function salvageString(text: string, key: string): string | null {
  const m = new RegExp(`"${key}"\\s*:\\s*"((?:[^"\\\\]|\\\\.)*)"`).exec(text);
  if (!m) return null;
  const r = parseJson(`"${m[1]}"`);
  return r.ok && typeof r.value === 'string' && r.value ? r.value : null;
}
