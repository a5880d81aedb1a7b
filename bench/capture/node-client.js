#!/usr/bin/env node
/**
 * Node TLS client of capture.bench.ts (run with /usr/bin/node: node's statically linked OpenSSL, probed). Prints ONE
 * JSON line on stdout.
 *
 *   node node-client.js loop   <echoPort> <ca.pem> <n>           1-byte write / 1-byte echo round trips on one TLS socket
 *       → {"write_ns":[…],"rtt_ns":[…]}  write_ns = wall time of socket.write(1 byte) (node calls SSL_write inside it,
 *         synchronously); rtt_ns = write → echo received ('data' event).
 *   node node-client.js mem    <key.pem> <cert.pem> <n>           in ONE process, a client and a server TLSSocket over
 *       an in-memory duplex pair (no sockets, no syscalls): client writes 1 byte, server echoes it
 *       → {"rtt_ns":[…]}  rtt_ns = client.write → echo received (client SSL_write, server SSL_read(s) + SSL_write,
 *         client SSL_read(s), all in this thread).
 *   node node-client.js small  <httpsPort> <ca.pem> <n>          n sequential `GET /small` over one keep-alive socket
 *       → {"n":n,"seconds":s}
 *   node node-client.js agent  <url> <ca.pem> <n> <fixture> [chunk-delay-ms=0] [tools=1]   n streamed LLM calls (POST
 *       /v1/chat/completions with x-replay-fixture; with a delay the server paces the stream, x-replay-delay-ms between
 *       two SSE events: 10 ms ≈ 100 tokens/s), each followed by `tools` tool execs (`sh -c 'ls / …'`, spawnSync, as
 *       agents run their shell tool) → {"n":n,"seconds":s,"bytes":b,"tool_ms":t,"cpu_ms":c}  cpu_ms = this process'
 *       user + system CPU (process.cpuUsage; the tool children not included).
 *   node node-client.js upload <httpsPort> <ca.pem> <n> <bytes> <concurrency>   n POST /upload with a body of `bytes`
 *       bytes: MARK-<i>-<uuid> + random base64 filler + MARK-<i>-<uuid>, `concurrency` keep-alive sockets
 *       → {"n":n,"seconds":s,"requests":[{"i","marker","sha256","ok"}]}  ok = server saw the same length/sha/markers.
 */
'use strict';
const tls = require('tls');
const https = require('https');
const fs = require('fs');
const crypto = require('crypto');
const { spawnSync } = require('child_process');
const { Duplex } = require('stream');

const [mode, target, caPath, nArg, a5, a6, a7] = process.argv.slice(2);
const ca = fs.readFileSync(caPath); // mem: the certificate (also the CA)
const n = Number(nArg);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const now = () => process.hrtime.bigint();

/**
 * n one-byte round trips on the TLS socket sock, whose peer echoes: write 'x', wait for its echo ('data'), again.
 * Calls done(writeNs, rttNs) once, at the n-th echo: per round trip, the ns spent in sock.write(1 byte) and the ns
 * from the write to the echo. An echo of other than 1 byte throws.
 */
function echoRounds(sock, done) {
  const writeNs = new Array(n);
  const rttNs = new Array(n);
  const one = Buffer.from('x');
  let i = 0;
  let t0 = 0n;
  const step = () => {
    t0 = now();
    sock.write(one);
    writeNs[i] = Number(now() - t0);
  };
  sock.on('data', (d) => {
    rttNs[i] = Number(now() - t0);
    if (d.length !== 1) throw new Error(`echo of ${d.length} bytes`);
    if (++i === n) {
      done(writeNs, rttNs);
      return;
    }
    step();
  });
  step();
}

function loop() {
  const sock = tls.connect({ host: '127.0.0.1', port: Number(target), ca, servername: 'localhost' }, () => {
    sock.setNoDelay(true);
    echoRounds(sock, (writeNs, rttNs) => {
      out({ write_ns: writeNs, rtt_ns: rttNs });
      sock.end();
    });
  });
}

function mem() {
  const key = fs.readFileSync(target);
  let a;
  let b;
  a = new Duplex({ read() {}, write(chunk, enc, cb) { b.push(chunk); cb(); } });
  b = new Duplex({ read() {}, write(chunk, enc, cb) { a.push(chunk); cb(); } });
  const server = new tls.TLSSocket(b, { isServer: true, secureContext: tls.createSecureContext({ key, cert: ca }) });
  server.on('data', (d) => server.write(d));
  const client = tls.connect({ socket: a, ca, servername: 'localhost' }, () => {
    // write_ns is not reported: over a JS stream the TLSSocket's write completes asynchronously, so socket.write
    // often only buffers (≈100 ns) and SSL_write runs later; the round trip is the measure here.
    echoRounds(client, (_writeNs, rttNs) => process.stdout.write(JSON.stringify({ rtt_ns: rttNs }) + '\n', () => process.exit(0)));
  });
}

function small() {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const t0 = now();
  let done = 0;
  const next = () => {
    https.get({ host: '127.0.0.1', port: Number(target), path: '/small', ca, agent, servername: 'localhost' }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
        if (++done === n) {
          out({ n, seconds: Number(now() - t0) / 1e9 });
          agent.destroy();
        } else next();
      });
    }).on('error', (e) => { throw e; });
  };
  next();
}

async function agentRun() {
  const fixture = a5;
  const delayMs = Number(a6 ?? 0);
  const tools = Number(a7 ?? 1);
  const cpu0 = process.cpuUsage();
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  const url = new URL('/v1/chat/completions', target);
  const body = JSON.stringify({ model: 'gpt-4.1-nano', stream: true, messages: [{ role: 'user', content: 'Invent a holiday' }] });
  let bytes = 0;
  let toolNs = 0n;
  const t0 = now();
  for (let k = 0; k < n; k++) {
    await new Promise((resolve, reject) => {
      const req = https.request(url, {
        method: 'POST', ca, agent,
        headers: {
          'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-replay-fixture': fixture,
          ...(delayMs > 0 ? { 'x-replay-delay-ms': String(delayMs) } : {}),
        },
      }, (res) => {
        res.on('data', (d) => { bytes += d.length; });
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
    for (let t = 0; t < tools; t++) {
      const tt = now();
      // the agent's tool call: the first is a plain exec (as before), the others go through a shell as agents' do
      const r = t === 0 ? spawnSync('ls', ['/'], { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawnSync('sh', ['-c', 'ls -la / | head -5 && cat /etc/os-release'], { stdio: ['ignore', 'pipe', 'pipe'] });
      if (r.status !== 0) throw new Error('tool exec failed');
      toolNs += now() - tt;
    }
  }
  const cpu = process.cpuUsage(cpu0);
  out({ n, seconds: Number(now() - t0) / 1e9, bytes, tool_ms: Number(toolNs) / 1e6, cpu_ms: (cpu.user + cpu.system) / 1e3 });
  agent.destroy();
}

async function upload() {
  const size = Number(a5);
  const conc = Number(a6);
  const agent = new https.Agent({ keepAlive: true, maxSockets: conc });
  const requests = [];
  let next = 0;
  const t0 = now();
  const one = (i) => new Promise((resolve, reject) => {
    const marker = `MARK-${i}-${crypto.randomUUID()}`;
    const fillLen = size - 2 * marker.length;
    // base64 has no '-', so the filler never contains "MARK-…".
    const filler = Buffer.from(crypto.randomBytes(Math.ceil(fillLen * 3 / 4) + 3).toString('base64').slice(0, fillLen));
    const body = Buffer.concat([Buffer.from(marker), filler, Buffer.from(marker)]);
    const sha256 = crypto.createHash('sha256').update(body).digest('hex');
    const req = https.request({
      host: '127.0.0.1', port: Number(target), path: '/upload', method: 'POST', ca, agent, servername: 'localhost',
      headers: { 'content-type': 'application/octet-stream', 'content-length': body.length },
    }, (res) => {
      const c = [];
      res.on('data', (d) => c.push(d));
      res.on('end', () => {
        const r = JSON.parse(Buffer.concat(c).toString());
        requests.push({ i, marker, sha256, ok: r.len === size && r.sha256 === sha256 && r.first === marker && r.last === marker });
        resolve();
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body); // node hands the whole body to one SSL_write
  });
  const worker = async () => {
    while (next < n) await one(next++);
  };
  await Promise.all(Array.from({ length: conc }, worker));
  out({ n, seconds: Number(now() - t0) / 1e9, requests: requests.sort((a, b) => a.i - b.i) });
  agent.destroy();
}

({ loop, mem, small, agent: agentRun, upload })[mode]();
