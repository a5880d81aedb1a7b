/**
 * Resource samples of traced agents (subject `agentsight.raw.resource.<host>`, stream `AGENTSIGHT_RAW`), contract v2.
 *
 * One {@link RawResourceSample} per sampling tick per traced root process (the agent, e.g. the command `agentsight
 * exec` ran): every live process of the root's tree read from `/proc/<pid>/{stat,status,io,fd}`, and the tree's
 * totals. Published by the CLI's sampler (`services/api/src/cli/resources/`) with `Nats-Msg-Id` = `id`, so a
 * republished sample is dropped by the stream's duplicate window and stored once.
 *
 * Per-process network bytes (v2) are not in `/proc` (it has them per network namespace only): they come from the
 * probe's eBPF counters (`bpf/process.bpf.c`, map `net_bytes`: payload bytes of each traced process' inet sockets,
 * from the `sock:sock_send_length`/`sock_recv_length` tracepoints), which the probe prints every sampling interval
 * (its `net_bytes` line); a sample carries the probe's latest reading (`net_age_ms` old).
 *
 * Never a silent zero: a figure the sampler could not read is `null` (not 0), and what is not captured at all, with
 * the reason, is listed in `not_captured` (e.g. `net_bytes: …` on a kernel without the tracepoints).
 *
 * Versions: v1 had no network figures (readers take them as null); v2 added the `net_*` fields.
 */
import { deriveId } from './ids';

/** Version of {@link RawResourceSample} the sampler publishes. */
export const RESOURCE_SAMPLE_VERSION = 2 as const;

/** Versions readers accept (a v1 sample has no `net_*` fields: read them as null). */
export const RESOURCE_SAMPLE_VERSIONS: readonly number[] = [1, 2];

/** One process of a traced tree at one sampling instant. Byte counts are bytes, CPU times ns. */
export interface ProcResourceSample {
  pid: number;
  /** Parent pid (`stat` field 4). */
  ppid: number;
  /** `/proc/<pid>/stat` comm, at most 15 bytes. */
  comm: string;
  /** Start time, clock ticks since boot (`stat` field 22): with `pid`, the process' identity across pid reuse. */
  start_ticks: number;
  /** User CPU time so far (`utime`), ns (clock-tick resolution, 10 ms at USER_HZ 100). */
  utime_ns: number;
  /** System CPU time so far (`stime`), ns. */
  stime_ns: number;
  /** CPU time of its children that exited and were waited for (`cutime + cstime`), ns. */
  children_cpu_ns: number;
  /** Resident set size (`status` VmRSS), bytes; null for a zombie. */
  rss_bytes: number | null;
  /** Peak resident set size (`status` VmHWM), bytes; null for a zombie. */
  rss_peak_bytes: number | null;
  /** Threads (`status` Threads). */
  threads: number;
  /** Bytes read from storage (`io` read_bytes); null when `/proc/<pid>/io` is unreadable. */
  read_bytes: number | null;
  /** Bytes written to storage (`io` write_bytes); null when unreadable. */
  write_bytes: number | null;
  /** Bytes read by read-like syscalls, storage or not (`io` rchar); null when unreadable. */
  rchar: number | null;
  /** Bytes written by write-like syscalls (`io` wchar); null when unreadable. */
  wchar: number | null;
  /** Open file descriptors (entries of `/proc/<pid>/fd`); null when unreadable. */
  fds: number | null;
  /**
   * Payload bytes its inet (IPv4/IPv6) sockets sent (successful sendmsg returns, eBPF), since the process started or
   * the probe began counting, whichever is later (see `net_since_ticks`); null when not counted (reason in
   * `not_captured`). Absent in v1.
   */
  net_sent_bytes?: number | null;
  /** Payload bytes its inet sockets received (successful recvmsg returns, `MSG_PEEK` excluded); as `net_sent_bytes`. */
  net_recv_bytes?: number | null;
  /**
   * Bytes sent by its descendants that exited while the tree was sampled (each one's last count, as the probe
   * reported it after the exit): the network analogue of `children_cpu_ns`, so a subtree's sum keeps what exited
   * children sent. Descendants that started and exited between two samples are not seen (not in it). Null when not
   * counted.
   */
  children_net_sent_bytes?: number | null;
  /** As `children_net_sent_bytes`, received. */
  children_net_recv_bytes?: number | null;
}

/**
 * Totals of a tree at one instant. `cpu_ns` = Σ over live processes of (utime + stime + children's CPU), so CPU of
 * descendants that exited and were reaped inside the tree is kept, and nothing is counted twice.
 */
export interface TreeResourceTotals {
  procs: number;
  cpu_ns: number;
  /** Σ VmRSS (shared pages are counted once per process, as `top` does). */
  rss_bytes: number;
  threads: number;
  /** Σ of the readable `io` figures (processes whose `io` is unreadable are left out, and named in `not_captured`). */
  read_bytes: number;
  write_bytes: number;
  fds: number;
  /** Σ (`net_sent_bytes` + `children_net_sent_bytes`) over the live processes; null when not counted. Absent in v1. */
  net_sent_bytes?: number | null;
  /** Σ (`net_recv_bytes` + `children_net_recv_bytes`); null when not counted. */
  net_recv_bytes?: number | null;
}

/** The cgroup v2 of the root, when it has one of its own (its path is not `/` and not the sampler's). */
export interface CgroupResourceSample {
  /** cgroup v2 path (`/proc/<pid>/cgroup` line `0::PATH`). */
  path: string;
  /** `memory.current`, bytes; null when the memory controller is not enabled there. */
  memory_current_bytes: number | null;
  /** `memory.peak`, bytes; null when absent (kernel < 5.19 or controller off). */
  memory_peak_bytes: number | null;
  /** `cpu.stat` usage_usec, as ns; null when unreadable. */
  cpu_usage_ns: number | null;
}

/** A sample of one traced tree (subject `agentsight.raw.resource.<host>`). */
export interface RawResourceSample {
  /** {@link RESOURCE_SAMPLE_VERSION} when published now; 1 in samples of an older sampler. */
  v: 1 | typeof RESOURCE_SAMPLE_VERSION;
  kind: 'resource_sample';
  /** Deterministic id ({@link resourceSampleId}); also the `Nats-Msg-Id`. */
  id: string;
  /** Hostname (not a subject token). */
  host: string;
  /** `/proc/sys/kernel/random/boot_id`. */
  boot_id: string;
  /** The traced root (the agent's process). */
  root_pid: number;
  /** The root's start time, clock ticks since boot. */
  root_start_ticks: number;
  /** The root's comm. */
  root_comm: string;
  /**
   * OTel `gen_ai.agent.name` of the root as it runs (`agentName` of agents.ts over its comm, executable and argv), null when
   * `/proc` could not tell; absent in samples published before the sampler carried it (same contract version: an
   * added optional field).
   */
  agent_name?: string | null;
  /** When the tree was read: CLOCK_MONOTONIC ns (node `process.hrtime`; equals CLOCK_BOOTTIME until the machine is first suspended). */
  ts_boot_ns: bigint;
  /** When the tree was read: wall clock, ns since the Unix epoch. */
  ts_wall_ns: bigint;
  /** Time since this root's previous sample, ms (0 for its first): the sampling interval in force. */
  interval_ms: number;
  /** Every live process of the tree, root first, then in tree order (parents before children). */
  procs: ProcResourceSample[];
  tree: TreeResourceTotals;
  /** null when the root has no cgroup v2 of its own (the reason is in `not_captured`). */
  cgroup: CgroupResourceSample | null;
  /** What this sample does not carry, each with its reason (e.g. `net_bytes: …`). Empty when complete. */
  not_captured: string[];
  /** CPU time the sampler spent reading this tree, ns (its own cost, measured with `process.cpuUsage`). */
  sampler_cpu_ns: number;
  /**
   * Age of the probe's network reading the `net_*` figures come from, ms (when the sampler read `/proc` minus when
   * the probe's `net_bytes` line arrived); null when no figure is counted. Absent in v1.
   */
  net_age_ms?: number | null;
  /**
   * When the probe began counting network bytes, clock ticks since boot (as `start_ticks`): a process started before
   * counts from here, one started after from its start. Null when not counted. Absent in v1.
   */
  net_since_ticks?: number | null;
}

/**
 * Deterministic id of a sample: 32 hex digits of sha256(host, boot id, root pid, root start ticks, boot-time ns), so
 * the same reading published twice has the same id (and is stored once).
 */
export function resourceSampleId(s: Pick<RawResourceSample, 'host' | 'boot_id' | 'root_pid' | 'root_start_ticks' | 'ts_boot_ns'>): string {
  return deriveId('resource_sample', s.host, s.boot_id, s.root_pid, s.root_start_ticks, s.ts_boot_ns);
}
