import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { apiToken, ensureSecrets, privateDir, secretsFile, writePrivateFile } from '@agentsight/jetstream';
import { isLoopback } from '../http/web';
import { dataDir } from './paths';
import { apiRunning, ensureInfra, Pipeline } from './pipeline';

/**
 * File (mode 0600, in the data dir) holding the token of a running `serve` started with its own
 * `AGENTSIGHT_UI_TOKEN`, so the CLI on this machine can read through it.
 */
export function tokenFile(dir: string): string {
  return join(dir, 'ui-token');
}

/**
 * The read API token the CLI sends: `AGENTSIGHT_UI_TOKEN`, else the data dir's token file (a `serve` with a token of
 * its own), else the machine's api token (`api_token` of /etc/agentsight/secrets.json, root-only), else none.
 */
export function cliToken(env: NodeJS.ProcessEnv, dir: string): string | null {
  if (env.AGENTSIGHT_UI_TOKEN) return env.AGENTSIGHT_UI_TOKEN;
  try {
    const t = readFileSync(tokenFile(dir), 'utf8').trim();
    if (t) return t;
  } catch {
    /* no serve with its own token */
  }
  return apiToken(env);
}

/** The dashboard's URL for a host and port (IPv6 in brackets; 0.0.0.0 / :: shown as given). */
export function dashboardUrl(host: string, port: number, token?: string | null): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}/${token ? `?token=${encodeURIComponent(token)}` : ''}`;
}

/** Options of `agentsight serve`. */
export interface ServeOptions {
  host: string;
  port: string;
  dataDir?: string;
  open?: boolean;
}

/**
 * `agentsight serve`: runs the pipeline (api = storage sink + read API + dashboard, and the other stages, so an
 * `exec`/`trace` on the same data dir reuses it) bound to `--host`/`--port`, prints the dashboard URL with its token,
 * and keeps running until Ctrl-C/SIGTERM. Every request needs the token, loopback included: AGENTSIGHT_UI_TOKEN
 * (then also written 0600 to `<data dir>/ui-token` while serving, for the CLI), else the machine's api token in
 * /etc/agentsight/secrets.json (generated once, root-only). The printed URL's `?token=` sets an HttpOnly cookie
 * at the first visit, so the browser keeps access.
 */
export async function serveCommand(o: ServeOptions): Promise<number> {
  const port = Number(o.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port must be 1..65535: ${o.port}`);
  const dir = privateDir(dataDir(process.env, o.dataDir));
  const loopback = isLoopback(o.host);
  const own = process.env.AGENTSIGHT_UI_TOKEN || null;
  const token = own ?? ensureSecrets(process.env).api_token;
  const env: NodeJS.ProcessEnv = {
    ...process.env, AGENTSIGHT_DATA_DIR: dir, AGENTSIGHT_INSTANCE: process.env.AGENTSIGHT_INSTANCE || `cli-${process.pid}`,
    AGENTSIGHT_API_PORT: String(port), AGENTSIGHT_UI_HOST: o.host, AGENTSIGHT_UI_TOKEN: token,
  };
  if (await apiRunning(env)) {
    process.stderr.write(`[agentsight] an agentsight api already serves port ${port}; its dashboard: ${dashboardUrl('127.0.0.1', port)} (token: ${own ? 'AGENTSIGHT_UI_TOKEN' : `api_token in ${secretsFile(process.env)}`})\n`);
    return 1;
  }
  await ensureInfra(env);
  const logDir = join(dir, 'logs');
  if (own) writePrivateFile(tokenFile(dir), own + '\n');
  let pipeline: Pipeline | undefined;
  try {
    pipeline = await Pipeline.start(env, logDir);
    const url = dashboardUrl(o.host, port, token);
    process.stdout.write(`agentsight dashboard: ${url}\n`);
    process.stderr.write(`[agentsight] every request needs the token in this URL (${own ? 'AGENTSIGHT_UI_TOKEN' : `api_token in ${secretsFile(process.env)}`}); ${loopback ? 'loopback' : `${o.host} is not loopback`}: open it once, the browser keeps a cookie\n`);
    if (o.open) openBrowser(url);
    process.stderr.write(`[agentsight] serving ${dir} (logs in ${logDir}); Ctrl-C to stop\n`);
    const failed = pipeline.whenFailed().catch((err: Error) => err);
    const end = await Promise.race([new Promise<null>((res) => process.once('SIGINT', () => res(null)).once('SIGTERM', () => res(null))), failed]);
    if (end) process.stderr.write(`[agentsight] error: ${end.message}; stopping\n`);
    return end ? 1 : 0;
  } finally {
    await pipeline?.stop();
    if (own && existsSync(tokenFile(dir))) rmSync(tokenFile(dir), { force: true });
  }
}

/** Opens `url` with xdg-open when there is one (a headless server has none: the URL is printed anyway). */
function openBrowser(url: string): void {
  const p = spawn('xdg-open', [url], { stdio: 'ignore', detached: true });
  p.on('error', () => process.stderr.write('[agentsight] --open: no xdg-open here; open the URL above yourself\n'));
  p.unref();
}
