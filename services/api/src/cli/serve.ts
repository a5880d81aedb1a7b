import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLoopback } from '../http/web';
import { dataDir } from './paths';
import { apiRunning, ensureInfra, Pipeline } from './pipeline';

/** File (mode 0600, in the data dir) holding the token of a running `serve`, so the CLI on this machine can read through it. */
export function tokenFile(dir: string): string {
  return join(dir, 'ui-token');
}

/** The dashboard token the CLI sends: `AGENTSIGHT_UI_TOKEN`, else the data dir's token file, else none. */
export function cliToken(env: NodeJS.ProcessEnv, dir: string): string | null {
  if (env.AGENTSIGHT_UI_TOKEN) return env.AGENTSIGHT_UI_TOKEN;
  try {
    return readFileSync(tokenFile(dir), 'utf8').trim() || null;
  } catch {
    return null;
  }
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
 * `exec`/`trace` on the same data dir reuses it) bound to `--host`/`--port`, prints the dashboard URL, and keeps
 * running until Ctrl-C/SIGTERM. A host that is not loopback gets a token (AGENTSIGHT_UI_TOKEN, else a new random
 * one, printed and written 0600 to `<data dir>/ui-token` while serving).
 */
export async function serveCommand(o: ServeOptions): Promise<number> {
  const port = Number(o.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port must be 1..65535: ${o.port}`);
  const dir = dataDir(process.env, o.dataDir);
  mkdirSync(dir, { recursive: true });
  const loopback = isLoopback(o.host);
  const token = process.env.AGENTSIGHT_UI_TOKEN || (loopback ? null : randomBytes(24).toString('base64url'));
  const env: NodeJS.ProcessEnv = {
    ...process.env, AGENTSIGHT_DATA_DIR: dir, AGENTSIGHT_INSTANCE: process.env.AGENTSIGHT_INSTANCE || `cli-${process.pid}`,
    AGENTSIGHT_API_PORT: String(port), AGENTSIGHT_UI_HOST: o.host, ...(token ? { AGENTSIGHT_UI_TOKEN: token } : {}),
  };
  if (await apiRunning(env)) {
    process.stderr.write(`[agentsight] an agentsight api already serves port ${port}; its dashboard: ${dashboardUrl('127.0.0.1', port)}\n`);
    return 1;
  }
  ensureInfra(env);
  const logDir = join(dir, 'logs');
  if (token) {
    writeFileSync(tokenFile(dir), token + '\n', { mode: 0o600 });
    chmodSync(tokenFile(dir), 0o600);
  }
  let pipeline: Pipeline | undefined;
  try {
    pipeline = await Pipeline.start(env, logDir);
    const url = dashboardUrl(o.host, port, token);
    process.stdout.write(`agentsight dashboard: ${url}\n`);
    if (token) process.stderr.write(`[agentsight] ${o.host} is not loopback: every request needs the token above (AGENTSIGHT_UI_TOKEN to choose it)\n`);
    if (o.open) openBrowser(url);
    process.stderr.write(`[agentsight] serving ${dir} (logs in ${logDir}); Ctrl-C to stop\n`);
    await new Promise<void>((res) => process.once('SIGINT', res).once('SIGTERM', res));
    return 0;
  } finally {
    await pipeline?.stop();
    if (token && existsSync(tokenFile(dir))) rmSync(tokenFile(dir), { force: true });
  }
}

/** Opens `url` with xdg-open when there is one (a headless server has none: the URL is printed anyway). */
function openBrowser(url: string): void {
  const p = spawn('xdg-open', [url], { stdio: 'ignore', detached: true });
  p.on('error', () => process.stderr.write('[agentsight] --open: no xdg-open here; open the URL above yourself\n'));
  p.unref();
}
