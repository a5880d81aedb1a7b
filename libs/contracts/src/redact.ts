/**
 * Secret redaction, applied before anything is stored or exported (ClickHouse rows, exports, logs of payloads).
 *
 * Everything found is replaced by {@link REDACTED} (`[REDACTED]`); the text around it, and words that say what
 * kind of secret it was (`Bearer `, `"api_key": `, `?key=`), are kept so the data stays readable.
 *
 * Text scanning uses ONE combined regular expression (one pass over the input, alternatives anchored on
 * distinctive literals), so MiB bodies cost a few ms. Built-in rules (see {@link redactText}) can be extended
 * with {@link setRedactionPatterns}.
 *
 * Limits: this is pattern based. A secret with no recognisable shape or name (e.g. a bare random string in a
 * field called `value`) is not found; binary (non-UTF-8) data is never changed.
 */
import { isUtf8 } from 'node:buffer';
import type { HeaderList } from './http';

/** The replacement text of every redacted secret. */
export const REDACTED = '[REDACTED]';

/** Case-insensitive source for a literal word (JS in node 20 has no inline `(?i:)` groups). */
function ci(word: string): string {
  return word.replace(/[a-z]/gi, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`).replace(/-/g, '[-_]?');
}

/** Header names whose whole value is secret (compared lower-case). */
const SECRET_HEADERS = new Set([
  'authorization', 'proxy-authorization', 'x-api-key', 'api-key', 'x-goog-api-key', 'cookie', 'set-cookie',
]);
/** Header names containing these are secret too (`x-auth-token`, `x-amz-security-token`, `x-client-secret` …).
 * `tokens` (plural) is not: rate-limit headers such as `x-ratelimit-remaining-tokens` carry counts. */
const SECRET_HEADER_PART = /token(?!s)|secret|api[-_]?key|password|credential/i;
/** Authorization schemes kept in front of the redacted credentials. */
const AUTH_SCHEME = /^([A-Za-z][A-Za-z0-9-]*)(\s+)\S/;
const KNOWN_SCHEMES = new Set(['bearer', 'basic', 'digest', 'token', 'negotiate', 'ntlm', 'aws4-hmac-sha256', 'hoba', 'mutual', 'apikey', 'key', 'otoken']);

/** Names of JSON fields / query parameters / CLI flags whose (string) values are secrets. */
const SECRET_NAME = `(?:${['api-key', 'apikey', 'authorization', 'password', 'passwd', 'secret', 'token', 'credential', 'private-key', 'access-key', 'session-key'].map(ci).join('|')})`;

interface Rule {
  /** Regex source; may have capture groups (but no named groups or backreferences by number). */
  source: string;
  /** Builds the replacement from the match and the rule's own capture groups. */
  replace: (match: string, groups: Array<string | undefined>) => string;
}

const keepFirst = (_m: string, g: Array<string | undefined>) => (g[0] ?? '') + REDACTED;
const keepFirstAndLast = (_m: string, g: Array<string | undefined>) => (g[0] ?? '') + REDACTED + (g[g.length - 1] ?? '');

/**
 * Built-in rules. Each alternative starts with a distinctive literal so the combined regex rejects most
 * positions after one character comparison.
 */
const BUILTIN_RULES: Rule[] = [
  // Anthropic (sk-ant-api03-…, sk-ant-admin01-…) and OpenAI (sk-…, sk-proj-…, sk-svcacct-…, sk-admin-…) keys.
  // `\b` + 20 key characters keeps `task-list`, `sk-learn`, `skeleton` untouched.
  { source: '\\bsk-[A-Za-z0-9_-]{20,}', replace: () => REDACTED },
  // Google API keys.
  { source: '\\bAIza[0-9A-Za-z_-]{35}', replace: () => REDACTED },
  // AWS access key ids (long-term AKIA, temporary ASIA).
  { source: '\\b(?:AKIA|ASIA)[0-9A-Z]{16}\\b', replace: () => REDACTED },
  // GitHub tokens, Slack tokens, Hugging Face tokens (common in agent environments).
  { source: '\\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abposr]-[A-Za-z0-9-]{10,}|hf_[A-Za-z0-9]{30,})', replace: () => REDACTED },
  // JSON Web Tokens.
  { source: '\\beyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}', replace: () => REDACTED },
  // `Bearer <token>` anywhere (raw HTTP text, curl command lines, logs). The token must contain a digit or be
  // 24+ characters long, so prose such as "bearer authentication" is left alone.
  {
    source: `(\\b${ci('bearer')}\\s+)(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{8,}|(\\b${ci('bearer')}\\s+)[A-Za-z0-9._~+/=-]{24,}`,
    replace: (_m, g) => (g[0] ?? g[1] ?? '') + REDACTED,
  },
  // Header lines of secret headers: raw HTTP text (`x-api-key: …` at a line start: the rest of the line is the
  // value) and mid-line after a space or quote (`curl -H "x-api-key: …"`: the value ends at a quote, the text after
  // it is scanned again).
  {
    source: `(^|[\\s"'\`])((?:${['authorization', 'proxy-authorization', 'x-api-key', 'api-key', 'x-goog-api-key', 'cookie', 'set-cookie'].map(ci).join('|')})[ \\t]*:[ \\t]*)(?![ \\t]*\\[REDACTED\\])([^\\r\\n]*)`,
    replace: (_m, g) => {
      const [pre = '', name = '', value = ''] = g;
      if (pre === '' || pre === '\n' || pre === '\r') return pre + name + redactHeaderValue(value);
      const cut = value.search(/["'`]/);
      if (cut < 0) return pre + name + redactHeaderValue(value);
      return pre + name + redactHeaderValue(value.slice(0, cut)) + redactText(value.slice(cut));
    },
  },
  // JSON fields named like a secret with a string value: "api_key": "…", "apiKey":"…", "Authorization": "…".
  // Names ending in `s` (`max_tokens`, `input_tokens`) are counts, not secrets.
  {
    source: `("[A-Za-z0-9_.-]*${SECRET_NAME}[A-Za-z0-9_.-]*(?<![sS])"\\s*:\\s*")(?:[^"\\\\]|\\\\.)+(")`,
    replace: keepFirstAndLast,
  },
  // The same inside a JSON string that holds JSON (tool-call `arguments`): \"api_key\": \"…\".
  {
    source: `(\\\\"[A-Za-z0-9_.-]*${SECRET_NAME}[A-Za-z0-9_.-]*(?<![sS])\\\\"\\s*:\\s*\\\\")(?:[^"\\\\]|\\\\[^"])+(\\\\")`,
    replace: keepFirstAndLast,
  },
  // Environment assignments: OPENAI_API_KEY=…, GITHUB_TOKEN=…, AWS_SECRET_ACCESS_KEY=… (shell commands, argv).
  {
    source: '(\\b[A-Z0-9_]*(?:API_?KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY)[A-Z0-9_]*(?<!S)=)(?!\\[REDACTED\\])([^\\s"\'&;]+)',
    replace: keepFirst,
  },
  // Query parameters: ?key=…, &api_key=…, &access_token=…, &sig=… (URLs in targets, bodies, logs).
  {
    source: `([?&;](?:${ci('key')}|${ci('sig')}|${ci('signature')}|[A-Za-z0-9_.-]*${SECRET_NAME}[A-Za-z0-9_.-]*(?<![sS]))=)(?!\\[REDACTED\\])([^&#\\s"'<>]+)`,
    replace: keepFirst,
  },
  // Credentials in URLs: scheme://user:password@host.
  { source: '(\\b[A-Za-z][A-Za-z0-9+.-]*://[^/\\s:@"\'<>]+:)([^/\\s@"\'<>]+)(@)', replace: keepFirstAndLast },
  // Command-line flags: --api-key=…, --password=… (the spaced form `--token X` is handled by redactArgv).
  { source: `(--?[A-Za-z0-9_-]*${SECRET_NAME}[A-Za-z0-9_-]*(?<![sS])=)(?!\\[REDACTED\\])([^\\s"']+)`, replace: keepFirst },
  // PEM private keys.
  {
    source: '(-----BEGIN [A-Z ]*PRIVATE KEY-----)[\\s\\S]*?(-----END [A-Z ]*PRIVATE KEY-----)',
    replace: (_m, g) => `${g[0]}${REDACTED}${g[1]}`,
  },
];

interface Compiled {
  re: RegExp;
  /** For each rule: index (in the exec result) of its outer group, and how many inner groups it has. */
  slots: Array<{ rule: Rule; outer: number; inner: number }>;
}

function countGroups(source: string): number {
  return new RegExp(`${source}|`).exec('')!.length - 1;
}

function compile(rules: Rule[], flags: string): Compiled | null {
  if (rules.length === 0) return null;
  const slots: Compiled['slots'] = [];
  let next = 1;
  const parts = rules.map((rule) => {
    const inner = countGroups(rule.source);
    slots.push({ rule, outer: next, inner });
    next += 1 + inner;
    return `(${rule.source})`;
  });
  return { re: new RegExp(parts.join('|'), flags), slots };
}

function fromRegExp(re: RegExp): Rule {
  // An extra pattern's first capture group, if any, is a prefix to keep (same convention as the built-ins).
  const groups = countGroups(re.source);
  return { source: re.source, replace: groups > 0 ? keepFirst : () => REDACTED };
}

let compiled: Compiled[] = [compile(BUILTIN_RULES, 'gm')!];

/**
 * Adds patterns to the built-in ones (replacing previously added extras; `[]` restores the defaults).
 * A match is replaced by `[REDACTED]`; if the pattern has capture groups, the text of group 1 is kept in front
 * (e.g. `/(X-Internal-Auth: )\S+/`). Flags other than `i` are ignored (matching is always global and
 * multi-line); patterns with `i` run in a second combined pass. Patterns must not use numbered backreferences.
 */
export function setRedactionPatterns(extra: RegExp[]): void {
  const sensitive = extra.filter((r) => !r.flags.includes('i')).map(fromRegExp);
  const insensitive = extra.filter((r) => r.flags.includes('i')).map(fromRegExp);
  const first = compile([...BUILTIN_RULES, ...sensitive], 'gm')!;
  const second = compile(insensitive, 'gim');
  compiled = second ? [first, second] : [first];
}

function runPass(s: string, c: Compiled): string {
  c.re.lastIndex = 0;
  return s.replace(c.re, (...args: unknown[]) => {
    const match = args[0] as string;
    for (const slot of c.slots) {
      if (args[slot.outer] !== undefined) {
        return slot.rule.replace(match, args.slice(slot.outer + 1, slot.outer + 1 + slot.inner) as Array<string | undefined>);
      }
    }
    return match;
  });
}

/**
 * Redacts key-shaped strings anywhere in `s`: OpenAI `sk-…` (incl. `sk-proj-…`), Anthropic `sk-ant-…`, Google
 * `AIza…`, AWS access key ids `AKIA…`/`ASIA…`, GitHub/Slack/Hugging Face tokens, `Bearer <token>`/`Basic …`,
 * HTTP header lines of secret headers, JSON fields whose name contains api_key/apiKey/authorization/password/
 * secret/token/credential (string values only; names ending in `s` such as `max_tokens` are not secret),
 * `key=`/`api_key=`/`token=`/`sig=` query parameters, `user:password@` in URLs, `--api-key=…` flags and PEM
 * private keys. Returns `s` itself when nothing matched. Idempotent.
 */
export function redactText(s: string): string {
  let out = s;
  for (const c of compiled) out = runPass(out, c);
  return out;
}

/** Redacts a whole secret header value, keeping an authorization scheme word: `Bearer sk-…` → `Bearer [REDACTED]`. */
function redactHeaderValue(value: string): string {
  if (value === '' || value === REDACTED) return value;
  const m = AUTH_SCHEME.exec(value);
  if (m && KNOWN_SCHEMES.has(m[1]!.toLowerCase())) return `${m[1]}${m[2]}${REDACTED}`;
  return REDACTED;
}

/** True for header names whose value is a secret (case-insensitive). */
export function isSecretHeader(name: string): boolean {
  const n = name.toLowerCase();
  return SECRET_HEADERS.has(n) || SECRET_HEADER_PART.test(n);
}

/**
 * Returns a copy of `h` where secret headers (Authorization, Proxy-Authorization, x-api-key, api-key,
 * x-goog-api-key, Cookie, Set-Cookie, and any name containing `token`/`secret`/`api-key`/`password`/`credential`)
 * have the value `[REDACTED]` (keeping a scheme word: `Bearer [REDACTED]`), and every other value goes through
 * {@link redactText} (a key pasted into a custom header, a `Referer` with `?key=`). Order and names are kept.
 */
export function redactHeaders(h: HeaderList): HeaderList {
  return h.map(([name, value]) => [name, isSecretHeader(name) ? redactHeaderValue(value) : redactText(value)]);
}

/**
 * Redacts a request-target or URL: query parameters such as `key=`/`api_key=`/`token=`, `user:password@`, and
 * key-shaped strings in the path (e.g. `/bot<token>/`-style keys of known shapes).
 */
export function redactUrl(target: string): string {
  return redactText(target);
}

/**
 * Redacts bytes that are valid UTF-8 text with {@link redactText}; binary (invalid UTF-8) input is returned
 * untouched. Returns the SAME array when nothing changed (no copy), so unchanged bodies stay byte-identical.
 */
export function redactBytes(b: Uint8Array): Uint8Array {
  if (b.length === 0) return b;
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (!isUtf8(buf)) return b;
  const text = buf.toString('utf8');
  const red = redactText(text);
  return red === text ? b : new Uint8Array(Buffer.from(red, 'utf8'));
}

/** Flags whose NEXT argv element is a secret (`--api-key sk-…`, `-p hunter2` is not recognised). */
const SECRET_FLAG = new RegExp(`^--?[A-Za-z0-9_-]*${SECRET_NAME}[A-Za-z0-9_-]*$`);

/**
 * Redacts a process argv: each element through {@link redactText}, and the element after a flag named like a
 * secret (`--api-key X`, `--token X`, `--password X`) becomes `[REDACTED]`.
 */
export function redactArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (i > 0 && SECRET_FLAG.test(argv[i - 1]!) && !/s$/i.test(argv[i - 1]!) && !a.startsWith('-')) out.push(REDACTED);
    else out.push(redactText(a));
  }
  return out;
}

/**
 * Deep-redacts a JSON-like value: strings through {@link redactText}, and string values of object keys named like
 * a secret (see {@link redactText}) become `[REDACTED]`. Returns new objects/arrays; other values as they are.
 */
export function redactValue<T>(value: T): T {
  return redactAny(value, false) as T;
}

const SECRET_KEY = new RegExp(`^[A-Za-z0-9_.-]*${SECRET_NAME}[A-Za-z0-9_.-]*$`);

function redactAny(v: unknown, secretKey: boolean): unknown {
  if (typeof v === 'string') return secretKey && v !== '' ? REDACTED : redactText(v);
  if (Array.isArray(v)) return v.map((x) => redactAny(x, secretKey));
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      out[k] = redactAny(x, SECRET_KEY.test(k) && !/s$/i.test(k));
    }
    return out;
  }
  return v;
}
