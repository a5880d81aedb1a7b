/**
 * Run REAL TLS clients as child processes: curl and python3 (Debian's libssl.so.3) and node (its statically linked
 * OpenSSL). Every runner can start the child STOPPED so an eBPF probe can attach to its pid before it does any TLS:
 *
 *   const c = await runCurl([url], { caPath, stopped: true });   // child is in state T (stopped) when this resolves
 *   await attachProbe(c.pid);
 *   c.resume();                                                   // SIGCONT → `exec` of the real client, same pid
 *   const r = await c.result;                                     // { pid, exitCode, stdout, … }
 *
 * Stopped mode spawns `sh -c 'kill -STOP $$; exec "$@"' sh <cmd…>`: the shell stops itself, and on SIGCONT execs the
 * client, which keeps the shell's pid.
 */
import { spawn, SpawnOptions } from 'child_process';
import * as fs from 'fs';
import type { IncomingHttpHeaders } from 'http';
import * as https from 'https';
import type { TLSSocket } from 'tls';
import * as path from 'path';

/** Outcome of a finished child process. */
export interface ChildResult {
  pid: number;
  /** Exit status, or null when killed by a signal. */
  exitCode: number | null;
  /** Terminating signal name, or null. */
  signal: NodeJS.Signals | null;
  /** stdout decoded as UTF-8. */
  stdout: string;
  /** stdout as raw bytes (use for byte-exact comparisons / binary bodies). */
  stdoutBytes: Buffer;
  stderr: string;
}

export interface RunOptions {
  /** Extra environment, merged over process.env. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Bytes written to the child's stdin (then stdin is closed). */
  input?: string | Buffer;
  /** Kill the child with SIGKILL after this many ms (counted from start, or from resume() in stopped mode). Default 60000. */
  timeoutMs?: number;
  /** Start the child stopped (SIGSTOP) and resolve with a StoppedChild instead of waiting for it. */
  stopped?: boolean;
}

/** A child that is currently stopped (kernel state T) and has not exec'd the client yet. */
export interface StoppedChild {
  /** Pid of the child; stays the same after resume() (the shell execs the client). */
  pid: number;
  /** Sends SIGCONT; the child then execs the real client. Idempotent. */
  resume(): void;
  /** Settles when the child exits (after resume). */
  result: Promise<ChildResult>;
  /** SIGKILLs the child (e.g. when the probe failed to attach). */
  kill(): void;
}

type Runner = {
  (cmd: string, args: string[], opts?: RunOptions & { stopped?: false }): Promise<ChildResult>;
  (cmd: string, args: string[], opts: RunOptions & { stopped: true }): Promise<StoppedChild>;
};

/** The process state letter from /proc/<pid>/stat (`R`, `S`, `T`, `Z`, …), or undefined if the process is gone. */
export function procState(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

async function waitStopped(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const st = procState(pid);
    if (st === 'T' || st === 't') return;
    if (st === undefined || st === 'Z') throw new Error(`child ${pid} exited before stopping`);
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`child ${pid} did not stop within ${timeoutMs} ms`);
}

/**
 * Runs `cmd args…` and collects its output. Without `stopped` resolves with the ChildResult when it exits (never rejects
 * for a non-zero exit; rejects only if it cannot be spawned). With `stopped: true` resolves with a StoppedChild once the
 * child is in state T.
 */
export const runProcess: Runner = ((cmd: string, args: string[], opts: RunOptions = {}): Promise<ChildResult | StoppedChild> => {
  const timeoutMs = opts.timeoutMs ?? 60000;
  const spawnOpts: SpawnOptions = { cwd: opts.cwd, env: { ...process.env, ...(opts.env ?? {}) }, stdio: ['pipe', 'pipe', 'pipe'] };
  const child = opts.stopped
    ? spawn('sh', ['-c', 'kill -STOP $$; exec "$@"', 'sh', cmd, ...args], spawnOpts)
    : spawn(cmd, args, spawnOpts);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  else child.stdin!.end();
  let timer: NodeJS.Timeout | undefined;
  const armTimeout = () => {
    timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  };
  const result = new Promise<ChildResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({
        pid: child.pid ?? -1, exitCode: code, signal, stdout: stdoutBytes.toString('utf8'), stdoutBytes,
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
  if (!opts.stopped) {
    armTimeout();
    return result;
  }
  const pid = child.pid;
  if (pid === undefined) return result.then(() => { throw new Error(`cannot spawn ${cmd}`); });
  let resumed = false;
  const handle: StoppedChild = {
    pid,
    resume: () => {
      if (resumed) return;
      resumed = true;
      armTimeout();
      process.kill(pid, 'SIGCONT');
    },
    result,
    kill: () => { child.kill('SIGKILL'); },
  };
  result.catch(() => undefined);
  return waitStopped(pid, 10000).then(
    () => handle,
    (e) => { child.kill('SIGKILL'); throw e; },
  );
}) as Runner;

export interface CurlOptions extends RunOptions {
  /** CA bundle to trust (`--cacert`), e.g. ReplayServer.caPath. */
  caPath?: string;
}

/**
 * Runs `curl -sS --http1.1 --noproxy '*' [--cacert caPath] <args…>` (system curl → Debian libssl). The response body is on
 * stdout/stdoutBytes (raw, not decompressed unless `--compressed` is in args).
 */
export function runCurl(args: string[], opts?: CurlOptions & { stopped?: false }): Promise<ChildResult>;
export function runCurl(args: string[], opts: CurlOptions & { stopped: true }): Promise<StoppedChild>;
export function runCurl(args: string[], opts: CurlOptions = {}): Promise<ChildResult | StoppedChild> {
  const base = ['-sS', '--http1.1', '--noproxy', '*', ...(opts.caPath ? ['--cacert', opts.caPath] : [])];
  return (runProcess as (c: string, a: string[], o: RunOptions) => Promise<ChildResult | StoppedChild>)('curl', [...base, ...args], opts);
}

/** The python3 to use: `$AGENTSIGHT_PYTHON`, else Debian's `/usr/bin/python3` (linked to the system libssl), else `python3`. */
export function pythonBin(): string {
  if (process.env.AGENTSIGHT_PYTHON) return process.env.AGENTSIGHT_PYTHON;
  return fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/** Absolute path of `libs/testkit/scripts/py_client.py` (works from src/ and dist/). */
export const PY_CLIENT = path.resolve(__dirname, '..', 'scripts', 'py_client.py');

/**
 * Runs python3 with `script` (a file path, or inline code when it contains a newline or starts with `import`) and `args`;
 * e.g. `runPython(PY_CLIENT, [url, '--cafile', ca])` or `runPython('import ssl; print(ssl.OPENSSL_VERSION)')`.
 */
export function runPython(script: string, args?: string[], opts?: RunOptions & { stopped?: false }): Promise<ChildResult>;
export function runPython(script: string, args: string[], opts: RunOptions & { stopped: true }): Promise<StoppedChild>;
export function runPython(script: string, args: string[] = [], opts: RunOptions = {}): Promise<ChildResult | StoppedChild> {
  const inline = script.includes('\n') || /^(import|from|print)\b/.test(script);
  const argv = inline ? ['-c', script, ...args] : [script, ...args];
  return (runProcess as (c: string, a: string[], o: RunOptions) => Promise<ChildResult | StoppedChild>)(pythonBin(), argv, opts);
}

export interface PyClientRequest {
  /** Full URL, e.g. `${server.url}/v1/chat/completions`. */
  url: string;
  /** CA file to trust (ReplayServer.caPath). */
  caPath: string;
  /** JSON body (serialised with JSON.stringify) … */
  json?: unknown;
  /** … or a file whose bytes are the body. */
  dataFile?: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

/**
 * POSTs with scripts/py_client.py (python urllib + ssl). Raw response body → stdoutBytes; stderr's first line is
 * `{"status":N,"headers":{…}}`. Exit code 0 for 2xx, 22 for HTTP errors.
 */
export function runPyClient(req: PyClientRequest, opts?: RunOptions & { stopped?: false }): Promise<ChildResult>;
export function runPyClient(req: PyClientRequest, opts: RunOptions & { stopped: true }): Promise<StoppedChild>;
export function runPyClient(req: PyClientRequest, opts: RunOptions = {}): Promise<ChildResult | StoppedChild> {
  const args = [req.url, '--cafile', req.caPath];
  if (req.dataFile) args.push('--data-file', req.dataFile);
  else args.push('--data', JSON.stringify(req.json ?? {}));
  for (const [k, v] of Object.entries(req.headers ?? {})) args.push('--header', `${k}: ${v}`);
  return (runPython as (s: string, a: string[], o: RunOptions) => Promise<ChildResult | StoppedChild>)(PY_CLIENT, args, opts);
}

/** Runs `node <file> <args…>` with the current node binary (process.execPath) and `env` merged over process.env. */
export function runNode(file: string, args?: string[], opts?: RunOptions & { stopped?: false }): Promise<ChildResult>;
export function runNode(file: string, args: string[], opts: RunOptions & { stopped: true }): Promise<StoppedChild>;
export function runNode(file: string, args: string[] = [], opts: RunOptions = {}): Promise<ChildResult | StoppedChild> {
  return (runProcess as (c: string, a: string[], o: RunOptions) => Promise<ChildResult | StoppedChild>)(process.execPath, [file, ...args], opts);
}

/** Result of an in-process node https request: raw (undecoded) body plus every received chunk with its arrival time. */
export interface HttpsResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Raw body bytes as received (still gzip-compressed if the server compressed them). */
  body: Buffer;
  /** Received chunks in order; `t` = ms since the request was sent. */
  chunks: { t: number; data: Buffer }[];
  /** ALPN protocol negotiated by the client socket (false = none). */
  alpnProtocol: string | false | null;
}

/**
 * In-process HTTPS request with node's https module (node's OpenSSL), trusting only `ca` (PEM text). `url` is absolute.
 * Default method POST; `body` is sent as is (objects are JSON-serialised). Offers ALPN h2 + http/1.1 like a browser would,
 * so tests can check that the server picks http/1.1.
 */
export function httpsRequest(
  url: string,
  opts: { ca: string; method?: string; headers?: Record<string, string>; body?: Buffer | string | object },
): Promise<HttpsResponse> {
  const payload = opts.body === undefined ? undefined
    : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const reqOpts: https.RequestOptions & { ALPNProtocols: string[] } = {
      method: opts.method ?? 'POST', ca: opts.ca, agent: false, ALPNProtocols: ['h2', 'http/1.1'],
      headers: { 'content-type': 'application/json', ...(payload ? { 'content-length': String(payload.length) } : {}), ...(opts.headers ?? {}) },
    };
    const req = https.request(url, reqOpts, (res) => {
      const alpnProtocol = (res.socket as TLSSocket | null)?.alpnProtocol ?? null;
      const chunks: { t: number; data: Buffer }[] = [];
      res.on('data', (d: Buffer) => chunks.push({ t: Date.now() - t0, data: d }));
      res.on('error', reject);
      res.on('end', () => resolve({
        status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks.map((c) => c.data)), chunks,
        alpnProtocol,
      }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}
