/**
 * The producer parses, as root, every executable a traced process maps: the ELF view and the TLS locators must
 * answer on any bytes (absent, unrecognised or found), never crash, read out of bounds or hang. This runs the
 * libFuzzer target `build/locate-fuzz` (test/fuzz/locate_fuzz.c: ASan + UBSan, every locator through locate_all) for
 * a short while from small real seeds: `/usr/bin/true` and Debian's `libssl.so.3`, a real OpenSSL 3 the static
 * OpenSSL locator finds by its error sites, so mutations reach deep into that locator. The long run and its
 * figures are in bench/README.md (`AGENTSIGHT_FUZZ_SECONDS` sets this run's length; default 30).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemLibrary } from './harness';

const DIR = join(__dirname, '..');
const FUZZER = join(DIR, 'build/locate-fuzz');
const SECONDS = Number(process.env.AGENTSIGHT_FUZZ_SECONDS || 30);

let work: string;
beforeAll(() => {
  execFileSync('make', ['-s', '-C', DIR, 'fuzz'], { stdio: 'inherit' });
  work = mkdtempSync(join(tmpdir(), 'locate-fuzz-'));
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs the fuzzer on `args` (files are run once each; directories are a corpus to fuzz from). */
function fuzz(args: string[], timeoutMs: number) {
  const r = spawnSync(FUZZER, ['-rss_limit_mb=2048', '-timeout=20', `-artifact_prefix=${work}/`, ...args], { encoding: 'utf8', timeout: timeoutMs });
  const crash = readdirSync(work).filter((f) => /^(crash|leak|timeout|oom)-/.test(f));
  return { status: r.status, stderr: r.stderr ?? '', crash };
}

describe('ELF view and TLS locators under libFuzzer (ASan, UBSan)', () => {
  it('a program header table at a misaligned offset (Node single-executable binaries have one) is read without a misaligned read', () => {
    const f = join(work, 'misaligned');
    const elf = Buffer.from(readFileSync('/usr/bin/true'));
    const phoff = elf.readBigUInt64LE(0x20);
    elf.copy(elf, Number(phoff) + 3, Number(phoff), Number(phoff) + 56 * elf.readUInt16LE(0x38));
    elf.writeBigUInt64LE(phoff + 3n, 0x20);
    writeFileSync(f, elf);
    const r = fuzz([f], 60_000);
    expect([r.status, r.crash, r.stderr.match(/SUMMARY: .*/)?.[0] ?? null]).toEqual([0, [], null]);
  });

  it(`${SECONDS} s of mutations from real seeds: no crash, no sanitizer report, no hang`, () => {
    const seeds = join(work, 'seeds');
    const corpus = join(work, 'corpus');
    mkdirSync(seeds);
    mkdirSync(corpus);
    copyFileSync('/usr/bin/true', join(seeds, 'true'));
    const libssl = systemLibrary('libssl.so.3');
    if (!libssl) throw new Error('libssl.so.3 not found (set-up installs libssl-dev)');
    copyFileSync(realpathSync(libssl), join(seeds, 'libssl.so.3'));
    const r = fuzz([`-max_total_time=${SECONDS}`, '-print_final_stats=1', corpus, seeds], (SECONDS + 120) * 1000);
    const runs = Number(/Done (\d+) runs/.exec(r.stderr)?.[1] ?? 0);
    expect({ status: r.status, crash: r.crash, report: r.stderr.match(/SUMMARY: .*|ERROR: .*/)?.[0] ?? null }).toEqual({ status: 0, crash: [], report: null });
    // It did fuzz: libFuzzer ran inputs beyond the seeds and found new coverage.
    expect(runs).toBeGreaterThan(200);
    expect(Number(/new_units_added:\s+(\d+)/.exec(r.stderr)?.[1] ?? 0)).toBeGreaterThan(0);
  }, (SECONDS + 180) * 1000);
});
