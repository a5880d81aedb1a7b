/**
 * Early redaction (`AGENTSIGHT_REDACT_AT_PARSER=1`) under real capture: keys planted in the captured traffic (request
 * headers, target, body, the client's argv, a streamed response's text and tool-call arguments, a non-HTTP connection)
 * are in the raw stream as captured, and in no message of any derived stream (HTTP, exchange, LLM, GenAI, tool,
 * audit, dead letters) nor in the large-payload bucket; the calls are still analysed and stored.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { decode, LARGE_PAYLOAD_BUCKET, STREAMS, type DeadLetter } from '@agentsight/contracts';
import { connectNats } from '@agentsight/jetstream';
import { makeSelfSignedCert } from '@agentsight/testkit';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { api, captureRun, describeCapture, Infra, Stages, startInfra } from './harness';

type Row = Record<string, any>;
const CLIENT = join(__dirname, 'client.js');
const alnum = (n: number) => randomBytes(n * 2).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, n);

/** Every stored message of `stream` (raw bytes), by direct get over its sequence range. */
async function messages(nats: Awaited<ReturnType<typeof connectNats>>, stream: string): Promise<Uint8Array[]> {
  const info = await nats.jsm.streams.info(stream);
  const out: Uint8Array[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await nats.jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m) out.push(m.data);
  }
  return out;
}

/**
 * An Anthropic Messages endpoint that streams an answer quoting `key` in its text and in a tool call's arguments
 * (every request gets its own message id).
 */
function keyQuotingServer(key: string): { server: Server; url: Promise<string>; caPath: string; close(): void } {
  const cert = makeSelfSignedCert();
  let n = 0;
  const server = createServer({ cert: readFileSync(cert.certPath), key: readFileSync(cert.keyPath) }, (req, res) => {
    req.resume();
    req.on('end', () => {
      const id = `msg_redact_${++n}`;
      const ev = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.end([
        ev('message_start', { message: { id, type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], stop_reason: null, usage: { input_tokens: 12, output_tokens: 1 } } }),
        ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
        ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: `Your key is ${key}.` } }),
        ev('content_block_stop', { index: 0 }),
        ev('content_block_start', { index: 1, content_block: { type: 'tool_use', id: `toolu_${id}`, name: 'bash', input: {} } }),
        ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: JSON.stringify({ command: `OPENAI_API_KEY=${key} ./run.sh` }) } }),
        ev('content_block_stop', { index: 1 }),
        ev('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 20 } }),
        ev('message_stop', {}),
      ].join(''));
    });
  });
  const url = new Promise<string>((r) => server.listen(0, '127.0.0.1', () => r(`https://127.0.0.1:${(server.address() as AddressInfo).port}`)));
  return { server, url, caPath: cert.certPath, close: () => { server.close(); rmSync(cert.dir, { recursive: true, force: true }); } };
}

describeCapture('AGENTSIGHT_REDACT_AT_PARSER=1: no derived stream carries a planted key', () => {
  let infra: Infra;
  let stages: Stages;
  let srv: ReturnType<typeof keyQuotingServer>;
  // Random keys of the shapes the redaction rules know (each run its own, so nothing from another run matches).
  const anthropic = `sk-ant-api03-${alnum(40)}`;
  const google = `AIza${alnum(35)}`;
  const github = `ghp_${alnum(36)}`;
  const answer = `sk-proj-${alnum(40)}`;
  const bearer = `${alnum(30)}7`;
  const planted = { anthropic, google, github, answer, bearer };

  beforeAll(async () => {
    infra = await startInfra();
    infra.env.AGENTSIGHT_REDACT_AT_PARSER = '1';
    stages = new Stages(infra.env);
    await stages.startAll();
    srv = keyQuotingServer(answer);
  }, 120_000);

  afterAll(async () => {
    srv?.close();
    await stages?.stopAll();
    await infra?.stop();
  });

  test('planted keys are in AGENTSIGHT_RAW and in no derived stream; the calls are still stored', async () => {
    const url = await srv.url;
    const node = (args: string) => `node ${CLIENT} ${url} ${srv.caPath} ${args}`;
    const body = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, stream: true, messages: [{ role: 'user', content: `deploy with GITHUB_TOKEN=${github}` }] });
    const run = await captureRun(infra, [
      node(`secret /v1/messages - ${anthropic}`), // x-api-key, Authorization, Cookie, body; the key is in this argv too
      node(`post '/v1/messages?key=${google}' - '${body}'`),
      node(`garbage-with 'x-api-key: ${anthropic} authorization: Bearer ${bearer}'`), // a not_http dead letter
      node(`post /v1/chat/completions - '{"model":"gpt-4.1","messages":[{"role":"user","content":"key ${google} cut'`), // json_parse_error
    ].join(' && '));
    expect(run.code).toBe(0);
    expect(run.probe.lost_records).toBe(0);
    expect(run.probe.ringbuf_drops).toBe(0);
    await waitDrained(infra.env);

    const nats = await connectNats(infra.natsUrl, 'e2e-redact-scan');
    const found: Record<string, string[]> = {};
    const counts: Record<string, number> = {};
    let letters: DeadLetter[] = [];
    try {
      for (const s of [...STREAMS.map((x) => x.name), `OBJ_${LARGE_PAYLOAD_BUCKET}`]) {
        const msgs = await messages(nats, s);
        counts[s] = msgs.length;
        for (const [name, key] of Object.entries(planted)) {
          if (msgs.some((m) => Buffer.from(m).includes(key))) (found[s] ??= []).push(name);
        }
        if (s === 'AGENTSIGHT_DLQ') letters = msgs.map((m) => decode<DeadLetter>(m));
      }
    } finally {
      await nats.nc.close();
    }
    // Planted for real: every key went over TLS and was captured as it was.
    expect(found.AGENTSIGHT_RAW?.sort()).toEqual(Object.keys(planted).sort());
    // Nothing derived carries any of them.
    const leaks = Object.fromEntries(Object.entries(found).filter(([s]) => s !== 'AGENTSIGHT_RAW'));
    expect(leaks).toEqual({});
    // The derived streams really were scanned with content in them.
    for (const s of ['AGENTSIGHT_HTTP', 'AGENTSIGHT_EXCHANGE', 'AGENTSIGHT_LLM', 'AGENTSIGHT_AUDIT', 'AGENTSIGHT_TOOL', 'AGENTSIGHT_GENAI', 'AGENTSIGHT_DLQ']) {
      expect({ [s]: counts[s] > 0 }).toEqual({ [s]: true });
    }
    const notHttp = letters.filter((d) => d.stage === 'parser' && d.reason === 'not_http');
    expect(notHttp.length).toBeGreaterThan(0);
    expect(notHttp.some((d) => Buffer.from(d.sample).includes('x-api-key: [REDACTED]'))).toBe(true);
    expect(letters.some((d) => d.stage === 'analyzer' && d.reason === 'json_parse_error')).toBe(true);

    // Redaction kept the derived data usable: both Messages calls analysed, with their (redacted) tool call.
    const calls: Row[] = await api(infra, '/api/calls');
    const ours = calls.filter((c) => String(c['gen_ai.response.id']).startsWith('msg_redact_'));
    expect(ours).toHaveLength(2);
    expect(ours.map((c) => c['gen_ai.response.finish_reasons'])).toEqual([['tool_use'], ['tool_use']]);
    expect(JSON.stringify(await api(infra, '/api/audit'))).toContain('[REDACTED]');
  }, 240_000);
});
