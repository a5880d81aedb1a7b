/**
 * Jest reporter: the run must end by itself. Once every suite has reported, Jest waits for the event loop to empty;
 * a handle a test left open (a NATS connection still reconnecting, a child process, a server, a referenced timer)
 * would hold the process, and CI, until its time limit. If the process is still alive {@link GRACE_MS} after the run
 * completed, this prints what keeps it alive (process.getActiveResourcesInfo(): resource types, including timers;
 * sockets, servers and child processes in detail) and exits with status 1, so a leak fails the run with a name
 * instead of hanging it (or hiding behind `forceExit`).
 *
 * `AGENTSIGHT_HANDLE_STACKS=1` also records where each such resource was created (async_hooks, from the reporter's
 * load on; slows the run) and prints the stacks of those still alive, e.g.
 * `AGENTSIGHT_HANDLE_STACKS=1 npx jest libs/jetstream --runInBand`. Found this way (2026-12-03): connectNats left
 * the connection of a failed attempt reconnecting forever (cluster.spec.ts retries it while the meta leader is elected).
 */
/** ms; `AGENTSIGHT_EXIT_GRACE_MS` overrides it (its own test uses a short one). */
const GRACE_MS = Number(process.env.AGENTSIGHT_EXIT_GRACE_MS) || 20_000;

const stacks = new Map();
let currentFile = '(before the first suite)';
if (process.env.AGENTSIGHT_HANDLE_STACKS === '1') {
  const SKIP = new Set(['PROMISE', 'TickObject', 'Microtask', 'Immediate', 'FSREQCALLBACK', 'FSREQPROMISE', 'GETADDRINFOREQWRAP', 'SHUTDOWNWRAP', 'WRITEWRAP', 'ZLIB']);
  require('node:async_hooks').createHook({
    init(id, type, _trigger, resource) {
      if (SKIP.has(type)) return;
      const stack = new Error().stack.split('\n').slice(2, 14).filter((l) => !l.includes('node:internal/async_hooks')).join('\n');
      stacks.set(id, { type, resource, stack, file: currentFile });
    },
    destroy(id) {
      stacks.delete(id);
    },
  }).enable();
}

/** One line per open socket, server or child process (the handles Node can list). */
function handleLines() {
  return process._getActiveHandles().map((h) => {
    const name = h?.constructor?.name ?? typeof h;
    try {
      if (name === 'ChildProcess') return `ChildProcess pid ${h.pid}: ${(h.spawnargs ?? []).join(' ').slice(0, 200)}`;
      if (name === 'Socket') return `Socket ${h.localAddress ?? ''}:${h.localPort ?? ''} -> ${h.remoteAddress ?? ''}:${h.remotePort ?? ''}${h._handle?.fd !== undefined ? ` fd ${h._handle.fd}` : ''}`;
      if (name === 'Server') return `Server ${JSON.stringify(h.address?.())}`;
    } catch {
      /* a handle half torn down */
    }
    return name;
  });
}

/** Creation stacks of the recorded resources still alive that keep the loop (AGENTSIGHT_HANDLE_STACKS=1). */
function stackLines() {
  const out = [];
  for (const { type, resource, stack, file } of stacks.values()) {
    let ref = true;
    try {
      if (typeof resource.hasRef === 'function') ref = resource.hasRef();
      else if (resource?._handle && typeof resource._handle.hasRef === 'function') ref = resource._handle.hasRef();
    } catch {
      /* ignore */
    }
    if (!ref || (type === 'Timeout' && (resource._destroyed || resource._idleTimeout === -1))) continue;
    out.push(`${type} (created during ${file})\n${stack}`);
  }
  return out;
}

class ExitCheckReporter {
  onTestFileStart(test) {
    currentFile = test.path;
  }

  onTestFileResult() {
    currentFile = '(between suites)';
  }

  onRunComplete() {
    const timer = setTimeout(() => {
      const lines = [
        `jest-exit-check: Jest has not exited ${GRACE_MS / 1000} s after every suite reported; still open: ${JSON.stringify(process.getActiveResourcesInfo())}`,
        ...handleLines().map((l) => `  ${l}`),
        ...(stacks.size ? stackLines().map((l) => `--\n${l}`) : ['  (AGENTSIGHT_HANDLE_STACKS=1 prints where each was created)']),
      ];
      process.stderr.write(`${lines.join('\n')}\n`, () => process.exit(1));
    }, GRACE_MS);
    timer.unref();
  }
}

module.exports = ExitCheckReporter;
