/**
 * execute_tool / invoke_agent events and opt-in content attributes; the session store against the real Redis
 * (agentsight's Redis, libs/jetstream/src/config.ts redisUrl(), keys under a host name unique to this run, deleted afterwards).
 */
import { captureContentEnabled, connKey, deriveId, type LlmCall, type ToolUse } from '@agentsight/contracts';
import { connectRedis, redisUrl, type Redis } from '@agentsight/jetstream';
import { agentEventId, toAgentEvent, toInferenceEvent, toToolEvent } from './domain';
import { callContribution, deriveCall, deriveTool, toolContribution } from './derive';
import { SESSIONS_BUILT_KEY, SessionStore } from './session-store';

const HOST = `genai-spec-${process.pid}-${Date.now()}`;

function call(over: Partial<LlmCall> = {}): LlmCall {
  return {
    v: 1, id: 'llm-1', exchange_id: 'ex-1', provider: 'anthropic', api: 'messages', operation: 'chat', streaming: true,
    request_model: 'claude-haiku-4-5', response_model: 'claude-haiku-4-5', response_id: 'msg_1',
    usage: { input_tokens: 100, output_tokens: 20, cache_read_input_tokens: null, cache_creation_input_tokens: null, reasoning_output_tokens: null },
    usage_source: 'reported', usage_tokenizer: null, raw_usage: { input_tokens: 100, output_tokens: 20 }, finish_reasons: ['tool_use'],
    tool_calls: [{ id: 'toolu_1', name: 'Bash', arguments: '{"command":"ls"}' }], output_text: '', error_type: null,
    server_address: 'api.anthropic.com', http_status: 200, start_ns: 1_000n, end_ns: 2_000n, pid: 7, tid: 8, comm: 'claude', process: null,
    conn_key: connKey({ host: HOST, boot_id: 'b', run: 1, pid: 7, ssl: 1 }), host: HOST, conversation_id: 'conv-1', agent_name: 'claude-code',
    content: {
      input_messages: [{ role: 'user', parts: [{ type: 'text', content: 'list files' }] }],
      output_messages: [{ role: 'assistant', parts: [{ type: 'tool_call', id: 'toolu_1', name: 'Bash', arguments: { command: 'ls' } }], finish_reason: 'tool_call' }],
      system_instructions: [{ type: 'text', content: 'You are Claude Code.' }],
      tool_definitions: [{ type: 'function', name: 'Bash', parameters: { type: 'object' } }],
    },
    ...over,
  };
}

function tool(over: Partial<ToolUse> = {}): ToolUse {
  return {
    v: 1, id: 'tool-1', version: 3, source: 'llm', host: HOST, pid: 7, comm: 'claude', agent_name: 'claude-code', conversation_id: 'conv-1',
    name: 'Bash', call_id: 'toolu_1', tool_type: 'function', arguments: '{"command":"ls -la"}', result: 'total 0', success: false,
    start_ns: 2_000n, end_ns: 5_000n, origin_llm_call_id: 'llm-1', result_llm_call_id: 'llm-2', ...over,
  };
}

describe('content capture', () => {
  test('the switch: AGENTSIGHT_CAPTURE_CONTENT, else the OTel variable; default off', () => {
    expect(captureContentEnabled({})).toBe(false);
    expect(captureContentEnabled({ AGENTSIGHT_CAPTURE_CONTENT: '1' })).toBe(true);
    expect(captureContentEnabled({ AGENTSIGHT_CAPTURE_CONTENT: '0', OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true' })).toBe(false);
    expect(captureContentEnabled({ OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true' })).toBe(true);
  });

  test('inference events carry the semconv content attributes only when on', () => {
    const off = toInferenceEvent(call());
    expect(Object.keys(off.attributes).filter((k) => /messages|instructions|definitions/.test(k))).toEqual([]);
    expect(off.attributes['gen_ai.conversation.id']).toBe('conv-1');
    expect(off.attributes['gen_ai.agent.name']).toBe('claude-code');
    expect(off.conversation_id).toBe('conv-1');
    const on = toInferenceEvent(call(), { captureContent: true }).attributes;
    expect(JSON.parse(on['gen_ai.input.messages'] as string)).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'list files' }] }]);
    expect(JSON.parse(on['gen_ai.output.messages'] as string)[0]).toMatchObject({ role: 'assistant', finish_reason: 'tool_call' });
    expect(JSON.parse(on['gen_ai.system_instructions'] as string)).toEqual([{ type: 'text', content: 'You are Claude Code.' }]);
    expect(JSON.parse(on['gen_ai.tool.definitions'] as string)).toEqual([{ type: 'function', name: 'Bash', parameters: { type: 'object' } }]);
  });

  test('execute_tool events: semconv attributes; arguments and result only when on', () => {
    const ev = toToolEvent(tool());
    expect(ev).toMatchObject({ kind: 'execute_tool', id: deriveId('genai', 'execute_tool', 'tool-1'), version: 3, name: 'execute_tool Bash', start_ns: 2_000n, end_ns: 5_000n });
    expect(ev.attributes).toEqual({
      'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'Bash', 'gen_ai.tool.call.id': 'toolu_1', 'gen_ai.tool.type': 'function',
      'gen_ai.conversation.id': 'conv-1', 'gen_ai.agent.name': 'claude-code', 'error.type': 'tool_error',
    });
    const on = toToolEvent(tool({ success: true }), { captureContent: true }).attributes;
    expect(on).toMatchObject({ 'gen_ai.tool.call.arguments': '{"command":"ls -la"}', 'gen_ai.tool.call.result': 'total 0' });
    expect(on['error.type']).toBeUndefined();
  });
});

describe('session contributions (what the live fold and a rebuild add)', () => {
  test('a call: its item, tokens, cost and process; a tool use: its item, failure; none without a conversation', () => {
    expect(callContribution(call(), 0.25, 'claude')).toMatchObject({
      item: 'llm:llm-1', kind: 'llm', conversation_id: 'conv-1', input_tokens: 100, output_tokens: 20, cost_usd: 0.25, start_ns: 1_000n, end_ns: 2_000n,
      agent_name: 'claude-code', pid: 7, process_name: 'claude', provider: 'anthropic', failed: false,
    });
    expect(callContribution(call({ usage: { ...call().usage, input_tokens: null }, agent_name: null }), null, 'node')).toMatchObject({ input_tokens: 0, cost_usd: null, agent_name: 'node' });
    expect(toolContribution(tool())).toMatchObject({ item: 'tool:tool-1', kind: 'tool', failed: true, input_tokens: 0, cost_usd: null, process_name: 'claude' });
    expect(callContribution(call({ conversation_id: null }), 0, 'claude')).toBeNull();
    expect(toolContribution(tool({ conversation_id: null }))).toBeNull();
  });
});

describe('agent sessions (real Redis)', () => {
  let redis: Redis;
  beforeAll(async () => {
    redis = await connectRedis(redisUrl(), 'genai-spec');
  });
  afterAll(async () => {
    const keys = await redis.keys(`agentsight:session:${HOST}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  test('calls and tool uses fold once each, in any order; versions increase; the last event has the totals', async () => {
    const store = new SessionStore(redis, 600);
    const t = await deriveTool(tool(), store); // the tool use arrives before the calls
    const c2 = await deriveCall(call({ id: 'llm-2', start_ns: 6_000n, end_ns: 9_000n, tool_calls: [], usage: { ...call().usage, input_tokens: 150, output_tokens: 30 } }), store);
    const c1 = await deriveCall(call(), store);
    const again = await deriveCall(call(), store); // redelivery: nothing changes
    const agents = [t, c2, c1, again].map((d) => d.outputs.find((o) => (o.value as { kind?: string }).kind === 'invoke_agent')!);
    const versions = agents.map((o) => (o.value as { version: number }).version);
    expect(versions[0]).toBeLessThan(versions[1]);
    expect(versions[1]).toBeLessThan(versions[2]);
    expect(versions[3]).toBe(versions[2]);
    expect(agents[3].id).toBe(agents[2].id); // same content, same Nats-Msg-Id: dropped by the duplicate window
    expect(new Set(agents.map((o) => o.id)).size).toBe(3);
    const last = agents[3].value as ReturnType<typeof toAgentEvent>;
    expect(last).toMatchObject({
      kind: 'invoke_agent', id: agentEventId(HOST, 'conv-1'), name: 'invoke_agent claude-code', agent_name: 'claude-code', conversation_id: 'conv-1',
      llm_calls: 2, tool_uses: 1, tool_errors: 1, input_tokens: 250, output_tokens: 50, start_ns: 1_000n, end_ns: 9_000n, pid: 7,
    });
    // claude-haiku-4-5: $1 / $5 per 1M tokens → (250 × 1 + 50 × 5) / 1e6.
    expect(last.cost_usd).toBeCloseTo(0.0005, 12);
    expect(last.attributes).toMatchObject({ 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': last.id, 'gen_ai.provider.name': 'anthropic', 'gen_ai.usage.input_tokens': 250 });
  });

  test('liftVersion raises a session version, never lowers it; the next fold goes on from there', async () => {
    const store = new SessionStore(redis, 600);
    const first = await deriveCall(call({ id: 'llm-l1', conversation_id: 'conv-lift' }), store);
    expect((first.outputs[1].value as { version: number }).version).toBe(1);
    expect(await store.liftVersion(HOST, 'conv-lift', 5)).toBe(5);
    expect(await store.liftVersion(HOST, 'conv-lift', 3)).toBe(5);
    const next = await deriveCall(call({ id: 'llm-l2', conversation_id: 'conv-lift' }), store);
    expect(next.outputs[1].value).toMatchObject({ version: 6, llm_calls: 2 });
    expect(await redis.ttl(`agentsight:session:${HOST}:conv-lift`)).toBeGreaterThan(0);
  });

  test('with a rebuild: a fold that finds the marker missing folds nothing until the rebuild ran, once for concurrent folds', async () => {
    // Under a key prefix of its own: the marker is one key for all sessions, and agentsight's own genai may use this Redis.
    const prefixed = await connectRedis(redisUrl(), 'genai-spec-gated', `genai-spec-${process.pid}:`);
    try {
      let runs = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const store: SessionStore = new SessionStore(prefixed, 600, async () => {
        runs++;
        await gate;
        // What the streams say was folded before the loss: call 1 (its version already published: 4).
        await store.foldRebuilt(callContribution(call(), 0.0002, 'claude')!);
        await store.liftVersion(HOST, 'conv-1', 5);
      });
      const folds = [deriveCall(call({ id: 'llm-2', start_ns: 6_000n, end_ns: 9_000n }), store), deriveTool(tool(), store)];
      await new Promise((r) => setTimeout(r, 200));
      expect(runs).toBe(1);
      expect(await prefixed.exists(`agentsight:session:${HOST}:conv-1`)).toBe(0); // nothing folded while it waits
      release();
      const [c2, t] = await Promise.all(folds);
      expect(runs).toBe(1);
      expect(await prefixed.exists(SESSIONS_BUILT_KEY)).toBe(1);
      const versions = [c2, t].map((d) => (d.outputs.at(-1)!.value as { version: number }).version).sort();
      expect(versions).toEqual([6, 7]); // above the version published before the loss
      const last = [c2, t].map((d) => d.outputs.at(-1)!.value as ReturnType<typeof toAgentEvent>).find((e) => e.version === 7)!;
      expect(last).toMatchObject({ llm_calls: 2, tool_uses: 1, tool_errors: 1, input_tokens: 200, output_tokens: 40 });
      // A redelivered call 1 (folded by the rebuild) changes nothing.
      const again = await deriveCall(call(), store);
      expect(again.outputs[1].value).toMatchObject({ version: 7, llm_calls: 2 });
    } finally {
      const keys = await redis.keys(`genai-spec-${process.pid}:*`);
      if (keys.length) await redis.del(...keys);
      prefixed.disconnect();
    }
  });

  test('an unpriced call makes cost partial, never 0; no conversation → no session event', async () => {
    const store = new SessionStore(redis, 600);
    const d = await deriveCall(call({ id: 'llm-x', conversation_id: 'conv-2', response_model: 'no-such-model', request_model: 'no-such-model' }), store);
    expect(d.outputs.map((o) => (o.value as { kind?: string }).kind)).toEqual([undefined, 'invoke_agent']);
    expect(d.outputs[1].value).toMatchObject({ llm_calls: 1, unpriced_calls: 1, cost_usd: null });
    expect((await deriveCall(call({ id: 'llm-y', conversation_id: null }), store)).outputs).toHaveLength(1);
  });
});
