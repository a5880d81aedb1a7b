// A plain Node TLS client for e2e tests (node's static OpenSSL). Usage:
//   node client.js <base url> <ca path> <command> [args]
//   post <path> <fixture|-> <body file|inline json>   POST and print the status
//   garbage                                            a TLS connection that sends binary garbage, not HTTP
//   stream <path> <fixture> <delay ms>                 POST a streamed request, read the response to the end
//   secret <path> <fixture> <key>                      POST with the key in Authorization, x-api-key and the body
//   garbage-with <text>                                as garbage, with <text> after the first 8 binary bytes
const https = require('node:https');
const tls = require('node:tls');
const fs = require('node:fs');
const [base, caPath, cmd, ...args] = process.argv.slice(2);
const ca = fs.readFileSync(caPath);
const url = new URL(base);

function post(path, fixture, body, extra = {}) {
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/json', 'content-length': body.length, ...extra };
    if (fixture && fixture !== '-') headers['x-replay-fixture'] = fixture;
    const req = https.request({ host: url.hostname, port: url.port, path, method: 'POST', ca, headers, agent: false }, (res) => {
      let n = 0;
      res.on('data', (d) => (n += d.length));
      res.on('end', () => resolve({ status: res.statusCode, bytes: n }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main() {
  if (cmd === 'post') {
    const [path, fixture, bodyArg] = args;
    const body = fs.existsSync(bodyArg) ? fs.readFileSync(bodyArg) : Buffer.from(bodyArg);
    console.log(JSON.stringify(await post(path, fixture, body)));
  } else if (cmd === 'stream') {
    const [path, fixture, delay] = args;
    const body = Buffer.from(JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    console.log(JSON.stringify(await post(path, fixture, body, { 'x-replay-delay-ms': delay })));
  } else if (cmd === 'secret') {
    const [path, fixture, key] = args;
    const body = Buffer.from(JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, api_key: key, messages: [{ role: 'user', content: `my key is ${key}` }] }));
    console.log(JSON.stringify(await post(path, fixture, body, { authorization: `Bearer ${key}`, 'x-api-key': key, cookie: `session=${key}` })));
  } else if (cmd === 'garbage' || cmd === 'garbage-with') {
    await new Promise((resolve) => {
      const s = tls.connect({ host: url.hostname, port: Number(url.port), ca, ALPNProtocols: ['http/1.1'] }, () => {
        const junk = Buffer.alloc(3000);
        for (let i = 0; i < junk.length; i++) junk[i] = (i * 131 + 7) & 0xff;
        junk[0] = 0x00;
        if (cmd === 'garbage-with') Buffer.from(args[0]).copy(junk, 8);
        s.write(junk);
        setTimeout(() => s.end(), 300);
      });
      s.on('data', () => undefined);
      s.on('close', resolve);
      s.on('error', resolve);
    });
    console.log('garbage sent');
  } else throw new Error(`unknown command ${cmd}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
