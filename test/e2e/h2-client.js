// A node:http2 client for the e2e tests (node's static OpenSSL, ALPN h2): several POSTs as concurrent streams on ONE
// connection, each read to its end. Usage:
//   node h2-client.js <base url> <ca path> <delay ms> <path>=<fixture> [<path>=<fixture> …]
// Prints one JSON line: the status and byte count of each stream, and the ALPN protocol negotiated.
const http2 = require('node:http2');
const fs = require('node:fs');
const [base, caPath, delay, ...pairs] = process.argv.slice(2);
const session = http2.connect(base, { ca: fs.readFileSync(caPath) });

function post(path, fixture) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: `fixture ${fixture}` }] });
    const req = session.request({
      ':method': 'POST', ':path': path, 'content-type': 'application/json', 'x-replay-fixture': fixture, 'x-replay-delay-ms': delay,
    });
    let status = 0;
    let bytes = 0;
    req.on('response', (h) => (status = h[':status']));
    req.on('data', (d) => (bytes += d.length));
    req.on('end', () => resolve({ path, fixture, status, bytes }));
    req.on('error', reject);
    req.end(body);
  });
}

Promise.all(pairs.map((p) => post(p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1))))
  .then((streams) => {
    console.log(JSON.stringify({ alpn: session.alpnProtocol, streams }));
    session.close();
  })
  .catch((e) => {
    console.error(e);
    process.exit(1);
  });
