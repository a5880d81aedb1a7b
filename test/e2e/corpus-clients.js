// Runs the client calls of test/e2e/corpus-capture.spec.ts, a few at a time, each as its own process (so every stored
// call maps to one pid):  node corpus-clients.js <plan.json> [concurrency]
// plan.json: [{ label, client: 'node' | 'python' | 'curl', spec }] where spec is corpus-client.js's spec, plus for
// python/curl: { host, port, ca, target, bodyFile, fixture, pyClient, python }.
// Prints one JSON line per finished call: {label, client, pid, code, out, err}.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const concurrency = Number(process.argv[3] ?? 4);

function argv(item) {
  const s = item.spec;
  const hostport = `${s.host}:${s.port}`;
  if (item.client === 'node') return [process.execPath, [path.join(__dirname, 'corpus-client.js'), JSON.stringify(s)]];
  if (item.client === 'python') {
    // urllib: the URL names 127.0.0.1 (certificate IP SAN); the Host header names the provider.
    return [s.python, [s.pyClient, `https://127.0.0.1:${s.port}${s.target}`, '--cafile', s.ca, '--data-file', s.bodyFile,
      '--header', `Host: ${hostport}`, '--header', `x-replay-fixture: ${s.fixture}`]];
  }
  // curl (Debian libssl): the provider's name resolves to 127.0.0.1, real SNI and Host.
  return ['curl', ['-sS', '--http1.1', '--noproxy', '*', '--cacert', s.ca, '--resolve', `${hostport}:127.0.0.1`,
    `https://${hostport}${s.target}`, '-H', 'content-type: application/json', '-H', `x-replay-fixture: ${s.fixture}`,
    '--data-binary', `@${s.bodyFile}`, '-o', '/dev/null', '-w', '%{http_code}']];
}

function run(item) {
  return new Promise((resolve) => {
    const [cmd, args] = argv(item);
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', (e) => resolve({ label: item.label, client: item.client, pid: p.pid ?? -1, code: -1, out, err: String(e) }));
    p.on('close', (code) => resolve({ label: item.label, client: item.client, pid: p.pid, code, out: out.slice(-500), err: err.slice(0, 500) }));
  });
}

async function main() {
  let next = 0;
  const worker = async () => {
    while (next < plan.length) {
      const item = plan[next++];
      process.stdout.write(JSON.stringify(await run(item)) + '\n');
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}
main();
