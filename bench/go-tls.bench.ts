/**
 * Go crypto/tls per-call probe cost (not a test): `npx tsx bench/go-tls.bench.ts [rounds=20000]`, as root, after the
 * probe and the libs are built. Builds bench/capture/go-bench (stripped, CGO_ENABLED=0) with Debian's Go toolchain;
 * it runs a client and a server tls.Conn over memory in one process and times each 1-byte (*Conn).Write and each
 * (*Conn).Read (exactly one probed call each, no syscalls). Modes (per-call.ts): `off` (no probe) and `traced` (entry
 * uprobe + a uprobe at the RET, record published to a private nats-server). Method and results: bench/README.md.
 */
import { join } from 'node:path';
import { buildGoProgram, goVersion } from '@agentsight/testkit';
import { perCallBench } from './per-call';

const ROUNDS = Number(process.argv[2] ?? 20000);

async function main(): Promise<void> {
  const bin = buildGoProgram(join(__dirname, 'capture/go-bench'), { stripped: true, name: 'gobench' });
  await perCallBench({
    title: `Go ${goVersion()}, ${ROUNDS} rounds`, argv: [bin, String(ROUNDS)], binary: bin, host: 'gobench',
    names: { write: '(*Conn).Write', read: '(*Conn).Read' },
  });
}

main().catch((e) => { console.error(e); process.exit(1); });
