import { configureRedaction, GenAiAttr } from '@agentsight/contracts';
import { audit, deadLetter, exchange, genaiEvent, T0 } from '../test/fixtures';
import { auditRow, deadLetterRow, decodeBody, encodeBody, exchangeRow, llmCallRow, nsToDateTime64, sseText } from './rows';
import { timeToNs } from './repositories/read';
import { periodRange, periodStartMs, previousPeriodRange } from './repositories/token-usage';

describe('rows (pure)', () => {
  it('formats DateTime64(9) exactly', () => {
    expect(nsToDateTime64(T0)).toBe('2024-05-01 12:00:00.123456789');
    expect(nsToDateTime64(0n)).toBe('1970-01-01 00:00:00.000000000');
    expect(nsToDateTime64(1n)).toBe('1970-01-01 00:00:00.000000001');
  });

  it('maps a GenAI event', () => {
    const r = llmCallRow(genaiEvent());
    expect(r).toMatchObject({
      call_id: 'call-1', event_id: 'genai-1', start_time: '2024-05-01 12:00:00.123456789', end_time: '2024-05-01 12:00:01.357956789',
      duration_ms: 1234.5, provider: 'openai', request_model: 'gpt-4.1', finish_reasons: ['tool_calls'], input_tokens: 120,
      cache_creation_input_tokens: null, reasoning_output_tokens: null, http_status: 200, error_type: null,
    });
    expect(JSON.parse(r.tool_calls)[0]).toEqual({ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' });
    expect(JSON.parse(r.raw_usage)).toEqual({ prompt_tokens: 120, completion_tokens: 30, prompt_tokens_details: { cached_tokens: 100 } });
    // No cost in the event (unpriced, or written before costs existed) → null columns.
    expect(r).toMatchObject({ cost_usd: null, price_id: null });
    // No agentsight.usage.* attributes → provider-reported usage.
    expect(r).toMatchObject({ usage_source: 'reported', usage_tokenizer: null });
  });

  it('maps estimated usage (agentsight.usage.source / tokenizer attributes)', () => {
    const r = llmCallRow(genaiEvent({ attrs: { [GenAiAttr.usageSource]: 'estimated', [GenAiAttr.usageTokenizer]: 'qwen3' } }));
    expect(r).toMatchObject({ usage_source: 'estimated', usage_tokenizer: 'qwen3', input_tokens: 120 });
    expect(JSON.parse(r.attributes)[GenAiAttr.usageSource]).toBe('estimated');
    // A tokenizer without the estimated marker is ignored; an unknown source value reads as reported.
    expect(llmCallRow(genaiEvent({ attrs: { [GenAiAttr.usageTokenizer]: 'qwen3' } }))).toMatchObject({ usage_source: 'reported', usage_tokenizer: null });
    expect(llmCallRow(genaiEvent({ attrs: { [GenAiAttr.usageSource]: 'guessed' } }))).toMatchObject({ usage_source: 'reported', usage_tokenizer: null });
  });

  it('maps the cost of a priced event', () => {
    const breakdown = { input: 0.00004, cache_read: 0.00005, cache_write: 0, output: 0.00024, reasoning: 0 };
    expect(llmCallRow(genaiEvent({ cost_usd: 0.00033, cost: { breakdown, price_id: 'openai/gpt-4.1@2026-06-21' } }))).toMatchObject({ cost_usd: 0.00033, price_id: 'openai/gpt-4.1@2026-06-21' });
    expect(llmCallRow(genaiEvent({ cost_usd: null, cost: null }))).toMatchObject({ cost_usd: null, price_id: null });
    expect(llmCallRow(genaiEvent({ cost_usd: Number.NaN, cost: { breakdown, price_id: 'x' } }))).toMatchObject({ cost_usd: null, price_id: null });
  });

  it('rejects invalid input (for dead-lettering)', () => {
    expect(() => llmCallRow({ ...genaiEvent(), start_ns: 'soon' as never })).toThrow(/start_ns/);
    expect(() => exchangeRow({ ...exchange(), request: undefined as never })).toThrow(/without request/);
  });

  it('encodes bodies as utf8 or base64, byte-exact', () => {
    const text = new TextEncoder().encode('\uFEFFhé\u0000llo 😀');
    expect(encodeBody(text).encoding).toBe('utf8');
    expect(Buffer.from(decodeBody(encodeBody(text).body, 'utf8')).equals(Buffer.from(text))).toBe(true);
    const bin = new Uint8Array([0xff, 0x00, 0xc3, 0x28]);
    expect(encodeBody(bin)).toEqual({ body: Buffer.from(bin).toString('base64'), encoding: 'base64' });
  });

  it('re-serialises SSE events', () => {
    expect(sseText([{ event: 'message', data: '{"a":1}' }, { event: 'done', data: 'x\ny', last_event_id: '7' }]))
      .toBe('event: message\ndata: {"a":1}\n\nevent: done\nid: 7\ndata: x\ndata: y\n\n');
    const r = exchangeRow(exchange({}, {}, { streaming: true, body: new Uint8Array(), events: [{ event: 'message', data: '{"x":1}' }] }));
    expect(r.response_body).toBe('event: message\ndata: {"x":1}\n\n');
    expect(r.sse_events).toBe(1);
  });

  it('maps exchanges without response, audit records and dead letters', () => {
    const r = exchangeRow(exchange({}, {}, null));
    expect(r).toMatchObject({ has_response: false, status: null, response_body: '', end_time: '2024-05-01 12:00:00.124456789' });
    const a = auditRow(audit());
    expect(JSON.parse(a.details).duration_ns).toBe('12345678901234567890');
    const d = deadLetterRow(deadLetter());
    expect(Buffer.from(d.sample_base64, 'base64').toString()).toBe('GARBAGE / HTTP/1.1\r\n');
    expect(d.input_seq).toBe('77');
  });

  it('parses times', () => {
    const now = Date.UTC(2024, 0, 10, 12);
    expect(timeToNs('2h', now)).toBe(BigInt(now - 7_200_000) * 1_000_000n);
    expect(timeToNs('2024-01-01T00:00:00Z')).toBe(BigInt(Date.UTC(2024, 0, 1)) * 1_000_000n);
    expect(timeToNs(5n)).toBe(5n);
    expect(() => timeToNs('yesterday-ish')).toThrow(/not a time/);
    expect(periodStartMs('week', now)).toBe(now - 7 * 86_400_000);
    expect(periodRange('last_week', now)).toEqual({ start: now - 14 * 86_400_000, end: now - 7 * 86_400_000 });
    expect(periodRange('last_month', now)).toEqual({ start: now - 60 * 86_400_000, end: now - 30 * 86_400_000 });
    const noon = new Date(2024, 0, 10, 12).getTime();
    expect(periodRange('yesterday', noon)).toEqual({ start: new Date(2024, 0, 9).getTime(), end: new Date(2024, 0, 10).getTime() });
    expect(previousPeriodRange('today', noon)).toEqual({ start: new Date(2024, 0, 9).getTime(), end: new Date(2024, 0, 9, 12).getTime() });
    expect(previousPeriodRange('yesterday', noon)).toEqual({ start: new Date(2024, 0, 8).getTime(), end: new Date(2024, 0, 9).getTime() });
    expect(previousPeriodRange('week', now)).toEqual(periodRange('last_week', now));
    expect(previousPeriodRange('month', now)).toEqual(periodRange('last_month', now));
    expect(() => periodRange('fortnight' as never, now)).toThrow(/unknown period/);
  });

  it('storage rows use the user redaction config (AGENTSIGHT_REDACT_PATTERNS shape): headers, target, bodies, argv, call text', () => {
    const tok = 'acme_live_Q3k9Zt7Wb2Lm8Xp4Rv6Ny1Hc';
    configureRedaction({ headers: ['x-acme-session'], patterns: [{ name: 'acme-token', regex: 'acme_live_[A-Za-z0-9]{24}' }], disable: ['cookie'] });
    try {
      const r = exchangeRow(exchange(
        { process: { pid: 4242, ppid: 1, uid: 1000, comm: 'node', exe: '/usr/bin/node', argv: ['node', 'agent.js', tok], start_ns: T0 } },
        {
          target: `/v1/chat/completions?session=${tok}`,
          headers: [['Host', 'api.openai.com'], ['X-Acme-Session', 'opaque'], ['Cookie', 'theme=dark'], ['X-Trace', tok]],
          body: new TextEncoder().encode(`{"model":"gpt-4.1","messages":[{"role":"user","content":"${tok}"}]}`),
        },
      ));
      expect(r.target).toBe('/v1/chat/completions?session=[REDACTED]');
      expect(r.request_headers).toEqual([['Host', 'api.openai.com'], ['X-Acme-Session', '[REDACTED]'], ['Cookie', 'theme=dark'], ['X-Trace', '[REDACTED]']]);
      expect(r.request_body).toBe('{"model":"gpt-4.1","messages":[{"role":"user","content":"[REDACTED]"}]}');
      expect(r.process_argv).toEqual(['node', 'agent.js', '[REDACTED]']);
      const call = llmCallRow(genaiEvent({ output_text: `your token: ${tok}` }));
      expect(call.output_text).toBe('your token: [REDACTED]');
    } finally {
      configureRedaction(null);
    }
  });
});
