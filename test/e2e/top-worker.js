// A tool's work for the top test, running until the file $STOP exists (at most 300 s, so a dead test leaves nothing):
// MODE=cpu keeps one core busy; MODE=mem touches $MB MiB (default 300) and holds it, and moves 64 KiB every 100 ms
// through a loopback TCP connection to itself (its network bytes: sent and received by this process). Prints `done`
// at the end.
const fs = require('node:fs');
const keep = process.env.MODE === 'mem' ? Buffer.alloc(Number(process.env.MB || 300) * 1024 * 1024, 1) : null;
const started = Date.now();
const over = () => fs.existsSync(process.env.STOP) || Date.now() - started > 300_000;
const finish = () => {
  process.stdout.write(`done ${keep ? keep.length : 0}\n`);
  process.exit(0);
};
if (process.env.MODE === 'cpu') {
  for (;;) {
    const t = Date.now();
    while (Date.now() - t < 100) {}
    if (over()) finish();
  }
} else {
  const net = require('node:net');
  const server = net.createServer((sock) => sock.resume()).listen(0, '127.0.0.1', () => {
    const c = net.connect(server.address().port, '127.0.0.1');
    setInterval(() => c.write(Buffer.alloc(64 * 1024, 0x6e)), 100);
  });
  setInterval(() => over() && finish(), 100);
}
