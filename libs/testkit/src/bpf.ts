import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from './corpus';

/** The native probe binary, `services/probe-producer/build/agentsight-probe`. */
export function probeBinary(): string {
  return path.join(repoRoot(), 'services/probe-producer/build/agentsight-probe');
}

/**
 * Why real eBPF capture cannot run here, or null when it can: it needs root, kernel BTF and the probe binary (built
 * with `make` when missing). Capture tests skip on a reason, unless `AGENTSIGHT_REQUIRE_BPF=1` (CI), where they fail.
 */
export function bpfUnavailableReason(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not running as root';
  if (!fs.existsSync('/sys/kernel/btf/vmlinux')) return 'no kernel BTF (/sys/kernel/btf/vmlinux)';
  if (!fs.existsSync(probeBinary())) {
    try {
      execFileSync('make', ['-C', path.dirname(path.dirname(probeBinary()))], { stdio: 'pipe' });
    } catch (e) {
      return `cannot build agentsight-probe: ${(e as Error).message}`;
    }
  }
  return null;
}

/** True when capture tests must fail rather than skip (`AGENTSIGHT_REQUIRE_BPF=1`). */
export const BPF_REQUIRED = process.env.AGENTSIGHT_REQUIRE_BPF === '1';
