/**
 * CI regression guard of the pipeline's throughput (not a test: no timed assertion in Jest). Runs the short form of
 * the pipeline benchmark (`pipeline.bench.ts <connections> --throughput-only`) and compares it with the figures
 * recorded for this machine kind in `bench/pipeline-guard.json`:
 * - `records_per_s`: raw records/s through every stage, publish → every call stored (wall clock);
 * - `records_per_cpu_s`: raw records per CPU second of the five stages (what they cost, little moved by other load).
 * Fails (exit 1) when one falls below `floor_ratio` (0.5) of its recorded figure in every one of `attempts` runs
 * (2: a shared machine's noise is mostly one-off), so only gross regressions fail CI, never a noisy run alone. The
 * wall-clock figure swung 5× with other engineers' load on the 2-core machine (448–2,270 records/s within minutes,
 * load 15–22) while the per-CPU figure stayed within ±20 %: so records/s is checked only when the 1-minute load
 * average at the run's start is below `wall_max_load_per_core` × cores, and is only reported otherwise.
 * `npx tsx bench/guard.ts` after `npm run setup`; about 30-60 s per run. `--record` writes the measured figures
 * (best of the runs) into the JSON instead of checking.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

/** The committed figures (bench/pipeline-guard.json). */
interface Recorded {
  machine: string;
  connections: number;
  floor_ratio: number;
  attempts: number;
  records_per_s: number;
  records_per_cpu_s: number;
  wall_max_load_per_core: number;
  recorded: string;
  note?: string;
}

interface Measured {
  records_per_s: number;
  records_per_cpu_s: number;
  load: number;
}

const FILE = join(__dirname, 'pipeline-guard.json');

function measure(connections: number): Measured {
  const dir = mkdtempSync(join(tmpdir(), 'agentsight-guard-'));
  try {
    const out = join(dir, 'pipeline.json');
    const load = loadavg()[0];
    execFileSync(process.execPath, [...process.execArgv, join(__dirname, 'pipeline.bench.ts'), String(connections), '--throughput-only', `--out=${out}`], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
    const t = JSON.parse(readFileSync(out, 'utf8')).throughput as Measured;
    return { records_per_s: t.records_per_s, records_per_cpu_s: t.records_per_cpu_s, load };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const rec = JSON.parse(readFileSync(FILE, 'utf8')) as Recorded;
  const record = process.argv.includes('--record');
  const machine = `${cpus().length} cores`;
  if (!record && machine !== rec.machine) {
    console.log(`pipeline guard: skipped, figures are recorded for ${rec.machine}, this machine has ${machine}`);
    return;
  }
  const runs: Measured[] = [];
  for (let i = 0; i < rec.attempts; i++) {
    const m = measure(rec.connections);
    runs.push(m);
    const wallChecked = m.load < rec.wall_max_load_per_core * cpus().length;
    const ok = (!wallChecked || m.records_per_s >= rec.floor_ratio * rec.records_per_s) && m.records_per_cpu_s >= rec.floor_ratio * rec.records_per_cpu_s;
    console.log(`pipeline guard run ${i + 1}: ${m.records_per_s} records/s (recorded ${rec.records_per_s}${wallChecked ? '' : ', not checked: machine loaded'}), ${m.records_per_cpu_s} records per stage CPU s (recorded ${rec.records_per_cpu_s}), load ${m.load.toFixed(1)}${record ? '' : ok ? ': ok' : ': below the floor'}`);
    if (ok && !record) return;
  }
  if (record) {
    const best = (k: 'records_per_s' | 'records_per_cpu_s') => Math.max(...runs.map((r) => r[k]));
    writeFileSync(FILE, JSON.stringify({ ...rec, machine, records_per_s: best('records_per_s'), records_per_cpu_s: best('records_per_cpu_s'), recorded: new Date().toISOString() }, null, 2) + '\n');
    console.log(`pipeline guard: recorded into ${FILE}`);
    return;
  }
  console.error(`pipeline guard: FAILED: throughput below ${rec.floor_ratio} × the figures recorded in bench/pipeline-guard.json (${rec.recorded}) in all ${rec.attempts} runs`);
  process.exit(1);
}

main();
