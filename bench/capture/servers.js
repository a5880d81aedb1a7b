#!/usr/bin/env node
/**
 * Local TLS servers of capture.bench.ts. The bench runs this file with a private COPY of the node binary (another
 * inode), so the probe's uprobes (per inode: /usr/bin/node, libssl.so.3) never fire in the server: the server stands
 * for the remote peer (an LLM API), and every measured cost is the client's.
 *
 *   node servers.js <key.pem> <cert.pem>   → prints {"echoPort":N,"httpsPort":M} once listening
 *
 * - echoPort: raw TLS echo (every byte received is written back), TCP_NODELAY.
 * - httpsPort (HTTP/1.1, keep-alive): `GET /small` → 200 "ok\n"; `POST /upload` → 200 JSON
 *   {"len":N,"sha256":hex,"first":<first MARK-… token>,"last":<last MARK-… token>} of the received body.
 */
'use strict';
const tls = require('tls');
const https = require('https');
const fs = require('fs');
const crypto = require('crypto');

const [keyPath, certPath] = process.argv.slice(2);
const creds = { key: fs.readFileSync(keyPath), cert: fs.readFileSync(certPath) };

const echo = tls.createServer(creds, (s) => {
  s.setNoDelay(true);
  s.on('data', (d) => s.write(d));
  s.on('error', () => undefined);
});

const MARK = /MARK-\d+-[0-9a-f-]{36}/g;
const web = https.createServer({ ...creds, ALPNProtocols: ['http/1.1'], keepAliveTimeout: 120000 }, (req, res) => {
  if (req.method === 'GET' && req.url === '/small') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
    res.end('ok\n');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const text = body.toString('latin1');
    const marks = text.match(MARK) || [];
    const out = Buffer.from(JSON.stringify({
      len: body.length, sha256: crypto.createHash('sha256').update(body).digest('hex'),
      first: marks[0] || null, last: marks[marks.length - 1] || null,
    }));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': out.length });
    res.end(out);
  });
});
web.on('connection', (s) => s.setNoDelay(true));

echo.listen(0, '127.0.0.1', () => web.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ echoPort: echo.address().port, httpsPort: web.address().port }) + '\n');
}));
process.on('SIGTERM', () => process.exit(0));
