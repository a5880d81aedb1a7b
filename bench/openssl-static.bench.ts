/**
 * Per-call probe cost of a statically linked, stripped OpenSSL located by anchors (not a test): `npx tsx
 * bench/openssl-static.bench.ts [rounds=20000]`, as root, after the probe is built. Builds
 * bench/capture/openssl-static-bench.c with `cc -O2 -static … -lssl -lcrypto` (Debian's libssl.a, OpenSSL 3.0) and
 * strips it (no symbols, no .eh_frame_hdr: the static OpenSSL locator finds SSL_write/SSL_read by ssl_lib.c error
 * sites, function extents from .eh_frame); it times each 1-byte SSL_write and SSL_read over an in-memory BIO pair
 * (one probed call each, no syscalls). Modes (per-call.ts): `off` and `traced` (uprobe + uretprobe per call, records
 * published to a private nats-server). Method and results: bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeBinary } from '@agentsight/testkit';
import { perCallBench } from './per-call';

const ROUNDS = Number(process.argv[2] ?? 20000);

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'agentsight-osbench-'));
  try {
    const bin = join(tmp, 'osbench');
    execFileSync('cc', ['-O2', '-static', join(__dirname, 'capture/openssl-static-bench.c'), '-o', bin, '-lssl', '-lcrypto'], { stdio: 'pipe' });
    execFileSync('strip', [bin]);
    const cert = join(tmp, 'cert.pem'), key = join(tmp, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=bench'], { stdio: 'pipe' });
    const located = JSON.parse(execFileSync(probeBinary(), ['--locate', bin], { encoding: 'utf8' }));
    if (located.status !== 'found') throw new Error(`the static OpenSSL locator did not find ${bin}: ${JSON.stringify(located)}`);
    const version = execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim();
    await perCallBench({
      title: `static stripped ${version} (libssl.a, gcc), ${ROUNDS} rounds`, argv: [bin, cert, key, String(ROUNDS)], binary: bin,
      host: 'osbench', names: { write: 'SSL_write', read: 'SSL_read' },
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
