import { MAX_JSON_DEPTH } from '@agentsight/contracts';
import { JsonRpcFramer, type FramerOutput, type JsonRpcFrame } from './jsonrpc';

type Meta = { rec: number };
const b = (s: string) => Buffer.from(s, 'utf8');

/** Feeds `chunks` as consecutive records (stream offsets from `start`) and collects everything. */
function feed(framer: JsonRpcFramer<Meta>, chunks: Uint8Array[], start = 0): FramerOutput<Meta> {
  const all: FramerOutput<Meta> = { frames: [], rejects: [] };
  let off = start;
  chunks.forEach((c, i) => {
    const out = framer.push(c, off, { rec: i });
    all.frames.push(...out.frames);
    all.rejects.push(...out.rejects);
    off += c.length;
  });
  return all;
}

const summary = (fs: JsonRpcFrame<Meta>[]) => fs.map((f) => ({ framing: f.framing, offset: f.offset, length: f.length, text: f.text }));

const req = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"héllo ✓"}}}';
const res = '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"héllo ✓"}]}}';
const note = '{"jsonrpc":"2.0","method":"notifications/initialized"}';
const cl = (json: string, type = false) => `Content-Length: ${Buffer.byteLength(json)}\r\n${type ? 'Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n' : ''}\r\n${json}`;

describe('JsonRpcFramer', () => {
  const ndjson = b(`${req}\n${note}\r\n${res}\n`);
  const ndjsonExpected = [
    { framing: 'ndjson', offset: 0, length: b(req).length + 1, text: req },
    { framing: 'ndjson', offset: b(req).length + 1, length: b(note).length + 2, text: note },
    { framing: 'ndjson', offset: b(req).length + b(note).length + 3, length: b(res).length + 1, text: res },
  ];

  it('frames newline-delimited JSON-RPC (MCP stdio) split across two reads at every byte boundary', () => {
    for (let cut = 0; cut <= ndjson.length; cut++) {
      const f = new JsonRpcFramer<Meta>();
      const out = feed(f, [ndjson.subarray(0, cut), ndjson.subarray(cut)]);
      expect(summary(out.frames)).toEqual(ndjsonExpected);
      expect(out.rejects).toEqual([]);
      expect(f.position()).toEqual({ offset: ndjson.length, inSkippedLine: false });
      expect(f.stats).toMatchObject({ frames: 3, skippedLines: 0, rejected: 0 });
    }
  });

  it('frames Content-Length (LSP-style) messages split across two reads at every byte boundary', () => {
    const stream = b(cl(req, true) + cl(res));
    const h1 = Buffer.byteLength(cl(req, true));
    for (let cut = 0; cut <= stream.length; cut++) {
      const f = new JsonRpcFramer<Meta>();
      const out = feed(f, [stream.subarray(0, cut), stream.subarray(cut)]);
      expect(summary(out.frames)).toEqual([
        { framing: 'content-length', offset: 0, length: h1, text: req },
        { framing: 'content-length', offset: h1, length: stream.length - h1, text: res },
      ]);
      expect(out.rejects).toEqual([]);
      expect(f.position().offset).toBe(stream.length);
    }
  });

  it('frames both framings mixed with program output fed one byte per read, and reports the carrying records', () => {
    const text = `starting server...\n${cl(req)}> ${'{"level":"info","msg":"not rpc"}'}\n{"level":"info"}\n${res}\nbye`;
    const bytes = b(text);
    const f = new JsonRpcFramer<Meta>();
    const out = feed(f, Array.from(bytes, (x) => Uint8Array.of(x)));
    expect(out.frames.map((x) => [x.framing, x.text])).toEqual([['content-length', req], ['ndjson', res]]);
    const first = out.frames[1];
    expect(first.first.rec).toBe(first.offset);
    expect(first.last.rec).toBe(first.offset + first.length - 1);
    expect(out.rejects).toEqual([]);
    // "starting server...", "> {...}", "{"level":"info"}" and the unfinished "bye" (skipped as it comes).
    expect(f.stats).toMatchObject({ frames: 2, skippedLines: 3, rejected: 0 });
    expect(f.position()).toEqual({ offset: bytes.length, inSkippedLine: true });
    expect(f.buffered).toBe(0);
  });

  it('skips non-JSON-RPC lines and counts them; dead-letters JSON-RPC-looking broken frames and carries on', () => {
    const lines = [
      'plain log line',
      '{"not":"rpc"}',
      '[1,2,3]',
      '{not json at all',
      '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{', // broken JSON-RPC
      '{"jsonrpc":"1.0","id":3,"method":"x"}', // wrong version
      '\u0000\u0001binary',
      req,
    ];
    const stream = b(`${lines.join('\n')}\nContent-Length: x12\r\n\r\n${cl('{"no":"rpc"}')}${res}\n`);
    const f = new JsonRpcFramer<Meta>();
    const out = feed(f, [stream]);
    expect(out.frames.map((x) => x.text)).toEqual([req, res]);
    expect(out.rejects.map((r) => r.reason)).toEqual(['jsonrpc_parse_error', 'jsonrpc_invalid', 'jsonrpc_frame_error', 'jsonrpc_invalid']);
    expect(Buffer.from(out.rejects[0].sample).toString()).toBe(`${lines[4]}\n`);
    expect(out.rejects[0].offset).toBe(stream.indexOf(lines[4]));
    expect(f.stats).toMatchObject({ frames: 2, skippedLines: 5, rejected: 4 });
    expect(f.position().offset).toBe(stream.length);
  });

  it('frames messages larger than 1 MiB in both framings from 64 KiB reads', () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 'big', result: { content: [{ type: 'text', text: 'x'.repeat(3 * 1024 * 1024 + 7) }] } });
    for (const framing of ['ndjson', 'content-length'] as const) {
      const stream = b(framing === 'ndjson' ? `${big}\n${note}\n` : cl(big) + cl(note));
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < stream.length; i += 65536) chunks.push(stream.subarray(i, i + 65536));
      const f = new JsonRpcFramer<Meta>();
      const out = feed(f, chunks);
      expect(out.frames.map((x) => x.framing)).toEqual([framing, framing]);
      expect(out.frames[0].text === big).toBe(true);
      expect(out.frames[0].last.rec).toBe(Math.floor((out.frames[0].length - 1) / 65536));
      expect(out.frames[1].text).toBe(note);
    }
  });

  it('gives up on a {-line longer than maxFrame (jsonrpc_too_large) and resumes at the next line', () => {
    const f = new JsonRpcFramer<Meta>(1000);
    const out = feed(f, [b(`{"jsonrpc":"2.0","id":1,"result":"${'y'.repeat(1500)}`), b(`"}\n${note}\n`)]);
    expect(out.rejects.map((r) => r.reason)).toEqual(['jsonrpc_too_large']);
    expect(out.frames.map((x) => x.text)).toEqual([note]);
  });

  it('drops replayed bytes, resumes at a committed position (also inside a skipped line)', () => {
    const stream = b(`log line ${'{'}"jsonrpc":"2.0"}\n${req}\n${res}\n`);
    const cut = 5; // inside "log line …"
    const f1 = new JsonRpcFramer<Meta>();
    expect(feed(f1, [stream.subarray(0, cut)]).frames).toEqual([]);
    const pos = f1.position();
    expect(pos).toEqual({ offset: cut, inSkippedLine: true });

    // A new owner resumes there; the whole stream is replayed from 0 in records of 7 bytes.
    const f2 = new JsonRpcFramer<Meta>();
    f2.resumeAt(pos);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < stream.length; i += 7) chunks.push(stream.subarray(i, i + 7));
    const out = feed(f2, chunks);
    expect(out.frames.map((x) => x.text)).toEqual([req, res]); // the '{"jsonrpc"…' inside the log line is not a frame
    expect(out.rejects).toEqual([]);
    // The same records once more: nothing new.
    expect(feed(f2, chunks)).toEqual({ frames: [], rejects: [] });
  });

  it('skips to the next line after a gap (bytes lost before the stage) and counts it', () => {
    const f = new JsonRpcFramer<Meta>();
    const a = b(req.slice(0, 40));
    const out1 = f.push(a, 0, { rec: 0 });
    expect(out1.frames).toEqual([]);
    const rest = b(`${req.slice(60)}\n${res}\n`);
    const out2 = f.push(rest, 60, { rec: 1 });
    expect(out2.rejects.map((r) => r.reason)).toEqual(['incomplete_message']);
    expect(out2.frames.map((x) => x.text)).toEqual([res]);
    expect(f.stats).toMatchObject({ gaps: 1, gapBytes: 20 });
  });

  it('finish(): an unfinished frame becomes incomplete_message, a partial plain line is skipped', () => {
    const f = new JsonRpcFramer<Meta>();
    f.push(b(req.slice(0, 30)), 0, { rec: 0 });
    expect(f.buffered).toBe(30);
    const out = f.finish();
    expect(out.rejects).toMatchObject([{ reason: 'incomplete_message', offset: 0 }]);
    expect(f.position().offset).toBe(30);
    const g = new JsonRpcFramer<Meta>();
    g.push(b('Content-Le'), 0, { rec: 0 }); // could still become a header: held
    expect(g.buffered).toBe(10);
    expect(g.finish()).toEqual({ frames: [], rejects: [] });
    expect(g.position().offset).toBe(10);
  });
});

describe('JSON nested deeper than MAX_JSON_DEPTH', () => {
  it('a JSON-RPC line or Content-Length frame: json_depth_limit reject, the next message frames; other deep output is skipped', () => {
    const deep = `{"jsonrpc":"2.0","id":9,"result":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}`;
    const program = '['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1);
    for (const framing of ['ndjson', 'content-length'] as const) {
      const stream = b(framing === 'ndjson' ? `${deep}\n${program}\n${req}\n` : cl(deep) + cl(req));
      const f = new JsonRpcFramer<Meta>();
      const out = feed(f, [stream]);
      expect(out.rejects.map((r) => [r.reason, r.error, r.offset])).toEqual([['json_depth_limit', `JSON nested deeper than ${MAX_JSON_DEPTH} levels in a ${framing === 'ndjson' ? 'JSON-RPC line' : 'Content-Length frame'}`, 0]]);
      expect(out.frames.map((x) => x.text)).toEqual([req]);
      expect(f.position().offset).toBe(stream.length);
    }
  });
});
