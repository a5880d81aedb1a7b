// One simulated host's producer for netns-hosts.spec.ts, run inside the host's network namespace (`ip netns exec`):
// publishes $AS_CALLS streamed chat completions as raw SSL records under host $AS_HOST_NAME, as the probe publishes
// them (per-host, per-partition subjects; a msg id per record), to the NATS cluster $NATS_URL (a comma-separated seed
// list) through the services' Publisher (per-subject order kept through retries across a stream leader change), one
// call every $AS_GAP_MS ms (default 50). Prints a JSON line {"published": n} after each call and, at the end,
// {"done": true, "host", "addresses", "published"} with this namespace's IPv4 addresses; exits 1 on an error.
const os = require('node:os');
const { Subjects } = require('@agentsight/contracts');
const { connectNats, Publisher } = require('@agentsight/jetstream');
const { loadFixture, streamedCallRecords } = require('@agentsight/testkit');

async function main() {
  const host = process.env.AS_HOST_NAME;
  const calls = Number(process.env.AS_CALLS);
  const gap = Number(process.env.AS_GAP_MS || 50);
  if (!host || !calls) throw new Error('AS_HOST_NAME and AS_CALLS are required');
  const body = loadFixture('vercel__openai-text.chunks.txt').body;
  let nats;
  // The meta leader may still be being elected when a host starts: ask again.
  for (let i = 0; ; i++) {
    try {
      nats = await connectNats(process.env.NATS_URL, `netns-${host}`);
      break;
    } catch (err) {
      if (i >= 60) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const pub = new Publisher(nats.js, nats.large, 120_000);
  for (let i = 0; i < calls; i++) {
    const recs = streamedCallRecords(i, body, i * 10_000, { host });
    await Promise.all(recs.map((r) => pub.publish(Subjects.rawSsl(r.host, r.partition), `${host}:${i}:${r.seq}`, r)));
    process.stdout.write(`${JSON.stringify({ published: i + 1 })}\n`);
    await new Promise((r) => setTimeout(r, gap));
  }
  const addresses = Object.values(os.networkInterfaces()).flat().filter((a) => a && a.family === 'IPv4').map((a) => a.address).sort();
  process.stdout.write(`${JSON.stringify({ done: true, host, addresses, published: calls })}\n`);
  await nats.nc.drain();
}

main().catch((err) => {
  process.stderr.write(`netns-publisher: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
