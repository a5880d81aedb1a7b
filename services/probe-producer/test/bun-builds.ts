/**
 * The pinned Bun builds of bun-builds.json and `agentsight-probe --locate`, shared by bun-builds.spec.ts (locator on
 * every build) and bun-capture.spec.ts (real capture on every build).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { probeBinary } from '@agentsight/testkit';
import { NpmFile } from './npm-binaries';

/** bun-builds.json's shape. */
export interface BunBuilds {
  packages: { name: string; file: string; versions: string[] }[];
  agents: { agent: string; name: string; version: string; file: string; bun: string }[];
  groundTruth: { name: string; version: string; source: string; fns: Record<string, string> }[];
}

/** One --locate answer (main.c locate_only). */
export interface LocateAnswer {
  path: string;
  status: 'absent' | 'found' | 'unrecognised' | 'unreadable';
  cached: boolean;
  family?: string;
  how?: string;
  method?: string;
  build?: string;
  why?: string;
  fns?: { fn: string; offset: string; rets: string[]; detail: string }[];
}

export const BUILDS: BunBuilds = JSON.parse(fs.readFileSync(path.join(__dirname, 'bun-builds.json'), 'utf8'));

/** Every pinned build: Bun releases of both packages, then the agents; `bun` is the version string it must report. */
export function allBuilds(): (NpmFile & { label: string; bun: RegExp | string })[] {
  const out: (NpmFile & { label: string; bun: RegExp | string })[] = [];
  for (const p of BUILDS.packages)
    for (const v of p.versions)
      out.push({ name: p.name, version: v, file: p.file, label: `${p.name}@${v}`, bun: new RegExp(`^Bun v${v.replace(/\./g, '\\.')} \\([0-9a-f]{8,9}\\)$`) });
  for (const a of BUILDS.agents) out.push({ name: a.name, version: a.version, file: a.file, label: `${a.agent} (${a.name}@${a.version})`, bun: a.bun });
  return out;
}

/** Runs `agentsight-probe --locate` on paths (16 per process, the probe's list limit), with cacheDir when given. */
export function locate(paths: string[], cacheDir?: string): LocateAnswer[] {
  const out: LocateAnswer[] = [];
  for (let i = 0; i < paths.length; i += 16) {
    const args = [...(cacheDir ? ['--cache-dir', cacheDir] : []), ...paths.slice(i, i + 16).flatMap((p) => ['--locate', p])];
    const text = execFileSync(probeBinary(), args, { encoding: 'utf8', maxBuffer: 64 << 20 });
    out.push(...text.trim().split('\n').map((l) => JSON.parse(l) as LocateAnswer));
  }
  return out;
}

