/** The pinned Codex releases (linux-x64, from npm), shared by codex.spec.ts and test/e2e/codex.e2e.spec.ts. */
import * as path from 'node:path';
import type { NpmFile } from './npm-binaries';

export const CODEX_CACHE = path.join(process.env.AGENTSIGHT_TEST_CACHE || '/var/cache/agentsight-test', 'codex');
export const CODEX_FILE = 'vendor/x86_64-unknown-linux-musl/bin/codex';

/** One pinned release: its rustls build and the static OpenSSL linked beside it. */
export interface CodexBuild extends NpmFile {
  rustls: string;
  openssl: string;
  /** That OpenSSL links no `SSL_write` (only `SSL_write_ex`): its other four functions are located. */
  noSslWrite?: boolean;
  /** File offsets of its OpenSSL functions read by hand from its disassembly (objdump), where checked. */
  opensslOffsets?: Record<string, number>;
}

/**
 * Pinned releases, each located and captured at rustls's boundary: the linux-x64 build is published as a version of
 * @openai/codex itself (`<v>-linux-x64`). 0.160/0.171 inline `send_single_fragment` into `send_appdata_encrypt`,
 * 0.140/0.150 (rustls 0.23.36) do not: `buffer_plaintext` reaches the record layer one call further. The static
 * OpenSSL of 0.140/0.150 has no `SSL_write` (only `SSL_write_ex` is linked): its four other functions are located.
 */
export const FOUND: CodexBuild[] = [
  { name: '@openai/codex', version: '0.171.0-linux-x64', file: CODEX_FILE, rustls: 'rustls 0.23.46', openssl: 'OpenSSL 3.6.4' },
  { name: '@openai/codex', version: '0.160.0-linux-x64', file: CODEX_FILE, rustls: 'rustls 0.23.45', openssl: 'OpenSSL 3.6.4' },
  { name: '@openai/codex', version: '0.150.0-linux-x64', file: CODEX_FILE, rustls: 'rustls 0.23.36', openssl: 'OpenSSL 3.6.3',
    noSslWrite: true,
    // SSL_read: the SSL_R_BAD_LENGTH site + call of ssl_read_internal; SSL_read_ex: its pass-through caller; SSL_write_ex:
    // `mov r8, rcx; xor ecx, ecx; call ssl_write_internal`, its only caller; SSL_do_handshake: reason 144.
    opensslOffsets: { SSL_read: 0xc89b0e0, SSL_write_ex: 0xc89b390, SSL_read_ex: 0xc89b140, SSL_do_handshake: 0xc89aab0 } },
  { name: '@openai/codex', version: '0.140.0-linux-x64', file: CODEX_FILE, rustls: 'rustls 0.23.36', openssl: 'OpenSSL 3.5.5',
    noSslWrite: true },
];

/** The releases test/e2e/codex.e2e.spec.ts runs end to end: the newest, and one of rustls 0.23.36's. */
export const E2E: CodexBuild[] = [FOUND[0], FOUND[2]];
