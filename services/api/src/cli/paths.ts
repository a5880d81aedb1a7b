import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { optionDefaultNumber } from '@agentsight/contracts';

/** The data directory: `--data-dir`, else `AGENTSIGHT_DATA_DIR`, else `~/.agentsight`. */
export function dataDir(env: NodeJS.ProcessEnv = process.env, flag?: string): string {
  return resolve(flag || env.AGENTSIGHT_DATA_DIR || join(homedir(), '.agentsight'));
}

/** Repository root (where nx.json is), from this compiled file's location. */
export function repoRoot(): string {
  return resolve(__dirname, '../../../..');
}

/** Port of the api service: `AGENTSIGHT_API_PORT`, default its OPTIONS default (7396). */
export function apiPort(env: NodeJS.ProcessEnv = process.env): number {
  return Number(env.AGENTSIGHT_API_PORT || optionDefaultNumber('AGENTSIGHT_API_PORT'));
}
