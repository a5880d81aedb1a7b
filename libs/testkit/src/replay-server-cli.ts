#!/usr/bin/env node
/**
 * CLI wrapper around startReplayServer, so scripts (infra/demo.sh) can run the replay server as a separate process.
 *
 *   node libs/testkit/dist/replay-server-cli.js [--route /v1/chat/completions=fileA,fileB]... [--port N] [--gzip] [--delay-ms N]
 *   node libs/testkit/dist/replay-server-cli.js --example-agent     # routes = EXAMPLE_AGENT_ROUTES
 *
 * Prints ONE JSON line on stdout once listening: {"url":"https://127.0.0.1:PORT","port":PORT,"caPath":"/tmp/…/cert.pem","pid":PID}
 * then one JSON line on stderr per request served; runs until SIGTERM/SIGINT, then closes and exits 0.
 */
import { EXAMPLE_AGENT_ROUTES } from './corpus';
import { startReplayServer, ReplayServerOptions } from './replay-server';

/** Parses CLI flags into server options. Throws on an unknown flag or a malformed `--route`. */
export function parseCliArgs(argv: string[]): ReplayServerOptions {
  const opts: ReplayServerOptions = {};
  const routes: Record<string, string[]> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--route') {
      const spec = next();
      const eq = spec.indexOf('=');
      if (eq <= 0) throw new Error(`--route expects /path=file[,file…], got ${spec}`);
      routes[spec.slice(0, eq)] = spec.slice(eq + 1).split(',').filter(Boolean);
    } else if (a === '--port') opts.port = Number(next());
    else if (a === '--gzip') opts.gzip = true;
    else if (a === '--delay-ms') opts.delayMs = Number(next());
    else if (a === '--example-agent') Object.assign(routes, EXAMPLE_AGENT_ROUTES);
    else throw new Error(`unknown flag ${a}`);
  }
  if (Object.keys(routes).length) opts.routes = routes;
  return opts;
}

async function main(): Promise<void> {
  const server = await startReplayServer(parseCliArgs(process.argv.slice(2)));
  let logged = 0;
  const drain = () => {
    while (logged < server.requests.length) {
      const r = server.requests[logged++];
      process.stderr.write(JSON.stringify({ method: r.method, path: r.path, bytes: r.body.length, fixture: r.fixture ?? null }) + '\n');
    }
  };
  const timer = setInterval(drain, 200);
  process.stdout.write(JSON.stringify({ url: server.url, port: server.port, caPath: server.caPath, pid: process.pid }) + '\n');
  const stop = async () => {
    clearInterval(timer);
    drain();
    await server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`replay-server-cli: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
