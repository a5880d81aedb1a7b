/**
 * HTTP/1.1 message heads (RFC 9112 §2–§5): start-line recognition (also on partial input, to resync and to reject
 * non-HTTP streams early) and header-block parsing.
 */
import type { HeaderList } from '@agentsight/contracts';

/** Verdict on the first bytes of a would-be message: plausible so far (`maybe`), surely not (`no`), or HTTP/2. */
export type StartVerdict = 'maybe' | 'no' | 'h2';

/** Longest start line accepted (bytes); a longer first line is not treated as HTTP. */
export const MAX_START_LINE = 16 * 1024;

/**
 * Most header fields one message's head (or trailer section, or HTTP/2 header list) may have (a count; 256). The byte
 * size is capped separately (`maxHeaderBytes`). A head with more fields is still parsed for its framing, then the
 * message is skipped with a `too_large` dead letter so the rest of the connection stays in sync.
 */
export const MAX_HEADER_FIELDS = 256;

const H2_PREFACE = 'PRI * HTTP/2.0';
const STATUS_PREFIX = 'HTTP/1.';

/**
 * Checks whether `bytes` (the first `n` bytes of a message, at most one line) can begin a request line
 * (`request` = true) or a status line. Requests: an upper-case method token of 1–20 characters followed by SP
 * (`PRI * HTTP/2.0`, the HTTP/2 connection preface, yields `h2`). Responses: `HTTP/1.` then a digit and SP.
 * The full line is validated later by {@link parseHead}.
 */
export function startVerdict(at: (i: number) => number, n: number, request: boolean): StartVerdict {
  if (request) {
    for (let i = 0; i < n; i++) {
      const c = at(i);
      if (c === 0x20) {
        if (i === 0) return 'no';
        break;
      }
      const methodChar = (c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x5f;
      if (!methodChar || i >= 20) return 'no';
    }
    if (n >= H2_PREFACE.length) {
      let k = 0;
      while (k < H2_PREFACE.length && at(k) === H2_PREFACE.charCodeAt(k)) k++;
      if (k === H2_PREFACE.length) return 'h2';
    }
    return 'maybe';
  }
  const m = Math.min(n, STATUS_PREFIX.length + 2);
  for (let i = 0; i < m; i++) {
    const c = at(i);
    if (i < STATUS_PREFIX.length) {
      if (c !== STATUS_PREFIX.charCodeAt(i)) return 'no';
    } else if (i === STATUS_PREFIX.length) {
      if (c < 0x30 || c > 0x39) return 'no';
    } else if (c !== 0x20) return 'no';
  }
  return 'maybe';
}

/** A parsed head. `kind` tells which start line it had. */
export type ParsedHead =
  | { kind: 'request'; method: string; target: string; version: string; headers: HeaderList }
  | { kind: 'response'; version: string; status: number; reason: string; headers: HeaderList };

/** A head that is not valid HTTP/1.x: `not_http` when the start line is wrong, else a header-field error. */
export class HeadError extends Error {
  constructor(
    message: string,
    readonly reason: 'not_http' | 'http_parse_error' | 'unsupported_protocol',
  ) {
    super(message);
  }
}

const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP\/\d\.\d)$/;
const STATUS_LINE = /^(HTTP\/1\.[01]) (\d{3})(?: (.*))?$/;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const utf8Fatal = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/**
 * Parses a complete head (start line + header fields, including the terminating empty line). Lines may end with
 * CRLF or a bare LF (RFC 9112 §2.2 leniency); obsolete line folding is replaced by a space (§5.2). Field values are
 * decoded as UTF-8 when valid, else byte-per-char (Latin-1). Throws {@link HeadError}.
 */
export function parseHead(bytes: Uint8Array, request: boolean): ParsedHead {
  let text: string;
  try {
    text = utf8Fatal.decode(bytes);
  } catch {
    text = latin1.decode(bytes);
  }
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) if (lines[i].endsWith('\r')) lines[i] = lines[i].slice(0, -1);
  // The block ends with an empty line, which split() turns into two trailing empty strings.
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const start = lines[0] ?? '';
  const headers: HeaderList = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.length > 0 && (line[0] === ' ' || line[0] === '\t')) {
      if (headers.length === 0) throw new HeadError('header block starts with a folded line', 'http_parse_error');
      const last = headers[headers.length - 1];
      last[1] = `${last[1]} ${line.trim()}`.trim();
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HeadError(`malformed header line ${JSON.stringify(line.slice(0, 80))}`, 'http_parse_error');
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw new HeadError(`invalid header name ${JSON.stringify(name.slice(0, 80))}`, 'http_parse_error');
    headers.push([name, line.slice(colon + 1).trim()]);
  }
  if (request) {
    if (start === H2_PREFACE) throw new HeadError('HTTP/2 connection preface', 'unsupported_protocol');
    const m = REQUEST_LINE.exec(start);
    if (!m) throw new HeadError(`not an HTTP request line: ${JSON.stringify(start.slice(0, 80))}`, 'not_http');
    if (m[3] !== 'HTTP/1.1' && m[3] !== 'HTTP/1.0') throw new HeadError(`unsupported version ${m[3]}`, 'unsupported_protocol');
    return { kind: 'request', method: m[1], target: m[2], version: m[3], headers };
  }
  const m = STATUS_LINE.exec(start);
  if (!m) throw new HeadError(`not an HTTP status line: ${JSON.stringify(start.slice(0, 80))}`, 'not_http');
  return { kind: 'response', version: m[1], status: Number(m[2]), reason: m[3] ?? '', headers };
}

/** All values of a header (case-insensitive name), comma-joined as RFC 9110 §5.3 allows; undefined when absent. */
export function joinedHeader(headers: HeaderList, name: string): string | undefined {
  const n = name.toLowerCase();
  let out: string | undefined;
  for (const [k, v] of headers) if (k.toLowerCase() === n) out = out === undefined ? v : `${out}, ${v}`;
  return out;
}

/**
 * Message body framing (RFC 9112 §6.3): `none`, `length` (Content-Length bytes), `chunked`, or `close` (response
 * read until the connection closes). Throws {@link HeadError} `http_parse_error` on an invalid Content-Length or a
 * request Transfer-Encoding that does not end in chunked.
 */
export type Framing = { type: 'none' } | { type: 'length'; length: number } | { type: 'chunked' } | { type: 'close' };

export function bodyFraming(head: ParsedHead, requestMethod: string | undefined): Framing {
  if (head.kind === 'response') {
    const s = head.status;
    if (requestMethod === 'HEAD' || (s >= 100 && s < 200) || s === 204 || s === 304) return { type: 'none' };
    if (requestMethod === 'CONNECT' && s >= 200 && s < 300) return { type: 'none' };
  }
  const te = joinedHeader(head.headers, 'transfer-encoding');
  if (te !== undefined) {
    const codings = te
      .split(',')
      .map((c) => c.trim().toLowerCase())
      .filter((c) => c !== '');
    if (codings[codings.length - 1] === 'chunked') return { type: 'chunked' };
    if (head.kind === 'request') throw new HeadError(`request Transfer-Encoding '${te}' does not end in chunked`, 'http_parse_error');
    return { type: 'close' };
  }
  const cl = joinedHeader(head.headers, 'content-length');
  if (cl !== undefined) {
    const values = new Set(cl.split(',').map((v) => v.trim()));
    if (values.size !== 1) throw new HeadError(`conflicting Content-Length '${cl}'`, 'http_parse_error');
    const v = [...values][0];
    if (!/^\d{1,15}$/.test(v)) throw new HeadError(`invalid Content-Length '${cl}'`, 'http_parse_error');
    const length = Number(v);
    return length === 0 ? { type: 'none' } : { type: 'length', length };
  }
  return head.kind === 'request' ? { type: 'none' } : { type: 'close' };
}
