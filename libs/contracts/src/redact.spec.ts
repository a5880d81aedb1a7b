import {
  REDACTED,
  redactArgv,
  redactBytes,
  redactHeaders,
  redactText,
  redactUrl,
  redactValue,
  setRedactionPatterns,
  configureRedaction,
  loadRedactionConfig,
  RedactionConfigError,
  redactionRules,
  redactAtParserEnabled,
  redactHttpEvent,
  redactProcRecord,
  redactSample,
} from './redact';
import type { HttpEvent } from './http';
import type { RawProcRecord } from './raw';

// Realistic-looking (fake) keys.
const OPENAI = 'sk-proj-Xq3vN8bT2LmP9wRz4YkJ7hFd1sGa6CeU0oVi5nBtQy_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
const OPENAI_OLD = 'sk-9fJ2kL4mN6pQ8rS0tU2vW4xY6zA8bC0dE2fG4hI6jK8lM0nO';
const ANTHROPIC = 'sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe9Dc8Ba7Zy6Xw5Vu4Ts3Rq2Po1Nm0Lk9Ji8Hg7Fe6Dc5Ba4-AbCdEfAA';
const GOOGLE = 'AIzaSyD3x9Kf8Lm2Qp7Rt5Vw1Yz4Bc6Ne0Hj8Ga';
const AWS = 'AKIAIOSFODNN7EXAMPLE';
const TOKEN = 'a1b2c3d4e5f6g7h8i9j0k1l2';

const KEYS = [OPENAI, OPENAI_OLD, ANTHROPIC, GOOGLE, AWS];

function expectClean(s: string) {
  for (const k of [...KEYS, TOKEN, 'hunter2', 'p@ssw0rd!']) expect(s).not.toContain(k);
}

describe('redactHeaders', () => {
  it('redacts secret headers, keeping the scheme word and other headers', () => {
    const out = redactHeaders([
      ['Host', 'api.openai.com'],
      ['Authorization', `Bearer ${OPENAI}`],
      ['Proxy-Authorization', 'Basic dXNlcjpwYXNz'],
      ['x-api-key', ANTHROPIC],
      ['api-key', TOKEN],
      ['x-goog-api-key', GOOGLE],
      ['Cookie', `session=${TOKEN}; theme=dark`],
      ['Set-Cookie', `sid=${TOKEN}; Path=/; HttpOnly`],
      ['X-Auth-Token', TOKEN],
      ['x-client-secret', 'hunter2'],
      ['X-Custom', `key ${OPENAI_OLD} inside`],
      ['x-ratelimit-remaining-tokens', '39000'],
      ['anthropic-version', '2023-06-01'],
      ['Content-Type', 'application/json'],
    ]);
    expect(out).toEqual([
      ['Host', 'api.openai.com'],
      ['Authorization', `Bearer ${REDACTED}`],
      ['Proxy-Authorization', `Basic ${REDACTED}`],
      ['x-api-key', REDACTED],
      ['api-key', REDACTED],
      ['x-goog-api-key', REDACTED],
      ['Cookie', REDACTED],
      ['Set-Cookie', REDACTED],
      ['X-Auth-Token', REDACTED],
      ['x-client-secret', REDACTED],
      ['X-Custom', `key ${REDACTED} inside`],
      ['x-ratelimit-remaining-tokens', '39000'],
      ['anthropic-version', '2023-06-01'],
      ['Content-Type', 'application/json'],
    ]);
  });
});

describe('redactText', () => {
  it('redacts key shapes anywhere', () => {
    for (const k of KEYS) {
      const s = `using ${k}, then more`;
      expect(redactText(s)).toBe(`using ${REDACTED}, then more`);
    }
    expect(redactText(`curl -H "Authorization: Bearer ${TOKEN}" https://x`)).toBe(`curl -H "Authorization: Bearer ${REDACTED}" https://x`);
    expect(redactText(`curl -H "x-api-key: ${TOKEN}" -H 'Cookie: a=${TOKEN}' x`)).toBe(`curl -H "x-api-key: ${REDACTED}" -H 'Cookie: ${REDACTED}' x`);
    expect(redactText(`bad header x-api-key: ${TOKEN}`)).toBe(`bad header x-api-key: ${REDACTED}`);
    expect(redactText('jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U x'))
      .toBe(`jwt ${REDACTED} x`);
    expect(redactText(`export OPENAI_API_KEY=${TOKEN} && GITHUB_TOKEN=${TOKEN} run`))
      .toBe(`export OPENAI_API_KEY=${REDACTED} && GITHUB_TOKEN=${REDACTED} run`);
    expect(redactText('-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----'))
      .toBe(`-----BEGIN RSA PRIVATE KEY-----${REDACTED}-----END RSA PRIVATE KEY-----`);
  });

  it('redacts JSON fields named like secrets (string values only)', () => {
    const body = JSON.stringify({
      model: 'gpt-4.1',
      api_key: TOKEN,
      apiKey: 'hunter2',
      nested: { Authorization: `Bearer ${TOKEN}`, password: 'p@ssw0rd!', client_secret: 'hunter2', refresh_token: TOKEN },
      max_tokens: 1024,
      max_output_tokens: 50,
      messages: [{ role: 'user', content: `my key is ${ANTHROPIC}` }],
      tools: [{ type: 'function', function: { name: 'login', arguments: JSON.stringify({ user: 'bob', password: 'hunter2' }) } }],
    });
    const out = redactText(body);
    expectClean(out);
    const parsed = JSON.parse(out);
    expect(parsed.model).toBe('gpt-4.1');
    expect(parsed.api_key).toBe(REDACTED);
    expect(parsed.apiKey).toBe(REDACTED);
    expect(parsed.nested).toEqual({ Authorization: REDACTED, password: REDACTED, client_secret: REDACTED, refresh_token: REDACTED });
    expect(parsed.max_tokens).toBe(1024);
    expect(parsed.messages[0].content).toBe(`my key is ${REDACTED}`);
    expect(JSON.parse(parsed.tools[0].function.arguments)).toEqual({ user: 'bob', password: REDACTED });
    // Pretty-printed JSON too.
    const pretty = redactText(JSON.stringify({ token: TOKEN, n: 1 }, null, 2));
    expect(JSON.parse(pretty)).toEqual({ token: REDACTED, n: 1 });
  });

  it('redacts query parameters and URL credentials', () => {
    expect(redactUrl(`/v1beta/models/gemini-2.5-flash:generateContent?key=${GOOGLE}&alt=sse`))
      .toBe(`/v1beta/models/gemini-2.5-flash:generateContent?key=${REDACTED}&alt=sse`);
    expect(redactUrl(`/v1/x?alt=sse&api_key=${TOKEN}&access_token=${TOKEN}&max_tokens=5`))
      .toBe(`/v1/x?alt=sse&api_key=${REDACTED}&access_token=${REDACTED}&max_tokens=5`);
    expect(redactUrl('https://bob:hunter2@proxy.example.com:8080/path')).toBe(`https://bob:${REDACTED}@proxy.example.com:8080/path`);
    expect(redactUrl('/v1/chat/completions')).toBe('/v1/chat/completions');
  });

  it('redacts header lines in raw HTTP text', () => {
    const raw = `POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\nx-api-key: ${TOKEN}\r\nauthorization: Bearer ${TOKEN}\r\ncookie: a=${TOKEN}\r\n\r\n{}`;
    const out = redactText(raw);
    expectClean(out);
    expect(out).toBe(
      `POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\nx-api-key: ${REDACTED}\r\nauthorization: Bearer ${REDACTED}\r\ncookie: ${REDACTED}\r\n\r\n{}`,
    );
  });

  it('leaves normal text untouched (negative test)', () => {
    const normal = [
      'task-list skeleton risk-free desk-lamp sk-learn ask-me',
      'Use bearer authentication with basic auth; the bearer tokens expire.',
      '{"max_tokens": 100, "input_tokens": 5, "usage": {"output_tokens": 7}, "stop": ["\\n"], "token_count": 3}',
      'https://example.com/search?q=keyboard&monkey=1&keys=2',
      'AKIA is a prefix; AIza too; sk- alone; Bearer x',
      'The API key must be kept secret. password policy: 12 chars.',
      '/v1/chat/completions?api-version=2024-10-21',
    ];
    for (const s of normal) expect(redactText(s)).toBe(s);
  });

  it('is idempotent', () => {
    const s = `{"api_key":"${TOKEN}","x":"Bearer ${TOKEN}","u":"/a?key=${GOOGLE}"}`;
    const once = redactText(s);
    expect(redactText(once)).toBe(once);
  });
});

describe('redactBytes', () => {
  it('redacts UTF-8 text and returns the same array when nothing changed', () => {
    const enc = new TextEncoder();
    const body = enc.encode(`\uFEFF{"messages":[{"content":"héllo ${OPENAI}"}]}`);
    const out = redactBytes(body);
    expect(Buffer.from(out).toString('utf8')).toBe(`\uFEFF{"messages":[{"content":"héllo ${REDACTED}"}]}`);
    const clean = enc.encode('{"a":"héllo"}');
    expect(redactBytes(clean)).toBe(clean);
  });

  it('leaves binary (invalid UTF-8) untouched even if it contains a key', () => {
    const b = Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0xc3]), Buffer.from(OPENAI)]);
    const u = new Uint8Array(b);
    expect(redactBytes(u)).toBe(u);
  });

  it('is fast on MiB bodies (one combined pass)', () => {
    const chunk = JSON.stringify({ role: 'user', content: 'The quick brown fox jumps over the lazy dog. task-list "x": 1, ?a=b&c=d ' .repeat(20) });
    const big = `{"model":"gpt-4.1","messages":[${Array(Math.ceil((4 << 20) / chunk.length)).fill(chunk).join(',')}],"api_key":"${TOKEN}"}`;
    const bytes = Buffer.from(big);
    redactBytes(bytes.subarray(0, 100000)); // warm up
    const t0 = process.hrtime.bigint();
    const out = redactBytes(bytes);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    expect(Buffer.from(out).toString()).not.toContain(TOKEN);
    expect(out.length).toBe(bytes.length - TOKEN.length + REDACTED.length);
    // 4 MiB; typically ~40 ms. Generous bound for slow CI machines.
    expect(ms).toBeLessThan(1500);
  });
});

describe('redactArgv / redactValue', () => {
  it('redacts secret flags and values in argv', () => {
    expect(redactArgv(['node', 'agent.js', '--api-key', TOKEN, '--token=abc123', '--max-tokens', '100', `--header=Authorization: Bearer ${TOKEN}`]))
      .toEqual(['node', 'agent.js', '--api-key', REDACTED, `--token=${REDACTED}`, '--max-tokens', '100', `--header=Authorization: Bearer ${REDACTED}`]);
  });

  it('deep-redacts objects', () => {
    expect(redactValue({ a: { apiKey: 'hunter2', n: 1, list: [`x ${OPENAI}`] }, max_tokens: 'x' }))
      .toEqual({ a: { apiKey: REDACTED, n: 1, list: [`x ${REDACTED}`] }, max_tokens: 'x' });
  });
});

describe('setRedactionPatterns', () => {
  afterEach(() => setRedactionPatterns([]));
  it('adds patterns (group 1 kept as prefix; i flag honoured) and [] restores the defaults', () => {
    setRedactionPatterns([/(X-Internal: )\S+/, /corp-[0-9]{6}/i]);
    expect(redactText('X-Internal: abc CORP-123456 and sk-nope')).toBe(`X-Internal: ${REDACTED} ${REDACTED} and sk-nope`);
    expect(redactText(`k ${OPENAI}`)).toBe(`k ${REDACTED}`);
    setRedactionPatterns([]);
    expect(redactText('corp-123456')).toBe('corp-123456');
  });
});

describe('user redaction config (AGENTSIGHT_REDACT_PATTERNS)', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fs = require('node:fs') as typeof import('node:fs');
  const dir = fs.mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'agentsight-redact-'));
  const file = (name: string, text: string) => {
    const p = `${dir}/${name}`;
    fs.writeFileSync(p, text);
    return p;
  };
  const load = (path: string) => loadRedactionConfig({ AGENTSIGHT_REDACT_PATTERNS: path }, { reload: true });
  const ACME = 'acme_live_Q3k9Zt7Wb2Lm8Xp4Rv6Ny1Hc';
  afterEach(() => configureRedaction(null));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a user pattern redacts a custom token shape in headers, query strings and bodies; user headers are secret', () => {
    expect(redactText(`token ${ACME}`)).toBe(`token ${ACME}`); // not a built-in shape
    const cfg = load(file('ok.json', JSON.stringify({
      headers: ['X-Acme-Session'],
      patterns: [{ name: 'acme-token', regex: 'acme_(?:live|test)_[A-Za-z0-9]{24}' }, { name: 'corp-id', regex: 'CORP-[0-9]{6}', flags: 'i' }],
    })));
    expect(cfg).toEqual({ headers: ['x-acme-session'], patterns: [{ name: 'acme-token', regex: 'acme_(?:live|test)_[A-Za-z0-9]{24}' }, { name: 'corp-id', regex: 'CORP-[0-9]{6}', flags: 'i' }], disable: [] });
    expect(redactHeaders([['Referer', `https://app/x?t=${ACME}`], ['X-Acme-Session', 'opaque-value-42'], ['X-Trace', 'corp-123456'], ['Accept', 'text/plain']]))
      .toEqual([['Referer', `https://app/x?t=${REDACTED}`], ['X-Acme-Session', REDACTED], ['X-Trace', REDACTED], ['Accept', 'text/plain']]);
    expect(redactUrl(`/v1/chat/completions?session=${ACME}&alt=sse`)).toBe(`/v1/chat/completions?session=${REDACTED}&alt=sse`);
    const body = new TextEncoder().encode(JSON.stringify({ messages: [{ role: 'user', content: `use ${ACME} please` }] }));
    expect(new TextDecoder().decode(redactBytes(body))).toBe(JSON.stringify({ messages: [{ role: 'user', content: `use ${REDACTED} please` }] }));
    // The user header in raw text (curl -H) too, and the built-ins still apply.
    expect(redactText(`curl -H "X-Acme-Session: abc" ${OPENAI}`)).toBe(`curl -H "X-Acme-Session: ${REDACTED}" ${REDACTED}`);
    expect(redactionRules().patterns.slice(-2)).toEqual(['acme-token', 'corp-id']);
  });

  it('a disabled built-in no longer applies (pattern and header), the others still do', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
    expect(redactText(`jwt ${jwt}`)).toBe(`jwt ${REDACTED}`);
    load(file('off.json', JSON.stringify({ disable: ['jwt', 'cookie', 'secret-header-words'] })));
    expect(redactText(`jwt ${jwt}`)).toBe(`jwt ${jwt}`);
    expect(redactHeaders([['Cookie', 'session=abc'], ['X-Auth-Token', 'zzz'], ['Authorization', 'Bearer abc123def']]))
      .toEqual([['Cookie', 'session=abc'], ['X-Auth-Token', 'zzz'], ['Authorization', `Bearer ${REDACTED}`]]);
    expect(redactText('Cookie: a=1\r\nx-api-key: k1\r\n')).toBe(`Cookie: a=1\r\nx-api-key: ${REDACTED}\r\n`);
    expect(redactionRules().patterns).not.toContain('jwt');
    expect(redactText(`k ${OPENAI}`)).toBe(`k ${REDACTED}`);
  });

  it('a bad file is a clear error naming the file and the problem, never silently ignored', () => {
    const bad: Array<[string, string, RegExp]> = [
      ['json.json', '{"patterns": [', /not valid JSON/],
      ['shape.json', '{"patterns": {"name": "x"}}', /"patterns" must be an array/],
      ['regex.json', '{"patterns": [{"name": "broken", "regex": "acme_[A-Z"}]}', /pattern "broken": invalid regex/],
      ['flags.json', '{"patterns": [{"name": "g", "regex": "x+", "flags": "g"}]}', /pattern "g": "flags" may only be "" or "i"/],
      ['empty.json', '{"patterns": [{"name": "e", "regex": "x*"}]}', /pattern "e": matches the empty string/],
      ['disable.json', '{"disable": ["jwtt"]}', /"disable": unknown built-in "jwtt"/],
      ['field.json', '{"header": ["x"]}', /unknown field "header"/],
    ];
    for (const [name, text, msg] of bad) {
      const p = file(name, text);
      let err: unknown;
      try {
        load(p);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(RedactionConfigError);
      expect((err as Error).message).toContain(`AGENTSIGHT_REDACT_PATTERNS=${p}`);
      expect((err as Error).message).toMatch(msg);
    }
    expect(() => load(`${dir}/missing.json`)).toThrow(/AGENTSIGHT_REDACT_PATTERNS=.*missing\.json: cannot read the file/);
  });
});

describe('early redaction (AGENTSIGHT_REDACT_AT_PARSER)', () => {
  const base = {
    v: 1 as const, id: 'e1', conn: { key: 'k', host: 'h', boot_id: 'b', run: 1, pid: 2, tid: 2, uid: 0, comm: 'node', ssl: '0x1', partition: 0 },
    span: { dir: 'write' as const, start_offset: 0, end_offset: 10 }, start_ns: 1n, end_ns: 2n,
  };

  test('the flag', () => {
    expect(redactAtParserEnabled({})).toBe(false);
    expect(redactAtParserEnabled({ AGENTSIGHT_REDACT_AT_PARSER: '0' })).toBe(false);
    expect(redactAtParserEnabled({ AGENTSIGHT_REDACT_AT_PARSER: '1' })).toBe(true);
    expect(redactAtParserEnabled({ AGENTSIGHT_REDACT_AT_PARSER: 'true' })).toBe(true);
  });

  test('a request: headers, target and body; ids, spans and sizes kept', () => {
    const body = Buffer.from(JSON.stringify({ api_key: ANTHROPIC, messages: [{ role: 'user', content: `use ${OPENAI}` }] }));
    const ev: HttpEvent = {
      ...base, type: 'request', method: 'POST', target: `/v1/models?key=${GOOGLE}`, version: 'HTTP/1.1',
      headers: [['authorization', `Bearer ${TOKEN}`], ['x-api-key', ANTHROPIC], ['content-type', 'application/json']], body,
    };
    const out = redactHttpEvent(ev);
    const text = JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? Buffer.from(v).toString() : v));
    expectClean(text);
    expect(out.type === 'request' && out.headers).toEqual([['authorization', 'Bearer [REDACTED]'], ['x-api-key', '[REDACTED]'], ['content-type', 'application/json']]);
    expect(out.type === 'request' && JSON.parse(Buffer.from(out.body).toString())).toEqual({ api_key: REDACTED, messages: [{ role: 'user', content: `use ${REDACTED}` }] });
    expect({ id: out.id, span: out.span, conn: out.conn }).toEqual({ id: ev.id, span: ev.span, conn: ev.conn });
    expect(ev.type === 'request' && ev.headers[1][1]).toBe(ANTHROPIC); // the input is not changed
  });

  test('responses and SSE events; events without text are returned as they are', () => {
    const head = redactHttpEvent({ ...base, type: 'response_head', status: 200, reason: 'OK', version: 'HTTP/1.1', headers: [['set-cookie', `s=${TOKEN}`]], streaming: true });
    expect(head.type === 'response_head' && head.headers).toEqual([['set-cookie', REDACTED]]);
    const res = redactHttpEvent({ ...base, type: 'response', status: 200, reason: 'OK', version: 'HTTP/1.1', headers: [], body: Buffer.from(`{"text":"${GOOGLE}"}`) });
    expect(res.type === 'response' && Buffer.from(res.body).toString()).toBe(`{"text":"${REDACTED}"}`);
    const sse = redactHttpEvent({ ...base, type: 'sse_event', ordinal: 0, event: 'message', data: `{"delta":"${OPENAI}"}`, last_event_id: AWS });
    expect(sse.type === 'sse_event' && [sse.data, sse.last_event_id]).toEqual([`{"delta":"${REDACTED}"}`, REDACTED]);
    const end: HttpEvent = { ...base, type: 'response_end', events: 1, body_bytes: 30 };
    expect(redactHttpEvent(end)).toBe(end);
  });

  test('process records: argv (flag values too) and file name', () => {
    const rec = {
      v: 1, kind: 'proc', event: 'exec', host: 'h', boot_id: 'b', run: 1, seq: 1, ts_wall_ns: 1n, ts_boot_ns: 1n, pid: 3, ppid: 1, uid: 0, comm: 'sh',
      filename: '/bin/sh', argv: ['sh', '-c', `OPENAI_API_KEY=${OPENAI} node a.js`, '--token', TOKEN], argv_truncated: false, exit_code: 0, duration_ns: 0,
    } as unknown as RawProcRecord;
    const out = redactProcRecord(rec);
    expectClean(JSON.stringify(out.argv));
    expect(out.argv).toEqual(['sh', '-c', `OPENAI_API_KEY=${REDACTED} node a.js`, '--token', REDACTED]);
    expect(out.pid).toBe(3);
  });

  test('redactSample: secrets between binary bytes are found, every other byte is kept', () => {
    const bin = Buffer.from([0x00, 0xff, 0xfe, 0x80]);
    const raw = Buffer.concat([Buffer.from(`POST / HTTP/1.1\r\nx-api-key: ${ANTHROPIC}\r\n\r\n`), bin, Buffer.from(` ${GOOGLE} `), bin]);
    expect(redactBytes(raw)).toBe(raw); // not UTF-8: the text-only rule leaves it
    const out = Buffer.from(redactSample(raw));
    expectClean(out.toString('latin1'));
    expect(out).toEqual(Buffer.concat([Buffer.from(`POST / HTTP/1.1\r\nx-api-key: ${REDACTED}\r\n\r\n`), bin, Buffer.from(` ${REDACTED} `), bin]));
    const clean = Buffer.concat([bin, Buffer.from('nothing secret'), bin]);
    expect(redactSample(clean)).toBe(clean);
    expect(Buffer.from(redactSample(Buffer.from(`key ${OPENAI}`))).toString()).toBe(`key ${REDACTED}`);
  });
});
