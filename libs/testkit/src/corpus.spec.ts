import * as fs from 'fs';
import * as path from 'path';
import * as yaml from 'js-yaml';
import * as zlib from 'zlib';
import {
  corpusDir, EXAMPLE_AGENT_FIXTURES, EXAMPLE_AGENT_ROUTES, fixtureBytes, groundTruth, groundTruthFor, loadFixture,
  parseFixtureRef, replayableEntries, splitSseEvents,
} from './index';

/** Every OpenAI-style chat completion and Anthropic Messages call that is an HTTP recording (not the raw eBPF capture). */
const chatAndMessages = () => replayableEntries(['chat.completions', 'messages']);

const decoded = (f: ReturnType<typeof loadFixture>) =>
  f.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(fixtureBytes(f)) : fixtureBytes(f);

describe('corpus', () => {
  it('finds the corpus next to the repo and its ground truth', () => {
    expect(fs.existsSync(path.join(corpusDir(), 'README.md'))).toBe(true);
    const gt = groundTruth();
    expect(gt.length).toBe(54);
    expect(groundTruthFor('ddtrace__completion_stream_with_tools.yaml').tool_calls[0].name).toBe('get_current_weather');
    expect(() => groundTruthFor('nope.txt')).toThrow();
  });

  it('honours AGENTSIGHT_CORPUS_DIR', () => {
    const old = process.env.AGENTSIGHT_CORPUS_DIR;
    process.env.AGENTSIGHT_CORPUS_DIR = '/nonexistent/corpus';
    try {
      expect(corpusDir()).toBe('/nonexistent/corpus');
    } finally {
      if (old === undefined) delete process.env.AGENTSIGHT_CORPUS_DIR; else process.env.AGENTSIGHT_CORPUS_DIR = old;
    }
  });

  it('covers at least 25 chat/messages fixtures', () => {
    expect(chatAndMessages().length).toBeGreaterThanOrEqual(25);
  });

  it.each(chatAndMessages().map((e) => [e.file, e]))('%s: loads with the ground-truth id/model/status', (_f, e) => {
    const f = loadFixture(e.file, e.call ?? 0);
    expect(f.api).toBe(e.api);
    expect(f.streaming).toBe(e.streaming);
    const text = decoded(f).toString('utf8');
    if (e.response_id) expect(text).toContain(e.response_id);
    if (e.model) expect(text).toContain(e.model);
    const errStatus = /^error:(\d+):/.exec(e.finish_reason ?? '');
    expect(f.status).toBe(errStatus ? Number(errStatus[1]) : 200);
    for (const k of Object.keys(f.headers)) expect(['content-length', 'transfer-encoding', 'connection']).not.toContain(k);
    if (f.streaming) {
      expect(String(f.headers['content-type'])).toContain('text/event-stream');
      expect(f.body.length).toBeGreaterThan(1);
      // every chunk is one complete SSE event ending with a blank line
      for (const c of f.body) expect(c.toString('utf8')).toMatch(/\n\n$/);
      if (e.api === 'chat.completions') expect(f.body[f.body.length - 1].toString()).toBe('data: [DONE]\n\n');
      if (e.api === 'messages') expect(f.body[0].toString()).toMatch(/^event: message_start\n/);
    }
  });

  it('wraps vercel chunk lines as data: events (+event: for Anthropic, +[DONE] for chat)', () => {
    const raw = fs.readFileSync(path.join(corpusDir(), 'vercel__anthropic-text.chunks.txt'), 'utf8').split('\n').filter(Boolean);
    const a = loadFixture('vercel__anthropic-text.chunks.txt');
    expect(a.body.length).toBe(raw.length);
    expect(a.body[0].toString()).toBe(`event: message_start\ndata: ${raw[0]}\n\n`);
    const lines = fs.readFileSync(path.join(corpusDir(), 'vercel__openai-text.chunks.txt'), 'utf8').split('\n').filter(Boolean);
    const o = loadFixture('vercel__openai-text.chunks.txt');
    expect(o.body.length).toBe(lines.length + 1);
    expect(o.body[5].toString()).toBe(`data: ${lines[5]}\n\n`);
    expect(o.path).toBe('/v1/chat/completions');
  });

  it('replays ddtrace SSE bodies verbatim, split into events', () => {
    const file = 'ddtrace__anthropic_completion_tools_stream.yaml';
    const doc = yaml.load(fs.readFileSync(path.join(corpusDir(), file), 'utf8')) as { interactions: { response: { body: { string: string } } }[] };
    const f = loadFixture(file);
    expect(fixtureBytes(f).toString('utf8')).toBe(doc.interactions[0].response.body.string);
    expect(f.body.length).toBe(doc.interactions[0].response.body.string.split('\n\n').filter(Boolean).length);
    expect(f.path).toBe('/v1/messages');
    expect((f.requestBody as { model: string }).model).toBeTruthy();
    expect(f.headers['request-id']).toBe('req_01F4fQHNfXCamN28rZTrZqaN');
  });

  it('keeps !!binary gzip bodies as the original bytes with Content-Encoding: gzip', () => {
    const f = loadFixture('ddtrace__anthropic_completion_cache_read.yaml');
    expect(f.headers['content-encoding']).toBe('gzip');
    expect(f.body).toHaveLength(1);
    expect(f.body[0].subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(JSON.parse(zlib.gunzipSync(f.body[0]).toString()).id).toBe('msg_01YUFu6WCB8ZHZBNCMemdJ2B');
  });

  it('corrects the httpx-flavoured cassette (decoded text, false gzip header, json content type)', () => {
    const f = loadFixture('ddtrace__chat_completion_tool_call_streamed.yaml');
    expect(f.headers['content-encoding']).toBeUndefined();
    expect(f.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(fixtureBytes(f).toString().startsWith('data: {"id":"chatcmpl-A6jf5xUGAkKbqbBWuBy8GDvZW7q0J"')).toBe(true);
  });

  it('selects interactions of multi-call cassettes by index', () => {
    const a = loadFixture('ddtrace__agent_run_async.yaml', 0);
    const b = loadFixture('ddtrace__agent_run_async.yaml', 1);
    expect(fixtureBytes(a).toString()).toContain('68LIaOibB4my1MkP8sn7-Ak');
    expect(fixtureBytes(b).toString()).toContain('7cLIaKiXDbSt1MkPq6TyyAo');
    expect(() => loadFixture('ddtrace__agent_run_async.yaml', 5)).toThrow(/no interaction #5/);
  });

  it('rejects the raw eBPF capture and unknown files', () => {
    expect(() => loadFixture('agentsight__claude-code-raw.jsonl')).toThrow(/raw eBPF capture/);
    expect(() => loadFixture('does-not-exist.chunks.txt')).toThrow();
  });

  it('splits SSE text losslessly and parses fixture refs', () => {
    const s = 'data: a\n\ndata: b\r\n\r\nevent: x\ndata: c\n\ntail';
    const parts = splitSseEvents(s);
    expect(parts.map(String)).toEqual(['data: a\n\n', 'data: b\r\n\r\n', 'event: x\ndata: c\n\n', 'tail']);
    expect(parseFixtureRef('x.yaml#2')).toEqual({ file: 'x.yaml', index: 2 });
    expect(parseFixtureRef('y.chunks.txt')).toEqual({ file: 'y.chunks.txt', index: 0 });
  });

  it('exports example-agent fixtures that are a tool-call stream then a text stream', () => {
    expect(EXAMPLE_AGENT_ROUTES['/v1/chat/completions']).toEqual([...EXAMPLE_AGENT_FIXTURES]);
    const [tool, text] = EXAMPLE_AGENT_FIXTURES.map((f) => groundTruthFor(f));
    expect(tool).toMatchObject({ api: 'chat.completions', streaming: true, finish_reason: 'tool_calls' });
    expect(tool.tool_calls.map((t) => t.name)).toEqual(['get_current_weather']);
    expect(text).toMatchObject({ api: 'chat.completions', streaming: true, finish_reason: 'stop', tool_calls: [] });
  });
});
