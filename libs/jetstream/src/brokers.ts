import { spawn } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import {
  configDir, ensureSecrets, managedNatsPort, managedRedisPort, NATS_PIPELINE_USER, NATS_PROBE_USER, natsTarget, privateDir, privateFile, Secrets,
  secretsFile, writePrivateFile,
} from './config';
import { natsConnectOptions } from './nats';

/**
 * agentsight's own brokers (the "managed" mode of config.ts): a nats-server with JetStream and a redis-server on
 * 127.0.0.1, both requiring the credentials of {@link Secrets}, started when `NATS_URL` / `REDIS_URL` are unset and
 * nothing answers on their ports yet. A server already on one of those ports is used only when it demands
 * credentials and ours work; an open one, or one that refuses ours, is refused with the reason (agentsight never
 * puts captured data into a broker every local user can read).
 *
 * NATS users and permissions (`<config dir>/nats.conf`, 0600, rewritten at each start):
 * - {@link NATS_PIPELINE_USER}: everything (services, CLI);
 * - {@link NATS_PROBE_USER}: publish `agentsight.raw.>` and `$JS.API.STREAM.CREATE.AGENTSIGHT_RAW` (the probe creates
 *   the raw stream when missing), subscribe `_INBOX.>` (its PubAcks); nothing else, so captured records cannot be
 *   read back with its password.
 * Store `<data dir>/nats` (0700), logs `<data dir>/logs/{nats,redis}.log` (0600), Redis without persistence.
 */

/** Options of {@link ensureBrokers}. */
export interface EnsureBrokersOptions {
  /** Data dir of the run: the NATS store and broker logs go under it when this call starts the server. */
  dataDir: string;
  /** Progress lines (default: stderr with a `[services]` prefix). */
  say?: (line: string) => void;
  /** How long to wait for a started server, ms (default 15 000). */
  timeoutMs?: number;
}

/** What one broker check found. */
export type BrokerState = 'ours' | 'absent';

/**
 * Makes sure the managed brokers run (for each of NATS and Redis whose URL is not set in `env`): generates
 * {@link Secrets} if needed, starts the missing server (detached: it outlives this process, like the set-up's) and
 * waits until our credentials work. Throws, naming the port and what to do, when something else answers there.
 */
export async function ensureBrokers(env: NodeJS.ProcessEnv, opts: EnsureBrokersOptions): Promise<void> {
  if (env.NATS_URL && env.REDIS_URL) return;
  const say = opts.say ?? ((l: string) => process.stderr.write(`[services] ${l}\n`));
  const secrets = ensureSecrets(env);
  const logs = privateDir(join(opts.dataDir, 'logs'));
  if (!env.NATS_URL) {
    const port = managedNatsPort(env);
    if ((await natsState(env, port)) === 'absent') {
      const store = privateDir(join(opts.dataDir, 'nats'));
      const conf = join(privateDir(configDir(env)), 'nats.conf');
      writePrivateFile(conf, natsConfig(secrets, port, store, privateFile(join(logs, 'nats.log'))));
      say(`starting nats-server on 127.0.0.1:${port} (JetStream, store ${store}, credentials in ${secretsFile(env)})`);
      spawn('nats-server', ['-c', conf], { detached: true, stdio: 'ignore' }).on('error', () => undefined).unref();
      await waitFor(async () => (await natsState(env, port).catch(() => 'absent')) === 'ours', opts.timeoutMs, `nats-server did not start on 127.0.0.1:${port}; see ${join(logs, 'nats.log')}`);
    }
  }
  if (!env.REDIS_URL) {
    const port = managedRedisPort(env);
    if ((await redisState(secrets, port)) === 'absent') {
      const conf = join(privateDir(configDir(env)), 'redis.conf');
      writePrivateFile(conf, redisConfig(secrets, port, privateFile(join(logs, 'redis.log'))));
      say(`starting redis-server on 127.0.0.1:${port} (password in ${secretsFile(env)})`);
      spawn('redis-server', [conf], { detached: true, stdio: 'ignore' }).on('error', () => undefined).unref();
      await waitFor(async () => (await redisState(secrets, port).catch(() => 'absent')) === 'ours', opts.timeoutMs, `redis-server did not start on 127.0.0.1:${port}; see ${join(logs, 'redis.log')}`);
    }
  }
}

/** The managed nats-server's configuration: loopback, JetStream store, log file, the two users and their permissions. */
export function natsConfig(s: Secrets, port: number, storeDir: string, logFile: string): string {
  const q = JSON.stringify;
  return `# Written by agentsight (libs/jetstream/src/brokers.ts) at each start; secrets from secrets.json.
listen: ${q(`127.0.0.1:${port}`)}
server_name: agentsight
jetstream { store_dir: ${q(storeDir)} }
log_file: ${q(logFile)}
pid_file: ${q(logFile.replace(/\.log$/, '.pid'))}
authorization {
  users = [
    { user: ${q(NATS_PIPELINE_USER)}, password: ${q(s.nats_pipeline_password)} }
    { user: ${q(NATS_PROBE_USER)}, password: ${q(s.nats_probe_password)}, permissions: {
        publish: { allow: ["agentsight.raw.>", "$JS.API.STREAM.CREATE.AGENTSIGHT_RAW"] }
        subscribe: { allow: ["_INBOX.>"] }
      } }
  ]
}
`;
}

/** The managed redis-server's configuration: loopback, password, no persistence, log file. */
export function redisConfig(s: Secrets, port: number, logFile: string): string {
  return `# Written by agentsight (libs/jetstream/src/brokers.ts) at each start; secrets from secrets.json.
bind 127.0.0.1
port ${port}
protected-mode yes
requirepass ${s.redis_password}
save ""
appendonly no
daemonize no
logfile ${logFile}
pidfile ${logFile.replace(/\.log$/, '.pid')}
`;
}

/**
 * State of the managed NATS port: `absent` (nothing listens), `ours` (a server that requires credentials and accepts
 * the pipeline's). Throws when an open server listens there, or one that refuses our credentials.
 */
export async function natsState(env: NodeJS.ProcessEnv, port: number): Promise<BrokerState> {
  const info = await firstLine(port, null);
  if (info === null) return 'absent';
  let parsed: { auth_required?: boolean; jetstream?: boolean } = {};
  try {
    parsed = JSON.parse(info.replace(/^INFO\s+/, ''));
  } catch {
    throw new Error(`something that is not NATS listens on 127.0.0.1:${port}: stop it or choose another port (AGENTSIGHT_NATS_PORT)`);
  }
  if (!parsed.auth_required) {
    throw new Error(`the NATS server on 127.0.0.1:${port} accepts connections without credentials: any local user could read what agentsight captures there. Stop it (agentsight starts its own with credentials), or choose another port (AGENTSIGHT_NATS_PORT), or point NATS_URL at a server you secured`);
  }
  try {
    const nc = await connect({ ...natsConnectOptions(natsTarget(env)), reconnect: false, timeout: 3000 });
    await nc.close();
  } catch (err) {
    throw new Error(`the NATS server on 127.0.0.1:${port} refuses agentsight's credentials (${secretsFile(env)}): ${(err as Error).message}. It was started with other credentials: stop it (agentsight starts it again with these)`);
  }
  return 'ours';
}

/** Like {@link natsState} for Redis: open (PING answered without AUTH) or refusing our password throws. */
export async function redisState(s: Secrets, port: number): Promise<BrokerState> {
  const open = await firstLine(port, 'PING\r\n');
  if (open === null) return 'absent';
  if (open.startsWith('+PONG')) {
    throw new Error(`the Redis server on 127.0.0.1:${port} answers without a password: any local user could read agentsight's state there. Stop it (agentsight starts its own with a password), or choose another port (AGENTSIGHT_REDIS_PORT), or point REDIS_URL at a server you secured`);
  }
  const auth = await firstLine(port, `AUTH ${s.redis_password}\r\n`);
  if (!auth?.startsWith('+OK')) throw new Error(`the Redis server on 127.0.0.1:${port} refuses agentsight's password (${auth?.trim() ?? 'no answer'}): it was started with another one; stop it (agentsight starts it again)`);
  return 'ours';
}

/** Connects to 127.0.0.1:`port`, sends `send` (if any), resolves with the first line received; null when nothing listens. */
function firstLine(port: number, send: string | null, timeoutMs = 3000): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const c = tcpConnect(port, '127.0.0.1');
    let buf = '';
    const t = setTimeout(() => { c.destroy(); reject(new Error(`127.0.0.1:${port} accepted a connection but said nothing within ${timeoutMs} ms`)); }, timeoutMs);
    c.on('connect', () => send && c.write(send));
    c.on('data', (d) => {
      buf += d.toString('latin1');
      const i = buf.indexOf('\n');
      if (i >= 0) {
        clearTimeout(t);
        c.destroy();
        resolve(buf.slice(0, i).replace(/\r$/, ''));
      }
    });
    c.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(t);
      if (err.code === 'ECONNREFUSED') resolve(null);
      else reject(err);
    });
    c.on('close', () => {
      clearTimeout(t);
      if (!buf.includes('\n')) resolve(buf ? buf : null);
    });
  });
}

async function waitFor(ok: () => Promise<boolean>, timeoutMs = 15_000, message: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(message);
}
