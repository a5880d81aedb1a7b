/**
 * Raw records published by `services/probe-producer` (C, msgpack maps with these exact keys), contract v1.
 *
 * Encoding rules of the producer: strings are msgpack str, `data` is msgpack bin, `ts_*_ns` are uint64 (decoded here
 * as `bigint`, see {@link normalizeNs}); other integers use the smallest msgpack int. The layouts in `bpf/*.h` are
 * the kernel side of the same records.
 *
 * Every message has the JetStream header `Nats-Msg-Id: <boot_id>:<run>:<seq>` so a republish after a reconnect is
 * dropped by the stream's duplicate window.
 */

/** Fields common to every raw record. */
export interface RawBase {
  v: 1;
  /** Hostname as given by `--host` (not a subject token). */
  host: string;
  /** `/proc/sys/kernel/random/boot_id`. */
  boot_id: string;
  /** Producer run id: CLOCK_BOOTTIME ns when this producer process started; resets `seq` and `stream_offset`. */
  run: number;
  /** Per-run sequence number, from 0, over every record the run publishes (all subjects). */
  seq: number;
  /** CLOCK_BOOTTIME/`bpf_ktime_get_ns` timestamp, ns. */
  ts_boot_ns: bigint;
  /** Wall-clock (CLOCK_REALTIME) timestamp, ns since the Unix epoch. */
  ts_wall_ns: bigint;
}

/** Direction of a TLS call, from the process' point of view: `write` = plaintext sent, `read` = plaintext received. */
export type Direction = 'write' | 'read';

/**
 * One fragment of the plaintext of one `SSL_write`/`SSL_read`/`SSL_write_ex`/`SSL_read_ex` call (subject
 * `agentsight.raw.ssl.<host>.<partition>`). A call whose payload exceeds one ring-buffer record is split into
 * ordered fragments: `frag_offset` is the fragment's offset in the call's payload, `frag_total` the call's payload
 * size (bytes), so nothing is truncated.
 */
export interface RawSslRecord extends RawBase {
  kind: 'ssl';
  pid: number;
  tid: number;
  uid: number;
  /** Thread name (`task->comm`), at most 15 bytes. */
  comm: string;
  /** The `SSL*` pointer: the TLS connection's identity within `pid` (a JS number; user pointers are < 2^53). */
  ssl: number;
  /**
   * The probed TLS function: OpenSSL `SSL_*`; GnuTLS `gnutls_record_*` (`ssl` is then the `gnutls_session_t`); NSS's
   * NSPR `PR_*` (`ssl` is then the `PRFileDesc*`; also sees fds with a non-TLS custom I/O layer); Go's
   * `crypto/tls.(*Conn).Write` / `Read` (`ssl` is then the `*tls.Conn`); rustls 0.23's `CommonState::buffer_plaintext` /
   * `take_received_plaintext` (`ssl` is then the connection's `&mut CommonState`). `SSL_write_ex2`,
   * `ssl_write_internal` and `ssl_read_internal` come from a stripped static OpenSSL that inlines its internal
   * functions: each copy of them is probed (the standalone internal ones serve the SSL BIO and early data).
   */
  fn: 'SSL_write' | 'SSL_read' | 'SSL_write_ex' | 'SSL_read_ex' | 'gnutls_record_send' | 'gnutls_record_recv'
    | 'PR_Write' | 'PR_Read' | 'PR_Send' | 'PR_Recv' | 'crypto/tls.(*Conn).Write' | 'crypto/tls.(*Conn).Read'
    | 'rustls::CommonState::buffer_plaintext' | 'rustls::CommonState::take_received_plaintext'
    | 'SSL_write_ex2' | 'ssl_write_internal' | 'ssl_read_internal';
  dir: Direction;
  /** The call's byte count (return value, or `*written`/`*readbytes` for the `_ex` calls), bytes. */
  len: number;
  /** Offset of this fragment in the call's payload, bytes. */
  frag_offset: number;
  /** Size of the call's payload, bytes (equals `len`). */
  frag_total: number;
  /**
   * Offset of this fragment's first byte in the connection's byte stream for `dir`, counted by the producer per
   * (pid, ssl, dir) since the run started, bytes. Lets consumers skip what they already consumed after a replay.
   */
  stream_offset: number;
  /** Partition this record was published to: fnv1a64(pid, ssl) % partitions. */
  partition: number;
  /** The plaintext bytes of this fragment. */
  data: Uint8Array;
}

/**
 * A process event (subject `agentsight.raw.proc.<host>`): `exec` (sched_process_exec), `exit` (sched_process_exit of
 * the thread-group leader), or `snapshot` (read from /proc when a traced pid is first seen without an exec).
 */
export interface RawProcRecord extends RawBase {
  kind: 'proc';
  event: 'exec' | 'exit' | 'snapshot';
  pid: number;
  ppid: number;
  uid: number;
  comm: string;
  /** exec: the executed file name; snapshot: `/proc/<pid>/exe`; exit: ''. */
  filename: string;
  /** exec/snapshot: argv; exit: []. */
  argv: string[];
  /** True when argv was cut (too many args or too long); the cut is never silent. */
  argv_truncated: boolean;
  /** exit: the exit code (status >> 8) or 128+signal; otherwise 0. */
  exit_code: number;
  /** exit: ns from the process' start to its exit; otherwise 0. */
  duration_ns: number;
}

/**
 * A file open by a traced process (subject `agentsight.raw.proc.<host>`, so ordered with the process' exec and exit):
 * one per `open`/`openat`/`openat2`/`creat` syscall, emitted when it returns (kernel: raw tracepoint `sys_exit`).
 * Opens of `/proc`, `/sys` and `/dev` (the path as passed starts with one of them) are not published unless the
 * producer runs with `--all-files`; they are counted in {@link RawLossRecord.file_opens_skipped}. `--no-file-events`
 * turns these records off. Opens made through io_uring and 32-bit (compat) syscalls are not seen.
 */
export interface RawFileOpenRecord extends RawBase {
  kind: 'file_open';
  pid: number;
  tid: number;
  uid: number;
  ppid: number;
  /** Thread name (`task->comm`), at most 15 bytes. */
  comm: string;
  /** The path as the process passed it: a relative path is relative to its cwd or the `openat` dirfd. */
  path: string;
  /** True when the path was longer than the kernel's PATH_MAX (4096 bytes, the open then fails); never a silent cut. */
  path_truncated: boolean;
  /** Open flags as passed (`O_*` bits of this architecture; the `O_LARGEFILE` 64-bit kernels add is removed). */
  flags: number;
  /** `flags` as text: the access mode then the other flags, e.g. `O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC`. */
  flags_text: string;
  /** Permission bits for a created file (`O_CREAT`/`O_TMPFILE`), else 0. */
  mode: number;
  /** The new fd (>= 0) or -errno (e.g. -2 = ENOENT). */
  result: number;
}

/**
 * A `connect()` by a traced process (subject `agentsight.raw.proc.<host>`), emitted when the syscall returns (kernel:
 * raw tracepoint `sys_exit`). Only AF_INET, AF_INET6 and AF_UNIX targets; `--no-net-events` turns these records off.
 * Connects made through io_uring, 32-bit (compat) syscalls and sendto()/sendmsg() with an address are not seen.
 */
export interface RawNetConnectRecord extends RawBase {
  kind: 'net_connect';
  pid: number;
  tid: number;
  uid: number;
  ppid: number;
  comm: string;
  family: 'inet' | 'inet6' | 'unix';
  /**
   * inet: dotted quad; inet6: RFC 5952 text (`::1`, `::ffff:1.2.3.4`), no scope id; unix: the socket path,
   * `@name` for an abstract socket (inner NULs as `@`), `''` for an unnamed one or a sockaddr too short for its family.
   */
  address: string;
  /** Port (host order); 0 for unix. */
  port: number;
  /** 0, or -errno: -115 (EINPROGRESS) is the normal result of a non-blocking connect, -111 = ECONNREFUSED. */
  result: number;
}

/**
 * Loss accounting (subject `agentsight.raw.loss.<host>`): counters since the run started, published periodically
 * and on exit. A non-zero `lost_records` means records were lost in the kernel; the count is never silent. Read the
 * kernel loss with {@link lostRecords} / {@link lostBytes}: they take the deprecated names of older producers too.
 */
export interface RawLossRecord extends RawBase {
  kind: 'loss';
  /**
   * Records lost in the kernel: a failed ring-buffer reservation, user memory that could not be read, a call larger
   * than 64 MiB. Absent in records of producers before it (they wrote only `ringbuf_drops`).
   */
  lost_records?: number;
  /** Plaintext bytes of the records lost in the kernel. Absent like `lost_records` (then `ringbuf_drop_bytes`). */
  lost_bytes?: number;
  /** @deprecated The old name of `lost_records` (it counts more than ring-buffer failures), written by producers for one more release. */
  ringbuf_drops?: number;
  /** @deprecated The old name of `lost_bytes`, written for one more release like `ringbuf_drops`. */
  ringbuf_drop_bytes?: number;
  /** Records read from the ring buffer. */
  records: number;
  /** Records whose publish failed for good after retries. */
  publish_failures: number;
  /** Records acknowledged by JetStream so far (this record not included). Absent in records of older producers. */
  published?: number;
  /**
   * Records stored behind a later record of their subject (a retry after a NATS restart put them out of order); the
   * parser may take such a record for a duplicate. Absent in records of older producers (then unknown, not 0).
   */
  publish_reordered?: number;
  /** Opens under /proc, /sys or /dev deliberately not published (no `--all-files`); not a loss. */
  file_opens_skipped: number;
  /**
   * Counters per attached probe (one TLS function of one binary or library), in attach order, since the run started.
   * Absent in records of producers older than this field.
   */
  probes?: RawProbeCounters[];
  /** Functions that could not be probed (kept up to 256 per run), in the order they failed. Absent like `probes`. */
  attach_failures?: RawAttachFailure[];
}

/** Counters of one attached probe ({@link RawLossRecord.probes}). */
export interface RawProbeCounters {
  /** Real path of the probed binary or library (e.g. `/usr/lib/x86_64-linux-gnu/libssl.so.3`). */
  binary: string;
  /** The probed function: a {@link RawSslRecord} `fn`, or `SSL_do_handshake`. */
  fn: string;
  /** Calls whose first ring-buffer record was emitted: SSL data calls with a payload (records with `frag_offset` 0),
   * or handshake calls. */
  records: number;
  /** Ring-buffer records emitted: SSL fragments ({@link RawSslRecord}s) or {@link RawSslHandshakeRecord}s. */
  fragments: number;
  /** Plaintext bytes emitted. */
  bytes: number;
  /** Records of this probe lost in the kernel (failed ring-buffer reservation, unreadable user memory, a call larger
   * than 64 MiB); also counted in {@link RawLossRecord.lost_records}. Absent in records of producers before it. */
  lost_records?: number;
  /** @deprecated The old name of `lost_records`, written for one more release. */
  ringbuf_drops?: number;
}

/** The kernel-loss counters of a loss record, a probe's counters or a `stats`/`stopped` line, under either name. */
export interface LostCounters {
  lost_records?: number | bigint;
  lost_bytes?: number | bigint;
  /** @deprecated */
  ringbuf_drops?: number | bigint;
  /** @deprecated */
  ringbuf_drop_bytes?: number | bigint;
}

/** Records lost in the kernel: `lost_records`, else the deprecated `ringbuf_drops` of older producers, else 0. */
export function lostRecords(r: LostCounters | Record<string, unknown>): number {
  const c = r as LostCounters;
  return Number(c.lost_records ?? c.ringbuf_drops ?? 0);
}

/** Plaintext bytes of the records lost in the kernel: `lost_bytes`, else the deprecated `ringbuf_drop_bytes`, else 0. */
export function lostBytes(r: LostCounters | Record<string, unknown>): number {
  const c = r as LostCounters;
  return Number(c.lost_bytes ?? c.ringbuf_drop_bytes ?? 0);
}

/** A function of a binary the producer found but could not probe ({@link RawLossRecord.attach_failures}). */
export interface RawAttachFailure {
  binary: string;
  /** Function name (`SSL_read`, ...). */
  fn: string;
  /** Why, e.g. `no SSL_read_ex symbol, not probed`, `cannot attach: …`, or for a stripped BoringSSL (Bun) whose
   * functions were not located with certainty: `Bun v1.4.5 (a7733435c): SSL_do_handshake: no function with only
   * SSL_R_CONNECTION_TYPE_NOT_SET; nothing attached` (the others: `…: not located (SSL_do_handshake failed first)`). */
  error: string;
}

/**
 * One `SSL_do_handshake` call of OpenSSL (by symbol) or BoringSSL (Bun, by anchors), emitted when it returns (subject
 * `agentsight.raw.ssl.<host>.<partition>`, the connection's partition). Non-blocking I/O calls it repeatedly: every call
 * is a record; `result` 1 ends the handshake. `SSL_connect`/`SSL_accept` call it in both libraries, and so do
 * BoringSSL's `SSL_read`/`SSL_write` when the handshake is not done; OpenSSL's `SSL_read`/`SSL_write` run an implicit
 * handshake without it (not seen). Informational: consumers of plaintext ignore it.
 */
export interface RawSslHandshakeRecord extends RawBase {
  kind: 'ssl_handshake';
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  /** The `SSL*`, as in {@link RawSslRecord.ssl}. */
  ssl: number;
  fn: 'SSL_do_handshake';
  partition: number;
  /** Return value: 1 = handshake complete; 0 = failed (shut down); < 0 = error or retry (`SSL_get_error`, e.g. WANT_READ). */
  result: number;
  /** Time from the call's entry to its return, ns. */
  duration_ns: number;
}

/**
 * End of a TLS connection (subject `agentsight.raw.ssl.<host>.<partition>`, the connection's own partition, so it
 * comes after every fragment of the connection). Published when the process exits, for each connection it used:
 * a client often stops reading a response it has what it needs from (an SDK that stops at `data: [DONE]` never
 * reads the chunked terminator), and only the close tells the parser that nothing more will come.
 */
export interface RawSslCloseRecord extends RawBase {
  kind: 'ssl_close';
  pid: number;
  tid: number;
  uid: number;
  comm: string;
  ssl: number;
  partition: number;
  reason: 'process_exit';
  /** Bytes published per direction (the next `stream_offset` each direction would have had). */
  write_offset: number;
  read_offset: number;
}

/**
 * Bytes a traced process read from or wrote to its stdin, stdout or stderr (fd 0, 1, 2), from `read`/`write`/
 * `readv`/`writev` syscalls that returned > 0, as they return (kernel: raw tracepoint `sys_exit`; subject
 * `agentsight.raw.stdio.<host>.<partition>`, partition = pid % partitions, so one process' stdio is in order).
 * Local MCP servers speak JSON-RPC over these pipes. A call larger than one ring-buffer record (32 KiB) is split into
 * ordered fragments like {@link RawSslRecord} (readv/writev also at iovec boundaries); nothing is truncated, a
 * reservation failure is counted in {@link RawLossRecord.lost_records} and the fragments that arrive are a prefix
 * of the call. On by default; the producer's `--no-stdio` turns these records off. Not seen: `pread`/`pwrite`,
 * `send*`/`recv*`, `splice`/`sendfile`, io_uring and 32-bit (compat) syscalls.
 */
export interface RawStdioRecord extends RawBase {
  kind: 'stdio';
  pid: number;
  tid: number;
  uid: number;
  ppid: number;
  comm: string;
  /** 0 = stdin, 1 = stdout, 2 = stderr (the fd number the process used). */
  fd: number;
  /** `read`: the process received the bytes; `write`: it sent them. */
  dir: Direction;
  /**
   * Kind of file behind the fd (from its inode's mode): `fifo` = pipe or named FIFO, `sock` = socket (node/libuv
   * give a child's "pipes" as AF_UNIX socketpairs), `chr` = character device (tty, /dev/null), `reg` = file.
   */
  ftype: 'fifo' | 'sock' | 'chr' | 'reg' | 'other';
  /**
   * Identity of the byte channel behind the fd, the same for both ends: the inode number of a pipe/FIFO; for an
   * AF_UNIX socket the smaller of its and its peer's inode numbers; else the file's inode. 0 when unknown.
   */
  ino: number;
  /** `st_dev` (kernel encoding) of the filesystem of {@link ino}'s inode (pipefs, sockfs, …). */
  dev: number;
  /** The syscall's byte count (its return value), bytes. */
  len: number;
  /** Offset of this fragment in the call's payload, bytes. */
  frag_offset: number;
  /** Size of the call's payload, bytes (equals `len`). */
  frag_total: number;
  /**
   * Offset of this fragment's first byte in the (pid, fd, dir) byte stream since the run started, bytes (counted by
   * the producer from the call sizes; a call whose first fragment was dropped does not advance it).
   */
  stream_offset: number;
  /** Partition this record was published to: pid % partitions. */
  partition: number;
  /** The bytes of this fragment. */
  data: Uint8Array;
}

/** Identity of one process' stdio fd across the pipeline: `<host>/<boot_id>/<run>/<pid>/fd<fd>`. */
export function stdioKey(r: Pick<RawStdioRecord, 'host' | 'boot_id' | 'run' | 'pid' | 'fd'>): string {
  return `${r.host}/${r.boot_id}/${r.run}/${r.pid}/fd${r.fd}`;
}

/** Why a {@link RawTlsNoticeRecord}'s traffic is not captured (see its `reason` for the words). */
export type TlsNoticeCause =
  /** A statically linked TLS stack was found in `library` (or the executable) but not located with certainty (e.g. an
   * unknown Bun build): nothing was attached to it. */
  | 'unrecognised'
  /** No TLS stack the probe knows was found in what the process maps, or the process maps probed TLS code but no
   * probed function saw this connection (a TLS library not supported yet, or a connection ended before any data). */
  | 'unsupported'
  /** The TLS code was mapped in a way the probe did not see (before the trace started, fd passing, io_uring): it was
   * attached when this connection revealed it, so only this process' earlier connections are missed. */
  | 'not_attached';

/**
 * TLS traffic no probe records (subject `agentsight.raw.proc.<host>`, ordered with the process' exec and exit): a
 * traced process wrote a TLS ClientHello as its first write on a socket it connect()ed (write/writev/sendto/sendmsg,
 * seen at the syscall's exit) while no probed TLS function was running on that thread, and either it maps no attached
 * TLS code (published at once) or no SSL record of it followed within 2 s or before its exit. Published once per
 * (process, binary, library, reason): later connections of the same process for the same reason are only counted
 * (the producer's `stopped` line, `tls_notices`). Never a silent zero: this is what tells a user why nothing of an
 * agent was captured. Not seen: TLS over QUIC/UDP, TLS behind a proxy's CONNECT, connections whose first write is not
 * the ClientHello, io_uring.
 */
export interface RawTlsNoticeRecord extends RawBase {
  kind: 'tls_notice';
  pid: number;
  tid: number;
  uid: number;
  ppid: number;
  comm: string;
  /** The process' executable (real path). */
  binary: string;
  /** The library or addon the reason is about, '' when it is the executable itself. */
  library: string;
  cause: TlsNoticeCause;
  /** One line for the user, e.g. `BoringSSL (Bun v1.4.0 (63bb0ca0d)) not recognised: …` or `TLS library not
   * supported yet: no TLS stack the probe knows in the executable or the libraries it maps`. */
  reason: string;
  /** Peer address (dotted quad or RFC 5952 text) and port of the connection. */
  address: string;
  port: number;
  /** Server name (SNI) of the ClientHello, '' when it carried none. */
  server_name: string;
}

/** Records on `agentsight.raw.proc.<host>`, in the order the kernel emitted them per process. */
export type RawProcSubjectRecord = RawProcRecord | RawFileOpenRecord | RawNetConnectRecord | RawTlsNoticeRecord;

export type RawRecord = RawSslRecord | RawSslCloseRecord | RawSslHandshakeRecord | RawStdioRecord | RawProcRecord | RawFileOpenRecord | RawNetConnectRecord | RawTlsNoticeRecord | RawLossRecord;

/** `Nats-Msg-Id` of a raw record: `<boot_id>:<run>:<seq>`. */
export function rawMsgId(r: Pick<RawBase, 'boot_id' | 'run' | 'seq'>): string {
  return `${r.boot_id}:${r.run}:${r.seq}`;
}

/** Identity of a TLS connection across the pipeline: `<host>/<boot_id>/<run>/<pid>/<ssl as hex>`. */
export function connKey(r: Pick<RawSslRecord | RawSslCloseRecord, 'host' | 'boot_id' | 'run' | 'pid' | 'ssl'>): string {
  return `${r.host}/${r.boot_id}/${r.run}/${r.pid}/0x${r.ssl.toString(16)}`;
}

/** Converts a decoded ns timestamp (number or bigint, as msgpack gave it) to bigint ns. */
export function normalizeNs(x: unknown): bigint {
  if (typeof x === 'bigint') return x;
  if (typeof x === 'number') return BigInt(Math.trunc(x));
  if (typeof x === 'string' && /^\d+$/.test(x)) return BigInt(x);
  return 0n;
}

/**
 * The one line that tells a user about a {@link RawTlsNoticeRecord} (CLI, audit summary, capture page):
 * `TLS of <binary>[ (<library>)] to <server name or address>:<port> not captured: <reason>`.
 */
export function tlsNoticeText(n: Pick<RawTlsNoticeRecord, 'binary' | 'library' | 'address' | 'port' | 'server_name' | 'reason'>): string {
  const peer = n.server_name || (n.address.includes(':') ? `[${n.address}]` : n.address);
  return `TLS of ${n.binary}${n.library ? ` (${n.library})` : ''} to ${peer}:${n.port} not captured: ${n.reason}`;
}
