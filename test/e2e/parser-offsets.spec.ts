/**
 * The parser's per-connection offsets in Redis (`agentsight:parser:offset:<conn key>`) are bounded by how the
 * connection ends: a connection still open keeps them a day (so it resumes at the right byte after a restart or a
 * long idle pause), a closed one (`ssl_close`: its process exited) and an idle-evicted HTTP/1 one only 10 minutes.
 * The real parser service, private NATS and Redis; raw records published as the probe does.
 */
import { execFileSync } from 'node:child_process';
import { connKey, Subjects, type RawSslCloseRecord, type RawSslRecord } from '@agentsight/contracts';
import { connectNats, Publisher } from '@agentsight/jetstream';
import { startInfra, Stages, until, type Infra } from './harness';

const DAY_S = 24 * 3600;
let infra: Infra;
let stages: Stages;

beforeAll(async () => {
  infra = await startInfra();
  // Idle eviction after 8 s of record time.
  stages = new Stages({ ...infra.env, AGENTSIGHT_PARSER_IDLE_S: '8' });
  await stages.start('parser');
}, 120_000);
afterAll(async () => {
  await stages?.stopAll();
  await infra?.stop();
});

const redis = (...args: string[]) => execFileSync('redis-cli', ['-u', String(infra.env.REDIS_URL), ...args], { encoding: 'utf8' }).trim();

/** One HTTP/1.1 exchange on connection `ssl` of pid 4242, as raw SSL records stamped `laterMs` from now. */
function exchange(ssl: number, seq: number, laterMs = 0): RawSslRecord[] {
  const parts: Array<['write' | 'read', string]> = [
    ['write', 'POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 2\r\n\r\n{}'],
    ['read', 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'],
  ];
  const now = BigInt(Date.now() + laterMs) * 1_000_000n;
  return parts.map(([dir, text], k) => {
    const data = Buffer.from(text);
    return {
      v: 1, kind: 'ssl', host: 'offsets', boot_id: 'b', run: 1, seq: seq + k, ts_boot_ns: now, ts_wall_ns: now, pid: 4242, tid: 4242, uid: 0, comm: 'agent',
      ssl, fn: dir === 'write' ? 'SSL_write' : 'SSL_read', dir, len: data.length, frag_offset: 0, frag_total: data.length, stream_offset: 0, partition: 1, data,
    };
  });
}

test('closed: 10 min; open: a day, then 10 min once evicted idle (HTTP/1)', async () => {
  const nats = await connectNats(infra.natsUrl, 'offsets-spec');
  const pub = new Publisher(nats.js, nats.large);
  try {
    const closed = exchange(0xc105ed, 0);
    const open = exchange(0x0be7, 10);
    for (const r of [...closed, ...open]) await pub.publish(Subjects.rawSsl('offsets', 1), `offsets:${r.seq}`, r);
    const end: RawSslCloseRecord = {
      v: 1, kind: 'ssl_close', host: 'offsets', boot_id: 'b', run: 1, seq: 20, ts_boot_ns: closed[1].ts_boot_ns, ts_wall_ns: closed[1].ts_wall_ns,
      pid: 4242, tid: 4242, uid: 0, comm: 'agent', ssl: 0xc105ed, partition: 1, reason: 'process_exit', write_offset: closed[0].len, read_offset: closed[1].len,
    };
    await pub.publish(Subjects.rawSsl('offsets', 1), 'offsets:20', end);
    const key = (r: RawSslRecord) => `agentsight:parser:offset:${connKey(r)}`;
    const ttl = (r: RawSslRecord) => Number(redis('ttl', key(r)));
    await until('both connections committed', () => redis('hget', key(closed[0]), 'read') === String(closed[1].len) && redis('hget', key(open[0]), 'read') === String(open[1].len));
    expect(ttl(closed[0])).toBeLessThanOrEqual(600);
    expect(ttl(closed[0])).toBeGreaterThan(500);
    // The open connection: a day until it is evicted, then 10 min. The parser's clock is record time: a record of
    // another connection 20 s later moves it past the open one's idle limit (8 s here).
    const before = ttl(open[0]);
    for (const r of exchange(0x1a7e, 30, 20_000)) await pub.publish(Subjects.rawSsl('offsets', 1), `offsets:${r.seq}`, r);
    await until('the open connection evicted', () => ttl(open[0]) <= 600);
    expect(before).toBeGreaterThan(DAY_S - 120);
    expect(ttl(open[0])).toBeGreaterThan(500);
  } finally {
    await nats.nc.close();
  }
}, 120_000);
