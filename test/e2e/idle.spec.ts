/**
 * A connection that stops mid-message and never closes (a process still alive, an idle keep-alive connection)
 * must not hold its partition's ack floor forever: after the parser's idle time (here 2 s) its unfinished message
 * is finished as incomplete, every raw record is acked, and the rest of the pipeline carries on. No eBPF needed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RawSslRecord, Subjects } from '@agentsight/contracts';
import { connectNats, Nats, Publisher } from '@agentsight/jetstream';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { api, Infra, ROOT, Stages, startInfra } from './harness';

describe('parser idle eviction', () => {
  let infra: Infra;
  let stages: Stages;
  let nats: Nats;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'services/api/dist/main.js'))) throw new Error('services not built: run npm run setup');
    infra = await startInfra();
    stages = new Stages({ ...infra.env, AGENTSIGHT_PARSER_IDLE_S: '2' });
    await stages.startAll();
    nats = await connectNats(infra.natsUrl, 'idle-spec');
  }, 120_000);

  afterAll(async () => {
    await nats?.nc.close();
    await stages?.stopAll();
    await infra?.stop();
  });

  test('an unfinished request on a connection that never closes is finished and acked after the idle time', async () => {
    const now = BigInt(Date.now()) * 1_000_000n;
    const body = '{"model":"gpt-4.1-nano","messages":[{"role":"user","content":"hello"}]}';
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const data = Buffer.from(head + body.slice(0, 20)); // the rest never comes
    const rec: RawSslRecord = {
      v: 1, kind: 'ssl', host: 'e2e-host', boot_id: 'idle', run: 1, seq: 0, ts_boot_ns: now, ts_wall_ns: now, pid: 4242, tid: 4242,
      uid: 0, comm: 'agent', ssl: 0x5000, fn: 'SSL_write', dir: 'write', len: data.length, frag_offset: 0, frag_total: data.length,
      stream_offset: 0, partition: 3, data,
    };
    await new Publisher(nats.js, nats.large).publish(Subjects.rawSsl('e2e-host', 3), 'idle:1:0', rec);
    const pendingOf = async () => (await nats.jsm.consumers.info('AGENTSIGHT_RAW', 'parser-p3')).num_ack_pending;
    await new Promise((r) => setTimeout(r, 500));
    expect(await pendingOf()).toBe(1); // held: its bytes are not in any published message yet
    const deadline = Date.now() + 20_000;
    while ((await pendingOf()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await pendingOf()).toBe(0);
    await waitDrained(infra.env);
    const list: Record<string, any>[] = await api(infra, '/api/exchanges?target=/v1/chat/completions');
    expect(list).toHaveLength(1);
    const ex: Record<string, any> = await api(infra, `/api/exchanges/${list[0].exchange_id}`);
    expect(ex.request_body_incomplete).toBe('short');
    expect(Buffer.from(ex.request_body_base64, 'base64').toString()).toBe(body.slice(0, 20));
    expect(ex.has_response).toBe(false);
  }, 60_000);
});
