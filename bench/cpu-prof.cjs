// Preloaded by `bench/pipeline.bench.ts` with BENCH_CPU_PROF=<dir> (`--require`, since node refuses `--cpu-prof` in
// NODE_OPTIONS): profiles the whole process with the inspector and writes `<dir>/<service>-<pid>.cpuprofile` when
// it exits, or when it re-raises SIGTERM/SIGINT on itself after a graceful shutdown (NestJS shutdown hooks do).
const { Session } = require('node:inspector');
const { writeFileSync } = require('node:fs');
const { basename, dirname, join } = require('node:path');
const dir = process.env.BENCH_CPU_PROF;
const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 1000 });
session.post('Profiler.start');
let written = false;
function write() {
  if (written) return;
  written = true;
  // Same-thread inspector sessions answer synchronously, so this completes before the process goes.
  session.post('Profiler.stop', (err, res) => {
    if (err) return;
    const name = basename(dirname(dirname(process.argv[1] || 'x/x/node')));
    writeFileSync(join(dir, `${name}-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
  });
}
process.on('exit', write);
const kill = process.kill.bind(process);
process.kill = (pid, signal) => {
  if (pid === process.pid) write();
  return kill(pid, signal);
};
