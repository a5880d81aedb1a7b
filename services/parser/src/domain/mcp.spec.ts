import { deriveId, type Direction } from '@agentsight/contracts';
import { JsonRpcFramer } from './jsonrpc';
import { McpToolCalls, MemoryMcpStateStore, type StdioMeta, type StdioStream } from './mcp';

const stream = (pid: number, fd: number, dir: Direction, ino: number, over: Partial<StdioStream> = {}): StdioStream => ({
  host: 'h', boot_id: 'b', run: 7, pid, ppid: 100, comm: pid === 100 ? 'agent' : 'server', fd, dir, ftype: 'fifo', ino, dev: 12, ...over,
});

/** One observed stdio stream: a framer fed line by line with increasing timestamps. */
class Obs {
  private off = 0;
  private readonly framer = new JsonRpcFramer<StdioMeta>();
  constructor(readonly s: StdioStream, private readonly calls: McpToolCalls) {}
  async send(msg: unknown, ts: bigint) {
    const data = Buffer.from(`${JSON.stringify(msg)}\n`);
    const out = this.framer.push(data, this.off, { stream: this.s, ts_wall_ns: ts });
    this.off += data.length;
    const tools = [];
    for (const f of out.frames) tools.push(...(await this.calls.onFrame(f)));
    return tools;
  }
}

const call = (id: number | string, args: unknown) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: args } });

describe('McpToolCalls', () => {
  it('server side: pairs tools/call read on stdin with the response written on stdout (v1, then v3), redacted', async () => {
    const calls = new McpToolCalls(new MemoryMcpStateStore());
    const stdin = new Obs(stream(200, 0, 'read', 501), calls);
    const stdout = new Obs(stream(200, 1, 'write', 502), calls);
    expect(await stdin.send({ jsonrpc: '2.0', id: 0, method: 'initialize', params: {} }, 1n)).toEqual([]);
    expect(await stdout.send({ jsonrpc: '2.0', id: 0, result: { capabilities: {} } }, 2n)).toEqual([]);
    const v1 = await stdin.send(call(1, { text: 'hi', api_key: 'sk-abcdefghijklmnopqrstuvwxyz123456' }), 10n);
    const id = deriveId('tool', 'mcp', 'h', 'b', '12:501', '1');
    expect(v1).toEqual([{
      v: 1, id, version: 1, source: 'mcp', host: 'h', pid: 100, comm: '', conversation_id: null, name: 'echo', call_id: '1',
      tool_type: 'extension', arguments: '{"text":"hi","api_key":"[REDACTED]"}', result: null, success: null, start_ns: 10n,
      end_ns: null, origin_llm_call_id: null, result_llm_call_id: null,
    }]);
    // A server→client request reusing id 1 (sampling) and its answer on stdin do not touch the tool call.
    expect(await stdout.send({ jsonrpc: '2.0', id: 1, method: 'sampling/createMessage', params: {} }, 11n)).toEqual([]);
    expect(await stdin.send({ jsonrpc: '2.0', id: 1, result: { role: 'assistant' } }, 12n)).toEqual([]);
    const v2 = await stdout.send({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'hi sk-proj-abcdefghijklmnopqrstuvwxyz' }] } }, 20n);
    expect(v2).toEqual([{ ...v1[0], version: 3, result: '{"content":[{"type":"text","text":"hi [REDACTED]"}]}', success: true, end_ns: 20n }]);
  });

  it('client side: request written on stdout, response read on stdin; isError and JSON-RPC errors are failures', async () => {
    const calls = new McpToolCalls(new MemoryMcpStateStore());
    const out = new Obs(stream(100, 1, 'write', 501), calls);
    const inp = new Obs(stream(100, 0, 'read', 502), calls);
    const [a] = await out.send(call('a', {}), 1n);
    expect(a).toMatchObject({ pid: 100, comm: 'agent', call_id: 'a', version: 1 });
    const [b] = await out.send(call('b', {}), 2n);
    expect(await inp.send({ jsonrpc: '2.0', id: 'b', error: { code: -32602, message: 'Unknown tool' } }, 3n)).toEqual([
      { ...b, version: 3, success: false, result: '{"error":{"code":-32602,"message":"Unknown tool"}}', end_ns: 3n },
    ]);
    expect(await inp.send({ jsonrpc: '2.0', id: 'a', result: { content: [], isError: true } }, 4n)).toEqual([
      { ...a, version: 3, success: false, result: '{"content":[],"isError":true}', end_ns: 4n },
    ]);
  });

  it('both ends traced (same channel inodes): one tool use, claimed by the first observer', async () => {
    const calls = new McpToolCalls(new MemoryMcpStateStore());
    const client = { out: new Obs(stream(100, 1, 'write', 501), calls), inp: new Obs(stream(100, 0, 'read', 502), calls) };
    const server = { inp: new Obs(stream(200, 0, 'read', 501), calls), out: new Obs(stream(200, 1, 'write', 502), calls) };
    const got = [
      ...(await server.inp.send(call(5, { q: 1 }), 2n)),
      ...(await client.out.send(call(5, { q: 1 }), 1n)),
      ...(await client.inp.send({ jsonrpc: '2.0', id: 5, result: { content: [] } }, 4n)),
      ...(await server.out.send({ jsonrpc: '2.0', id: 5, result: { content: [] } }, 3n)),
    ];
    expect(got.map((t) => [t.version, t.start_ns, t.end_ns])).toEqual([[1, 2n, null], [3, 2n, 3n]]);
    expect(new Set(got.map((t) => t.id)).size).toBe(1);
  });

  it('separate sessions reusing JSON-RPC ids get distinct ids; a tty/file stream falls back to the stream identity', async () => {
    const calls = new McpToolCalls(new MemoryMcpStateStore());
    const [x] = await new Obs(stream(200, 0, 'read', 501), calls).send(call(1, {}), 1n);
    const [y] = await new Obs(stream(300, 0, 'read', 601), calls).send(call(1, {}), 1n);
    const [z] = await new Obs(stream(400, 0, 'read', 5, { ftype: 'chr' }), calls).send(call(1, {}), 1n);
    expect(new Set([x.id, y.id, z.id]).size).toBe(3);
    expect(z.id).toBe(deriveId('tool', 'mcp', 'h', 'b', 7, 400, 0, '1', 0));
  });
});
