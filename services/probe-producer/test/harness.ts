/**
 * Shared pieces of the single-client capture tests (gnutls.spec.ts, nss.spec.ts): a local HTTPS server, a traced
 * client started stopped, one producer run and the records read back from JetStream.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { probeBinary } from '@agentsight/testkit';
import { connect } from '@nats-io/transport-node';
import { natsConnectOptions, natsTarget, probeNatsEnv } from '@agentsight/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import type { JsMsg } from '@nats-io/jetstream';
import { decode, hostToken, RawProcRecord, RawRecord, RawSslCloseRecord, RawSslRecord } from '@agentsight/contracts';

/** One JSON line the producer printed on stdout (`ready`, `stopped`, `attach`, …). */
export type ProducerLine = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * A running producer p (spawned with stdout and stderr piped): `lines()` = its stdout lines so far that end in `}`,
 * parsed; `stderr()` = its stderr so far; `waitLine(pred, what, ms = 30000)` resolves with the first line pred accepts
 * (polled every 20 ms) and throws, with the stderr, after ms milliseconds or once the producer exited; `exited` = its
 * exit code; `stop()` sends SIGINT and resolves with the `stopped` line and the exit code.
 */
export function producerRun(p: ChildProcess) {
  let out = '';
  let err = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
  const lines = () => out.split('\n').filter((l) => l.endsWith('}')).map((l) => JSON.parse(l) as ProducerLine);
  const waitLine = async (pred: (l: ProducerLine) => boolean, what: string, ms = 30000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const line = lines().find(pred);
      if (line) return line;
      if (Date.now() > deadline || p.exitCode !== null) throw new Error(`no ${what} from the producer; stderr:\n${err}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return {
    proc: p, lines, waitLine, stderr: () => err, exited,
    stop: async () => {
      p.kill('SIGINT');
      const stopped = await waitLine((l) => l.event === 'stopped', 'stopped line');
      return { stopped, code: await exited };
    },
  };
}

/** agentsight's NATS (libs/jetstream/src/config.ts: NATS_URL, else the managed server started by the set-up). */
export const NATS_URL = natsTarget().url;
/** Connection options of the test's reader (the pipeline's user on the managed server). */
export const NATS_OPTS = natsConnectOptions(natsTarget());
/** Environment of the probe: its own NATS user (may only publish raw subjects), as the CLI gives it. */
export const PROBE_ENV: NodeJS.ProcessEnv = { ...process.env, ...probeNatsEnv() };
export const FRAG_MAX = 32 * 1024;
export const PARTITIONS = 8;

/** fnv1a64 over the pid (4 bytes LE) then the connection pointer (8 bytes LE), as the producer partitions. */
export function partitionOf(pid: number, ssl: number, partitions: number): number {
  const buf = Buffer.alloc(12);
  buf.writeUInt32LE(pid, 0);
  buf.writeBigUInt64LE(BigInt(ssl), 4);
  let h = 0xcbf29ce484222325n;
  for (const b of buf) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return Number(h % BigInt(partitions));
}

/** Real path of the system library `soname` as the producer finds it (ldconfig -p), or null. */
export function systemLibrary(soname: string): string | null {
  try {
    const line = execFileSync('sh', ['-c', 'ldconfig -p 2>/dev/null || /sbin/ldconfig -p'], { encoding: 'utf8' })
      .split('\n').find((l) => l.trim().startsWith(`${soname} `) && l.includes('=> ') && (process.arch !== 'x64' || l.includes('x86-64')));
    return line ? fs.realpathSync(line.split('=> ')[1].trim()) : null;
  } catch {
    return null;
  }
}

/** Reassembles one direction of one connection from its fragments, checking contiguity by stream_offset. */
export function reassemble(recs: RawSslRecord[]): Buffer {
  const sorted = [...recs].sort((a, b) => a.stream_offset - b.stream_offset);
  let next = 0;
  const parts: Buffer[] = [];
  for (const r of sorted) {
    expect(r.stream_offset).toBe(next); // no gap, no overlap
    expect(r.frag_total).toBe(r.len);
    expect(r.frag_offset + r.data.length).toBeLessThanOrEqual(r.frag_total);
    expect(r.data.length).toBe(Math.min(FRAG_MAX, r.frag_total - r.frag_offset));
    parts.push(Buffer.from(r.data));
    next += r.data.length;
  }
  return Buffer.concat(parts);
}

/** Self-signed certificate for localhost / 127.0.0.1 in dir: key.pem, cert.pem, cert.der. */
export function makeCert(dir: string): { key: string; cert: string; certDer: string } {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const certDer = path.join(dir, 'cert.der');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'pipe' });
  execFileSync('openssl', ['x509', '-in', cert, '-outform', 'DER', '-out', certDer], { stdio: 'pipe' });
  return { key, cert, certDer };
}

/**
 * HTTPS server on 127.0.0.1 (HTTP/1.1): answers with a head naming the received body's length and sha256, then 70000
 * bytes derived from the path (several read calls in the client); honours `Connection: close`.
 */
export async function startHttpsServer(key: string, cert: string): Promise<{ server: ChildProcess; port: number }> {
  const serverJs = `
    const https = require('https'), fs = require('fs'), crypto = require('crypto');
    const srv = https.createServer({ key: fs.readFileSync(process.argv[1]), cert: fs.readFileSync(process.argv[2]), ALPNProtocols: ['http/1.1'] }, (req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const head = Buffer.from('RESP ' + req.url + ' len=' + body.length + ' sha=' + crypto.createHash('sha256').update(body).digest('hex') + '\\n');
        const filler = crypto.createHash('sha512').update(req.url).digest();
        const out = Buffer.concat([head, Buffer.alloc(70000).map((_, i) => filler[i % filler.length])]);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': out.length });
        res.end(out);
      });
    });
    srv.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: srv.address().port })));`;
  const server = spawn(process.execPath, ['-e', serverJs, key, cert], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    server.stdout!.once('data', (d) => resolve(JSON.parse(d.toString()).port));
    server.once('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  return { server, port };
}

/**
 * A new temp dir `<os tmpdir>/agentsight-<prefix>-*` holding a fresh certificate (makeCert), and an HTTPS server
 * (startHttpsServer) with it; the caller kills the server and removes the dir.
 */
export async function httpsFixture(prefix: string): Promise<{ tmp: string; cert: string; server: ChildProcess; port: number }> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `agentsight-${prefix}-`));
  const c = makeCert(tmp);
  const { server, port } = await startHttpsServer(c.key, c.cert);
  return { tmp, cert: c.cert, server, port };
}

/** Waits until `pid` is stopped (state `T`); throws after 2 s. */
export async function waitStopped(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`process ${pid} did not stop`);
}

export interface Got {
  subject: string;
  msgId: string;
  rec: RawRecord;
}

/** Per-probe counters of the producer's `stats` / `stopped` lines and loss records (RawLossRecord.probes). */
export interface ProbeCounters { binary: string; fn: string; records: number; fragments: number; bytes: number; lost_records: number; ringbuf_drops: number }
export interface AttachFailure { binary: string; fn: string; error: string }

export interface CaptureResult {
  ready: { pid: number; attached: string[] };
  stopped: { records: number; published: number; lost_records: number; ringbuf_drops: number; publish_failures: number; last_seq: number;
    probes: ProbeCounters[]; attach_failures: AttachFailure[] };
  /** Every stdout line of the producer (JSON), in order. */
  lines: Array<Record<string, unknown> & { event: string }>;
  producerExit: number | null;
  producerStderr: string;
  got: Got[];
  decodeErrors: string[];
  client: { pid: number; code: number | null; stderr: string; out: Buffer };
}

/**
 * Consumes one run's raw subjects (host token `token`: `raw.ssl.<token>.*`, `raw.<kind>.<token>`,
 * `raw.stdio.<token>.*`) from the start of AGENTSIGHT_RAW while the run goes on. Each message is decoded once and
 * handed to `onRecord`; an undecodable one is added to `decodeErrors`. `drain(lastSeq)` waits (20 s at most) until
 * seq 0..lastSeq have all arrived, then closes the consumers.
 */
export async function collectRun(nc: NatsConnection, token: string, onRecord: (m: JsMsg, rec: RawRecord) => void,
  decodeErrors: string[]): Promise<{ drain(lastSeq: number): Promise<void> }> {
  const js = jetstream(nc);
  const seqs = new Set<number>();
  const collect = async (filter: string) => {
    const c = await js.consumers.get('AGENTSIGHT_RAW', { filter_subjects: filter, deliver_policy: DeliverPolicy.All });
    const msgs = await c.consume();
    (async () => {
      for await (const m of msgs as AsyncIterable<JsMsg>) {
        let rec: RawRecord;
        try {
          rec = decode<RawRecord>(m.data);
        } catch (e) {
          decodeErrors.push(`${m.subject}: ${(e as Error).message}`);
          continue;
        }
        seqs.add(rec.seq);
        onRecord(m, rec);
      }
    })();
    return msgs;
  };
  const consumers = [await collect(`agentsight.raw.ssl.${token}.*`), await collect(`agentsight.raw.*.${token}`),
    await collect(`agentsight.raw.stdio.${token}.*`)];
  return {
    async drain(lastSeq: number) {
      const deadline = Date.now() + 20000;
      while (Date.now() < deadline && seqs.size < lastSeq + 1) await new Promise((r) => setTimeout(r, 50));
      for (const c of consumers) await c.close();
    },
  };
}

/**
 * Starts `argv` stopped (behind `sh -c 'kill -STOP $$; exec …'`, stdout to outFile), runs the producer with
 * `--pid <it>` and host `host`, resumes the client (then calls `started` with it, e.g. to feed stdin), waits for its
 * exit (30 s at most), stops the producer and returns what JetStream holds for the run. `producerArgs` are added to the
 * producer's command line, `env` to the client's environment.
 */
export async function captureClient(host: string, argv: string[], outFile: string,
  started: (cp: ChildProcess) => void = () => undefined, producerArgs: string[] = [],
  env: NodeJS.ProcessEnv = {}): Promise<CaptureResult> {
  const token = hostToken(host);
  const nc = await connect({ ...NATS_OPTS });
  const got: Got[] = [];
  const decodeErrors: string[] = [];
  try {
    const out = fs.openSync(outFile, 'w');
    const cp = spawn('sh', ['-c', 'kill -STOP $$; exec "$@"', 'sh', ...argv], { stdio: ['pipe', out, 'pipe'], env: { ...process.env, ...env } });
    fs.closeSync(out);
    cp.stdin!.on('error', () => undefined); // EPIPE once the client exited
    let clientErr = '';
    cp.stderr!.on('data', (d) => (clientErr += d));
    const clientDone = new Promise<number | null>((resolve) => cp.on('exit', (c) => resolve(c)));
    await waitStopped(cp.pid!);

    const producer = spawn(probeBinary(), ['--pid', String(cp.pid), '--host', host, '--nats-url', NATS_URL,
      '--partitions', String(PARTITIONS), '--stats-interval-ms', '1000', ...producerArgs], { stdio: ['ignore', 'pipe', 'pipe'], env: PROBE_ENV });
    let perr = '';
    let pout = '';
    producer.stderr!.on('data', (d) => (perr += d));
    producer.stdout!.on('data', (d) => (pout += d));
    const producerDone = new Promise<number | null>((resolve) => producer.on('exit', (c) => resolve(c)));
    const waitLine = async <T>(event: string, ms: number): Promise<T> => {
      const deadline = Date.now() + ms;
      for (;;) {
        const line = pout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.event === event);
        if (line) return line as T;
        if (Date.now() > deadline || producer.exitCode !== null) throw new Error(`no ${event} line from the producer; stderr:\n${perr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const ready = await waitLine<CaptureResult['ready']>('ready', 30000);

    const run = await collectRun(nc, token, (m, rec) => got.push({ subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') ?? '', rec }), decodeErrors);

    process.kill(cp.pid!, 'SIGCONT');
    started(cp);
    const timer = setTimeout(() => cp.kill('SIGKILL'), 30000);
    const code = await clientDone;
    clearTimeout(timer);
    cp.stdin!.destroy();
    const client = { pid: cp.pid!, code, stderr: clientErr, out: fs.readFileSync(outFile) };

    producer.kill('SIGINT');
    const stopped = await waitLine<CaptureResult['stopped']>('stopped', 30000);
    const producerExit = await producerDone;
    await run.drain(stopped.last_seq);
    const lines = pout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    return { ready, stopped, lines, producerExit, producerStderr: perr, got, decodeErrors, client };
  } finally {
    await nc.close();
  }
}

/** The run published every record once (seq 0..last_seq, ids), lost nothing, and producer and client exited 0. */
export function expectLosslessRun(r: CaptureResult): void {
  expect({ code: r.client.code, stderr: r.client.stderr }).toEqual({ code: 0, stderr: '' });
  expect(r.producerExit).toBe(0);
  expect(r.stopped).toMatchObject({ lost_records: 0, ringbuf_drops: 0, publish_failures: 0 });
  expect(r.stopped.published).toBe(r.stopped.last_seq + 1);
  expect(r.decodeErrors).toEqual([]);
  expect(r.got.map((g) => g.rec.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: r.stopped.last_seq + 1 }, (_, i) => i));
  for (const g of r.got) expect(g.msgId).toBe(`${g.rec.boot_id}:${g.rec.run}:${g.rec.seq}`);
}

/**
 * The client used exactly one connection: its writes (functions writeFns) reassemble to `request`, its reads
 * (readFns) to the client's stdout; comm, partition and subject are right; one ssl_close with the byte counts of
 * both directions follows the connection's last fragment and precedes the process' exit record.
 */
export function expectSingleConnection(r: CaptureResult, host: string, o: { request: Buffer; comm: string; writeFns: string[]; readFns: string[] }): void {
  const ssl = r.got.map((g) => g.rec).filter((x): x is RawSslRecord => x.kind === 'ssl');
  const mine = ssl.filter((x) => x.pid === r.client.pid);
  expect(mine.length).toBeGreaterThan(0);
  expect(ssl.filter((x) => x.pid !== r.client.pid)).toEqual([]); // only the traced process
  expect(new Set(mine.map((x) => x.ssl)).size).toBe(1);
  const writes = mine.filter((x) => x.dir === 'write');
  const reads = mine.filter((x) => x.dir === 'read');
  expect(new Set(writes.map((x) => x.fn))).toEqual(new Set(o.writeFns));
  expect(new Set(reads.map((x) => x.fn))).toEqual(new Set(o.readFns));
  expect(reassemble(writes).equals(o.request)).toBe(true);
  expect(reassemble(reads).equals(r.client.out)).toBe(true);
  for (const x of mine) {
    expect(x.comm).toBe(o.comm);
    expect(x.uid).toBe(process.getuid!());
    expect(x.partition).toBe(partitionOf(x.pid, x.ssl, PARTITIONS));
  }
  const subjects = r.got.filter((g) => g.rec.kind === 'ssl').map((g) => g.subject);
  expect(new Set(subjects)).toEqual(new Set([`agentsight.raw.ssl.${hostToken(host)}.${mine[0].partition}`]));

  const closes = r.got.map((g) => g.rec).filter((x): x is RawSslCloseRecord => x.kind === 'ssl_close');
  expect(closes).toHaveLength(1);
  expect(closes[0]).toMatchObject({ pid: r.client.pid, ssl: mine[0].ssl, reason: 'process_exit', partition: mine[0].partition,
    write_offset: o.request.length, read_offset: r.client.out.length });
  expect(closes[0].seq).toBeGreaterThan(Math.max(...mine.map((x) => x.seq)));
  const exit = r.got.map((g) => g.rec).find((x): x is RawProcRecord => x.kind === 'proc' && x.event === 'exit' && x.pid === r.client.pid);
  expect(exit).toMatchObject({ exit_code: 0 });
  expect(closes[0].seq).toBeLessThan(exit!.seq);
}
