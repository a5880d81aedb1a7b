/**
 * The mock LLM's script and ground-truth log shapes, shared by every API module (see ./server.ts for the server).
 *
 * Script (per request, stateless): a request whose conversation carries no tool result yet and that declares a shell
 * tool gets a call to that tool running `toolCommand`; a request that carries a tool result gets the text `answer`;
 * a request with tools but no shell tool also gets `answer`; a request without tools (title generation, routing,
 * quota checks) gets {@link SIDE_TEXT} (turn `other`).
 *
 * Token counts: response number `n` (1-based, counted per server over LLM responses of every API) gets
 * {@link tokensFor}`(n)`, distinct and non-zero, so stored rows can be compared exactly.
 */

/** The four wire APIs the mock answers. */
export type MockApi = 'anthropic.messages' | 'openai.responses' | 'openai.chat_completions' | 'gemini.generate_content';

/**
 * One response the mock sent: the ground truth a test compares stored calls with. Token counts are in OTel GenAI
 * semconv meaning (what storage must hold), not the provider's raw fields: `input_tokens` includes cache reads and
 * writes (Anthropic reports them apart; the mock sent input − cache on the wire), `output_tokens` includes reasoning
 * (Gemini reports `thoughtsTokenCount` apart). A count the API has no field for is 0 (Anthropic reasoning; cache
 * creation outside Anthropic). Side endpoints (count_tokens, model lists, unknown paths) are logged with
 * `turn: 'other'`, `response_id: ''` and zero tokens; they are no LLM call ({@link isLlmCall}).
 */
export interface MockLlmResponseLog {
  api: MockApi;
  /** Request path with query, e.g. `/v1/messages?beta=true`. */
  path: string;
  stream: boolean;
  /** Model the response named (the request's model echoed). */
  model: string;
  /** Response id sent (`msg_…`, `resp_…`, `chatcmpl-…`, Gemini `responseId`); '' for side endpoints. */
  response_id: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_creation_tokens: number;
  reasoning_tokens: number;
  /** Provider-raw finish reason: Anthropic `stop_reason`, Responses `status`, Chat `finish_reason`, Gemini `finishReason`. */
  finish_reason: string;
  /** Tool calls sent; `arguments` is JSON text. Gemini function calls carry no id on the wire (id ''). */
  tool_calls: { id: string; name: string; arguments: string }[];
  /** Answer text sent ('' for a tool call). */
  text: string;
  turn: 'tool_call' | 'answer' | 'other';
}

/** Whether a log entry is an LLM response (one stored call expected), not a side endpoint. */
export function isLlmCall(e: MockLlmResponseLog): boolean {
  return e.response_id !== '';
}

/** Text answered to requests that declare no tools (title generation, routing). */
export const SIDE_TEXT = 'agentsight mock side reply';

/** Provider-neutral token numbers of response `n`: uncached input, cache reads/writes, visible output, reasoning. */
export interface MockTokens {
  uncached: number;
  cache_read: number;
  cache_creation: number;
  visible_output: number;
  reasoning: number;
}

/** Deterministic, distinct, non-zero token numbers of the n-th LLM response (n ≥ 1). */
export function tokensFor(n: number): MockTokens {
  return { uncached: 40 + 13 * n, cache_read: 300 + 29 * n, cache_creation: 20 + 7 * n, visible_output: 10 + 3 * n, reasoning: 5 + 2 * n };
}

/** A declared tool, normalised across APIs: name and JSON schema of its parameters (if any). */
export interface DeclaredTool {
  name: string;
  schema?: any;
  /** OpenAI Responses built-in `local_shell` (no schema; answered with a `local_shell_call`). */
  localShell?: boolean;
}

/** Shell tool names, most specific first (Claude Code `Bash`, Codex `shell`/`exec_command`, Gemini/Qwen `run_shell_command`, OpenCode `bash`). */
const SHELL_NAMES = ['bash', 'shell', 'run_shell_command', 'shell_command', 'exec_command', 'exec', 'local_shell', 'execute_command', 'run_command', 'run_terminal_cmd', 'terminal'];

/** The agent's shell tool among the declared tools, or undefined. Exact names first, then any name containing bash/shell. */
export function findShellTool(tools: DeclaredTool[]): DeclaredTool | undefined {
  for (const n of SHELL_NAMES) {
    const t = tools.find((x) => x.name.toLowerCase() === n);
    if (t) return t;
  }
  return tools.find((x) => /bash|shell/i.test(x.name));
}

/**
 * Arguments for a call to shell tool `tool` running `command`, built from its JSON schema: the `command` (or `cmd`)
 * property gets the command as a string, or `['bash', '-lc', command]` when it is an array; other required
 * properties get a harmless value of their type (`description` a short text).
 */
export function shellArguments(tool: DeclaredTool, command: string): Record<string, unknown> {
  const props: Record<string, any> = tool.schema?.properties ?? {};
  const key = ['command', 'cmd', 'commands', 'script'].find((k) => k in props) ?? 'command';
  const typeOf = (p: any): string => {
    const t = p?.type ?? p?.anyOf?.[0]?.type ?? p?.oneOf?.[0]?.type;
    return String(Array.isArray(t) ? t[0] : t ?? 'string').toLowerCase();
  };
  const out: Record<string, unknown> = { [key]: typeOf(props[key]) === 'array' ? ['bash', '-lc', command] : command };
  for (const r of (tool.schema?.required ?? []) as string[]) {
    if (r in out) continue;
    const t = typeOf(props[r]);
    out[r] = r === 'description' ? 'Run the agentsight test command'
      : t === 'number' || t === 'integer' ? 60000 : t === 'boolean' ? false : t === 'array' ? [] : t === 'object' ? {} : '';
  }
  if ('description' in props && !('description' in out)) out.description = 'Run the agentsight test command';
  return out;
}

/** What the script decided for one request. */
export type Decision =
  | { kind: 'tool_call'; tool: DeclaredTool; args: Record<string, unknown> }
  | { kind: 'answer'; text: string }
  | { kind: 'other'; text: string };

/** The script: tool call first, answer after a tool result, side text without tools. */
export function decide(tools: DeclaredTool[], hasToolResult: boolean, toolCommand: string, answer: string): Decision {
  if (tools.length === 0) return { kind: 'other', text: SIDE_TEXT };
  if (hasToolResult) return { kind: 'answer', text: answer };
  const tool = findShellTool(tools);
  if (!tool) return { kind: 'answer', text: answer };
  return { kind: 'tool_call', tool, args: shellArguments(tool, toolCommand) };
}

/** Everything an API module needs to answer one request. */
export interface MockRequest {
  method: string;
  /** Path with query. */
  path: string;
  /** Path without query. */
  pathname: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body (undefined when empty or not JSON). */
  body: any;
  /** Takes the next LLM response number (1-based) and its id suffix. */
  next(): number;
  toolCommand: string;
  answer: string;
}

/** One answer: a JSON body, or SSE chunks written one by one (each chunk a complete `event:`/`data:` block). */
export interface MockAnswer {
  status: number;
  json?: unknown;
  sse?: string[];
  log: MockLlmResponseLog;
}

/** A zero-token log entry for a side endpoint. */
export function sideLog(api: MockApi, req: MockRequest, model = ''): MockLlmResponseLog {
  return { api, path: req.path, stream: false, model, response_id: '', input_tokens: 0, output_tokens: 0, cache_read_tokens: 0,
    cache_creation_tokens: 0, reasoning_tokens: 0, finish_reason: '', tool_calls: [], text: '', turn: 'other' };
}

/** Zero-padded response number, used in ids (`0001`). */
export function pad(n: number): string {
  return String(n).padStart(4, '0');
}

/** Splits text into a few deltas (streamed as several events, as real APIs do). */
export function pieces(s: string): string[] {
  if (s.length < 4) return [s];
  const k = Math.ceil(s.length / 3);
  return [s.slice(0, k), s.slice(k, 2 * k), s.slice(2 * k)].filter((x) => x.length > 0);
}
