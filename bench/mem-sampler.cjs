// Preloaded by `bench/pipeline.bench.ts` with BENCH_MEM=<dir> (`--require`): samples this process' memory every 100 ms
// and writes `<dir>/<service>-<pid>.mem.json` when it exits (or re-raises SIGTERM/SIGINT on itself, as NestJS shutdown
// hooks do). Each sample, MiB: rss, anon, file, shmem (/proc/self/status VmRSS/RssAnon/RssFile/RssShmem), V8
// heap_total, heap_used, external, array_buffers (process.memoryUsage()). The file holds `peak` (the sample with the
// highest rss, with V8's per-space sizes and /proc/self/smaps_rollup at that moment), `last`, and every 10th sample.
// BENCH_MEM_HEAP_PROF=1 also runs V8's sampling heap profiler over the whole run, objects collected by GC included
// (so it shows where garbage is allocated, not only what stays live), and writes `<service>-<pid>.heapprofile`
// (open it in Chrome DevTools' Memory tab).
const { readFileSync, writeFileSync } = require('node:fs');
const { basename, dirname, join } = require('node:path');
const v8 = require('node:v8');
const dir = process.env.BENCH_MEM;
const name = basename(dirname(dirname(process.argv[1] || 'x/x/node')));
const MiB = 1024 * 1024;
const kb = (text, key) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)?.[1] ?? 0) / 1024;
let peak = null;
let last = null;
const series = [];
let n = 0;
function sample() {
  const s = readFileSync('/proc/self/status', 'utf8');
  const m = process.memoryUsage();
  const x = {
    t_ms: Math.round(process.uptime() * 1000),
    rss: +kb(s, 'VmRSS').toFixed(1), anon: +kb(s, 'RssAnon').toFixed(1), file: +kb(s, 'RssFile').toFixed(1), shmem: +kb(s, 'RssShmem').toFixed(1),
    heap_total: +(m.heapTotal / MiB).toFixed(1), heap_used: +(m.heapUsed / MiB).toFixed(1), external: +(m.external / MiB).toFixed(1), array_buffers: +(m.arrayBuffers / MiB).toFixed(1),
  };
  last = x;
  if (n++ % 10 === 0) series.push(x);
  if (!peak || x.rss > peak.rss) {
    peak = {
      ...x,
      spaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((sp) => [sp.space_name, +(sp.space_size / MiB).toFixed(1)])),
      smaps_rollup: readFileSync('/proc/self/smaps_rollup', 'utf8'),
    };
  }
}
const timer = setInterval(sample, 100);
timer.unref();

let session = null;
if (process.env.BENCH_MEM_HEAP_PROF === '1') {
  const { Session } = require('node:inspector');
  session = new Session();
  session.connect();
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', { samplingInterval: 64 * 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}

let written = false;
function write() {
  if (written) return;
  written = true;
  sample();
  writeFileSync(join(dir, `${name}-${process.pid}.mem.json`), JSON.stringify({ service: name, pid: process.pid, peak, last, series }, null, 1));
  // Same-thread inspector sessions answer synchronously, so this completes before the process goes.
  session?.post('HeapProfiler.stopSampling', (err, res) => {
    if (!err) writeFileSync(join(dir, `${name}-${process.pid}.heapprofile`), JSON.stringify(res.profile));
  });
}
process.on('exit', write);
const kill = process.kill.bind(process);
process.kill = (pid, signal) => {
  if (pid === process.pid) write();
  return kill(pid, signal);
};
