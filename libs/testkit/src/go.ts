import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './corpus';

/** Go build cache, module cache and built clients, kept between test runs (outside the repository). */
export const GO_CACHE_DIR = process.env.AGENTSIGHT_GO_CACHE || '/var/cache/agentsight-test/go';

/** The `go` command of Debian's `golang-go` (or any on PATH), or null when there is none. */
export function goToolchain(): string | null {
  for (const p of ['/usr/bin/go', '/usr/lib/go/bin/go']) if (fs.existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

/** `go version` of the toolchain, e.g. `go1.19.8`, or null. */
export function goVersion(): string | null {
  const go = goToolchain();
  if (!go) return null;
  const m = /go version (\S+)/.exec(execFileSync(go, ['version'], { encoding: 'utf8' }));
  return m ? m[1] : null;
}

/**
 * Builds the Go TLS test client (`libs/testkit/go-client`, standard library only: crypto/tls, net/http) with the
 * local toolchain, `CGO_ENABLED=0` (static, as Go agents ship), stripped (`-ldflags=-s -w`: no .symtab, no DWARF)
 * or not, and returns the binary's path. Built once per (source, toolchain, variant) under GO_CACHE_DIR/bin, named
 * `name` (its comm); the Go build cache lives under GO_CACHE_DIR too, so a repeat run takes no time. Throws when
 * the build fails; the caller checks goToolchain() first.
 */
export function buildGoClient(opts: { stripped: boolean; name?: string }): string {
  return buildGoProgram(path.join(repoRoot(), 'libs/testkit/go-client'), { ...opts, name: opts.name ?? (opts.stripped ? 'goclient-s' : 'goclient') });
}

/**
 * Builds the single-package Go program in `src` (go.mod + main.go, standard library only) the way buildGoClient
 * does, cached under GO_CACHE_DIR/bin by content, toolchain and variant; returns the binary's path (named `name`).
 */
export function buildGoProgram(src: string, opts: { stripped: boolean; name: string }): string {
  const go = goToolchain();
  if (!go) throw new Error('no Go toolchain (apt golang-go)');
  const h = createHash('sha256').update(goVersion() ?? '').update(String(opts.stripped));
  for (const f of ['go.mod', 'main.go']) h.update(fs.readFileSync(path.join(src, f)));
  const name = opts.name;
  const dir = path.join(GO_CACHE_DIR, 'bin', h.digest('hex').slice(0, 16));
  const out = path.join(dir, name);
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  execFileSync(go, ['build', '-trimpath', ...(opts.stripped ? ['-ldflags=-s -w'] : []), '-o', tmp, '.'], {
    cwd: src,
    stdio: 'pipe',
    env: {
      ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', GOTELEMETRY: 'off',
      GOCACHE: path.join(GO_CACHE_DIR, 'build'), GOPATH: path.join(GO_CACHE_DIR, 'path'), HOME: GO_CACHE_DIR,
    },
  });
  fs.renameSync(tmp, out);
  return out;
}
