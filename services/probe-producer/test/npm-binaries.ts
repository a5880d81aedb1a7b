/**
 * Real binaries from npm for the locator tests: one file of one pinned package version, fetched with `npm pack` (the
 * npm registry is the tests' only network source) and kept under a cache directory outside the repo, so that repeat
 * runs download nothing.
 *
 * Layout: `<cache>/<name with '/' as '_'>@<version>/<basename of file>`, written through a temporary directory and a
 * rename (a killed download leaves no half file).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where npm binaries are cached: `$AGENTSIGHT_TEST_CACHE/bun`, default /var/cache/agentsight-test/bun. */
export const BUN_CACHE = path.join(process.env.AGENTSIGHT_TEST_CACHE || '/var/cache/agentsight-test', 'bun');

/** One file of one npm package version. */
export interface NpmFile {
  /** Package name, e.g. `@oven/bun-linux-x64`. */
  name: string;
  version: string;
  /** Path inside the package, e.g. `bin/bun`. */
  file: string;
}

/** The cached path of f (whether or not it exists yet). */
export function cachedPath(f: NpmFile, cache = BUN_CACHE): string {
  return path.join(cache, `${f.name.replace(/\//g, '_')}@${f.version}`, path.basename(f.file));
}

/** f's cached path, downloaded first (`npm pack` + `tar`) when missing. Errors name the package. */
export async function fetchNpmFile(f: NpmFile, cache = BUN_CACHE): Promise<string> {
  const out = cachedPath(f, cache);
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(cache, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(cache, '.tmp-'));
  try {
    const { stdout } = await run('npm', ['pack', `${f.name}@${f.version}`, '--silent', '--pack-destination', tmp], { cwd: tmp, maxBuffer: 1 << 20 });
    const tgz = path.join(tmp, stdout.trim().split('\n').pop()!);
    await run('tar', ['-xzf', tgz, '-C', tmp, `package/${f.file}`]);
    fs.chmodSync(path.join(tmp, 'package', f.file), 0o755);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.renameSync(path.join(tmp, 'package', f.file), out);
    return out;
  } catch (err) {
    throw new Error(`cannot fetch ${f.name}@${f.version} (${f.file}) from the npm registry: ${(err as Error).message}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Fetches every file, `parallel` at a time; returns their paths in order. */
export async function fetchAll(files: NpmFile[], parallel = 4, cache = BUN_CACHE): Promise<string[]> {
  const out: string[] = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const i = next++;
      out[i] = await fetchNpmFile(files[i], cache);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, files.length) }, worker));
  return out;
}
