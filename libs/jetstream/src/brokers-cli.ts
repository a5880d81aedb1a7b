/**
 * `node libs/jetstream/dist/brokers-cli.js`: {@link ensureBrokers} for the set-up (infra/services.sh), with the data
 * dir `AGENTSIGHT_DATA_DIR` (default ~/.agentsight). Exit 1 with the reason when a broker cannot be used.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureBrokers } from './brokers';
import { privateDir } from './config';

const dataDir = privateDir(resolve(process.env.AGENTSIGHT_DATA_DIR || join(homedir(), '.agentsight')));
ensureBrokers(process.env, { dataDir }).catch((err) => {
  process.stderr.write(`[services] ${(err as Error).message}\n`);
  process.exit(1);
});
