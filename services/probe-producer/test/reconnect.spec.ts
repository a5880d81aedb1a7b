/**
 * agentsight-probe keeps capturing while NATS is down: a private nats-server is killed and restarted while a traced
 * client makes requests; every record must reach the stream exactly once (retry queue + Nats-Msg-Id dedup) and in
 * capture order per subject.
 * Real probes, real nats-server; skips like capture.spec.ts when BPF is unavailable (unless AGENTSIGHT_REQUIRE_BPF=1).
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { BPF_REQUIRED, bpfUnavailableReason, probeBinary } from '@agentsight/testkit';
import { connect } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import type { JsMsg } from '@nats-io/jetstream';
import { decode, rawMsgId, RawLossRecord, RawRecord, RawSslRecord } from '@agentsight/contracts';

const BIN = probeBinary();
const REQUIRE = BPF_REQUIRED;
const NATS_SERVER = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => fs.existsSync(p));

function unavailable(): string | null {
  return NATS_SERVER ? bpfUnavailableReason() : 'no nats-server binary';
}
const skipReason = unavailable();
if (skipReason && !REQUIRE) process.stderr.write(`SKIPPED probe-producer reconnect test: ${skipReason} (set AGENTSIGHT_REQUIRE_BPF=1 to make this fail)\n`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.end(); resolve(true); }).on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`port ${port} not listening`);
}

(skipReason && !REQUIRE ? describe.skip : describe)('agentsight-probe with NATS going down', () => {
  it('buffers while NATS is down and republishes without loss or duplicates', async () => {
    if (skipReason) throw new Error(`BPF required (AGENTSIGHT_REQUIRE_BPF=1) but unavailable: ${skipReason}`);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-reconnect-'));
    const children: ChildProcess[] = [];
    try {
      const natsPort = await freePort();
      const startNats = async () => {
        const p = spawn(NATS_SERVER!, ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', path.join(tmp, 'js')], { stdio: 'ignore' });
        children.push(p);
        await waitPort(natsPort, 10000);
        return p;
      };
      let nats = await startNats();

      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
        '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', path.join(tmp, 'key.pem'), '-out', path.join(tmp, 'cert.pem')], { stdio: 'pipe' });
      const server = spawn(process.execPath, ['-e', `
        const https = require('https'), fs = require('fs');
        const srv = https.createServer({ key: fs.readFileSync(process.argv[1]), cert: fs.readFileSync(process.argv[2]), ALPNProtocols: ['http/1.1'] },
          (req, res) => { req.resume(); req.on('end', () => res.end('ok ' + req.url)); });
        srv.listen(0, '127.0.0.1', () => console.log(srv.address().port));`, path.join(tmp, 'key.pem'), path.join(tmp, 'cert.pem')], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(server);
      const port = Number(await new Promise<string>((r) => server.stdout!.once('data', (d) => r(d.toString()))));

      // Traced client: 40 requests, 100 ms apart, over one keep-alive connection.
      const marker = `rc-${randomUUID()}`;
      const client = spawn('sh', ['-c', 'kill -STOP $$; exec "$@"', 'sh', process.execPath, '-e', `
        const https = require('https'), fs = require('fs');
        const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
        const one = (i) => new Promise((resolve, reject) => {
          const req = https.request({ host: '127.0.0.1', port: ${port}, path: '/${marker}/' + i, method: 'POST', agent, ca: fs.readFileSync('${path.join(tmp, 'cert.pem')}') },
            (res) => { res.resume(); res.on('end', resolve); });
          req.on('error', reject);
          req.end('body-' + i + '-' + 'x'.repeat(2000));
        });
        (async () => { for (let i = 0; i < 40; i++) { await one(i); await new Promise((r) => setTimeout(r, 100)); } process.exit(0); })();`], { stdio: 'ignore' });
      children.push(client);
      const clientExit = new Promise<number | null>((r) => client.on('exit', (c) => r(c)));
      await sleep(200);

      const host = `reconnect-${randomUUID().slice(0, 8)}`;
      const producer = spawn(BIN, ['--pid', String(client.pid), '--host', host, '--nats-url', `nats://127.0.0.1:${natsPort}`, '--stats-interval-ms', '500'], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(producer);
      let out = '';
      let err = '';
      producer.stdout!.on('data', (d) => (out += d));
      producer.stderr!.on('data', (d) => (err += d));
      const producerExit = new Promise<number | null>((r) => producer.on('exit', (c) => r(c)));
      for (let i = 0; !out.includes('"ready"'); i++) {
        if (i > 300) throw new Error(`producer not ready: ${err}`);
        await sleep(100);
      }

      process.kill(client.pid!, 'SIGCONT');
      await sleep(1000);
      nats.kill('SIGKILL'); // hard stop: in-flight PubAcks are lost
      await new Promise((r) => nats.on('exit', r));
      await sleep(1500); // requests keep coming while NATS is down
      nats = await startNats();
      expect(await clientExit).toBe(0);
      producer.kill('SIGINT');
      expect(await producerExit).toBe(0);
      const stopped = JSON.parse(out.trim().split('\n').pop()!);
      expect(stopped).toMatchObject({ event: 'stopped', lost_records: 0, ringbuf_drops: 0, publish_failures: 0 });
      expect(err).toContain('NATS disconnected');
      expect(err).toContain('NATS reconnected');
      console.log(`producer stderr:\n${err}\nstopped: ${JSON.stringify(stopped)}`); // eslint-disable-line no-console

      // Every seq exactly once in the stream.
      const nc = await connect({ servers: `127.0.0.1:${natsPort}` });
      try {
        const c = await jetstream(nc).consumers.get('AGENTSIGHT_RAW', { filter_subjects: 'agentsight.raw.>', deliver_policy: DeliverPolicy.All });
        const recs: RawRecord[] = [];
        // Records stored behind a later record of their subject (stream order vs capture order): what the
        // producer's publish_reordered counts from its PubAcks.
        const maxSeq = new Map<string, number>();
        let inversions = 0;
        const msgs = await c.fetch({ max_messages: 100000, expires: 3000 });
        for await (const m of msgs as AsyncIterable<JsMsg>) {
          const r = decode<RawRecord>(m.data);
          expect(m.headers?.get('Nats-Msg-Id')).toBe(rawMsgId(r));
          recs.push(r);
          if (r.seq < (maxSeq.get(m.subject) ?? -1)) inversions++;
          else maxSeq.set(m.subject, r.seq);
          if (recs.length === stopped.last_seq + 1) break;
        }
        // Each subject in capture order (a record stored behind a later one of its connection is taken for a
        // duplicate by the parser: its bytes were lost without a counter; seen before the publisher kept its order
        // across the reconnect), and the producer's own count of such records agrees with the stream.
        expect(inversions).toBe(0);
        expect(stopped.publish_reordered).toBe(inversions);
        // The final loss record (what capture health, status and /metrics read) carries the same publish counters.
        const loss = recs.filter((r): r is RawLossRecord => r.kind === 'loss').sort((a, b) => a.seq - b.seq);
        expect(loss[loss.length - 1]).toMatchObject({ seq: stopped.last_seq, publish_reordered: stopped.publish_reordered, published: stopped.last_seq, publish_failures: 0 });
        const info = await (await c.info());
        expect(info.num_pending).toBe(0); // nothing beyond last_seq + 1 messages: no duplicates stored
        expect(recs.map((r) => r.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: stopped.last_seq + 1 }, (_, i) => i));
        expect(stopped.published).toBe(stopped.last_seq + 1);
        // All 40 requests are in the reassembled write stream.
        const writes = recs.filter((r): r is RawSslRecord => r.kind === 'ssl' && r.dir === 'write').sort((a, b) => a.stream_offset - b.stream_offset);
        let next = 0;
        for (const w of writes) {
          expect(w.stream_offset).toBe(next);
          next += w.data.length;
        }
        const stream = Buffer.concat(writes.map((w) => Buffer.from(w.data))).toString('latin1');
        for (let i = 0; i < 40; i++) expect(stream).toContain(`POST /${marker}/${i} HTTP/1.1`);
      } finally {
        await nc.close();
      }
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 120000);
});
