/**
 * A real ClickHouse server for tests, from the chDB library already installed for embedded storage
 * (`@chdb/lib-linux-x64-gnu`): `libchdb.so` serves ClickHouse's own HTTP and native TCP protocols when run through
 * its command-line entry point `query_stable_v2(argc, argv)` (clickhouse-local's arguments) with `--http_port`,
 * `--tcp_port`, `--listen_host=127.0.0.1` (or another loopback address) and a query that starts the listeners and
 * then runs for ever ({@link SERVE_QUERY}). A tiny C program of ours (`libs/testkit/chdb-server/main.c`, built on first use with `cc`)
 * makes that call in its own process, so a test can kill it with SIGKILL and start it again on the same data dir.
 *
 * The entry point is undocumented: the versions it was checked with are pinned ({@link CHDB_LIB_VERSION},
 * {@link CLICKHOUSE_SERVER_VERSION}) and {@link startClickHouseServer} refuses to run with others, so an upgrade
 * of chDB is a deliberate re-check rather than a silent change of what the tests exercise.
 *
 * Not available from chDB (measured, /work/shared/notes/platform.md): `ON CLUSTER` (no DDL queue), replication and
 * Keeper. Several servers can be shards behind a `Distributed` table (`configXml` with `remote_servers`).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from './corpus';

/** The npm package holding `libchdb.so`, and the version whose entry point was checked. */
export const CHDB_LIB_PACKAGE = '@chdb/lib-linux-x64-gnu';
export const CHDB_LIB_VERSION = '26.7.3-stable.1';
/** `SELECT version()` of that library. */
export const CLICKHOUSE_SERVER_VERSION = '26.7.2.1';

/**
 * The query the server runs: start the listeners, then a query that never ends (one row of `system.numbers` per
 * second, discarded), since the listeners live only while clickhouse-local runs a query.
 */
export const SERVE_QUERY = 'SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; SELECT sleepEachRow(1) FROM system.numbers SETTINGS max_block_size = 1 FORMAT Null';

/** Where built launchers are kept (by content hash of the source). */
const BUILD_DIR = path.join(os.tmpdir(), 'agentsight-chdb-server');

export interface ClickHouseServerOptions {
  /** Data directory (`--path`); default: a new temp dir, removed by `stop()`. */
  dataDir?: string;
  /** HTTP port; default a free one. */
  httpPort?: number;
  /** Native TCP port; default a free one. */
  tcpPort?: number;
  /**
   * Address to listen on (`--listen_host`, default `127.0.0.1`). Several nodes of a test cluster can serve one
   * HTTP port on 127.0.0.1, 127.0.0.2, … (Linux routes all of 127.0.0.0/8 to `lo`), as nodes of one configuration
   * do on their own hosts. Their native TCP ports must still differ: ClickHouse takes a cluster entry on a loopback
   * address with its own TCP port for itself.
   */
  listenHost?: string;
  /**
   * Extra server configuration: XML elements inside `<clickhouse>…</clickhouse>` (e.g. `<remote_servers>` of a
   * `Distributed` table's cluster, `<macros>`), written to a file passed as `--config-file`.
   */
  configXml?: string;
  /** How long to wait for the listeners (ms, default 120 000: opening takes seconds on a loaded machine). */
  readyTimeoutMs?: number;
}

/** A running chDB server (see {@link startClickHouseServer}). */
export interface ClickHouseServer {
  /** `http://<listenHost>:<httpPort>` (user `default`, no password). */
  readonly url: string;
  /** The address it listens on ({@link ClickHouseServerOptions.listenHost}). */
  readonly host: string;
  readonly httpPort: number;
  readonly tcpPort: number;
  readonly dataDir: string;
  /** `SELECT version()`, asserted equal to {@link CLICKHOUSE_SERVER_VERSION}. */
  readonly version: string;
  /** Pid of the current server process. */
  readonly pid: number;
  /** Sends `signal` (default SIGKILL: no shutdown, as a crash) and resolves once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same ports and data dir (after {@link kill}); resolves once it answers. */
  restart(): Promise<void>;
  /** SIGTERM, waits for the exit, removes the data dir when it was a temp dir of ours. */
  stop(): Promise<void>;
  /** What the server wrote to stderr so far (all its runs). */
  log(): string;
}

/** A free TCP port on `host` (default 127.0.0.1; asked from the kernel, then released: the caller binds it soon after). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

/** Directory of {@link CHDB_LIB_PACKAGE}; throws when it is missing or not the pinned version. */
export function chdbLibDir(): string {
  const pkg = require.resolve(`${CHDB_LIB_PACKAGE}/package.json`);
  const { version } = JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string };
  if (version !== CHDB_LIB_VERSION) {
    throw new Error(
      `${CHDB_LIB_PACKAGE} is ${version}, the test server was checked with ${CHDB_LIB_VERSION}: its command-line entry point is undocumented, ` +
        're-check libs/testkit/chdb-server against it and update CHDB_LIB_VERSION/CLICKHOUSE_SERVER_VERSION',
    );
  }
  return path.dirname(pkg);
}

/** Builds the launcher (`cc`, cached by source hash under the temp dir) and returns its path; throws the compiler's output. */
export function chdbServerBinary(): string {
  const src = path.join(repoRoot(), 'libs/testkit/chdb-server/main.c');
  const hash = createHash('sha256').update(fs.readFileSync(src)).digest('hex').slice(0, 16);
  const out = path.join(BUILD_DIR, hash, 'chdb-server');
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  execFileSync('cc', ['-O2', '-Wall', '-o', tmp, src, '-ldl'], { stdio: 'pipe' });
  fs.renameSync(tmp, out);
  return out;
}

/**
 * Starts a ClickHouse server from chDB on 127.0.0.1 and resolves once both its HTTP (`/ping`) and TCP ports answer
 * and `version()` is {@link CLICKHOUSE_SERVER_VERSION}. Throws (after killing it) when the process exits early (with
 * its stderr), when it is not ready within `readyTimeoutMs`, or on a version other than the pinned ones.
 */
export async function startClickHouseServer(opts: ClickHouseServerOptions = {}): Promise<ClickHouseServer> {
  const lib = path.join(chdbLibDir(), 'libchdb.so');
  const bin = chdbServerBinary();
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-ch-'));
  fs.mkdirSync(dataDir, { recursive: true });
  const host = opts.listenHost ?? '127.0.0.1';
  const httpPort = opts.httpPort ?? (await freePort(host));
  const tcpPort = opts.tcpPort ?? (await freePort(host));
  const args = [lib, `--path=${dataDir}`, `--http_port=${httpPort}`, `--tcp_port=${tcpPort}`, `--listen_host=${host}`];
  if (opts.configXml !== undefined) {
    const cfg = path.join(dataDir, 'agentsight-test-config.xml');
    fs.writeFileSync(cfg, `<clickhouse>\n${opts.configXml}\n</clickhouse>\n`);
    args.push(`--config-file=${cfg}`);
  }
  args.push(`--query=${SERVE_QUERY}`);
  const url = `http://${host}:${httpPort}`;
  const timeoutMs = opts.readyTimeoutMs ?? 120_000;
  let stderr = '';
  let proc: ChildProcess;
  let exited: Promise<void>;
  let version = '';

  const launch = async (): Promise<void> => {
    const p = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    proc = p;
    let gone = false;
    exited = new Promise((r) => p.once('exit', () => { gone = true; r(); }));
    p.stderr!.on('data', (d) => (stderr += d));
    const end = Date.now() + timeoutMs;
    for (;;) {
      if (gone) throw new Error(`chdb-server exited before listening (${p.exitCode ?? p.signalCode}): ${stderr.slice(-2000)}`);
      if ((await httpOk(`${url}/ping`)) && (await tcpOpen(tcpPort, host))) break;
      if (Date.now() > end) {
        p.kill('SIGKILL');
        throw new Error(`chdb-server did not listen on ${httpPort}/${tcpPort} within ${timeoutMs} ms: ${stderr.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await fetch(`${url}/?query=${encodeURIComponent('SELECT version()')}`);
    version = (await r.text()).trim();
    if (version !== CLICKHOUSE_SERVER_VERSION) {
      p.kill('SIGKILL');
      throw new Error(`chdb-server answers version() = ${version}, pinned ${CLICKHOUSE_SERVER_VERSION}: re-check the launcher and update the pin`);
    }
  };
  await launch();

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await exited;
  };
  return {
    url, host, httpPort, tcpPort, dataDir,
    get version() { return version; },
    get pid() { return proc.pid!; },
    kill,
    restart: launch,
    async stop() {
      const hard = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await kill('SIGTERM');
      clearTimeout(hard);
      if (ownDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
    log: () => stderr,
  };
}

async function httpOk(u: string): Promise<boolean> {
  try {
    const r = await fetch(u, { signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    return r.ok;
  } catch {
    return false;
  }
}

/** Whether `host`:`port` (default host 127.0.0.1) accepts a TCP connection now. */
export function tcpOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((r) => {
    const c = tcpConnect(port, host, () => { c.destroy(); r(true); });
    c.on('error', () => r(false));
  });
}
