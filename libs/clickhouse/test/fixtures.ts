/** Test fixtures (contract objects) shared by the specs of this lib. Not exported from index.ts. */
import type { AuditRecord, DeadLetter, Exchange, GenAiAgentEvent, GenAiInferenceEvent, GenAiToolEvent, ToolUse } from '@agentsight/contracts';

/** 2024-05-01T12:00:00.123456789Z in ns. */
export const T0 = 1714564800123456789n;

export function genaiEvent(over: Partial<GenAiInferenceEvent> & { attrs?: GenAiInferenceEvent['attributes'] } = {}): GenAiInferenceEvent {
  const { attrs, ...rest } = over;
  return {
    v: 1,
    id: 'genai-1',
    llm_call_id: 'call-1',
    exchange_id: 'ex-1',
    name: 'chat gpt-4.1',
    host: 'devbox',
    start_ns: T0,
    end_ns: T0 + 1_234_500_000n,
    pid: 4242,
    process_name: 'node',
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4.1',
      'gen_ai.response.model': 'gpt-4.1-2025-04-14',
      'gen_ai.response.id': 'chatcmpl-abc',
      'gen_ai.response.finish_reasons': ['tool_calls'],
      'gen_ai.usage.input_tokens': 120,
      'gen_ai.usage.output_tokens': 30,
      'gen_ai.usage.cache_read.input_tokens': 100,
      'server.address': 'api.openai.com',
      'http.response.status_code': 200,
      ...attrs,
    },
    tool_calls: [
      { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' },
      { id: 'call_2', name: 'broken', arguments: '{"city": "Par' },
    ],
    raw_usage: { prompt_tokens: 120, completion_tokens: 30, prompt_tokens_details: { cached_tokens: 100 } },
    output_text: 'Let me check.',
    ...rest,
    // Without `cost_usd`/`cost` unless given: an event of the version before those fields (read as null).
  } as GenAiInferenceEvent;
}

export function exchange(over: Partial<Exchange> = {}, req: Partial<Exchange['request']> = {}, res: Partial<NonNullable<Exchange['response']>> | null = {}): Exchange {
  return {
    v: 1,
    id: 'ex-1',
    conn: { key: 'devbox/boot/1/4242/0x1', host: 'devbox', boot_id: 'boot', run: 1, pid: 4242, tid: 4243, uid: 1000, comm: 'node', ssl: '0x1', partition: 3 },
    process: { pid: 4242, ppid: 1, uid: 1000, comm: 'node', exe: '/usr/bin/node', argv: ['node', 'agent.js'], start_ns: T0 - 5_000_000_000n },
    server_address: 'api.openai.com',
    request: {
      method: 'POST',
      target: '/v1/chat/completions',
      version: 'HTTP/1.1',
      headers: [['Host', 'api.openai.com'], ['Content-Type', 'application/json']],
      body: new TextEncoder().encode('{"model":"gpt-4.1","messages":[]}'),
      start_ns: T0,
      end_ns: T0 + 1_000_000n,
      ...req,
    },
    response:
      res === null
        ? null
        : {
            status: 200,
            reason: 'OK',
            version: 'HTTP/1.1',
            headers: [['Content-Type', 'application/json']],
            body: new TextEncoder().encode('{"id":"chatcmpl-abc"}'),
            events: [],
            streaming: false,
            start_ns: T0 + 500_000_000n,
            end_ns: T0 + 1_234_500_000n,
            ...res,
          },
    ...over,
  };
}

export function audit(over: Partial<AuditRecord> = {}): AuditRecord {
  return {
    v: 1,
    id: 'audit-1',
    type: 'process',
    action: 'exec',
    host: 'devbox',
    ts_ns: T0,
    pid: 4242,
    ppid: 1,
    comm: 'node',
    summary: 'exec /usr/bin/node agent.js',
    details: { event: 'exec', filename: '/usr/bin/node', argv: ['node', 'agent.js'], duration_ns: 12345678901234567890n },
    ...over,
  };
}

export function deadLetter(over: Partial<DeadLetter> = {}): DeadLetter {
  return {
    v: 1,
    id: 'dlq-1',
    stage: 'parser',
    host: 'devbox',
    reason: 'http_parse_error',
    error: 'bad request line',
    input_subject: 'agentsight.raw.ssl.devbox.3',
    input_seq: 77,
    input_id: 'raw-77',
    conn_key: 'devbox/boot/1/4242/0x1',
    sample: new TextEncoder().encode('GARBAGE / HTTP/1.1\r\n'),
    ts_ns: T0,
    ...over,
  };
}

export function toolUse(over: Partial<ToolUse> = {}): ToolUse {
  return {
    v: 1,
    id: 'tool-1',
    version: 3,
    source: 'llm',
    host: 'devbox',
    pid: 4242,
    comm: 'claude',
    agent_name: 'claude-code',
    conversation_id: 'conv-1',
    name: 'Bash',
    call_id: 'toolu_1',
    tool_type: 'function',
    arguments: '{"command":"ls -la"}',
    result: 'total 0',
    success: true,
    start_ns: T0,
    end_ns: T0 + 1_500_000_000n,
    origin_llm_call_id: 'call-1',
    result_llm_call_id: 'call-2',
    ...over,
  };
}

export function toolEvent(over: Partial<GenAiToolEvent> = {}): GenAiToolEvent {
  return {
    v: 1,
    kind: 'execute_tool',
    id: 'span-tool-1',
    version: 3,
    tool_use_id: 'tool-1',
    name: 'execute_tool Bash',
    host: 'devbox',
    start_ns: T0,
    end_ns: T0 + 1_500_000_000n,
    pid: 4242,
    process_name: 'claude',
    conversation_id: 'conv-1',
    success: true,
    origin_llm_call_id: 'call-1',
    attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'Bash' },
    ...over,
  };
}

export function agentEvent(over: Partial<GenAiAgentEvent> = {}): GenAiAgentEvent {
  return {
    v: 1,
    kind: 'invoke_agent',
    id: 'span-agent-1',
    version: 4,
    name: 'invoke_agent claude-code',
    agent_name: 'claude-code',
    conversation_id: 'conv-1',
    host: 'devbox',
    pid: 4242,
    process_name: 'claude',
    start_ns: T0,
    end_ns: T0 + 9_000_000_000n,
    llm_calls: 2,
    tool_uses: 1,
    tool_errors: 0,
    input_tokens: 1200,
    output_tokens: 80,
    cost_usd: 0.0042,
    unpriced_calls: 0,
    attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'claude-code' },
    ...over,
  };
}

/** DDL of `llm_calls` in `db` exactly as the first released schema created it (before the cost columns; month partitions). */
export function oldLlmCallsDdl(db: string): string {
  return `CREATE TABLE ${db}.llm_calls (
    call_id String, event_id String, name String, host LowCardinality(String),
    start_time DateTime64(9, 'UTC'), end_time DateTime64(9, 'UTC'), duration_ms Float64, pid UInt32,
    process_name LowCardinality(String), server_address LowCardinality(String), http_status Nullable(UInt16),
    operation LowCardinality(String), provider LowCardinality(String), request_model LowCardinality(Nullable(String)),
    response_model LowCardinality(Nullable(String)), response_id Nullable(String), finish_reasons Array(String),
    input_tokens Nullable(UInt64), output_tokens Nullable(UInt64), cache_read_input_tokens Nullable(UInt64),
    cache_creation_input_tokens Nullable(UInt64), reasoning_output_tokens Nullable(UInt64), error_type Nullable(String),
    tool_calls String, raw_usage String, attributes String, output_text String, exchange_id String,
    ingested_at DateTime64(9, 'UTC') DEFAULT now64(9)
  ) ENGINE = ReplacingMergeTree(ingested_at) PARTITION BY toYYYYMM(start_time) ORDER BY call_id`;
}
