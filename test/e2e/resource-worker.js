// The tool's work in the resource test: burns CPU_MS of CPU, then touches MB MiB and holds it HOLD_MS, then appends
// its own getrusage (process.resourceUsage(): CPU µs, maxRSS kB) as a JSON line to OUT and exits.
const fs = require('node:fs');
const cpuMs = Number(process.env.CPU_MS || 0);
const t0 = process.cpuUsage();
while ((process.cpuUsage(t0).user + process.cpuUsage(t0).system) / 1000 < cpuMs) {}
const keep = Buffer.alloc(Number(process.env.MB || 0) * 1024 * 1024, 1);
setTimeout(() => {
  const u = process.resourceUsage();
  fs.appendFileSync(process.env.OUT, JSON.stringify({ pid: process.pid, cpu_us: u.userCPUTime + u.systemCPUTime, max_rss_kb: u.maxRSS, kept: keep.length }) + '\n');
  process.stdout.write('built\n');
}, Number(process.env.HOLD_MS || 0));
