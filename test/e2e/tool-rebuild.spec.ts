/**
 * The analyzer's Redis index survives Redis losing it (issue 10: Redis is a cache, never the only copy). A tool use
 * whose request half was indexed before a FLUSHALL (as a Redis restarted empty) and whose result comes after it is
 * still published complete (version 3, with its origin call), not as a result-only version 2; a Responses call
 * chained (`previous_response_id`) to a response recorded before the loss still gets that response's conversation.
 * The real analyzer service, private NATS and Redis; exchanges published as the aggregator does.
 */
import { connKey, decode, STREAM, Subjects, type Exchange, type LlmCall, type ToolUse } from '@agentsight/contracts';
import { Publisher } from '@agentsight/jetstream';
import { exchangeFor, groundTruthFor, makeExchange } from '@agentsight/testkit';
import { analyzeExchange } from '../../services/analyzer/src/domain';
import { TOOLS_BUILT_KEY } from '../../services/analyzer/src/tool-index';
import { until, useBrokers } from './harness';

const HOST = 'e2e-host';
const f = useBrokers('tool-rebuild-spec');

/** Every message of `stream`, decoded, in stream order. */
async function all<T>(stream: string): Promise<T[]> {
  const last = (await f.nats.jsm.streams.info(stream)).state.last_seq;
  const out: T[] = [];
  for (let s = 1; s <= last; s++) {
    const m = await f.nats.jsm.streams.getMessage(stream, { seq: s }).catch(() => null);
    if (m) out.push(decode<T>(m.data));
  }
  return out;
}

const publish = (ex: Exchange) => new Publisher(f.nats.js, f.nats.large).publish(Subjects.exchange(HOST), ex.id, ex);

/** A Responses API exchange of pid 4711 answering `respId` (chained to `previous` when given). */
function responses(id: string, respId: string, previous: string | null, atNs: bigint): Exchange {
  const ex = makeExchange({
    id, host: 'api.openai.com', target: '/v1/responses', status: 200, pid: 4711,
    reqBody: JSON.stringify({ model: 'gpt-4.1-nano', input: 'hi', ...(previous ? { previous_response_id: previous } : {}) }),
    respBody: JSON.stringify({
      id: respId, object: 'response', model: 'gpt-4.1-nano', status: 'completed',
      output: [{ type: 'message', id: `msg_${respId}`, role: 'assistant', content: [{ type: 'output_text', text: 'ok', annotations: [] }] }],
      usage: { input_tokens: 5, output_tokens: 1, total_tokens: 6 },
    }),
    times: { reqStart: atNs, reqEnd: atNs + 1_000_000n, respStart: atNs + 2_000_000n, respEnd: atNs + 3_000_000n },
  });
  ex.conn = { ...ex.conn, host: HOST, key: connKey({ host: HOST, boot_id: 'boot-1', run: 1, pid: 4711, ssl: 0x11 }) };
  return ex;
}

test('after FLUSHALL a tool result completes the request half indexed before it, and a chained Responses call keeps its conversation', async () => {
  await f.stages.start('analyzer');
  // A: a streamed chat completion asking for get_current_weather; B: the next request, carrying the tool's result.
  const a = exchangeFor(groundTruthFor('ddtrace__completion_stream_with_tools.yaml'));
  a.conn = { ...a.conn, host: HOST };
  const tc = analyzeExchange(a).call!.tool_calls[0] as { id: string; name: string; arguments: string };
  const req = JSON.parse(Buffer.from(a.request.body).toString('utf8'));
  const next = { ...req, messages: [...req.messages, { role: 'assistant', content: null, tool_calls: [{ id: tc.id, type: 'function', function: { name: tc.name, arguments: tc.arguments } }] }, { role: 'tool', tool_call_id: tc.id, content: 'sunny' }] };
  const b = makeExchange({
    id: 'tool-rebuild:b', host: a.server_address, target: a.request.target, reqBody: JSON.stringify(next), status: 200, pid: a.conn.pid,
    respBody: JSON.stringify({ id: 'chatcmpl-b', object: 'chat.completion', model: 'gpt-3.5-turbo-0613', choices: [{ index: 0, message: { role: 'assistant', content: 'Sunny.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 120, completion_tokens: 3 } }),
    times: { reqStart: a.response!.end_ns + 2_000_000_000n, reqEnd: a.response!.end_ns + 2_001_000_000n, respStart: a.response!.end_ns + 2_500_000_000n, respEnd: a.response!.end_ns + 2_600_000_000n },
  });
  b.conn = { ...b.conn, host: HOST, key: connKey({ host: HOST, boot_id: 'boot-1', run: 7, pid: a.conn.pid, ssl: 0x7777 }) };
  const now = BigInt(Date.now()) * 1_000_000n;
  const first = responses('tool-rebuild:r1', 'resp_first', null, now);

  await publish(a);
  await publish(first);
  await until('the request half published (version 1) and the first Responses call', async () => {
    const tools = await all<ToolUse>(STREAM.tool);
    const calls = await all<LlmCall>(STREAM.llm);
    return tools.some((t) => t.version === 1) && calls.some((c) => c.response_id === 'resp_first');
  }, 60_000);
  const [v1] = await all<ToolUse>(STREAM.tool);
  const conversation = (await all<LlmCall>(STREAM.llm)).find((c) => c.response_id === 'resp_first')!.conversation_id;
  expect(conversation).toBeTruthy();

  await f.redis.flushall();
  await publish(b);
  await publish(responses('tool-rebuild:r2', 'resp_second', 'resp_first', now + 10_000_000n));
  await until('the tool use after the result and the chained call', async () => {
    const tools = await all<ToolUse>(STREAM.tool);
    const calls = await all<LlmCall>(STREAM.llm);
    return tools.length > 1 && calls.some((c) => c.response_id === 'resp_second');
  }, 60_000);
  const tools = await all<ToolUse>(STREAM.tool);
  expect(tools.map((t) => t.version)).toEqual([1, 3]);
  expect(tools[1]).toMatchObject({ id: v1.id, name: 'get_current_weather', result: 'sunny', origin_llm_call_id: v1.origin_llm_call_id, start_ns: v1.start_ns });
  const chained = (await all<LlmCall>(STREAM.llm)).find((c) => c.response_id === 'resp_second')!;
  expect(chained.conversation_id).toBe(conversation);
  expect(await f.redis.exists(TOOLS_BUILT_KEY)).toBe(1);
}, 180_000);
