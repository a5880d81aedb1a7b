import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { hostToken } from '@agentsight/contracts';

/**
 * The one place for where agentsight's brokers are and how to log in to them (NATS, Redis), and for the secrets
 * agentsight generates (broker passwords, the read API's token). Every service, the CLI, the producer's launcher,
 * the set-up (`infra/services.sh` → brokers.ts) and the tests read them from here.
 *
 * Two modes per broker:
 * - **managed** (`NATS_URL` / `REDIS_URL` unset): agentsight's own nats-server / redis-server on 127.0.0.1, ports
 *   `AGENTSIGHT_NATS_PORT` (default {@link DEFAULT_NATS_PORT}) and `AGENTSIGHT_REDIS_PORT` (default
 *   {@link DEFAULT_REDIS_PORT}), started by brokers.ts with the credentials of {@link Secrets} (generated once into
 *   `<config dir>/secrets.json`, mode 0600 in a 0700 directory, see {@link configDir}). Their ports are not the
 *   stock 4222/6379 so that an open server someone else runs there is never used for captured data.
 * - **external** (`NATS_URL` / `REDIS_URL` set): that server, with `NATS_CREDS` (a NATS `.creds` file: JWT + nkey
 *   seed), or `NATS_USER` + `NATS_PASSWORD`, or user:password in the URL; Redis with the password (or ACL user) in
 *   the URL (`redis://user:pass@host:port`).
 */

/** Port of agentsight's own nats-server (127.0.0.1) when `NATS_URL` is unset. */
export const DEFAULT_NATS_PORT = 7422;
/** Port of agentsight's own redis-server (127.0.0.1) when `REDIS_URL` is unset. */
export const DEFAULT_REDIS_PORT = 7379;
/** Default directory of {@link Secrets}: root-owned, 0700 (override: `AGENTSIGHT_CONFIG_DIR`). */
export const DEFAULT_CONFIG_DIR = '/etc/agentsight';
/** NATS user of the pipeline's services and the CLI (all subjects). */
export const NATS_PIPELINE_USER = 'agentsight';
/** NATS user of the probe: may publish raw subjects and create the raw stream, nothing else (see brokers.ts). */
export const NATS_PROBE_USER = 'agentsight-probe';
/**
 * Reply-subject prefix of the pipeline's connections to the managed NATS. The probe's user may subscribe to
 * `_INBOX.>` (nats.c 3.4 has no custom inbox prefix, and its PubAcks come there); the pipeline's replies — which
 * carry derived records when a pull consumer fetches — go to this prefix, which the probe's user cannot subscribe to.
 */
export const PIPELINE_INBOX_PREFIX = '_INBOX_agentsight';

/** Secrets generated once per machine (`<config dir>/secrets.json`, mode 0600). Random, base64url. */
export interface Secrets {
  v: 1;
  /** Password of {@link NATS_PIPELINE_USER}. */
  nats_pipeline_password: string;
  /** Password of {@link NATS_PROBE_USER}. */
  nats_probe_password: string;
  /** `requirepass` of the managed redis-server. */
  redis_password: string;
  /** Bearer token of the read API and dashboard (loopback included). */
  api_token: string;
}

/** Directory of {@link Secrets} and of the managed brokers' config files: `AGENTSIGHT_CONFIG_DIR`, else /etc/agentsight. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.AGENTSIGHT_CONFIG_DIR || DEFAULT_CONFIG_DIR;
}

/** Path of the secrets file. */
export function secretsFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'secrets.json');
}

/**
 * Reads {@link Secrets}; null when the file does not exist. Throws a readable error when it cannot be read (not
 * root: the file is root-only by design) or is not valid.
 */
export function readSecrets(env: NodeJS.ProcessEnv = process.env): Secrets | null {
  const file = secretsFile(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'EACCES') throw new Error(`cannot read ${file}: agentsight's credentials are root-only (run as root, e.g. with sudo)`);
    throw err;
  }
  const s = JSON.parse(text) as Secrets;
  for (const k of ['nats_pipeline_password', 'nats_probe_password', 'redis_password', 'api_token'] as const) {
    if (typeof s[k] !== 'string' || s[k].length < 16) throw new Error(`${file}: ${k} missing or too short (delete the file to regenerate it; restart agentsight's brokers after)`);
  }
  return s;
}

/** Creates `dir` (and parents) if missing and makes it mode 0700 (an existing directory is tightened too). */
export function privateDir(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if ((statSync(dir).mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
  return dir;
}

/** Writes `text` to `file` with mode 0600 (atomically: a 0600 temp file renamed over it). */
export function writePrivateFile(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    if ((fstatSync(fd).mode & 0o777) !== 0o600) chmodSync(tmp, 0o600);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/** Creates `file` empty with mode 0600 if it does not exist, and tightens it to 0600 if it does (log files). */
export function privateFile(file: string): string {
  closeSync(openSync(file, 'a', 0o600));
  if ((statSync(file).mode & 0o777) !== 0o600) chmodSync(file, 0o600);
  return file;
}

/**
 * {@link readSecrets}, generating the file first when it does not exist (config dir 0700, file 0600; 32 random
 * bytes per secret). Two processes racing here end up with the same file (the second re-reads the first's).
 */
export function ensureSecrets(env: NodeJS.ProcessEnv = process.env): Secrets {
  const existing = readSecrets(env);
  if (existing) return existing;
  const file = secretsFile(env);
  privateDir(dirname(file));
  const gen = () => randomBytes(32).toString('base64url');
  const s: Secrets = { v: 1, nats_pipeline_password: gen(), nats_probe_password: gen(), redis_password: gen(), api_token: gen() };
  try {
    const fd = openSync(file, 'wx', 0o600);
    writeSync(fd, JSON.stringify(s, null, 2) + '\n');
    closeSync(fd);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return readSecrets(env)!;
}

/** Where a NATS server is and how to authenticate to it. */
export interface NatsTarget {
  /** Server URL (without credentials unless the user put them there). */
  url: string;
  user?: string;
  pass?: string;
  /** A NATS `.creds` file (user JWT and nkey seed). */
  credsFile?: string;
  /** Reply-subject prefix ({@link PIPELINE_INBOX_PREFIX} on the managed server). */
  inboxPrefix?: string;
  /** True for agentsight's own server (started by brokers.ts). */
  managed: boolean;
}

/**
 * Runtime settings shared by every pipeline service, from the environment: the brokers (see the top of this file:
 * `NATS_URL`, `NATS_CREDS`, `NATS_USER`/`NATS_PASSWORD`, `REDIS_URL`, `AGENTSIGHT_NATS_PORT`,
 * `AGENTSIGHT_REDIS_PORT`, `AGENTSIGHT_CONFIG_DIR`),
 * `AGENTSIGHT_INSTANCE` (this instance's name among the instances of one service on one host; default `default`;
 * a restarted instance with the same name takes its partition leases back at once), `AGENTSIGHT_PARTITIONS`
 * (number of partitions of per-connection subjects; default 8, must equal the producer's `--partitions`),
 * `AGENTSIGHT_HOST` (host name in subjects; default os.hostname()).
 */
export interface PipelineConfig {
  /** NATS to connect to, with its credentials. */
  nats: NatsTarget;
  /** `nats.url`, for messages (no credentials). */
  natsUrl: string;
  /** Redis URL with its credentials (never print it: {@link redactUrl}). */
  redisUrl: string;
  /** True when Redis is agentsight's own server. */
  redisManaged: boolean;
  instance: string;
  partitions: number;
  host: string;
  hostToken: string;
}

/** Port of the managed NATS. */
export function managedNatsPort(env: NodeJS.ProcessEnv = process.env): number {
  return Number(env.AGENTSIGHT_NATS_PORT || DEFAULT_NATS_PORT);
}

/** Port of the managed Redis. */
export function managedRedisPort(env: NodeJS.ProcessEnv = process.env): number {
  return Number(env.AGENTSIGHT_REDIS_PORT || DEFAULT_REDIS_PORT);
}

/**
 * The NATS to use: `NATS_URL` (external) with `NATS_CREDS` or `NATS_USER`/`NATS_PASSWORD`, else the managed
 * server as the pipeline's user (reads {@link Secrets}; throws when they do not exist yet: `npm run setup`, or any
 * capture command as root, creates them).
 */
export function natsTarget(env: NodeJS.ProcessEnv = process.env): NatsTarget {
  if (env.NATS_URL) {
    const t: NatsTarget = { url: env.NATS_URL, managed: false };
    if (env.NATS_CREDS) t.credsFile = env.NATS_CREDS;
    else if (env.NATS_USER) Object.assign(t, { user: env.NATS_USER, pass: env.NATS_PASSWORD ?? '' });
    return t;
  }
  const s = requireSecrets(env);
  return { url: `nats://127.0.0.1:${managedNatsPort(env)}`, user: NATS_PIPELINE_USER, pass: s.nats_pipeline_password, inboxPrefix: PIPELINE_INBOX_PREFIX, managed: true };
}

/** The Redis URL to use: `REDIS_URL` (external, credentials in it), else the managed server with its password. */
export function redisUrl(env: NodeJS.ProcessEnv = process.env): string {
  if (env.REDIS_URL) return env.REDIS_URL;
  return `redis://:${encodeURIComponent(requireSecrets(env).redis_password)}@127.0.0.1:${managedRedisPort(env)}`;
}

function requireSecrets(env: NodeJS.ProcessEnv): Secrets {
  const s = readSecrets(env);
  if (!s) throw new Error(`no agentsight credentials at ${secretsFile(env)} yet: run \`npm run setup\` (or any capture command) as root, or set NATS_URL/REDIS_URL`);
  return s;
}

/**
 * Environment for the probe (agentsight-probe reads `NATS_URL`, `NATS_USER`/`NATS_PASSWORD` or `NATS_CREDS`; never
 * on its command line, which every local user can read in /proc): the managed server as {@link NATS_PROBE_USER},
 * or the external server's credentials as given.
 */
export function probeNatsEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (env.NATS_URL) {
    const out: Record<string, string> = { NATS_URL: env.NATS_URL };
    for (const k of ['NATS_CREDS', 'NATS_USER', 'NATS_PASSWORD'] as const) if (env[k]) out[k] = env[k]!;
    return out;
  }
  return { NATS_URL: `nats://127.0.0.1:${managedNatsPort(env)}`, NATS_USER: NATS_PROBE_USER, NATS_PASSWORD: requireSecrets(env).nats_probe_password };
}

/** `url` with any password replaced by `***` (for messages and logs). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/@]*)@/i, (_m, scheme: string, auth: string) => `${scheme}${auth.includes(':') ? `${auth.slice(0, auth.indexOf(':'))}:***` : '***'}@`);
}

/** Reads {@link PipelineConfig} from `env`. */
export function pipelineConfig(env: NodeJS.ProcessEnv = process.env): PipelineConfig {
  const host = env.AGENTSIGHT_HOST || hostname();
  const nats = natsTarget(env);
  return {
    nats,
    natsUrl: nats.url,
    redisUrl: redisUrl(env),
    redisManaged: !env.REDIS_URL,
    instance: env.AGENTSIGHT_INSTANCE || 'default',
    partitions: Number(env.AGENTSIGHT_PARTITIONS || 8),
    host,
    hostToken: hostToken(host),
  };
}

/** The read API's token: `AGENTSIGHT_UI_TOKEN`, else {@link Secrets}' `api_token` (null when neither is readable). */
export function apiToken(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.AGENTSIGHT_UI_TOKEN) return env.AGENTSIGHT_UI_TOKEN;
  try {
    return readSecrets(env)?.api_token ?? null;
  } catch {
    return null;
  }
}
