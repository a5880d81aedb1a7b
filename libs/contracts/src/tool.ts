/**
 * Tool uses (subject `agentsight.tool.<host>`), contract v1: one per tool call an agent executed, the OTel
 * `execute_tool {gen_ai.tool.name}` span in record form (semconv v1.41, gen-ai-spans "Execute tool span").
 *
 * A tool use is seen in two halves:
 * - `source: 'llm'`: the model asks for the call in one LLM response (OpenAI `tool_calls` / Responses `function_call`
 *   items, Anthropic `tool_use` blocks, Gemini `functionCall` parts) and the agent sends the result in a later request
 *   (`role: tool` message, `function_call_output` item, `tool_result` block, `functionResponse` part);
 * - `source: 'mcp'`: an MCP `tools/call` JSON-RPC request and its response over a captured stdio pipe.
 * The record is (re)published as more becomes known; later versions of the same `id` replace earlier ones
 * (`version` orders them; storage keeps the highest).
 */
export interface ToolUse {
  v: 1;
  /**
   * Deterministic: `deriveId('tool', host, pid, call key)` where the call key is the provider's call id (unique within
   * an agent process) or, for providers without ids (Gemini, Ollama, legacy `function_call`), the synthetic key
   * `turn:<index of the model turn in the request history>:<name>#<occurrence of that name in the turn>` that both the
   * response and the later request can compute (see the analyzer's `tools.ts`); MCP: `deriveId('tool', 'mcp', host,
   * boot_id, request channel as '<dev>:<ino>', JSON-RPC id)` when the request's pipe or socket is known (both ends of the channel give the same id, so a call seen by the client and by the server
   * is one record), else `deriveId('tool', 'mcp', host, boot_id, run, observing pid, fd, JSON-RPC id, request stream
   * offset)`.
   */
  id: string;
  /**
   * Orders re-publications of the same `id` (storage keeps the highest): 1 = only the request is known (from the LLM
   * response), 2 = only the result is known (a later request; name/arguments from its history, origin unknown),
   * 3 = both halves are known. Each version is published with `Nats-Msg-Id` `<id>:v<version>`.
   */
  version: number;
  source: 'llm' | 'mcp';
  host: string;
  /**
   * Agent process (for `llm`: the process that made the LLM calls; for `mcp`: the MCP client: the process itself when
   * its stdio carried the call, else the parent of the MCP server whose stdio did, normally the client that spawned it).
   */
  pid: number;
  /** `comm` of {@link pid}; `''` for `mcp` when only the server's stdio was seen (the client's name is not known there). */
  comm: string;
  /** `gen_ai.agent.name` of the agent process (as LlmCall.agent_name), or null. */
  agent_name?: string | null;
  /** `gen_ai.conversation.id` of the agent session the call belongs to (see LlmCall.conversation_id), or null. */
  conversation_id: string | null;
  /** `gen_ai.tool.name`. */
  name: string;
  /** `gen_ai.tool.call.id`: the provider's call id (`call_…`, `toolu_…`), the MCP JSON-RPC id as text, or null. */
  call_id: string | null;
  /** `gen_ai.tool.type`: `function` | `extension` (MCP, server tools) | `datastore`, as far as known. */
  tool_type: string;
  /** Arguments as the model produced them (JSON text for function tools), secrets redacted. */
  arguments: string;
  /** The result as the agent sent it back (text; JSON text for structured results), secrets redacted; null until seen. */
  result: string | null;
  /** False when the result says it failed (Anthropic `is_error`, MCP `isError` or a JSON-RPC error); null if unknown. */
  success: boolean | null;
  /** Wall-clock ns: end of the LLM response that requested the call (MCP: the `tools/call` request); null if unknown. */
  start_ns: bigint | null;
  /** Wall-clock ns: start of the request that carried the result (MCP: the response); null until the result is seen. */
  end_ns: bigint | null;
  /** LLM call whose response requested the tool call (`LlmCall.id`), or null. */
  origin_llm_call_id: string | null;
  /** LLM call whose request carried the result (`LlmCall.id`), or null. */
  result_llm_call_id: string | null;
}
