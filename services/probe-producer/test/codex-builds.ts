/** The pinned Codex releases (linux-x64, from npm), shared by codex.spec.ts and test/e2e/codex.e2e.spec.ts. */
import * as path from 'node:path';
import type { NpmFile } from './npm-binaries';

export const CODEX_CACHE = path.join(process.env.AGENTSIGHT_TEST_CACHE || '/var/cache/agentsight-test', 'codex');
export const CODEX_FILE = 'vendor/x86_64-unknown-linux-musl/bin/codex';
/** Pinned releases (each also links a static OpenSSL, located beside rustls): the linux-x64 build is published as a version of @openai/codex itself (`<v>-linux-x64`). */
export const FOUND: Array<NpmFile & { rustls: string; openssl: string }> = [
  { name: '@openai/codex', version: '0.171.0-linux-x64', file: CODEX_FILE, rustls: 'rustls 0.23.46', openssl: 'OpenSSL 3.6.4' },
  { name: '@openai/codex', version: '0.160.0-linux-x64', file: CODEX_FILE, rustls: 'rustls 0.23.45', openssl: 'OpenSSL 3.6.4' },
];
/** An older release whose buffer_plaintext is inlined differently (and whose static OpenSSL has no `SSL_write` error
 * site): refused, never attached at a guess. */
export const REFUSED: NpmFile & { rustls: string; openssl: string } = {
  name: '@openai/codex', version: '0.140.0-linux-x64', file: CODEX_FILE, rustls: 'rustls 0.23.36', openssl: 'OpenSSL 3.5.5',
};
