/**
 * How long the Redis cache rebuilds take (issue 10; not a test): `npx tsx bench/rebuild.bench.ts [calls=20000]` after
 * `npm run setup` and a build (no root). On a private nats-server and redis-server (test/e2e harness) it stores a
 * retained history as the pipeline would: `calls` LLM calls of 200 sessions (Anthropic, 1,000 input / 200 output
 * tokens, 500 characters of output text) on `AGENTSIGHT_LLM`, each derived by genai's own `deriveCall` (its inference
 * event and its session's `invoke_agent` event on `AGENTSIGHT_GENAI`), and one tool use in versions 1 and 3 per 4
 * calls on `AGENTSIGHT_TOOL`. Then, Redis flushed each time (what a Redis restarted empty finds): genai's
 * `rebuildSessions` (both input streams, then the GENAI stream for the versions) and the analyzer's
 * `rebuildToolIndex` (the tool stream, then the LLM stream for Responses chains), wall ms and messages read per
 * second. While a rebuild runs the stage waits (its RebuildGate), so this is the pause after a Redis loss. Writes
 * bench/out/rebuild.json and prints it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg } from 'node:os';
import { join } from 'node:path';
import { connKey, Subjects, hostToken, type LlmCall, type ToolUse } from '@agentsight/contracts';
import { connectNats, connectRedis, ensureStreams, Publisher, type Output } from '@agentsight/jetstream';
import { deriveCall } from '../services/genai/src/derive';
import { rebuildSessions } from '../services/genai/src/session-rebuild';
import { SessionStore } from '../services/genai/src/session-store';
import { rebuildToolIndex } from '../services/analyzer/src/tool-rebuild';
import { ToolIndex } from '../services/analyzer/src/tool-index';
import { ROOT, startInfra } from '../test/e2e/harness';

const CALLS = Number(process.argv[2] || 20_000);
const SESSIONS = 200;
const HOST = 'bench';

function call(i: number, atNs: bigint): LlmCall {
  return {
    v: 1, id: `llm-${i}`, exchange_id: `ex-${i}`, provider: 'anthropic', api: 'messages', operation: 'chat', streaming: true,
    request_model: 'claude-haiku-4-5', response_model: 'claude-haiku-4-5', response_id: `msg_${i}`,
    usage: { input_tokens: 1000, output_tokens: 200, cache_read_input_tokens: null, cache_creation_input_tokens: null, reasoning_output_tokens: null },
    usage_source: 'reported', usage_tokenizer: null, raw_usage: { input_tokens: 1000, output_tokens: 200 }, finish_reasons: ['end_turn'],
    tool_calls: [], output_text: 'x'.repeat(500), error_type: null, server_address: 'api.anthropic.com', http_status: 200,
    start_ns: atNs, end_ns: atNs + 1_000_000n, pid: 4000 + (i % SESSIONS), tid: 1, comm: 'claude', process: null,
    conn_key: connKey({ host: HOST, boot_id: 'b', run: 1, pid: 4000 + (i % SESSIONS), ssl: 1 }), host: HOST, conversation_id: `conv-${i % SESSIONS}`, agent_name: 'claude-code',
  };
}

function tool(i: number, version: 1 | 3, atNs: bigint): ToolUse {
  return {
    v: 1, id: `tool-${i}`, version, source: 'llm', host: HOST, pid: 4000 + (i % SESSIONS), comm: 'claude', agent_name: 'claude-code', conversation_id: `conv-${i % SESSIONS}`,
    name: 'Bash', call_id: `toolu_${i}`, tool_type: 'function', arguments: '{"command":"ls -la"}', result: version === 3 ? 'total 0' : null, success: version === 3 ? true : null,
    start_ns: atNs, end_ns: version === 3 ? atNs + 5_000_000n : null, origin_llm_call_id: `llm-${i}`, result_llm_call_id: version === 3 ? `llm-${i + 1}` : null,
  };
}

async function main(): Promise<void> {
  const infra = await startInfra();
  const nats = await connectNats(infra.natsUrl, 'rebuild-bench');
  const redis = await connectRedis(infra.env.REDIS_URL!, 'rebuild-bench');
  try {
    await ensureStreams(nats.jsm);
    const pub = new Publisher(nats.js, nats.large);
    const sessions = new SessionStore(redis);
    const t0 = Date.now();
    const base = BigInt(Date.now() - 3_600_000) * 1_000_000n;
    const pending: Promise<unknown>[] = [];
    const put = async (outs: Output[]) => {
      for (const o of outs) pending.push(pub.publish(o.subject, o.id, o.value));
      if (pending.length >= 500) await Promise.all(pending.splice(0));
    };
    for (let i = 0; i < CALLS; i++) {
      const at = base + BigInt(i) * 1_000_000_00n;
      const c = call(i, at);
      await put([{ subject: Subjects.llm(hostToken(HOST)), id: c.id, value: c }]);
      await put((await deriveCall(structuredClone(c), sessions)).outputs);
      if (i % 4 === 0) {
        for (const v of [1, 3] as const) await put([{ subject: Subjects.tool(hostToken(HOST)), id: `tool-${i}:v${v}`, value: tool(i, v, at + 2_000_000n) }]);
      }
    }
    await Promise.all(pending);
    const stored = Object.fromEntries(await Promise.all(['AGENTSIGHT_LLM', 'AGENTSIGHT_GENAI', 'AGENTSIGHT_TOOL'].map(async (s) => {
      const st = (await nats.jsm.streams.info(s)).state;
      return [s, { messages: st.messages, bytes: st.bytes }] as const;
    })));
    const publishMs = Date.now() - t0;

    await redis.flushall();
    let t = Date.now();
    const s = await rebuildSessions(nats, new SessionStore(redis));
    const sessionsMs = Date.now() - t;
    await redis.flushall();
    t = Date.now();
    const tl = await rebuildToolIndex(nats, new ToolIndex(redis));
    const toolsMs = Date.now() - t;
    const read = (...names: string[]) => names.reduce((a, n) => a + stored[n].messages, 0);
    const out = {
      date: new Date().toISOString(), host: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model, load_at_start: loadavg()[0],
      calls: CALLS, sessions: SESSIONS, streams: stored, publish_ms: publishMs,
      genai_sessions: { ms: sessionsMs, messages_read: read('AGENTSIGHT_LLM', 'AGENTSIGHT_TOOL', 'AGENTSIGHT_GENAI'), per_s: Math.round(read('AGENTSIGHT_LLM', 'AGENTSIGHT_TOOL', 'AGENTSIGHT_GENAI') / (sessionsMs / 1000)), report: s },
      analyzer_tools: { ms: toolsMs, messages_read: read('AGENTSIGHT_TOOL', 'AGENTSIGHT_LLM'), per_s: Math.round(read('AGENTSIGHT_TOOL', 'AGENTSIGHT_LLM') / (toolsMs / 1000)), report: tl },
    };
    mkdirSync(join(ROOT, 'bench/out'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/out/rebuild.json'), JSON.stringify(out, null, 2));
    console.log(JSON.stringify(out, null, 2));
  } finally {
    await nats.nc.close();
    redis.disconnect();
    await infra.stop();
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
