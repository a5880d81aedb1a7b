/**
 * Never a silent zero, on the terminal: what the probe says it could not capture (its `tls_notice` and `hold_miss`
 * stdout lines as they happen, and the `tls_notices` / `holds` / `tls_hellos` of its `stopped` line at the end),
 * and why a run captured no LLM call. Pure functions of the probe's lines (services/probe-producer/README.md,
 * "Stdout protocol"); the CLI prints them.
 */
import { lostRecords, tlsNoticeText, type RawAttachFailure, type RawProbeCounters, type RawTlsNoticeRecord } from '@agentsight/contracts';
import { table } from './format';

/** One entry of the `tls_notices` array of the probe's `stats`/`stopped` lines: uncaptured TLS per (binary, library, reason). */
export interface TlsNoticeSummary {
  binary: string;
  library: string;
  reason: string;
  /** Connections (ClientHellos) not captured for this key. */
  connections: number;
  /** Distinct processes. */
  processes: number;
}

/** The `holds` object of the probe's `stats`/`stopped` lines (hold.h). */
export interface HoldCounters {
  held: number;
  misses: number;
  max_us: number;
  total_us: number;
  bound_ms: number;
}

type Line = Record<string, unknown>;

/**
 * The warning to print at once for a live probe line, or null: a `tls_notice` (TLS traffic not captured, and why) or
 * a `hold_miss` (a process released before its new code was attached).
 */
export function liveNoticeText(msg: Line): string | null {
  if (msg.event === 'tls_notice') {
    const n = msg as unknown as RawTlsNoticeRecord;
    return `warning: ${tlsNoticeText(n)} (pid ${n.pid})`;
  }
  if (msg.event === 'hold_miss') {
    return `warning: pid ${msg.pid} ran before its ${msg.what === 'exec' ? 'executable' : 'newly mapped code'} was attached (waited ${msg.bound_ms} ms): its first TLS calls may be missed`;
  }
  return null;
}

/** The `tls_notices` of a `stopped` line (empty when absent: an older probe). */
export function tlsNotices(stopped: Line | undefined): TlsNoticeSummary[] {
  return Array.isArray(stopped?.tls_notices) ? (stopped!.tls_notices as TlsNoticeSummary[]) : [];
}

/** Final lines about what was not captured: one per (binary, library, reason), and hold misses. Empty when none. */
export function captureGapsText(stopped: Line | undefined): string[] {
  const out = tlsNotices(stopped).map((n) =>
    `not captured: ${n.connections} TLS connection(s) of ${n.binary}${n.library ? ` (${n.library})` : ''}` +
    `${n.processes > 1 ? ` in ${n.processes} processes` : ''}: ${n.reason}`);
  const holds = stopped?.holds as HoldCounters | undefined;
  if (holds && holds.misses > 0) {
    out.push(`warning: ${holds.misses} process(es) ran before their new code was attached (bound ${holds.bound_ms} ms): their first TLS calls may be missed`);
  }
  return out;
}

/**
 * Why a run captured `calls` LLM calls when that is 0, in one line, or null when calls > 0: the TLS that was not
 * captured (named by {@link captureGapsText}), or that no TLS connection was seen at all, or that TLS was captured
 * but none of it was an LLM API call the analyzer recognises.
 */
export function zeroCallsReason(calls: number, stopped: Line | undefined): string | null {
  if (calls > 0) return null;
  if (!stopped) return 'the probe gave no stop report';
  const notices = tlsNotices(stopped);
  if (notices.length) {
    const names = [...new Set(notices.map((n) => n.library || n.binary))];
    return `TLS traffic of ${names.join(', ')} was not captured (see above)`;
  }
  const probes = Array.isArray(stopped.probes) ? (stopped.probes as Array<{ fn: string; records: number }>) : [];
  const data = probes.filter((p) => p.fn !== 'SSL_do_handshake').reduce((s, p) => s + Number(p.records || 0), 0);
  const hellos = Number(stopped.tls_hellos ?? 0);
  if (data > 0) return `${data} TLS call(s) were captured, but none was an LLM API request the analyzer recognises`;
  if (hellos === 0) return 'the traced processes made no TLS connection';
  return `${hellos} TLS connection(s) were seen but no plaintext was captured`;
}

/**
 * The probe's final counters for the user (its `stopped` line carries the `probes` and `attach_failures` of
 * RawLossRecord): one line per probe that saw traffic or lost records (binary, function,
 * records, fragments, bytes, reservation failures), attach failures, and a warning when anything was lost.
 */
export function probeCountersText(stopped: Record<string, unknown>): string {
  const probes = (Array.isArray(stopped.probes) ? stopped.probes : []) as RawProbeCounters[];
  const failures = (Array.isArray(stopped.attach_failures) ? stopped.attach_failures : []) as RawAttachFailure[];
  const active = probes.filter((p) => p.records || lostRecords(p));
  const out: string[] = [];
  if (active.length) {
    out.push(table(active, [['binary', (p) => p.binary], ['fn', (p) => p.fn], ['records', (p) => p.records], ['fragments', (p) => p.fragments], ['bytes', (p) => p.bytes], ['lost', (p) => lostRecords(p)]]));
  }
  for (const f of failures) out.push(`attach failed: ${f.binary} ${f.fn}: ${f.error}`);
  out.push(...captureGapsText(stopped));
  out.push(...probeLossText(stopped));
  return out.join('\n');
}

/**
 * Warnings for what the probe's `stopped` (or `stats`) line counts as lost or damaged: records lost in the kernel
 * (`lost_records`), records it could not publish (`publish_failures`), records stored out of order after a NATS
 * restart (`publish_reordered`). Empty when all are 0.
 */
export function probeLossText(stopped: Record<string, unknown>): string[] {
  const out: string[] = [];
  const drops = lostRecords(stopped);
  const pubFail = Number(stopped.publish_failures ?? 0);
  const reordered = Number(stopped.publish_reordered ?? 0);
  if (drops > 0) out.push(`warning: ${drops} record(s) were lost in the kernel ring buffer`);
  if (pubFail > 0) out.push(`warning: ${pubFail} record(s) could not be published to NATS`);
  if (reordered > 0) out.push(`warning: ${reordered} record(s) were stored out of order after a NATS restart: their bytes may have been taken for duplicates`);
  return out;
}
