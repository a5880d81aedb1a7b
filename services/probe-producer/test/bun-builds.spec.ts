/**
 * The BoringSSL locator (src/locate_boringssl.c) on every Bun linux-x64 build the npm registry has from 1.2.0 to the
 * newest in bun-builds.json (`@oven/bun-linux-x64` and `-baseline`, all stripped), and on the Bun binaries of Claude
 * Code and OpenCode (pinned). Real binaries, fetched once by `npm pack` into /var/cache/agentsight-test/bun/
 * (npm-binaries.ts); `agentsight-probe --locate` needs no BPF, so this runs without root.
 *
 * What can fail: a build not FOUND, a wrong Bun version in the answer, offsets that differ from the ground truth (Bun
 * publishes no symbols for these builds: the 1.4.5 offsets come from the earlier hand-derived byte patterns), a cached
 * answer that differs from the scan, a non-Bun binary that merely contains BoringSSL's or Bun's strings not ABSENT,
 * a corrupted anchor not reported UNRECOGNISED with binary, version and reason. The real capture on each of these
 * builds is bun-capture.spec.ts.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { probeBinary } from '@agentsight/testkit';
import { fetchAll } from './npm-binaries';
import { allBuilds, BUILDS, locate, LocateAnswer } from './bun-builds';

describe('BoringSSL locator on every Bun linux-x64 build from npm (1.2.0 to newest), Claude Code and OpenCode', () => {
  const builds = allBuilds();
  let paths: string[];
  let tmp: string;
  let cold: LocateAnswer[];
  let coldMs: number;

  beforeAll(async () => {
    paths = await fetchAll(builds);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-bun-builds-'));
    const t0 = Date.now();
    cold = locate(paths, path.join(tmp, 'cache'));
    coldMs = Date.now() - t0;
  }, 900000);

  afterAll(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('covers every release of both packages from 1.2.0 and the two agents', () => {
    for (const p of BUILDS.packages) {
      expect(p.versions[0]).toBe('1.2.0');
      expect(p.versions.every((v) => /^\d+\.\d+\.\d+$/.test(v))).toBe(true);
    }
    expect(builds.length).toBeGreaterThanOrEqual(92);
    expect(cold).toHaveLength(builds.length);
  });

  it('finds SSL_read, SSL_write and SSL_do_handshake in every build, by anchors, naming its Bun version', () => {
    const bad: string[] = [];
    builds.forEach((b, i) => {
      const a = cold[i];
      const problem = a.status !== 'found' ? `${a.status}: ${a.why}` :
        a.family !== 'BoringSSL' || a.how !== 'anchors' ? `family ${a.family} how ${a.how}` :
        !(typeof b.bun === 'string' ? a.build === b.bun : b.bun.test(a.build!)) ? `build ${a.build}` :
        a.fns!.map((f) => f.fn).join(',') !== 'SSL_read,SSL_write,SSL_do_handshake' ? `fns ${a.fns!.map((f) => f.fn)}` :
        new Set(a.fns!.map((f) => f.offset)).size !== 3 || a.fns!.some((f) => !/^0x[0-9a-f]+$/.test(f.offset) || f.rets.length) ? `offsets ${JSON.stringify(a.fns)}` : '';
      if (problem) bad.push(`${b.label}: ${problem}`);
    });
    expect(bad).toEqual([]);
  });

  it('gives each located function a frame-pointer prologue at a 16-byte aligned address (push rbp; mov rbp, rsp)', () => {
    const bad: string[] = [];
    builds.forEach((b, i) => {
      const fd = fs.openSync(paths[i], 'r');
      for (const f of cold[i].fns ?? []) {
        const buf = Buffer.alloc(4);
        fs.readSync(fd, buf, 0, 4, parseInt(f.offset, 16));
        if (!buf.equals(Buffer.from([0x55, 0x48, 0x89, 0xe5])) || parseInt(f.offset, 16) % 16) bad.push(`${b.label} ${f.fn} ${f.offset}: ${buf.toString('hex')}`);
      }
      fs.closeSync(fd);
    });
    expect(bad).toEqual([]);
  });

  it('agrees with the ground truth where it exists', () => {
    expect(BUILDS.groundTruth.length).toBeGreaterThan(0);
    for (const g of BUILDS.groundTruth) {
      const i = builds.findIndex((b) => b.name === g.name && b.version === g.version);
      expect(i).toBeGreaterThanOrEqual(0);
      expect(Object.fromEntries(cold[i].fns!.map((f) => [f.fn, f.offset]))).toEqual(g.fns);
    }
  });

  it('answers from the per-inode cache on the second run, identically', () => {
    const t0 = Date.now();
    const again = locate(paths, path.join(tmp, 'cache'));
    const warmMs = Date.now() - t0;
    expect(again.map((a) => a.cached)).toEqual(builds.map(() => true));
    expect(again.map((a) => ({ ...a, cached: false }))).toEqual(cold);
    // eslint-disable-next-line no-console
    console.log(`--locate on ${builds.length} builds: ${coldMs} ms cold (${(coldMs / builds.length).toFixed(1)} ms each), ${warmMs} ms cached`);
  });

  it('reports binaries that only contain BoringSSL\'s or Bun\'s strings as ABSENT (the probe itself, a C program, curl), node as its own OpenSSL only', () => {
    const src = path.join(tmp, 'strings.c');
    const bin = path.join(tmp, 'strings-only');
    fs.writeFileSync(src, `#include <stdio.h>
const char *a = "../../vendor/boringssl/ssl/ssl_lib.cc", *b = "Bun v1.4.5 (a7733435c) Linux x64", *c = "bun-v1.4.5";
int main(void) { return printf("%s %s %s\\n", a, b, c) < 0; }
`);
    execFileSync('cc', ['-O2', '-o', bin, src]);
    const others = [probeBinary(), bin, process.execPath, '/usr/bin/curl'].filter((p) => fs.existsSync(p));
    expect(others.length).toBeGreaterThanOrEqual(3);
    const answers = locate(others);
    // Every locator is asked (747a7ce): node carries a real OpenSSL 3, which the static-OpenSSL locator finds (its
    // inlined copies, openssl-static.spec; node exports its SSL symbols, which the probe uses instead). No answer is
    // BoringSSL's: its strings alone never make a BoringSSL result.
    expect(answers.map((a) => `${a.path}: ${a.path === process.execPath ? `${a.family} ${a.status}` : a.status}`))
      .toEqual(others.map((p) => (p === process.execPath ? `${p}: OpenSSL found` : `${p}: absent`)));
    expect(answers.filter((a) => a.family === 'BoringSSL')).toEqual([]);
  });

  it('reports a Bun whose anchor is corrupted as UNRECOGNISED, naming the Bun version and what failed', () => {
    const i = builds.findIndex((b) => b.name === '@oven/bun-linux-x64' && b.version === '1.2.0');
    const hs = cold[i].fns!.find((f) => f.fn === 'SSL_do_handshake')!;
    const copy = path.join(tmp, 'bun-1.2.0-corrupted');
    fs.copyFileSync(paths[i], copy);
    const fd = fs.openSync(copy, 'r+');
    const code = Buffer.alloc(0x200);
    fs.readSync(fd, code, 0, code.length, parseInt(hs.offset, 16));
    // BoringSSL before 2024 passes the reason in esi: `mov esi, 0x86` (SSL_R_CONNECTION_TYPE_NOT_SET).
    const site = code.indexOf(Buffer.from([0xbe, 0x86, 0x00, 0x00, 0x00]));
    expect(site).toBeGreaterThan(0);
    fs.writeSync(fd, Buffer.from([0x87]), 0, 1, parseInt(hs.offset, 16) + site + 1);
    fs.closeSync(fd);
    const [a] = locate([copy]);
    expect(a).toMatchObject({ status: 'unrecognised', family: 'BoringSSL', build: 'Bun v1.2.0 (b0c5a765)',
      why: 'SSL_do_handshake: no function with only SSL_R_CONNECTION_TYPE_NOT_SET' });
    expect(a.fns!.map((f) => [f.fn, f.offset, f.detail])).toEqual([
      ['SSL_read', '0x0', 'not located (SSL_do_handshake failed first)'],
      ['SSL_write', '0x0', 'not located (SSL_do_handshake failed first)'],
      ['SSL_do_handshake', '0x0', 'SSL_do_handshake: no function with only SSL_R_CONNECTION_TYPE_NOT_SET'],
    ]);
  });
  it('refuses, rather than attaching at an earlier function, a Bun whose SSL_write lost its prologue and padding', () => {
    // The previous function then runs into SSL_write's code: the anchors alone would give that function's start. The
    // call-graph check sees Bun's direct calls entering the candidate in its middle (at the real entry) and refuses.
    const i = builds.findIndex((b) => b.name === '@oven/bun-linux-x64' && b.version === '1.4.5');
    const w = parseInt(cold[i].fns!.find((f) => f.fn === 'SSL_write')!.offset, 16);
    const copy = path.join(tmp, 'bun-1.4.5-merged');
    fs.copyFileSync(paths[i], copy);
    const fd = fs.openSync(copy, 'r+');
    const pre = Buffer.alloc(32);
    fs.readSync(fd, pre, 0, 32, w - 32);
    let k = 31;
    while (pre[k] === 0xcc) pre[k--] = 0x90; // int3 padding -> nop
    expect(k).toBeLessThan(31);
    fs.writeSync(fd, pre, 0, 32, w - 32);
    fs.writeSync(fd, Buffer.from([0x90, 0x90, 0x90, 0x90]), 0, 4, w); // push rbp; mov rbp, rsp -> nop
    fs.closeSync(fd);
    const [a] = locate([copy]);
    expect(a.status).toBe('unrecognised');
    expect(a.why).toMatch(/^second check: SSL_write candidate 0x[0-9a-f]+-0x[0-9a-f]+ has \d+ direct call\(s\) into its middle \(another function's entry\)$/);
    expect(a.fns!.every((f) => f.offset === '0x0')).toBe(true);
  });
});
