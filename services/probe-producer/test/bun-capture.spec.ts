/**
 * A real capture through the anchor-located BoringSSL functions of every pinned Bun build (bun-builds.json: every
 * `@oven/bun-linux-x64` and `-baseline` release from 1.2.0 to the newest, and OpenCode's Bun run as `BUN_BE_BUN=1`),
 * and of Claude Code's native binary (`claude -p`, its own Bun 1.4.6 build). This is the cross-check of the offsets
 * where no symbols exist: a wrong SSL_read/SSL_write offset captures nothing (or crashes the traced Bun), a double
 * attach duplicates records.
 *
 * Each Bun build POSTs a marker body with `fetch` to the testkit replay HTTPS server (real recorded SSE response,
 * certificate trusted through NODE_EXTRA_CA_CERTS) and prints the streamed response. Builds are run one after the
 * other by a traced shell, in a few groups (one producer per group, every build of the group given with
 * `--binary-path`). For each build: its request and response reassemble exactly once (contiguous stream offsets, no
 * overlap) from SSL_write / SSL_read records of its own pid, the request body equals what the server received and the
 * response body equals what Bun printed; the run loses nothing.
 *
 * Skips (with a console message) when not root or BPF/BTF is unavailable, unless AGENTSIGHT_REQUIRE_BPF=1.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BPF_REQUIRED, bpfUnavailableReason, ReplayServer, startReplayServer } from '@agentsight/testkit';
import { RawProcRecord, RawSslRecord } from '@agentsight/contracts';
import { CaptureResult, captureClient, expectLosslessRun, reassemble } from './harness';
import { fetchAll } from './npm-binaries';
import { allBuilds, BUILDS } from './bun-builds';

const skipReason = bpfUnavailableReason();
if (skipReason && !BPF_REQUIRED) {
  process.stderr.write(`SKIPPED probe-producer Bun builds capture test: ${skipReason} (set AGENTSIGHT_REQUIRE_BPF=1 to make this fail)\n`);
}
const describeCapture = skipReason && !BPF_REQUIRED ? describe.skip : describe;

/** Bun client: POSTs a JSON body with the marker, reads the streamed response body and writes it to stdout. */
const CLIENT = `
const [url, marker] = process.argv.slice(2);
const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hello from bun ' + marker }] });
const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-agentsight-marker': marker }, body });
if (res.status !== 200) throw new Error('status ' + res.status);
const chunks = [];
for await (const c of res.body) chunks.push(c);
await Bun.write(Bun.stdout, Buffer.concat(chunks));
`;

/** Runs each binary in turn: `$1` script, `$2` url, `$3` marker prefix, `$4` output dir, then the binaries. */
const DRIVER = `
script=$1 url=$2 marker=$3 dir=$4; shift 4; i=0
for b in "$@"; do
  "$b" "$script" "$url" "$marker-$i" > "$dir/$i.out" || { echo "build $i ($b) failed" >&2; exit 1; }
  i=$((i+1))
done
`;

/** Splits a reassembled HTTP/1.1 message into its head and its (de-chunked) body. */
function httpMessage(stream: Buffer): { head: string; body: Buffer } {
  const i = stream.indexOf('\r\n\r\n');
  if (i < 0) return { head: stream.toString('latin1'), body: Buffer.alloc(0) };
  const head = stream.subarray(0, i).toString('latin1');
  let rest = stream.subarray(i + 4);
  if (!/\r\ntransfer-encoding:\s*chunked/i.test(head)) return { head, body: rest };
  const parts: Buffer[] = [];
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.subarray(0, eol).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(rest.subarray(eol + 2, eol + 2 + size));
    rest = rest.subarray(eol + 2 + size + 2);
  }
  return { head, body: Buffer.concat(parts) };
}

describeCapture('agentsight-probe: real capture through the anchor-located BoringSSL of every Bun build', () => {
  const builds = allBuilds();
  let paths: string[];
  let tmp: string;
  let server: ReplayServer;
  let script: string;
  let driver: string;

  beforeAll(async () => {
    if (skipReason) throw new Error(`Bun capture required (AGENTSIGHT_REQUIRE_BPF=1) but unavailable: ${skipReason}`);
    paths = await fetchAll(builds);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-bun-capture-'));
    script = path.join(tmp, 'client.mjs');
    fs.writeFileSync(script, CLIENT);
    driver = path.join(tmp, 'driver.sh');
    fs.writeFileSync(driver, DRIVER);
    server = await startReplayServer();
  }, 900000);

  afterAll(async () => {
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  // Bun builds proper (OpenCode's Bun too, as `BUN_BE_BUN=1`); Claude Code below (it does not honour BUN_BE_BUN). A Bun
  // run costs about 1 s here, so by default the first and last release of each minor version of both packages and
  // OpenCode are run (13 builds); AGENTSIGHT_BUN_CAPTURE_ALL=1 runs every build (92, about 4 min).
  const ALL = process.env.AGENTSIGHT_BUN_CAPTURE_ALL === '1';
  const runnable = () => builds.map((b, i) => ({ b, i })).filter(({ b }) => {
    if (b.name === '@anthropic-ai/claude-code-linux-x64') return false;
    const p = BUILDS.packages.find((x) => x.name === b.name);
    if (ALL || !p) return true;
    const minor = b.version.split('.').slice(0, 2).join('.');
    const same = p.versions.filter((v) => v.startsWith(`${minor}.`));
    return b.version === same[0] || b.version === same[same.length - 1];
  });
  const GROUPS = ALL ? 6 : 1;

  for (let g = 0; g < GROUPS; g++) {
    it(`captures each build's request and response exactly once (${ALL ? 'every build' : 'first and last of each minor'}, group ${g + 1} of ${GROUPS})`, async () => {
      const all = runnable();
      expect(all.length).toBe(ALL ? builds.length - 1 : 13);
      const size = Math.ceil(all.length / GROUPS);
      const mine = all.slice(g * size, (g + 1) * size);
      const bins = mine.map(({ i }) => fs.realpathSync(paths[i]));
      const marker = `mk-${randomUUID()}`;
      const outDir = fs.mkdtempSync(path.join(tmp, 'out-'));
      const r: CaptureResult = await captureClient(`bun.builds-${randomUUID().slice(0, 8)}`,
        ['sh', driver, script, `${server.url}/v1/chat/completions`, marker, outDir, ...bins], path.join(outDir, 'driver.out'),
        undefined, ['--cache-dir', path.join(tmp, 'cache'), ...bins.flatMap((b) => ['--binary-path', b])],
        { NODE_EXTRA_CA_CERTS: server.caPath, BUN_BE_BUN: '1' });
      expectLosslessRun(r);
      const attached = r.lines.filter((l) => l.event === 'attached');
      const execs = r.got.map((x) => x.rec).filter((x): x is RawProcRecord => x.kind === 'proc' && x.event === 'exec');
      const ssl = r.got.map((x) => x.rec).filter((x): x is RawSslRecord => x.kind === 'ssl');
      const bad: string[] = [];
      mine.forEach(({ b }, k) => {
        const bin = bins[k];
        const m = `${marker}-${k}`;
        const problem = (() => {
          if (!attached.some((l) => l.path === bin && l.family === 'BoringSSL' && l.how === 'anchors')) return 'not attached by anchors';
          const pids = execs.filter((e) => e.filename === bin).map((e) => e.pid);
          if (pids.length !== 1) return `${pids.length} exec records`;
          const recs = ssl.filter((x) => x.pid === pids[0]);
          const conns = [...new Set(recs.map((x) => x.ssl))];
          const withMarker = conns.filter((c) => recs.some((x) => x.ssl === c && x.dir === 'write' && Buffer.from(x.data).includes(m)));
          if (withMarker.length !== 1) return `${withMarker.length} connections carry the marker`;
          const mineRecs = recs.filter((x) => x.ssl === withMarker[0]);
          const fns = [...new Set(mineRecs.map((x) => `${x.dir}:${x.fn}`))].sort().join(',');
          if (fns !== 'read:SSL_read,write:SSL_write') return `functions ${fns}`;
          let req: Buffer;
          let res: Buffer;
          try {
            req = reassemble(mineRecs.filter((x) => x.dir === 'write'));
            res = reassemble(mineRecs.filter((x) => x.dir === 'read'));
          } catch (e) {
            return `stream not contiguous exactly once: ${(e as Error).message.split('\n')[0]}`;
          }
          const sent = server.requests.filter((q) => q.headers['x-agentsight-marker'] === m);
          if (sent.length !== 1) return `${sent.length} requests at the server`;
          const rq = httpMessage(req);
          if (!rq.head.startsWith('POST /v1/chat/completions HTTP/1.1\r\n') || !rq.body.equals(sent[0].body)) return 'request differs from what the server received';
          const printed = fs.readFileSync(path.join(outDir, `${k}.out`));
          if (printed.length === 0 || !httpMessage(res).body.equals(printed)) return 'response differs from what Bun printed';
          return '';
        })();
        if (problem) bad.push(`${b.label}: ${problem}`);
      });
      expect(bad).toEqual([]);
      // Nothing attached to these builds failed.
      expect(r.stopped.attach_failures.filter((f) => bins.includes(f.binary))).toEqual([]);
    }, 300000);
  }

  it('captures Claude Code\'s own API calls (claude -p against the local server) exactly once', async () => {
    const a = BUILDS.agents.find((x) => x.agent === 'claude-code')!;
    const i = builds.findIndex((b) => b.name === a.name);
    const claude = fs.realpathSync(paths[i]);
    const home = fs.mkdtempSync(path.join(tmp, 'home-'));
    const before = server.requests.length;
    const r = await captureClient(`claude.capture-${randomUUID().slice(0, 8)}`, [claude, '-p', 'Say hello.'], path.join(tmp, 'claude.out'),
      (cp) => cp.stdin!.end(), ['--cache-dir', path.join(tmp, 'cache'), '--binary-path', claude], {
        HOME: home, ANTHROPIC_BASE_URL: server.url, ANTHROPIC_API_KEY: 'sk-ant-test', NODE_EXTRA_CA_CERTS: server.caPath,
        DISABLE_TELEMETRY: '1', CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1', DISABLE_AUTOUPDATER: '1',
      });
    expect(r.lines.filter((l) => l.event === 'attached' && l.path === claude)).toEqual([{ event: 'attached', path: claude, family: 'BoringSSL', how: 'anchors' }]);
    expect(r.producerStderr).toContain(`${claude}: ${a.bun}, BoringSSL located by ssl_lib.cc error anchors + call graph`);
    expectLosslessRun(r);
    const calls = server.requests.slice(before).filter((q) => q.path.startsWith('/v1/messages'));
    expect(calls.length).toBeGreaterThan(0);
    expect(r.client.out.toString().length).toBeGreaterThan(0);
    // Every call the server answered is in the capture exactly once: its body once in the write streams, one response
    // head per call in the read streams (HTTP/1.1, possibly several calls per connection).
    const ssl = r.got.map((x) => x.rec).filter((x): x is RawSslRecord => x.kind === 'ssl');
    const conns = [...new Set(ssl.map((x) => x.ssl))];
    const writes = conns.map((c) => reassemble(ssl.filter((x) => x.ssl === c && x.dir === 'write')));
    const reads = conns.map((c) => reassemble(ssl.filter((x) => x.ssl === c && x.dir === 'read')));
    const count = (bufs: Buffer[], needle: Buffer | string) => bufs.reduce((n, b) => {
      let k = 0;
      for (let at = b.indexOf(needle); at >= 0; at = b.indexOf(needle, at + 1)) k++;
      return n + k;
    }, 0);
    for (const q of calls) expect(count(writes, q.body)).toBe(1);
    expect(count(writes, 'POST /v1/messages')).toBe(calls.length);
    expect(count(reads, 'x-replay-fixture: ')).toBe(calls.length);
    expect(new Set(ssl.map((x) => x.fn))).toEqual(new Set(['SSL_read', 'SSL_write']));
  }, 120000);
});
