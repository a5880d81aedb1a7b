/**
 * Tool uses and semconv messages on the real corpus: every tool call of every fixture with tools gives the right
 * name/id/arguments as a request half; results are matched on next-turn requests (recorded ones where the corpus has
 * them — Gemini `ddtrace__agent_run_async`, the js-genai MCP chat — and synthetic ones built from the corpus responses
 * in each API's own shape), and the merged ToolUse is the same whichever half comes first.
 */
import { decodeUtf8 } from './json';
import { analyzeExchange } from './analyze';
import { mergeToolUse, toolHalvesOf, toolRequests, toolResults, toolSummary, auditForTool, turnKey, keysByTurn, type ToolRequestHalf, type ToolResultHalf } from './tools';
import { normalizeRequest, outputMessages, semconvFinishReason } from './messages';
import { conversationOf } from './conversation';
import { agentName, type Exchange, type LlmCall, type ToolCall } from '@agentsight/contracts';
import { exchangeFor, groundTruth, makeExchange, type GroundTruth } from '@agentsight/testkit';

const withTools = groundTruth().filter((g) => g.tool_calls.length > 0);

/** Compact JSON text of a JSON text, else the text itself (argument comparison). */
const canon = (s: string): unknown => {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

function analyzed(gt: GroundTruth): { ex: Exchange; call: LlmCall; r: ReturnType<typeof analyzeExchange> } {
  const ex = exchangeFor(gt);
  const r = analyzeExchange(ex);
  expect(r.call).not.toBeNull();
  return { ex, call: r.call!, r };
}

/** The next request of the conversation in the API's shape: history + the model turn + one result per tool call. */
function nextRequest(api: string, req: Record<string, any>, calls: ToolCall[], results: string[]): Record<string, unknown> {
  switch (api) {
    case 'chat.completions':
      return { ...req, messages: [...req.messages, { role: 'assistant', content: null, tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) }, ...calls.map((c, i) => ({ role: 'tool', tool_call_id: c.id, content: results[i] }))] };
    case 'messages':
      return {
        ...req,
        messages: [
          ...req.messages,
          { role: 'assistant', content: calls.map((c) => ({ type: 'tool_use', id: c.id, name: c.name, input: JSON.parse(c.arguments || '{}') })) },
          { role: 'user', content: calls.map((c, i) => ({ type: 'tool_result', tool_use_id: c.id, content: results[i], ...(i === 0 ? { is_error: true } : {}) })) },
        ],
      };
    case 'responses': {
      const input = typeof req.input === 'string' ? [{ role: 'user', content: req.input }] : req.input;
      return { ...req, input: [...input, ...calls.map((c) => ({ type: 'function_call', call_id: c.id, name: c.name, arguments: c.arguments })), ...calls.map((c, i) => ({ type: 'function_call_output', call_id: c.id, output: results[i] }))] };
    }
    default: // Gemini: no ids, matched by name and order.
      return { ...req, contents: [...req.contents, { role: 'model', parts: calls.map((c) => ({ functionCall: { name: c.name, args: JSON.parse(c.arguments || '{}') } })) }, { role: 'user', parts: calls.map((c, i) => ({ functionResponse: { name: c.name, response: { output: results[i] } } })) }] };
  }
}

function apiOf(call: LlmCall): string {
  return call.api === 'generate_content' ? 'gemini' : call.api;
}

describe('request halves: every tool call of every corpus fixture', () => {
  test('the corpus has tool calls in every family', () => {
    expect(new Set(withTools.map((g) => g.api))).toEqual(new Set(['chat.completions', 'messages', 'responses', 'generateContent', 'streamGenerateContent']));
  });

  test.each(withTools.map((g) => [`${g.file}#${g.call ?? 0}`, g] as const))('%s', (_n, gt) => {
    const { call, r } = analyzed(gt);
    const halves = toolRequests(call, r.request!);
    expect(halves.map((h) => ({ name: h.name, arguments: canon(h.arguments) }))).toEqual(gt.tool_calls.map((t) => ({ name: t.name, arguments: canon(t.arguments) })));
    halves.forEach((h, i) => {
      const tc = call.tool_calls[i];
      expect(h.call_id).toBe(tc.id);
      // Providers with call ids key by them; Gemini (no ids here) by model-turn position, name and occurrence.
      if (tc.id && !keysByTurn(call.api)) expect(h.key).toBe(tc.id);
      else expect(h.key).toBe(turnKey(r.request!.history_length, h.name, halves.slice(0, i).filter((x) => x.name === h.name).length));
      expect(h.start_ns).toBe(call.end_ns.toString());
      expect(h.origin_llm_call_id).toBe(call.id);
    });
    if (['chat.completions', 'messages', 'responses'].includes(call.api)) for (const h of halves) expect(h.call_id).toMatch(/^(call_|toolu_|srvtoolu_|mcptoolu_|fc_|ctc_|lsh_|ts_|apc_|[A-Za-z0-9_-]{6,})/);
    const tu = mergeToolUse(call.host, halves[0], null);
    expect(tu.version).toBe(1);
    expect(tu.result).toBeNull();
    expect(auditForTool(tu).summary).toMatch(new RegExp(`^tool ${gt.tool_calls[0].name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .* → pending$`));
  });
});

describe('result halves on synthetic next-turn requests built from the corpus responses', () => {
  const families = withTools.filter((g) => ['chat.completions', 'messages', 'responses', 'generateContent', 'streamGenerateContent'].includes(g.api) && !g.file.startsWith('jsgenai__'));
  test.each(families.map((g) => [`${g.file}#${g.call ?? 0}`, g] as const))('%s', (_n, gt) => {
    const { ex, call, r } = analyzed(gt);
    const reqJson = JSON.parse(decodeUtf8(ex.request.body));
    const calls = call.tool_calls.filter((t) => t.name);
    const results = calls.map((_c, i) => `result ${i} sk-ant-api03-${'x'.repeat(30)}`);
    const body = nextRequest(apiOf(call), reqJson, calls, results);
    const next = makeExchange({
      id: `${ex.id}:next`, host: ex.server_address, target: ex.request.target, reqBody: JSON.stringify(body), status: 200,
      respBody: '{}', pid: ex.conn.pid, times: { reqStart: 5_000_000_000n, reqEnd: 5_000_100_000n, respStart: 5_100_000_000n, respEnd: 5_200_000_000n },
    });
    const r2 = analyzeExchange(next);
    const reqs = toolRequests(call, r.request!);
    const res = toolResults(r2.call!, r2.request!);
    expect(res.map((h) => h.key)).toEqual(reqs.map((h) => h.key));
    res.forEach((h, i) => {
      expect(h.name).toBe(calls[i].name);
      expect(canon(h.arguments)).toEqual(canon(calls[i].arguments));
      expect(h.result).toContain(`result ${i} [REDACTED]`); // redacted
      expect(h.end_ns).toBe('5000000000');
      expect(h.success).toBe(call.api === 'messages' ? i !== 0 : null);
      // Either order of the halves merges to the same complete record.
      const a = mergeToolUse(call.host, reqs[i], h);
      expect(a.version).toBe(3);
      expect(a.id).toBe(mergeToolUse(call.host, reqs[i], null).id);
      expect(a.id).toBe(mergeToolUse(call.host, null, h).id);
      expect(a).toMatchObject({ name: calls[i].name, origin_llm_call_id: call.id, result_llm_call_id: r2.call!.id, start_ns: call.end_ns, end_ns: 5_000_000_000n });
      // What the index rebuild takes from each published version merges to that version again.
      for (const t of [mergeToolUse(call.host, reqs[i], null), mergeToolUse(call.host, null, h), a]) {
        const back = toolHalvesOf(t);
        expect(mergeToolUse(call.host, back.request, back.result)).toEqual(t);
      }
    });
  });
});

describe('recorded next turns (Gemini: no call ids, matched by name and order)', () => {
  test.each([
    ['ddtrace__agent_run_async.yaml', ['search_docs', 'multiply'], ['{"results":["Found reference for: test"]}', '{"product":15}']],
  ] as const)('%s: the second request answers the first response', (file, names, results) => {
    const gts = groundTruth().filter((g) => g.file === file).sort((a, b) => (a.call ?? 0) - (b.call ?? 0));
    const first = analyzed(gts[0]);
    const second = analyzed(gts[1]);
    const reqs = toolRequests(first.call, first.r.request!);
    const res = toolResults(second.call, second.r.request!);
    expect(reqs.map((h) => h.name)).toEqual(names);
    expect(res.map((h) => h.key)).toEqual(reqs.map((h) => h.key));
    res.forEach((h, i) => {
      expect(h.name).toBe(names[i]);
      expect(canon(h.arguments)).toEqual(canon(reqs[i].arguments));
      expect(h.result).toBe(results[i]);
      const t = mergeToolUse(first.call.host, reqs[i], h);
      expect(t.version).toBe(3);
      expect(toolSummary(t)).toMatch(new RegExp(`^tool ${names[i]} \\{.*\\} → returned$`));
    });
  });

  test('Gemini CLI\'s own call ids (on the history\'s functionCall/functionResponse, never in the response) do not split a tool use', () => {
    // gemini-cli 0.61 answers a functionCall without id by putting `run_shell_command_<ms>_<n>` on both parts of the
    // next request: the result half must still meet the request half (one tool use, version 3), and carry that id.
    const gts = groundTruth().filter((g) => g.file === 'ddtrace__agent_run_async.yaml').sort((a, b) => (a.call ?? 0) - (b.call ?? 0));
    const first = analyzed(gts[0]);
    expect(first.call.tool_calls.every((t) => t.id === null)).toBe(true);
    const ex = exchangeFor(gts[1]);
    const body = JSON.parse(decodeUtf8(ex.request.body));
    let n = 0;
    for (const c of body.contents) for (const p of c.parts ?? []) {
      if (p.functionCall) p.functionCall.id = `${p.functionCall.name}_1796234910656_${n}`;
      if (p.functionResponse) p.functionResponse.id = `${p.functionResponse.name}_1796234910656_${n++}`;
    }
    const next = makeExchange({
      id: `${ex.id}:ids`, host: ex.server_address, target: ex.request.target, reqBody: JSON.stringify(body), status: 200,
      respBody: '{}', pid: ex.conn.pid, times: { reqStart: 5_000_000_000n, reqEnd: 5_000_100_000n, respStart: 5_100_000_000n, respEnd: 5_200_000_000n },
    });
    const second = analyzeExchange(next);
    const reqs = toolRequests(first.call, first.r.request!);
    const res = toolResults(second.call!, second.request!);
    expect(res.map((h) => h.key)).toEqual(reqs.map((h) => h.key));
    expect(res.map((h) => h.call_id)).toEqual(['search_docs_1796234910656_0', 'multiply_1796234910656_1']);
    const t = mergeToolUse(first.call.host, reqs[0], res[0]);
    expect(t).toMatchObject({ version: 3, name: 'search_docs', call_id: 'search_docs_1796234910656_0' });
  });

  test('a server-side MCP tool (call and result both in the model turn) gives no client result half', () => {
    const gts = groundTruth().filter((g) => g.file.startsWith('jsgenai__Chats_Tests_sendMessage_multiple'));
    const second = analyzed(gts.find((g) => g.call === 1)!);
    expect(second.r.request!.messages.filter((m) => m.role === 'assistant').flatMap((m) => m.parts.map((p) => p.type)).slice(0, 2)).toEqual(['tool_call', 'tool_call_response']);
    expect(toolResults(second.call, second.r.request!)).toEqual([]);
  });

  test('the js-genai chat whose second request carries no result gives no result half', () => {
    const gts = groundTruth().filter((g) => g.file.startsWith('jsgenai__Chats_Tests_chats_function_calling'));
    const second = analyzed(gts.find((g) => g.call === 1)!);
    // The model turn is followed by a new user question, not a functionResponse.
    expect(toolResults(second.call, second.r.request!)).toEqual([]);
  });
});

describe('semconv messages', () => {
  test('Claude Code capture: system instructions, 23 tool definitions, user message, output with reasoning excluded', () => {
    const gt = groundTruth().find((g) => g.file.startsWith('agentsight__'))!;
    const { call, r } = analyzed(gt);
    const req = r.request!;
    expect(req.tool_definitions).toHaveLength(23);
    for (const d of req.tool_definitions) expect(d).toMatchObject({ type: 'function', name: expect.any(String), parameters: expect.any(Object) });
    expect(req.system_instructions.length).toBeGreaterThan(0);
    expect(req.system_instructions.every((p) => p.type === 'text' && typeof p.content === 'string')).toBe(true);
    expect(req.messages[0].role).toBe('user');
    expect(outputMessages(call)).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: call.output_text }], finish_reason: 'stop' }]);
    // Claude Code's session id (redacted in the corpus) is the conversation.
    expect(call.conversation_id).toBe('[REDACTED_SESSION_UUID]');
  });

  test('content is off by default and redacted when on', () => {
    const gt = groundTruth().find((g) => g.file.startsWith('jsgenai__Chats_Tests_sendMessage_multiple'))!;
    const ex = exchangeFor(gt);
    expect(analyzeExchange(ex).call!.content).toBeNull();
    const c = analyzeExchange(ex, { captureContent: true }).call!.content!;
    expect(c.input_messages).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'What is the weather in San Francisco on 02/02/2026?' }] }]);
    // A server-side MCP tool: the model's answer text and its tool call arrive in one response.
    expect(c.output_messages[0].parts.map((p) => p.type)).toEqual(['text', 'tool_call']);
    expect(c.output_messages[0].finish_reason).toBe('stop');
    expect(JSON.stringify(c)).not.toContain('Bearer github_pat');
    expect(c.tool_definitions).toEqual([{ type: 'mcpServers' }]);
    const key = `sk-proj-${'a1'.repeat(20)}`;
    const planted = makeExchange({ host: 'api.openai.com', target: '/v1/chat/completions', reqBody: JSON.stringify({ model: 'gpt-4.1', messages: [{ role: 'user', content: `my key is ${key}` }] }), respBody: JSON.stringify({ id: 'x', model: 'gpt-4.1', choices: [{ index: 0, message: { role: 'assistant', content: `noted ${key}` }, finish_reason: 'stop' }] }) });
    const pc = analyzeExchange(planted, { captureContent: true }).call!.content!;
    expect(JSON.stringify(pc)).not.toContain(key);
    expect(pc.input_messages[0].parts[0]).toEqual({ type: 'text', content: 'my key is [REDACTED]' });
    expect(pc.output_messages[0]).toEqual({ role: 'assistant', parts: [{ type: 'text', content: 'noted [REDACTED]' }], finish_reason: 'stop' });
  });

  test('each API maps to semconv parts', () => {
    const chat = normalizeRequest('chat.completions', {
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'ls', arguments: '{"dir":"/"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: 'a b' },
      ],
      tools: [{ type: 'function', function: { name: 'ls', description: 'list', parameters: { type: 'object' } } }],
    });
    expect(chat.messages.map(({ index: _i, ...m }) => m)).toEqual([
      { role: 'system', parts: [{ type: 'text', content: 'be brief' }] },
      { role: 'user', parts: [{ type: 'text', content: 'hi' }, { type: 'uri', modality: 'image', uri: 'https://x/y.png' }] },
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'ls', arguments: { dir: '/' } }] },
      { role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_1', response: 'a b' }] },
    ]);
    expect(chat.tool_definitions).toEqual([{ type: 'function', name: 'ls', description: 'list', parameters: { type: 'object' } }]);
    const bedrock = normalizeRequest('converse', {
      system: [{ text: 'sys' }],
      messages: [{ role: 'assistant', content: [{ toolUse: { toolUseId: 't1', name: 'f', input: { a: 1 } } }] }, { role: 'user', content: [{ toolResult: { toolUseId: 't1', content: [{ json: { ok: 1 } }], status: 'error' } }] }],
      toolConfig: { tools: [{ toolSpec: { name: 'f', description: 'd', inputSchema: { json: { type: 'object' } } } }] },
    });
    expect(bedrock.system_instructions).toEqual([{ type: 'text', content: 'sys' }]);
    expect(bedrock.messages[1].parts).toEqual([{ type: 'tool_call_response', id: 't1', response: { ok: 1 }, _error: true }]);
    expect(bedrock.tool_definitions).toEqual([{ type: 'function', name: 'f', description: 'd', parameters: { type: 'object' } }]);
    const ollama = normalizeRequest('ollama.chat', { model: 'm', messages: [{ role: 'assistant', content: '', tool_calls: [{ function: { name: 'w', arguments: { city: 'x' } } }] }, { role: 'tool', tool_name: 'w', content: '20C' }] });
    expect(ollama.messages[1].parts).toEqual([{ type: 'tool_call_response', id: null, response: '20C', _name: 'w' }]);
    expect(semconvFinishReason('tool_use')).toBe('tool_call');
    expect(semconvFinishReason('MAX_TOKENS')).toBe('length');
  });
});

describe('conversation ids and agent names', () => {
  const ex = makeExchange({ host: 'h', target: '/v1/responses', reqBody: '{}' });
  test('provider ids win; else one per agent process', () => {
    expect(conversationOf('responses', ex, { conversation: { id: 'conv_1' } })).toMatchObject({ id: 'conv_1', source: 'provider' });
    expect(conversationOf('messages', ex, { metadata: { user_id: 'user_ab_account_cd_session_1234-5678' } }).id).toBe('1234-5678');
    expect(conversationOf('messages', ex, { metadata: { user_id: '{"device_id":"d","session_id":"s-9"}' } }).id).toBe('s-9');
    expect(conversationOf('chat.completions', ex, { session_id: 'abc' }).id).toBe('abc');
    const p = conversationOf('responses', ex, { previous_response_id: 'resp_1' });
    expect(p).toMatchObject({ source: 'process', previous_response_id: 'resp_1' });
    expect(p.id).toBe(conversationOf('chat.completions', ex, {}).id);
    expect(conversationOf('chat.completions', { ...ex, conn: { ...ex.conn, pid: ex.conn.pid + 1 } }, {}).id).not.toBe(p.id);
  });

  test('agent names', () => {
    const proc = (argv: string[], comm: string, exe: string) => ({ pid: 1, ppid: 0, uid: 0, comm, exe, argv, start_ns: 0n });
    expect(agentName(proc(['node', '/usr/local/bin/claude'], 'node', '/usr/bin/node'), 'HTTP Client')).toBe('claude-code');
    expect(agentName(proc(['/root/.local/share/claude/versions/2.1.77'], 'claude', '/root/.local/share/claude/versions/2.1.77'), 'x')).toBe('claude-code');
    expect(agentName(proc(['node', '/repo/examples/dist/agent.js', '/tmp'], 'node', '/usr/bin/node'), 'node')).toBe('agent');
    expect(agentName(proc(['python3', '-m', 'mypkg'], 'python3', '/usr/bin/python3.11'), 'python3')).toBe('mypkg');
    expect(agentName(proc(['curl', '-s'], 'curl', '/usr/bin/curl'), 'curl')).toBe('curl');
    expect(agentName(null, 'HTTP Client')).toBe('HTTP Client');
  });
});

describe('mergeToolUse', () => {
  const req: ToolRequestHalf = { id: 'tu-1', key: 'call_1', call_id: 'call_1', name: 'Bash', arguments: '{"command":"ls -la"}', tool_type: 'function', start_ns: '10', origin_llm_call_id: 'L1', conversation_id: 'c', agent_name: 'claude-code', pid: 7, comm: 'claude' };
  const res: ToolResultHalf = { id: 'tu-1', key: 'call_1', call_id: 'call_1', name: 'Bash', arguments: '{"command":"ls -la"}', result: 'total 0', success: true, end_ns: '25', result_llm_call_id: 'L2', conversation_id: 'c', agent_name: 'claude-code', pid: 7, comm: 'claude' };
  test('versions and the audit line', () => {
    expect(mergeToolUse('h', req, null).version).toBe(1);
    expect(mergeToolUse('h', null, res)).toMatchObject({ version: 2, origin_llm_call_id: null, start_ns: null, end_ns: 25n });
    const t = mergeToolUse('h', req, res);
    expect(t).toMatchObject({ version: 3, start_ns: 10n, end_ns: 25n, success: true, result: 'total 0' });
    const a = auditForTool(t, 3);
    expect(a.summary).toBe('tool Bash {"command":"ls -la"} → ok');
    expect(a).toMatchObject({ type: 'tool', action: 'execute_tool', pid: 7, ppid: 3, ts_ns: 10n });
    expect(a.details).toMatchObject({ tool_use_id: t.id, version: 3, duration_ns: 15, start_ns: '10', end_ns: '25' });
    expect(() => mergeToolUse('h', null, null)).toThrow();
  });

  test('toolHalvesOf: the halves of each version, none of an MCP tool use', () => {
    const v3 = mergeToolUse('h', req, res);
    expect(toolHalvesOf(mergeToolUse('h', req, null))).toEqual({ request: { ...req, key: '' }, result: null });
    expect(toolHalvesOf(mergeToolUse('h', null, res))).toEqual({ request: null, result: { ...res, key: '' } });
    const both = toolHalvesOf(v3);
    expect(both.request).toEqual({ ...req, key: '' });
    expect(both.result).toMatchObject({ id: 'tu-1', result: 'total 0', success: true, end_ns: '25', result_llm_call_id: 'L2' });
    expect(mergeToolUse('h', both.request, both.result)).toEqual(v3);
    expect(toolHalvesOf({ ...v3, source: 'mcp' })).toEqual({ request: null, result: null });
  });
});
