/** Text of resource figures for the CLI's tables (`sessions`, `tools`, `top`). */
import type { ResourceColumns } from '@agentsight/clickhouse';

/** Bytes for humans: `512K`, `37.2M`, `1.1G` (binary units); `-` when unknown. */
export function bytesText(b: number | null | undefined): string {
  if (b === null || b === undefined) return '-';
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = b;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 || v >= 100 ? Math.round(v) : v.toFixed(1)}${units[u]}`;
}

/** CPU seconds for humans: `0.42`, `12.3`, `192` (s); `-` when unknown. */
export function cpuSecondsText(s: number | null | undefined): string {
  if (s === null || s === undefined) return '-';
  return s >= 100 ? String(Math.round(s)) : s >= 10 ? s.toFixed(1) : s.toFixed(2);
}

/**
 * The `cpu_s`, `peak_rss`, `net_sent` and `net_recv` columns of `agentsight sessions` / `tools` (`-` = not sampled or
 * not counted; `--json` says why in `resources_note` / the samples' `not_captured`).
 */
export const RESOURCE_COLUMNS: Array<[string, (r: ResourceColumns) => unknown]> = [
  ['cpu_s', (r) => cpuSecondsText(r.cpu_s)],
  ['peak_rss', (r) => bytesText(r.peak_rss_bytes)],
  ['net_sent', (r) => bytesText(r.net_sent_bytes)],
  ['net_recv', (r) => bytesText(r.net_recv_bytes)],
];
