// A tool's work for the top test, running until the file $STOP exists (at most 300 s, so a dead test leaves nothing):
// MODE=cpu keeps one core busy; MODE=mem touches $MB MiB (default 300) and holds it, idle. Prints `done` at the end.
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
  setInterval(() => over() && finish(), 100);
}
