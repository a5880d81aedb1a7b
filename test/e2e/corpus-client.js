// One real Node TLS client call for test/e2e/corpus-capture.spec.ts (node's static OpenSSL):
//   node corpus-client.js '<json spec>'
// spec: { kind, host, port, ca, target, body, fixture, stream, variant }
//   kind  openai-chat | openai-responses   official `openai` SDK (chat.completions.create / responses.create)
//         anthropic                         official `@anthropic-ai/sdk` (messages.create, messages.stream, beta.messages.create)
//         node-https                        node:https.request, response read to the end
// The provider's host name resolves to 127.0.0.1 (undici Agent / https `lookup`), so Host and SNI are the real ones
// and the replay server's certificate (which lists the name) verifies. `x-replay-fixture` picks the recording.
// Prints one JSON line: {ok, status?, events?, error?}. Exit code 0 also for an HTTP error the SDK throws (expected
// for error recordings); 1 only when the request itself failed.
const fs = require('node:fs');
const https = require('node:https');

const spec = JSON.parse(process.argv[2]);
const ca = fs.readFileSync(spec.ca);
const lookup = (hostname, opts, cb) => (opts && opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4));
const origin = `https://${spec.host}:${spec.port}`;
const body = JSON.parse(spec.body);

function sdkFetch() {
  const undici = require('undici');
  const dispatcher = new undici.Agent({ connect: { ca, lookup } });
  return { fetch: undici.fetch, fetchOptions: { dispatcher } };
}

async function drain(iterable) {
  let n = 0;
  for await (const _ of iterable) n++; // eslint-disable-line no-unused-vars
  return n;
}

async function openai() {
  const { OpenAI } = require('openai');
  const prefix = spec.target.replace(/\/(chat\/completions|responses)(\?.*)?$/, '');
  const client = new OpenAI({
    apiKey: 'sk-test-not-a-real-key-0000000000000000', baseURL: origin + prefix, maxRetries: 0,
    defaultHeaders: { 'x-replay-fixture': spec.fixture }, ...sdkFetch(),
  });
  if (spec.kind === 'openai-chat') {
    if (!spec.stream) return { ok: true, id: (await client.chat.completions.create(body)).id };
    const params = { ...body, stream: true, stream_options: body.stream_options ?? { include_usage: true } };
    return { ok: true, events: await drain(await client.chat.completions.create(params)) };
  }
  if (!spec.stream) return { ok: true, id: (await client.responses.create(body)).id };
  return { ok: true, events: await drain(await client.responses.create({ ...body, stream: true })) };
}

async function anthropic() {
  const { Anthropic } = require('@anthropic-ai/sdk');
  const client = new Anthropic({
    apiKey: 'sk-ant-test-not-a-real-key-000000000000', baseURL: origin, maxRetries: 0,
    defaultHeaders: { 'x-replay-fixture': spec.fixture }, ...sdkFetch(),
  });
  const params = { ...body, max_tokens: body.max_tokens ?? 1024 };
  if (!spec.stream) return { ok: true, id: (await client.messages.create(params)).id };
  if (spec.variant === 'beta') return { ok: true, events: await drain(await client.beta.messages.create({ ...params, stream: true })) };
  if (spec.variant === 'helper') {
    const s = client.messages.stream(params);
    const msg = await s.finalMessage();
    return { ok: true, id: msg.id };
  }
  return { ok: true, events: await drain(await client.messages.create({ ...params, stream: true })) };
}

function nodeHttps() {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(spec.body);
    const req = https.request({
      host: spec.host, port: spec.port, path: spec.target, method: 'POST', ca, lookup, agent: false,
      headers: { 'content-type': 'application/json', 'content-length': payload.length, 'x-replay-fixture': spec.fixture, ...(spec.headers ?? {}) },
    }, (res) => {
      let n = 0;
      res.on('data', (d) => (n += d.length));
      res.on('end', () => resolve({ ok: true, status: res.statusCode, bytes: n }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

async function main() {
  let out;
  try {
    if (spec.kind === 'openai-chat' || spec.kind === 'openai-responses') out = await openai();
    else if (spec.kind === 'anthropic') out = await anthropic();
    else if (spec.kind === 'node-https') out = await nodeHttps();
    else throw new Error(`unknown kind ${spec.kind}`);
  } catch (e) {
    // An HTTP error answer (error recordings) is an expected outcome: the SDK read it and threw.
    if (e && typeof e.status === 'number') out = { ok: true, status: e.status, error: String(e.message).slice(0, 200) };
    else {
      console.log(JSON.stringify({ ok: false, error: String(e && e.stack ? e.stack : e).slice(0, 2000) }));
      process.exit(1);
    }
  }
  console.log(JSON.stringify(out));
}
main();
