/**
 * Secret redaction, applied before anything is stored or exported (ClickHouse rows, exports, logs of payloads).
 *
 * Everything found is replaced by {@link REDACTED} (`[REDACTED]`); the text around it, and words that say what
 * kind of secret it was (`Bearer `, `"api_key": `, `?key=`), are kept so the data stays readable.
 *
 * Text scanning uses ONE combined regular expression (one pass over the input, alternatives anchored on
 * distinctive literals), so MiB bodies cost a few ms. Built-in rules (see {@link redactText}) can be extended
 * with {@link setRedactionPatterns}, and by users with a JSON file named by `AGENTSIGHT_REDACT_PATTERNS` (see
 * {@link RedactionConfig}: extra secret headers, extra patterns, built-ins turned off by name), loaded once per
 * process on first use or at service start ({@link loadRedactionConfig}); every redaction function below uses the
 * merged set.
 *
 * Limits: this is pattern based. A secret with no recognisable shape or name (e.g. a bare random string in a
 * field called `value`) is not found; binary (non-UTF-8) data is never changed.
 */
import { isUtf8 } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { flagOn } from './export';
import type { HeaderList, HttpEvent } from './http';
import type { RawProcSubjectRecord } from './raw';

/** The replacement text of every redacted secret. */
export const REDACTED = '[REDACTED]';

/** Case-insensitive source for a literal word (JS in node 20 has no inline `(?i:)` groups). */
function ci(word: string): string {
  return word.replace(/[a-z]/gi, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`).replace(/-/g, '[-_]?');
}

/** Built-in header names whose whole value is secret (lower-case; each can be turned off by name in `disable`). */
export const BUILTIN_SECRET_HEADERS: readonly string[] = [
  'authorization', 'proxy-authorization', 'x-api-key', 'api-key', 'x-goog-api-key', 'cookie', 'set-cookie',
];
/** Header names containing these are secret too (`x-auth-token`, `x-amz-security-token`, `x-client-secret` …).
 * `tokens` (plural) is not: rate-limit headers such as `x-ratelimit-remaining-tokens` carry counts.
 * Built-in rule {@link SECRET_HEADER_WORDS}. */
const SECRET_HEADER_PART = /token(?!s)|secret|api[-_]?key|password|credential/i;
/** Name (for `disable`) of the rule "a header whose name contains token/secret/api-key/password/credential is secret". */
export const SECRET_HEADER_WORDS = 'secret-header-words';
/** Authorization schemes kept in front of the redacted credentials. */
const AUTH_SCHEME = /^([A-Za-z][A-Za-z0-9-]*)(\s+)\S/;
const KNOWN_SCHEMES = new Set(['bearer', 'basic', 'digest', 'token', 'negotiate', 'ntlm', 'aws4-hmac-sha256', 'hoba', 'mutual', 'apikey', 'key', 'otoken']);

/** Names of JSON fields / query parameters / CLI flags whose (string) values are secrets. */
const SECRET_NAME = `(?:${['api-key', 'apikey', 'authorization', 'password', 'passwd', 'secret', 'token', 'credential', 'private-key', 'access-key', 'session-key'].map(ci).join('|')})`;

interface Rule {
  /** Name (built-ins: see {@link BUILTIN_REDACTION_PATTERNS}; user patterns: their `name`). */
  name: string;
  /** Regex source; may have capture groups (but no named groups or backreferences by number). */
  source: string;
  /** Builds the replacement from the match and the rule's own capture groups. */
  replace: (match: string, groups: Array<string | undefined>) => string;
}

const keepFirst = (_m: string, g: Array<string | undefined>) => (g[0] ?? '') + REDACTED;
const keepFirstAndLast = (_m: string, g: Array<string | undefined>) => (g[0] ?? '') + REDACTED + (g[g.length - 1] ?? '');

/** Name of the built-in rule that redacts `Name: value` lines of secret headers inside text (raw HTTP, curl -H). */
const HEADER_LINE = 'secret-header-line';

/**
 * Built-in rules. Each alternative starts with a distinctive literal so the combined regex rejects most
 * positions after one character comparison.
 */
const BUILTIN_RULES: Rule[] = [
  // Anthropic (sk-ant-api03-…, sk-ant-admin01-…) and OpenAI (sk-…, sk-proj-…, sk-svcacct-…, sk-admin-…) keys.
  // `\b` + 20 key characters keeps `task-list`, `sk-learn`, `skeleton` untouched.
  { name: 'openai-anthropic-key', source: '\\bsk-[A-Za-z0-9_-]{20,}', replace: () => REDACTED },
  // Google API keys.
  { name: 'google-api-key', source: '\\bAIza[0-9A-Za-z_-]{35}', replace: () => REDACTED },
  // AWS access key ids (long-term AKIA, temporary ASIA).
  { name: 'aws-access-key-id', source: '\\b(?:AKIA|ASIA)[0-9A-Z]{16}\\b', replace: () => REDACTED },
  // GitHub tokens, Slack tokens, Hugging Face tokens (common in agent environments).
  { name: 'vendor-tokens', source: '\\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abposr]-[A-Za-z0-9-]{10,}|hf_[A-Za-z0-9]{30,})', replace: () => REDACTED },
  // JSON Web Tokens.
  { name: 'jwt', source: '\\beyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}', replace: () => REDACTED },
  // `Bearer <token>` anywhere (raw HTTP text, curl command lines, logs). The token must contain a digit or be
  // 24+ characters long, so prose such as "bearer authentication" is left alone.
  {
    name: 'bearer-token',
    source: `(\\b${ci('bearer')}\\s+)(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{8,}|(\\b${ci('bearer')}\\s+)[A-Za-z0-9._~+/=-]{24,}`,
    replace: (_m, g) => (g[0] ?? g[1] ?? '') + REDACTED,
  },
  // Header lines of secret headers (built-in and user `headers`): see headerLineRule.
  headerLineRule(BUILTIN_SECRET_HEADERS),
  // JSON fields named like a secret with a string value: "api_key": "…", "apiKey":"…", "Authorization": "…".
  // Names ending in `s` (`max_tokens`, `input_tokens`) are counts, not secrets.
  {
    name: 'json-secret-field',
    source: `("[A-Za-z0-9_.-]*${SECRET_NAME}[A-Za-z0-9_.-]*(?<![sS])"\\s*:\\s*")(?:[^"\\\\]|\\\\.)+(")`,
    replace: keepFirstAndLast,
  },
  // The same inside a JSON string that holds JSON (tool-call `arguments`): \"api_key\": \"…\".
  {
    name: 'json-escaped-secret-field',
    source: `(\\\\"[A-Za-z0-9_.-]*${SECRET_NAME}[A-Za-z0-9_.-]*(?<![sS])\\\\"\\s*:\\s*\\\\")(?:[^"\\\\]|\\\\[^"])+(\\\\")`,
    replace: keepFirstAndLast,
  },
  // Environment assignments: OPENAI_API_KEY=…, GITHUB_TOKEN=…, AWS_SECRET_ACCESS_KEY=… (shell commands, argv).
  {
    name: 'env-assignment',
    source: '(\\b[A-Z0-9_]*(?:API_?KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|ACCESS_KEY)[A-Z0-9_]*(?<!S)=)(?!\\[REDACTED\\])([^\\s"\'&;]+)',
    replace: keepFirst,
  },
  // Query parameters: ?key=…, &api_key=…, &access_token=…, &sig=… (URLs in targets, bodies, logs).
  {
    name: 'query-parameter',
    source: `([?&;](?:${ci('key')}|${ci('sig')}|${ci('signature')}|[A-Za-z0-9_.-]*${SECRET_NAME}[A-Za-z0-9_.-]*(?<![sS]))=)(?!\\[REDACTED\\])([^&#\\s"'<>]+)`,
    replace: keepFirst,
  },
  // Credentials in URLs: scheme://user:password@host.
  { name: 'url-credentials', source: '(\\b[A-Za-z][A-Za-z0-9+.-]*://[^/\\s:@"\'<>]+:)([^/\\s@"\'<>]+)(@)', replace: keepFirstAndLast },
  // Command-line flags: --api-key=…, --password=… (the spaced form `--token X` is handled by redactArgv).
  { name: 'cli-flag', source: `(--?[A-Za-z0-9_-]*${SECRET_NAME}[A-Za-z0-9_-]*(?<![sS])=)(?!\\[REDACTED\\])([^\\s"']+)`, replace: keepFirst },
  // PEM private keys.
  {
    name: 'pem-private-key',
    source: '(-----BEGIN [A-Z ]*PRIVATE KEY-----)[\\s\\S]*?(-----END [A-Z ]*PRIVATE KEY-----)',
    replace: (_m, g) => `${g[0]}${REDACTED}${g[1]}`,
  },
];

/** A header name as a case-insensitive regex source (`-` also matches `_` or nothing, like {@link ci}). */
function headerNameSource(name: string): string {
  return Array.from(name).map((c) => (/[a-z]/i.test(c) ? `[${c.toLowerCase()}${c.toUpperCase()}]` : c === '-' ? '[-_]?' : c.replace(/[.*+?^${}()|[\]\\\/]/g, '\\$&'))).join('');
}

/**
 * Header lines of secret headers: raw HTTP text (`x-api-key: …` at a line start: the rest of the line is the value)
 * and mid-line after a space or quote (`curl -H "x-api-key: …"`: the value ends at a quote, the text after it is
 * scanned again).
 */
function headerLineRule(names: readonly string[]): Rule {
  return {
    name: HEADER_LINE,
    source: `(^|[\\s"'\`])((?:${names.map(headerNameSource).join('|')})[ \\t]*:[ \\t]*)(?![ \\t]*\\[REDACTED\\])([^\\r\\n]*)`,
    replace: (_m, g) => {
      const [pre = '', name = '', value = ''] = g;
      if (pre === '' || pre === '\n' || pre === '\r') return pre + name + redactHeaderValue(value);
      const cut = value.search(/["'`]/);
      if (cut < 0) return pre + name + redactHeaderValue(value);
      return pre + name + redactHeaderValue(value.slice(0, cut)) + redactText(value.slice(cut));
    },
  };
}

/** Names of the built-in text patterns, in matching order (each can be turned off by name in `disable`). */
export const BUILTIN_REDACTION_PATTERNS: readonly string[] = BUILTIN_RULES.map((r) => r.name);

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

function fromRegExp(re: RegExp, name = re.source): Rule {
  // An extra pattern's first capture group, if any, is a prefix to keep (same convention as the built-ins).
  const groups = countGroups(re.source);
  return { name, source: re.source, replace: groups > 0 ? keepFirst : () => REDACTED };
}

/**
 * User redaction settings: the JSON file named by `AGENTSIGHT_REDACT_PATTERNS`, e.g.
 * `{ "headers": ["x-internal-auth"], "patterns": [{ "name": "acme-token", "regex": "acme_[A-Za-z0-9]{24}", "flags": "i" }],
 *    "disable": ["jwt", "cookie"] }`. Every field is optional.
 */
export interface RedactionConfig {
  /** Extra header names whose whole value is secret (case-insensitive), in header lists and in `Name: value` text lines. */
  headers?: string[];
  /**
   * Extra text patterns (JavaScript regular expression source), applied everywhere text is redacted (bodies, header
   * values, URLs and query strings, argv, stored attributes). A match becomes `[REDACTED]`; when the regex has
   * capture groups, the text of group 1 is kept in front (`"(X-Internal: )\\S+"`). `flags`: `""` or `"i"` (matching is
   * always global and multi-line). No numbered backreferences; must not match the empty string. Names must be unique
   * and differ from the built-in names.
   */
  patterns?: Array<{ name: string; regex: string; flags?: string }>;
  /**
   * Built-ins to turn off, by name: a pattern of {@link BUILTIN_REDACTION_PATTERNS}, a header of
   * {@link BUILTIN_SECRET_HEADERS}, or {@link SECRET_HEADER_WORDS}. An unknown name is an error.
   */
  disable?: string[];
}

/** A redaction config that cannot be used (unreadable file, invalid JSON, wrong shape, bad regex, unknown name). */
export class RedactionConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedactionConfigError';
  }
}

/** Environment variable naming the user's redaction config file. */
export const REDACT_PATTERNS_ENV = 'AGENTSIGHT_REDACT_PATTERNS';

const HEADER_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Checks a parsed config (`source` names it in messages) and returns it normalised (header names lower-case).
 * Throws {@link RedactionConfigError} naming the first problem.
 */
export function parseRedactionConfig(value: unknown, source = 'redaction config'): RedactionConfig {
  const fail = (msg: string): never => {
    throw new RedactionConfigError(`${source}: ${msg} (expected { "headers": [names], "patterns": [{ "name", "regex", "flags"? }], "disable": [names] })`);
  };
  if (!value || typeof value !== 'object' || Array.isArray(value)) fail('not a JSON object');
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) if (!['headers', 'patterns', 'disable'].includes(k)) fail(`unknown field "${k}"`);
  const strings = (field: string): string[] => {
    const x = v[field];
    if (x === undefined) return [];
    if (!Array.isArray(x) || x.some((e) => typeof e !== 'string' || e === '')) fail(`"${field}" must be an array of non-empty strings`);
    return x as string[];
  };
  const headers = strings('headers').map((h) => h.toLowerCase());
  for (const h of headers) if (!HEADER_TOKEN.test(h)) fail(`header "${h}" is not a valid HTTP header name`);
  const builtins = new Set([...BUILTIN_REDACTION_PATTERNS, ...BUILTIN_SECRET_HEADERS, SECRET_HEADER_WORDS]);
  const disable = strings('disable');
  for (const d of disable) if (!builtins.has(d.toLowerCase()) && !builtins.has(d)) fail(`"disable": unknown built-in "${d}" (known: ${[...builtins].join(', ')})`);
  const raw = v.patterns === undefined ? [] : v.patterns;
  if (!Array.isArray(raw)) fail('"patterns" must be an array');
  const seen = new Set<string>();
  const patterns = (raw as unknown[]).map((p, i) => {
    const o = p as Record<string, unknown>;
    if (!o || typeof o !== 'object' || typeof o.name !== 'string' || o.name === '' || typeof o.regex !== 'string' || o.regex === '') {
      fail(`patterns[${i}] needs a non-empty "name" and "regex"`);
    }
    const name = o.name as string;
    const where = `pattern "${name}"`;
    if (seen.has(name) || builtins.has(name)) fail(`${where}: name already used`);
    seen.add(name);
    const flags = o.flags === undefined ? '' : o.flags;
    if (typeof flags !== 'string' || !/^i?$/.test(flags)) fail(`${where}: "flags" may only be "" or "i"`);
    let re: RegExp;
    try {
      re = new RegExp(o.regex as string, flags as string);
    } catch (e) {
      return fail(`${where}: invalid regex: ${(e as Error).message}`);
    }
    if (/\\[1-9]/.test(re.source)) fail(`${where}: numbered backreferences are not supported`);
    if (re.test('')) fail(`${where}: matches the empty string`);
    return { name, regex: o.regex as string, ...(flags ? { flags: flags as string } : {}) };
  });
  return { headers, patterns, disable };
}

/** The merged rule set in use: compiled passes and the secret header names. */
interface ActiveRules {
  compiled: Compiled[];
  headers: Set<string>;
  headerWords: boolean;
  patterns: string[];
}

/** Extras set with {@link setRedactionPatterns} (programmatic). */
let extraPatterns: RegExp[] = [];
/** User config: undefined = not loaded yet (loaded from the environment on first use), null = none. */
let userConfig: RedactionConfig | null | undefined;
let active: ActiveRules | undefined;

function build(config: RedactionConfig | null, extra: RegExp[]): ActiveRules {
  const off = new Set((config?.disable ?? []).map((d) => d.toLowerCase()));
  const headers = [...BUILTIN_SECRET_HEADERS.filter((h) => !off.has(h)), ...(config?.headers ?? [])];
  const builtins = BUILTIN_RULES.filter((r) => !off.has(r.name)).map((r) => (r.name === HEADER_LINE ? (headers.length ? headerLineRule(headers) : null) : r))
    .filter((r): r is Rule => r !== null);
  // User patterns (config, then setRedactionPatterns extras); those with the `i` flag run in a second pass.
  const user: Array<{ rule: Rule; ci: boolean }> = [
    ...(config?.patterns ?? []).map((p) => ({ rule: fromRegExp(new RegExp(p.regex, p.flags ?? ''), p.name), ci: p.flags === 'i' })),
    ...extra.map((r) => ({ rule: fromRegExp(r), ci: r.flags.includes('i') })),
  ];
  const first = compile([...builtins, ...user.filter((u) => !u.ci).map((u) => u.rule)], 'gm');
  const second = compile(user.filter((u) => u.ci).map((u) => u.rule), 'gim');
  return {
    compiled: [first, second].filter((c): c is Compiled => c !== null),
    headers: new Set(headers),
    headerWords: !off.has(SECRET_HEADER_WORDS),
    patterns: [...builtins.map((r) => r.name), ...user.map((u) => u.rule.name)],
  };
}

function rules(): ActiveRules {
  if (!active) {
    if (userConfig === undefined) loadRedactionConfig();
    active = build(userConfig ?? null, extraPatterns);
  }
  return active;
}

/**
 * Loads the user's redaction config from the JSON file named by `AGENTSIGHT_REDACT_PATTERNS` (see
 * {@link RedactionConfig}) and makes every redaction function use it merged with the built-ins. Runs once per process
 * (later calls return the loaded config unless `opts.reload`; the first redaction calls it implicitly); services call
 * it at start so a bad file stops them with a clear message. Returns the config, or null when the variable is unset or empty.
 * Throws {@link RedactionConfigError} when the file cannot be read, is not JSON or is invalid.
 */
export function loadRedactionConfig(env: NodeJS.ProcessEnv = process.env, opts: { reload?: boolean } = {}): RedactionConfig | null {
  if (userConfig !== undefined && !opts.reload) return userConfig;
  const file = env[REDACT_PATTERNS_ENV]?.trim();
  if (!file) return configureRedaction(null);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new RedactionConfigError(`${REDACT_PATTERNS_ENV}=${file}: cannot read the file: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new RedactionConfigError(`${REDACT_PATTERNS_ENV}=${file}: not valid JSON: ${(e as Error).message}`);
  }
  return configureRedaction(parseRedactionConfig(json, `${REDACT_PATTERNS_ENV}=${file}`));
}

/**
 * Replaces the user config (validated with {@link parseRedactionConfig}; null = built-ins only) without reading the
 * environment, e.g. in tests. Returns the normalised config. Throws {@link RedactionConfigError} when invalid.
 */
export function configureRedaction(config: RedactionConfig | null): RedactionConfig | null {
  userConfig = config === null ? null : parseRedactionConfig(config);
  active = undefined;
  return userConfig;
}

/** Names of the text patterns in use (built-ins not disabled, then user patterns) and the secret header names. */
export function redactionRules(): { patterns: string[]; headers: string[]; header_words: boolean } {
  const r = rules();
  return { patterns: [...r.patterns], headers: [...r.headers], header_words: r.headerWords };
}

/**
 * Adds patterns to the built-in ones (replacing previously added extras; `[]` restores the defaults).
 * A match is replaced by `[REDACTED]`; if the pattern has capture groups, the text of group 1 is kept in front
 * (e.g. `/(X-Internal-Auth: )\S+/`). Flags other than `i` are ignored (matching is always global and
 * multi-line); patterns with `i` run in a second combined pass. Patterns must not use numbered backreferences.
 * They apply on top of the user config ({@link loadRedactionConfig}).
 */
export function setRedactionPatterns(extra: RegExp[]): void {
  extraPatterns = [...extra];
  active = undefined;
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
  for (const c of rules().compiled) out = runPass(out, c);
  return out;
}

/** Redacts a whole secret header value, keeping an authorization scheme word: `Bearer sk-…` → `Bearer [REDACTED]`. */
function redactHeaderValue(value: string): string {
  if (value === '' || value === REDACTED) return value;
  const m = AUTH_SCHEME.exec(value);
  if (m && KNOWN_SCHEMES.has(m[1]!.toLowerCase())) return `${m[1]}${m[2]}${REDACTED}`;
  return REDACTED;
}

/** True for header names whose value is a secret (case-insensitive): built-in and user `headers`, minus disabled ones. */
export function isSecretHeader(name: string): boolean {
  const n = name.toLowerCase();
  const r = rules();
  return r.headers.has(n) || (r.headerWords && SECRET_HEADER_PART.test(n));
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

/**
 * Redacts bytes that may mix text and binary (a dead letter's sample, an undecodable message): UTF-8 text goes through
 * {@link redactBytes}; anything else is read as Latin-1 (one character per byte), so ASCII-shaped secrets between
 * binary bytes (a header line before a gzip body, a key inside msgpack) are found by the same rules, and every byte
 * outside a match is kept as it was. Returns the SAME array when nothing changed.
 */
export function redactSample(b: Uint8Array): Uint8Array {
  if (b.length === 0) return b;
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (isUtf8(buf)) return redactBytes(b);
  const text = buf.toString('latin1');
  const red = redactText(text);
  return red === text ? b : new Uint8Array(Buffer.from(red, 'latin1'));
}

/**
 * Environment variable turning on early redaction: with `1`/`true`/`yes`/`on`, the stages redact what they derive
 * from raw records before publishing it (HTTP events in the parser, the process table and process/file/net audit in
 * the aggregator and analyzer, every dead letter), so no derived stream (HTTP, exchange, LLM, GenAI, tool, audit,
 * dead letters) carries a secret the rules of this module find. The raw stream (`AGENTSIGHT_RAW`) still holds the
 * bytes as captured.
 */
export const REDACT_AT_PARSER_ENV = 'AGENTSIGHT_REDACT_AT_PARSER';

/** True when {@link REDACT_AT_PARSER_ENV} is on in `env`. */
export function redactAtParserEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return flagOn(env[REDACT_AT_PARSER_ENV]);
}

/**
 * A copy of an HTTP event with its secrets redacted (early redaction, {@link REDACT_AT_PARSER_ENV}): headers
 * ({@link redactHeaders}), request-target ({@link redactUrl}), bodies ({@link redactBytes}: UTF-8 text only, as in
 * storage) and SSE fields ({@link redactText}). Ids, spans, offsets and sizes are unchanged (they describe the bytes as
 * captured), so redacted and unredacted runs pair and deduplicate alike. Returns `ev` itself for events without text.
 */
export function redactHttpEvent<E extends HttpEvent>(ev: E): E {
  return redactEvent(ev) as E;
}

function redactEvent(ev: HttpEvent): HttpEvent {
  switch (ev.type) {
    case 'request':
      return { ...ev, target: redactUrl(ev.target), headers: redactHeaders(ev.headers), body: redactBytes(ev.body) };
    case 'response_head':
      return { ...ev, headers: redactHeaders(ev.headers) };
    case 'response':
      return { ...ev, headers: redactHeaders(ev.headers), body: redactBytes(ev.body) };
    case 'sse_event': {
      const out = { ...ev, event: redactText(ev.event), data: redactText(ev.data) };
      if (ev.last_event_id !== undefined) out.last_event_id = redactText(ev.last_event_id);
      return out;
    }
    default:
      return ev;
  }
}

/**
 * A copy of a process-subject raw record with its text redacted (early redaction, {@link REDACT_AT_PARSER_ENV}):
 * exec argv ({@link redactArgv}) and file name, opened paths, connect addresses (unix socket paths) and TLS notice
 * texts ({@link redactText}). Numbers, ids and times unchanged.
 */
export function redactProcRecord<R extends RawProcSubjectRecord>(rec: R): R {
  return redactProc(rec) as R;
}

function redactProc(rec: RawProcSubjectRecord): RawProcSubjectRecord {
  switch (rec.kind) {
    case 'proc':
      return { ...rec, filename: redactText(rec.filename ?? ''), argv: redactArgv(rec.argv ?? []) };
    case 'file_open':
      return { ...rec, path: redactText(rec.path ?? '') };
    case 'net_connect':
      return { ...rec, address: redactText(rec.address ?? '') };
    case 'tls_notice':
      return { ...rec, binary: redactText(rec.binary ?? ''), reason: redactText(rec.reason ?? ''), server_name: redactText(rec.server_name ?? '') };
    default:
      return rec;
  }
}
