/**
 * The dashboard's read functions called in-process on the generated store, timed by CPU as well as wall clock (not a
 * test): `npx tsx bench/dashboard-cpu.bench.ts [dir=/tmp/agentsight-dashboard-bench] [views=all] [runs=10]` after
 * `npx nx run-many -t build` (it loads `@agentsight/clickhouse` from dist). The store is `dashboard.bench.ts`'s
 * (100k calls, 1M audit rows, 10k sessions, same argv sizes after the first three arguments are taken: generated into
 * `<dir>/chdb` when that is missing, reused otherwise). For each view: 2 warm-ups, then `runs` calls one at a time;
 * prints min / median / max of the wall time and of the process's CPU time (`process.cpuUsage`: chDB runs in this
 * process, so its query threads are included). On a shared 2-core machine the wall time of one call swings 3-10× with
 * the other engineers' load while the CPU time moves far less, so CPU ms is the figure to compare between code states.
 * `BENCH_LIB=<dir>` loads the functions from another build of the library (e.g. a copy of main's `dist`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const DIR = process.argv[2] || '/tmp/agentsight-dashboard-bench';
const ONLY = process.argv[3] && process.argv[3] !== 'all' ? process.argv[3].split(',') : null;
const RUNS = Number(process.argv[4] || 10);

async function main(): Promise<void> {
  if (!existsSync(join(DIR, 'chdb'))) {
    // dashboard.bench.ts reads its sizes from argv[2..4]: hand it the ones after ours.
    process.argv.splice(2, 3);
    const { generate } = await import('./dashboard.bench');
    process.stderr.write(`generated: ${JSON.stringify(await generate(DIR))}\n`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const lib = require(process.env.BENCH_LIB || '@agentsight/clickhouse') as typeof import('@agentsight/clickhouse');
  const ch = await lib.openClickHouse({ dataDir: join(DIR, 'chdb'), ownerName: false });
  const page = await lib.pageCalls(ch, {}, { limit: 50 });
  const views: Array<[string, () => Promise<unknown>]> = [
    ['overview 30d', () => lib.overview(ch, lib.resolveRange('30d'))],
    ['overview 24h', () => lib.overview(ch, lib.resolveRange('24h'))],
    ['timeseries 30d', () => lib.timeSeries(ch, lib.resolveRange('30d'))],
    ['calls page 1', () => lib.pageCalls(ch, {}, { limit: 50 })],
    ['calls page 2', () => lib.pageCalls(ch, {}, { limit: 50, cursor: page.next_cursor! })],
    ['calls by model', () => lib.pageCalls(ch, { model: 'claude-sonnet-4-5' }, { limit: 50 })],
    ['calls search', () => lib.pageCalls(ch, { q: 'module 93' }, { limit: 50 })],
    ['call detail', () => lib.getCall(ch, page.items[0].call_id)],
    ['sessions page 1', () => lib.pageSessions(ch, {}, { limit: 50 })],
    ['sessions search', () => lib.pageSessions(ch, { q: 'Task 1234:' }, { limit: 50 })],
    ['session detail', () => lib.getSession(ch, 'conv-42')],
    ['processes page 1', () => lib.pageAudit(ch, {}, { limit: 50 })],
    ['processes search', () => lib.pageAudit(ch, { q: 'file4242' }, { limit: 50 })],
  ];
  const stat = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `${s[0]} / ${s[Math.floor(s.length / 2)]} / ${s[s.length - 1]}`;
  };
  process.stdout.write('| view | wall ms min / median / max | CPU ms min / median / max |\n| --- | --- | --- |\n');
  for (const [name, f] of views) {
    if (ONLY && !ONLY.includes(name)) continue;
    await f();
    await f();
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await f();
      wall.push(Math.round(performance.now() - t0));
      const c = process.cpuUsage(c0);
      cpu.push(Math.round((c.user + c.system) / 1000));
    }
    process.stdout.write(`| ${name} | ${stat(wall)} | ${stat(cpu)} |\n`);
  }
  await ch.close();
}

void main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
