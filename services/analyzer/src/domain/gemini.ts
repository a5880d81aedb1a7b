/**
 * Google Gemini `generateContent` / `streamGenerateContent` (Gemini API `generativelanguage.googleapis.com`, Vertex AI
 * `aiplatform.googleapis.com`, Code Assist `…/v1internal:…` whose chunks wrap the response in `{response: …}`).
 * Streamed as SSE (`?alt=sse`, one `GenerateContentResponse` per `data:`) or as one JSON array of chunks (no `alt`).
 *
 * API reference: https://ai.google.dev/api/generate-content ; usage mapping per OTel GenAI semconv v1.41
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/): `promptTokenCount` already includes
 * `cachedContentTokenCount`, so it maps to `gen_ai.usage.input_tokens` unchanged; `candidatesTokenCount` excludes
 * `thoughtsTokenCount`: `analyzeExchange` adds the thoughts to the output count (`reasoning.ts`), as semconv asks.
 */
import type { GenAiPart, ToolCall, Usage } from '@agentsight/contracts';
import { decodeSegment, defineApi, pushText } from './api-adapter';
import { arr, num, obj, str, type JsonObject } from './json';
import { emptyExtraction, type Extraction, type ResponseJson } from './extraction';
import { mediaPart, role, text } from './history';
import type { NormMessage } from './messages';

/**
 * Maps a Gemini `usageMetadata` to OTel meanings (token counts): input = `promptTokenCount` (includes cached),
 * output = `candidatesTokenCount` (provider-raw: reasoning not yet added, see `withReasoningInOutput`), cache_read = `cachedContentTokenCount`, reasoning = `thoughtsTokenCount`,
 * cache_creation = null (Gemini reports none).
 */
export function geminiUsage(u: JsonObject | undefined): Usage {
  return {
    input_tokens: num(u?.promptTokenCount),
    output_tokens: num(u?.candidatesTokenCount),
    cache_read_input_tokens: num(u?.cachedContentTokenCount),
    cache_creation_input_tokens: null,
    reasoning_output_tokens: num(u?.thoughtsTokenCount),
  };
}

/**
 * The error type of a Google error document (`{error: {code, message, status}}`, also as a one-element array) for
 * rule F: `error.status` (e.g. `INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`), else `error.code` as text; null if none.
 */
export function googleErrorType(doc: unknown): string | null {
  const o = obj(Array.isArray(doc) ? doc[0] : doc);
  const e = obj(o?.error);
  if (!e) return null;
  return str(e.status) ?? (num(e.code) !== null ? String(e.code) : null) ?? 'error';
}

/** A `jsonPath` of streamed function-call arguments (`$.a.b`, `$.a[0]`, `$['a b']`) → keys, or null if unreadable. */
function parseJsonPath(path: string): Array<string | number> | null {
  if (!path.startsWith('$')) return null;
  const keys: Array<string | number> = [];
  const re = /\.([^.[\]]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]/y;
  re.lastIndex = 1;
  while (re.lastIndex < path.length) {
    const m = re.exec(path);
    if (!m) return null;
    keys.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : (m[3] ?? m[4])));
  }
  return keys;
}

/** Sets `value` at `keys` inside `root`, creating objects/arrays on the way; returns the (possibly new) root. */
function setPath(root: unknown, keys: Array<string | number>, value: (prev: unknown) => unknown): unknown {
  if (keys.length === 0) return value(root);
  const [k, ...rest] = keys;
  if (typeof k === 'number') {
    const list: unknown[] = Array.isArray(root) ? root : [];
    list[k] = setPath(list[k], rest, value);
    return list;
  }
  const o = obj(root) ?? {};
  o[k] = setPath(o[k], rest, value);
  return o;
}

interface PendingCall {
  id: string | null;
  name: string;
  args: unknown;
  /** jsonPaths whose last string value said `willContinue` (the next string value appends). */
  continuing: Set<string>;
}

/**
 * Assembles `functionCall` parts in order (rule D). A part with complete `args` (and no `willContinue`) is one call.
 * With *streamFunctionCallArguments*, `{name, willContinue: true}` opens a call, parts with
 * `partialArgs[{jsonPath, stringValue|numberValue|boolValue|nullValue, willContinue}]` set values at `jsonPath` (string
 * values for the same path concatenate while the previous one said `willContinue`), and a `functionCall` without
 * `willContinue` (often `{}`) closes it.
 */
class FunctionCalls {
  readonly calls: ToolCall[] = [];
  private pending: PendingCall | null = null;

  add(fc: JsonObject): void {
    const name = str(fc.name);
    const partial = arr(fc.partialArgs);
    const willContinue = fc.willContinue === true;
    if (name && !willContinue && partial.length === 0) {
      // A complete call (the usual, non-streamed form); no `args` means a call without arguments.
      this.close();
      this.calls.push({ id: str(fc.id), name, arguments: JSON.stringify(fc.args ?? {}) });
      return;
    }
    if (name) {
      this.close();
      this.pending = { id: str(fc.id), name, args: fc.args ?? {}, continuing: new Set() };
    }
    if (partial.length && !this.pending) this.pending = { id: str(fc.id), name: '', args: {}, continuing: new Set() };
    for (const rp of partial) this.applyPartial(obj(rp));
    if (!willContinue) this.close();
  }

  private applyPartial(pa: JsonObject | undefined): void {
    const p = this.pending;
    if (!pa || !p) return;
    const path = str(pa.jsonPath) ?? '$';
    const keys = parseJsonPath(path);
    if (!keys) return;
    let value: (prev: unknown) => unknown;
    if (typeof pa.stringValue === 'string') {
      const s = pa.stringValue;
      const append = p.continuing.has(path);
      value = (prev) => (append && typeof prev === 'string' ? prev + s : s);
    } else if ('numberValue' in pa) value = () => pa.numberValue;
    else if ('boolValue' in pa) value = () => pa.boolValue;
    else if ('nullValue' in pa) value = () => null;
    else value = (prev) => prev;
    p.args = setPath(p.args, keys, value);
    if (pa.willContinue === true) p.continuing.add(path);
    else p.continuing.delete(path);
  }

  /** Ends the open call, if any. */
  close(): void {
    const p = this.pending;
    if (!p) return;
    this.calls.push({ id: p.id, name: p.name, arguments: JSON.stringify(p.args ?? {}) });
    this.pending = null;
  }
}

/** The `GenerateContentResponse` of a chunk (Code Assist wraps it as `{response: …}`). */
function unwrap(doc: unknown): JsonObject | undefined {
  const o = obj(doc);
  if (o && o.candidates === undefined && o.usageMetadata === undefined && obj(o.response)) return obj(o.response);
  return o;
}

/**
 * Extracts a generateContent / streamGenerateContent call (rule D of the corpus README): id/model = first
 * `responseId`/`modelVersion`; usage = the last `usageMetadata` that carries a count ({@link geminiUsage});
 * finish = last `candidates[0].finishReason`; tool calls = `functionCall` parts of candidate 0 in order (see
 * {@link FunctionCalls}; arguments as JSON text, id = `functionCall.id` when given); text = `parts[].text` of
 * candidate 0 where `thought` is not true. A Google error document (body or chunk) sets `error_type` (rule F).
 */
export function extractGemini(res: ResponseJson): Extraction {
  const x = emptyExtraction();
  const docs: unknown[] = res.events ? res.events.map((e) => e.json) : Array.isArray(res.body) ? res.body : res.body === undefined ? [] : [res.body];
  let usage: JsonObject | undefined;
  const calls = new FunctionCalls();
  for (const raw of docs) {
    const err = googleErrorType(raw);
    if (err) {
      x.error_type = err;
      continue;
    }
    const d = unwrap(raw);
    if (!d) continue;
    x.response_id ??= str(d.responseId);
    x.response_model ??= str(d.modelVersion);
    const u = obj(d.usageMetadata);
    if (u && Object.values(u).some((v) => typeof v === 'number')) usage = u;
    const cands = arr(d.candidates).map((c) => obj(c));
    const c0 = cands.find((c) => (num(c?.index) ?? 0) === 0);
    if (!c0) continue;
    const fr = str(c0.finishReason);
    if (fr) x.finish_reasons = [fr];
    for (const rp of arr(obj(c0.content)?.parts)) {
      const p = obj(rp);
      if (!p) continue;
      if (typeof p.text === 'string' && p.thought !== true) x.output_text += p.text;
      const fc = obj(p.functionCall);
      if (fc) calls.add(fc);
    }
  }
  calls.close();
  x.tool_calls = calls.calls;
  x.usage = geminiUsage(usage);
  x.raw_usage = usage ?? null;
  return x;
}

/** Gemini `contents` → messages (`model` → assistant; `functionResponse` parts keep their name in `_name`). */
function geminiContents(contents: unknown[]): NormMessage[] {
  const out: NormMessage[] = [];
  contents.forEach((raw, index) => {
    const c = obj(raw);
    if (!c) return;
    out.push({ role: role(c.role), parts: geminiParts(arr(c.parts)), index });
  });
  return out;
}

/** Gemini `parts` → semconv parts (`functionCall`, `functionResponse` with `_name`, `thought` text as reasoning, media). */
export function geminiParts(parts: unknown[]): GenAiPart[] {
  const out: GenAiPart[] = [];
  for (const raw of parts) {
    const p = obj(raw);
    if (!p) continue;
    const fc = obj(p.functionCall);
    const fr = obj(p.functionResponse);
    if (fc) out.push({ type: 'tool_call', id: str(fc.id), name: str(fc.name) ?? '', arguments: fc.args ?? {} });
    else if (fr) out.push({ type: 'tool_call_response', id: str(fr.id), response: fr.response ?? null, _name: str(fr.name) ?? '' });
    else if (typeof p.text === 'string') out.push(p.thought === true ? { type: 'reasoning', content: p.text } : text(p.text));
    else {
      const m = mediaPart(p);
      if (m) out.push(m);
    }
  }
  return out;
}


/**
 * Gemini `generateContent` / `streamGenerateContent`: `…:generateContent`, `…:streamGenerateContent` (Gemini API
 * `/v1beta/models/<m>:…`, Vertex AI `/v1/projects/<p>/locations/<l>/publishers/google/models/<m>:…`, Code Assist
 * `/v1internal:…`); off-path, a `candidates` document with `modelVersion` or `usageMetadata`. The model may come from
 * the path (`models/<m>:…`, also `tunedModels/<m>`); `candidatesTokenCount` leaves thoughts out (`reasoning.ts`);
 * function calls are keyed by turn (`tools.ts`).
 */
export const geminiApi = defineApi({
  api: 'generate_content',
  provider: 'gcp.gemini',
  operation: 'generate_content',
  matchesPath: (p) => /:(stream)?[gG]enerate[cC]ontent$/.test(p),
  matchesResponse: (d) => Array.isArray(d.candidates) && (str(d.modelVersion) !== null || obj(d.usageMetadata) !== undefined),
  modelFromPath: (p) => {
    const m = /(?:^|\/)(?:models|tunedModels)\/([^/:]+):[A-Za-z]+$/.exec(p);
    return m ? decodeSegment(m[1]) : null;
  },
  streamingPath: (p) => /:stream[gG]enerate[cC]ontent$/.test(p),
  extract: (res) => extractGemini(res),
  history: (req) => {
    const list = arr(req.contents);
    return { list, messages: geminiContents(list) };
  },
  reasoning: (d, out) => {
    for (const p of arr(obj(obj(arr(d.candidates)[0])?.content)?.parts)) {
      const o = obj(p);
      if (o?.thought === true) pushText(out, o.text);
    }
  },
  reasoningApart: true,
  toolKeysByTurn: true,
});
