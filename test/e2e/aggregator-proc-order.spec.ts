/**
 * The aggregator puts the process (argv, executable: the agent name) into an exchange even when the exec record of
 * that process reaches its process table after the exchange's HTTP events: the two come through different durables
 * (`aggregator-proc` and the partitions'), so nothing orders them. Here the exec record is delivered first to an
 * instance that dies before putting it (a client fetches it and never acks, as a SIGKILLed aggregator would; the
 * durable's ack wait is 20 s here, well beyond the stages' start), then the real aggregator finishes an exchange of
 * that pid: it waits until the record came again and is in the table (libs/jetstream `ConsumerLoop.ackedThrough`),
 * and the exchange carries the process instead of none (agent name `node`, and a conversation of its own: the chaos
 * harness's split session after a SIGKILL of the aggregator or of nats-server). A pid no proc record names is not
 * waited for once every record is in. The real parser and aggregator services, private NATS and Redis; raw records
 * published as the probe does.
 */
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import { agentName, decode, hostToken, Subjects, TOPOLOGY, type Exchange, type RawProcRecord, type RawSslRecord } from '@agentsight/contracts';
import { Publisher } from '@agentsight/jetstream';
import { until, useBrokers } from './harness';
import { BUILT_KEY } from '../../services/aggregator/src/process-store';

const HOST = 'order';
const PROC = TOPOLOGY.aggregator.consumes.proc;
const EXCHANGES = TOPOLOGY.analyzer.consumes.exchange.stream;
/** The `aggregator-proc` durable's ack wait in this test, ms (the service makes it 30 s when it creates it). */
const ACK_WAIT_MS = 20_000;

const f = useBrokers('proc-order-spec');
let seq = 0;

const now = () => BigInt(Date.now()) * 1_000_000n;
const base = () => ({ v: 1 as const, host: HOST, boot_id: 'b', run: 1, seq: seq++, ts_boot_ns: now(), ts_wall_ns: now() });

/** The exec record of `pid`: `node /opt/agent/agent.js` (agent name `agent`). */
function exec(pid: number): RawProcRecord {
  return {
    ...base(), kind: 'proc', event: 'exec', pid, ppid: 1, uid: 0, comm: 'node', filename: '/usr/bin/node', argv: ['node', '/opt/agent/agent.js'],
    argv_truncated: false, exit_code: 0, duration_ns: 0,
  };
}

/** One HTTP/1.1 exchange of `pid` on TLS connection `ssl`, as raw SSL records (partition 1). */
function exchange(pid: number, ssl: number): RawSslRecord[] {
  const parts: Array<['write' | 'read', string]> = [
    ['write', 'POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 2\r\n\r\n{}'],
    ['read', 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}'],
  ];
  return parts.map(([dir, text]) => {
    const data = Buffer.from(text);
    return {
      ...base(), kind: 'ssl', pid, tid: pid, uid: 0, comm: 'node', ssl, fn: dir === 'write' ? 'SSL_write' : 'SSL_read', dir, len: data.length,
      frag_offset: 0, frag_total: data.length, stream_offset: 0, partition: 1, data,
    };
  });
}

/** Every exchange the aggregator published, in stream order. */
async function exchanges(): Promise<Exchange[]> {
  const last = (await f.nats.jsm.streams.info(EXCHANGES)).state.last_seq;
  const out: Exchange[] = [];
  for (let s = 1; s <= last; s++) {
    const m = await f.nats.jsm.streams.getMessage(EXCHANGES, { seq: s });
    if (m) out.push(decode<Exchange>(m.data));
  }
  return out;
}

test('an exchange finished before its exec record is in the table still gets its process; an unknown pid is not waited for', async () => {
  const pub = new Publisher(f.nats.js, f.nats.large);
  // The table was built by an earlier instance, which then received the exec record of pid 4343 and died unacked.
  await f.redis.set(BUILT_KEY, String(Date.now()));
  await f.nats.jsm.consumers.add(PROC.stream, {
    durable_name: PROC.durable, filter_subject: PROC.filterSubject, ack_policy: AckPolicy.Explicit, ack_wait: ACK_WAIT_MS * 1e6, deliver_policy: DeliverPolicy.All,
  });
  const rec = exec(4343);
  await pub.publish(Subjects.rawProc(hostToken(HOST)), `${HOST}:${rec.seq}`, rec);
  const dead = await (await f.nats.js.consumers.get(PROC.stream, PROC.durable)).next({ expires: 5000 });
  expect(dead?.seq).toBeGreaterThan(0);
  const deliveredAt = Date.now();
  await f.stages.start('parser');
  await f.stages.start('aggregator');

  for (const r of exchange(4343, 0xa11)) await pub.publish(Subjects.rawSsl(hostToken(HOST), 1), `${HOST}:${r.seq}`, r);
  await until('the exchange of pid 4343 published', async () => (await exchanges()).some((e) => e.conn.pid === 4343), 60_000);
  const [known] = (await exchanges()).filter((e) => e.conn.pid === 4343);
  expect(known.process).toMatchObject({ pid: 4343, exe: '/usr/bin/node', argv: ['node', '/opt/agent/agent.js'] });
  expect(agentName(known.process, known.conn.comm)).toBe('agent');
  expect(Date.now() - deliveredAt).toBeGreaterThanOrEqual(ACK_WAIT_MS); // it came again after the ack wait

  // Every proc record is in the table now: a pid none of them names is finished at once, without a process.
  const t0 = Date.now();
  for (const r of exchange(4444, 0xb22)) await pub.publish(Subjects.rawSsl(hostToken(HOST), 1), `${HOST}:${r.seq}`, r);
  await until('the exchange of pid 4444 published', async () => (await exchanges()).some((e) => e.conn.pid === 4444), 30_000);
  expect(Date.now() - t0).toBeLessThan(15_000);
  const [unknown] = (await exchanges()).filter((e) => e.conn.pid === 4444);
  expect(unknown.process).toBeNull();
  expect(agentName(unknown.process, unknown.conn.comm)).toBe('node');
  expect((await exchanges()).length).toBe(2);
}, 180_000);

test('Redis loses the process table (FLUSHALL): the next exchange of a known pid rebuilds it from the proc records and gets its process', async () => {
  const pub = new Publisher(f.nats.js, f.nats.large);
  const rec = exec(4545);
  await pub.publish(Subjects.rawProc(hostToken(HOST)), `${HOST}:${rec.seq}`, rec);
  await until('pid 4545 in the process table', async () => (await f.redis.exists(`agentsight:proc:${HOST}:4545`)) > 0, 30_000);
  await f.redis.flushall();
  expect(await f.redis.exists(BUILT_KEY)).toBe(0);

  for (const r of exchange(4545, 0xc33)) await pub.publish(Subjects.rawSsl(hostToken(HOST), 1), `${HOST}:${r.seq}`, r);
  await until('the exchange of pid 4545 published', async () => (await exchanges()).some((e) => e.conn.pid === 4545), 90_000);
  const [rebuilt] = (await exchanges()).filter((e) => e.conn.pid === 4545);
  expect(rebuilt.process).toMatchObject({ pid: 4545, argv: ['node', '/opt/agent/agent.js'] });
  expect(await f.redis.exists(BUILT_KEY)).toBe(1);
  // The rebuild re-read the earlier records too (pid 4343's exec, from the first test), not only the newest.
  expect(await f.redis.exists(`agentsight:proc:${HOST}:4343`)).toBe(1);
}, 180_000);
