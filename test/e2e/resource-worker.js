// The tool's work in the resource test: burns CPU_MS of CPU, then touches MB MiB and holds it HOLD_MS, then appends
// its own getrusage (process.resourceUsage(): CPU µs, maxRSS kB) as a JSON line to OUT and exits. With WRITE_MB it
// first writes that many MiB to WRITE_FILE (fsync'd, then removed) and reports its own /proc/self/io write_bytes.
const fs = require('node:fs');
const writeMb = Number(process.env.WRITE_MB || 0);
if (writeMb > 0) {
  const fd = fs.openSync(process.env.WRITE_FILE, 'w');
  for (let i = 0; i < writeMb; i++) fs.writeSync(fd, Buffer.alloc(1024 * 1024, 7));
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  fs.unlinkSync(process.env.WRITE_FILE);
}
const ioWriteBytes = () => Number(/^write_bytes:\s*(\d+)/m.exec(fs.readFileSync('/proc/self/io', 'utf8'))[1]);
const cpuMs = Number(process.env.CPU_MS || 0);
const t0 = process.cpuUsage();
while ((process.cpuUsage(t0).user + process.cpuUsage(t0).system) / 1000 < cpuMs) {}
const keep = Buffer.alloc(Number(process.env.MB || 0) * 1024 * 1024, 1);
setTimeout(() => {
  const u = process.resourceUsage();
  fs.appendFileSync(process.env.OUT, JSON.stringify({ pid: process.pid, cpu_us: u.userCPUTime + u.systemCPUTime, max_rss_kb: u.maxRSS, kept: keep.length, write_bytes: ioWriteBytes() }) + '\n');
  process.stdout.write('built\n');
}, Number(process.env.HOLD_MS || 0));
