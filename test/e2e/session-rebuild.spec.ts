/**
 * genai's session totals survive Redis losing them (issue 10: Redis is a cache, never the only copy): a session with a
 * call and a tool use folded, then Redis flushed (FLUSHALL, as a Redis restarted empty), then another call of the same
 * session. The `invoke_agent` event that supersedes the others (the highest version, what storage keeps) has every
 * call and tool use, tokens and cost of the session, not only what came after the loss; and a genai started on an
 * empty Redis rebuilds the totals before it folds anything. The real genai service, private NATS and Redis; calls and
 * tool uses published as the analyzer does.
 */
import { connKey, decode, hostToken, STREAM, Subjects, type GenAiAgentEvent, type GenAiInferenceEvent, type GenAiRecord, type LlmCall, type ToolUse } from '@agentsight/contracts';
import { Publisher } from '@agentsight/jetstream';
import { until, useBrokers } from './harness';
import { SESSIONS_BUILT_KEY } from '../../services/genai/src/session-store';

const HOST = 'sessions';
const CONV = 'conv-rebuild';
const f = useBrokers('session-rebuild-spec');

/** An Anthropic call of the session at `startMs` (priced: claude-haiku-4-5). */
function call(id: string, input: number, output: number, startMs: number): LlmCall {
  const ns = BigInt(startMs) * 1_000_000n;
  return {
    v: 1, id, exchange_id: `ex-${id}`, provider: 'anthropic', api: 'messages', operation: 'chat', streaming: true,
    request_model: 'claude-haiku-4-5', response_model: 'claude-haiku-4-5', response_id: `msg_${id}`,
    usage: { input_tokens: input, output_tokens: output, cache_read_input_tokens: null, cache_creation_input_tokens: null, reasoning_output_tokens: null },
    usage_source: 'reported', usage_tokenizer: null, raw_usage: { input_tokens: input, output_tokens: output }, finish_reasons: ['end_turn'],
    tool_calls: [], output_text: 'ok', error_type: null, server_address: 'api.anthropic.com', http_status: 200,
    start_ns: ns, end_ns: ns + 1_000_000n, pid: 77, tid: 77, comm: 'claude', process: null,
    conn_key: connKey({ host: HOST, boot_id: 'b', run: 1, pid: 77, ssl: 1 }), host: HOST, conversation_id: CONV, agent_name: 'claude-code',
  };
}

/** A complete tool use of the session whose result failed. */
function tool(startMs: number): ToolUse {
  const ns = BigInt(startMs) * 1_000_000n;
  return {
    v: 1, id: 'tool-rebuild', version: 3, source: 'llm', host: HOST, pid: 77, comm: 'claude', agent_name: 'claude-code', conversation_id: CONV,
    name: 'Bash', call_id: 'toolu_r', tool_type: 'function', arguments: '{"command":"ls"}', result: 'no such file', success: false,
    start_ns: ns, end_ns: ns + 2_000_000n, origin_llm_call_id: 'llm-a', result_llm_call_id: null,
  };
}

/** Every event genai published, in stream order. */
async function published(): Promise<GenAiRecord[]> {
  const last = (await f.nats.jsm.streams.info(STREAM.genai)).state.last_seq;
  const out: GenAiRecord[] = [];
  for (let s = 1; s <= last; s++) {
    const m = await f.nats.jsm.streams.getMessage(STREAM.genai, { seq: s }).catch(() => null);
    if (m) out.push(decode<GenAiRecord>(m.data));
  }
  return out;
}

const agents = async () => (await published()).filter((e): e is GenAiAgentEvent => e.kind === 'invoke_agent' && e.conversation_id === CONV);
/** The session's event storage keeps: the highest version (the last published of it on a tie). */
const stored = async () => (await agents()).reduce<GenAiAgentEvent | null>((a, e) => (!a || e.version >= a.version ? e : a), null);

test('after FLUSHALL the next event of a session has everything folded before the loss, at a higher version; a genai started on an empty Redis rebuilds first', async () => {
  const pub = new Publisher(f.nats.js, f.nats.large);
  await f.stages.start('genai');
  // Its first rebuild (of empty streams) done, so the folds below are live ones, each its own version.
  await until('the first rebuild', async () => (await f.redis.exists(SESSIONS_BUILT_KEY)) === 1, 60_000);
  const t0 = Date.now() - 60_000;
  const a = call('llm-a', 100, 20, t0);
  await pub.publish(Subjects.llm(hostToken(HOST)), a.id, a);
  await pub.publish(Subjects.tool(hostToken(HOST)), 'tool-rebuild:v3', tool(t0 + 10));
  await until('the session with the call and the tool use', async () => {
    const s = await stored();
    return s?.llm_calls === 1 && s.tool_uses === 1;
  }, 60_000);
  const before = (await stored())!;
  expect(before).toMatchObject({ input_tokens: 100, output_tokens: 20, tool_errors: 1 });

  await f.redis.flushall();
  const b = call('llm-b', 50, 10, t0 + 20);
  await pub.publish(Subjects.llm(hostToken(HOST)), b.id, b);
  await until('the event of the second call', async () => (await published()).some((e) => e.kind !== 'invoke_agent' && e.kind !== 'execute_tool' && (e as GenAiInferenceEvent).llm_call_id === 'llm-b'), 60_000);
  await until('the session event after the second call', async () => (await agents()).some((e) => e.version > before.version), 60_000);
  const after = (await stored())!;
  const costs = (await published()).filter((e): e is GenAiInferenceEvent => !e.kind || e.kind === 'inference').map((e) => e.cost_usd);
  expect(costs).toHaveLength(2);
  expect(costs.every((c) => typeof c === 'number' && c > 0)).toBe(true);
  expect(after).toMatchObject({ llm_calls: 2, tool_uses: 1, tool_errors: 1, input_tokens: 150, output_tokens: 30, unpriced_calls: 0, start_ns: a.start_ns, end_ns: b.end_ns });
  expect(after.cost_usd).toBeCloseTo(costs[0]! + costs[1]!, 12);
  expect(after.version).toBeGreaterThan(before.version);
  expect(await f.redis.exists(SESSIONS_BUILT_KEY)).toBe(1);

  // A genai (re)started on an empty Redis: the totals are back before any input comes.
  await f.stages.kill9('genai');
  await f.redis.flushall();
  await f.stages.start('genai');
  const key = `agentsight:session:${HOST}:${CONV}`;
  await until('the session totals rebuilt at start', async () => (await f.redis.exists(SESSIONS_BUILT_KEY)) === 1, 60_000);
  expect(await f.redis.hmget(key, 'llm_calls', 'tool_uses', 'input_tokens', 'output_tokens')).toEqual(['2', '1', '150', '30']);
  expect(Number(await f.redis.hget(key, 'version'))).toBe(after.version + 1);
}, 240_000);
