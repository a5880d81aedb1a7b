/**
 * MCP tool calls from framed JSON-RPC messages of captured stdio (see jsonrpc.ts): a `tools/call` request and its
 * response (same JSON-RPC id, opposite directions of the same process' stdio) become one {@link ToolUse}
 * (`source: 'mcp'`, `tool_type: 'extension'`), published as version 1 at the request and version 3 (both halves known, as in tool.ts) at the response.
 *
 * Who saw it: a process that READS a `tools/call` request (and writes the response) is the MCP server; one that
 * WRITES it (and reads the response) is the client. When both ends of the channel are traced, both see the call:
 * the record id comes from the request channel (pipe/socket inode, the same on both ends) and the JSON-RPC id, and
 * the first observer claims the id ({@link McpStateStore.claim}), so the call is published once.
 *
 * Secrets in arguments and results are redacted ({@link redactValue}) before anything leaves this module.
 */
import { deriveId, redactValue, type Direction, type RawStdioRecord, type ToolUse } from '@agentsight/contracts';
import type { JsonRpcFrame, JsonRpcMessage } from './jsonrpc';

/** What a frame's records say about the stream it came from (taken from the record carrying its last byte). */
export type StdioStream = Pick<RawStdioRecord, 'host' | 'boot_id' | 'run' | 'pid' | 'ppid' | 'comm' | 'fd' | 'dir' | 'ftype' | 'ino' | 'dev'>;

/** Meta of a record as the stdio worker feeds it to the framer: the stream and the record's wall-clock time (ns). */
export interface StdioMeta {
  stream: StdioStream;
  ts_wall_ns: bigint;
}

/**
 * Shared state of the MCP pairing, kept outside the process (Redis in the stage) so a restart or a replay neither
 * loses a call whose request was already consumed nor publishes it twice.
 */
export interface McpStateStore {
  /** Claims tool-use `toolId` for `observer`; resolves true when `observer` holds it (first claim, or its own). */
  claim(toolId: string, observer: string): Promise<boolean>;
  /** Remembers the version-1 record of a request under `pairKey` (until its response, or a day). */
  putCall(pairKey: string, tool: ToolUse): Promise<void>;
  /** The version-1 record stored under `pairKey`, or null. */
  getCall(pairKey: string): Promise<ToolUse | null>;
}

/** In-process {@link McpStateStore} (one process, no persistence): for tools and tests. */
export class MemoryMcpStateStore implements McpStateStore {
  private readonly claims = new Map<string, string>();
  private readonly calls = new Map<string, ToolUse>();
  async claim(toolId: string, observer: string): Promise<boolean> {
    const cur = this.claims.get(toolId);
    if (cur === undefined) this.claims.set(toolId, observer);
    return (cur ?? observer) === observer;
  }
  async putCall(pairKey: string, tool: ToolUse): Promise<void> {
    this.calls.set(pairKey, tool);
  }
  async getCall(pairKey: string): Promise<ToolUse | null> {
    return this.calls.get(pairKey) ?? null;
  }
}

/** The observing process of a frame: `<host>/<boot_id>/<run>/<pid>`. */
export function observerKey(s: StdioStream): string {
  return `${s.host}/${s.boot_id}/${s.run}/${s.pid}`;
}

/** Key pairing a request seen in direction `dir` by the stream's process with its response: observer, dir, id. */
export function pairKey(s: StdioStream, requestDir: Direction, id: string | number): string {
  return `${observerKey(s)}|${requestDir}|${JSON.stringify(id)}`;
}

/**
 * Deterministic id of the MCP tool use requested by `frame` (see ToolUse.id): from the request channel when the
 * stream is a pipe or socket with a known inode, else from the observing stream and the request's stream offset.
 */
export function mcpToolUseId(s: StdioStream, id: string | number, requestOffset: number): string {
  if ((s.ftype === 'fifo' || s.ftype === 'sock') && s.ino > 0) {
    return deriveId('tool', 'mcp', s.host, s.boot_id, `${s.dev}:${s.ino}`, JSON.stringify(id));
  }
  return deriveId('tool', 'mcp', s.host, s.boot_id, s.run, s.pid, s.fd, JSON.stringify(id), requestOffset);
}

const opposite = (d: Direction): Direction => (d === 'read' ? 'write' : 'read');

/** JSON text of a value with secrets redacted. */
function redactedJson(v: unknown): string {
  return JSON.stringify(redactValue(v ?? null));
}

/**
 * Turns framed JSON-RPC messages into MCP {@link ToolUse} records. Frames of one process must be fed in stream
 * order per direction (a request before its response, as the process saw them).
 */
export class McpToolCalls {
  constructor(private readonly store: McpStateStore) {}

  /** The tool-use records (version 1 and/or 3) `frame` completes; none for other messages. */
  async onFrame(frame: JsonRpcFrame<StdioMeta>): Promise<ToolUse[]> {
    const out: ToolUse[] = [];
    const msgs = Array.isArray(frame.message) ? frame.message : [frame.message];
    for (const m of msgs) {
      const t = isToolsCall(m) ? await this.onRequest(m, frame) : isResponse(m) ? await this.onResponse(m, frame) : null;
      if (t) out.push(t);
    }
    return out;
  }

  private async onRequest(m: JsonRpcMessage, frame: JsonRpcFrame<StdioMeta>): Promise<ToolUse | null> {
    const s = frame.last.stream;
    const id = m.id as string | number;
    const toolId = mcpToolUseId(s, id, frame.offset);
    if (!(await this.store.claim(toolId, observerKey(s)))) return null; // the other end of the channel has it
    const params = (m.params ?? {}) as { name?: unknown; arguments?: unknown };
    const client = s.dir === 'write'; // the observer sends the request: it is the MCP client
    const tool: ToolUse = {
      v: 1,
      id: toolId,
      version: 1,
      source: 'mcp',
      host: s.host,
      pid: client ? s.pid : s.ppid,
      comm: client ? s.comm : '',
      conversation_id: null,
      name: typeof params.name === 'string' ? params.name : '',
      call_id: String(id),
      tool_type: 'extension',
      arguments: redactedJson(params.arguments ?? {}),
      result: null,
      success: null,
      start_ns: frame.last.ts_wall_ns,
      end_ns: null,
      origin_llm_call_id: null,
      result_llm_call_id: null,
    };
    await this.store.putCall(pairKey(s, s.dir, id), tool);
    return tool;
  }

  private async onResponse(m: JsonRpcMessage, frame: JsonRpcFrame<StdioMeta>): Promise<ToolUse | null> {
    const s = frame.last.stream;
    const call = await this.store.getCall(pairKey(s, opposite(s.dir), m.id as string | number));
    if (!call) return null; // not a tools/call response (or its request was never seen)
    const failed = m.error !== undefined || (!!m.result && typeof m.result === 'object' && (m.result as { isError?: unknown }).isError === true);
    return {
      ...call,
      version: 3,
      result: redactedJson(m.error !== undefined ? { error: m.error } : m.result),
      success: !failed,
      end_ns: frame.first.ts_wall_ns,
    };
  }
}

function isToolsCall(m: JsonRpcMessage): boolean {
  return m.method === 'tools/call' && (typeof m.id === 'string' || typeof m.id === 'number');
}

function isResponse(m: JsonRpcMessage): boolean {
  return m.method === undefined && (typeof m.id === 'string' || typeof m.id === 'number') && ('result' in m || 'error' in m);
}
