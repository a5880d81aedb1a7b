/**
 * Audit records (contract `AuditRecord`, subject `agentsight.audit.<host>`): one per LLM call, process event, file
 * open and connect(). Ids are deterministic, `deriveId('audit', type, source id)`, so a replay gives the same records.
 */
import {
  deriveId, rawMsgId, tlsNoticeText, type AuditRecord, type LlmCall, type RawFileOpenRecord, type RawNetConnectRecord, type RawProcRecord,
  type RawTlsNoticeRecord,
} from '@agentsight/contracts';

function fmt(n: number | null): string {
  return n === null ? '?' : String(n);
}

/**
 * One line for an LLM call: `<provider> <model> in=<input> out=<output> <finish reasons> [tools=[a,b]] [error=<type>]`,
 * e.g. `anthropic claude-haiku-4-5 in=25251 out=222 end_turn`. `in` is the semconv input count (includes cached
 * tokens), `?` marks an unknown count.
 */
export function llmSummary(call: LlmCall): string {
  const parts = [
    call.provider,
    call.response_model ?? call.request_model ?? '?',
    `in=${fmt(call.usage.input_tokens)}`,
    `out=${fmt(call.usage.output_tokens)}`,
  ];
  if (call.finish_reasons.length) parts.push(call.finish_reasons.join(','));
  if (call.tool_calls.length) parts.push(`tools=[${call.tool_calls.map((t) => t.name).join(',')}]`);
  if (call.error_type) parts.push(`error=${call.error_type}`);
  if (call.http_status !== null && (call.http_status < 200 || call.http_status >= 300)) parts.push(`http=${call.http_status}`);
  return parts.join(' ');
}

/**
 * The audit record of an LLM call: type `llm`, action `llm_call`, `ts_ns` = call start (wall-clock ns), host from the
 * call's connection key, `details` = provider, api, models, response id, usage (semconv counts, tokens), raw usage,
 * finish reasons, tool names, error type, HTTP status, server address, streaming, duration_ns. Id
 * `deriveId('audit', 'llm', call.id)`.
 */
export function auditForCall(call: LlmCall): AuditRecord {
  return {
    v: 1,
    id: deriveId('audit', 'llm', call.id),
    type: 'llm',
    action: 'llm_call',
    host: call.host,
    ts_ns: call.start_ns,
    pid: call.pid,
    ppid: call.process?.ppid ?? 0,
    comm: call.comm,
    summary: llmSummary(call),
    details: {
      llm_call_id: call.id,
      exchange_id: call.exchange_id,
      provider: call.provider,
      api: call.api,
      operation: call.operation,
      request_model: call.request_model,
      response_model: call.response_model,
      response_id: call.response_id,
      streaming: call.streaming,
      usage: { ...call.usage },
      raw_usage: call.raw_usage,
      finish_reasons: [...call.finish_reasons],
      tools: call.tool_calls.map((t) => t.name),
      error_type: call.error_type,
      http_status: call.http_status,
      server_address: call.server_address,
      duration_ns: Number(call.end_ns - call.start_ns),
    },
  };
}

function quoteArg(a: string): string {
  return a === '' || /[\s"'\\]/.test(a) ? JSON.stringify(a) : a;
}

/**
 * One line for a process event: `exec <filename> <argv[1..]>` (args with blanks or quotes JSON-quoted, ` …` when argv
 * was truncated), `snapshot <exe> <argv[1..]>`, `exit <code> after <ms> ms` (one decimal).
 */
export function procSummary(rec: RawProcRecord): string {
  if (rec.event === 'exit') return `exit ${rec.exit_code} after ${(rec.duration_ns / 1e6).toFixed(1)} ms`;
  const file = rec.filename || rec.argv[0] || rec.comm;
  const args = rec.argv.slice(1).map(quoteArg);
  if (rec.argv_truncated) args.push('…');
  return [rec.event, file, ...args].join(' ');
}

/**
 * The audit record of a process event: type `process`, action = the event (`exec` | `exit` | `snapshot`), `ts_ns` =
 * the record's wall-clock ns, `details` = event, filename, argv, argv_truncated, ppid, uid, exit_code, duration_ns
 * (ns; exit only, else 0). Id `deriveId('audit', 'process', '<boot_id>:<run>:<seq>')`.
 */
export function auditForProc(rec: RawProcRecord): AuditRecord {
  return {
    v: 1,
    id: deriveId('audit', 'process', rawMsgId(rec)),
    type: 'process',
    action: rec.event,
    host: rec.host,
    ts_ns: rec.ts_wall_ns,
    pid: rec.pid,
    ppid: rec.ppid,
    comm: rec.comm,
    summary: procSummary(rec),
    details: {
      event: rec.event,
      filename: rec.filename,
      argv: [...rec.argv],
      argv_truncated: rec.argv_truncated,
      ppid: rec.ppid,
      uid: rec.uid,
      exit_code: rec.exit_code,
      duration_ns: rec.duration_ns,
      source_id: rawMsgId(rec),
    },
  };
}

/**
 * Linux errno numbers (asm-generic, shared by x86-64 and arm64) → names, for the results of the probe's records
 * (the probe only runs on Linux, whatever platform the analyzer runs on).
 */
const ERRNO_NAMES: ReadonlyMap<number, string> = new Map(Object.entries({
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8, EBADF: 9, ECHILD: 10, EAGAIN: 11,
  ENOMEM: 12, EACCES: 13, EFAULT: 14, EBUSY: 16, EEXIST: 17, EXDEV: 18, ENODEV: 19, ENOTDIR: 20, EISDIR: 21,
  EINVAL: 22, ENFILE: 23, EMFILE: 24, ENOTTY: 25, ETXTBSY: 26, EFBIG: 27, ENOSPC: 28, ESPIPE: 29, EROFS: 30,
  EMLINK: 31, EPIPE: 32, ENAMETOOLONG: 36, ENOSYS: 38, ELOOP: 40, ENODATA: 61, EOVERFLOW: 75, ENOTSOCK: 88,
  EDESTADDRREQ: 89, EPROTOTYPE: 91, EOPNOTSUPP: 95, EAFNOSUPPORT: 97, EADDRINUSE: 98, EADDRNOTAVAIL: 99,
  ENETDOWN: 100, ENETUNREACH: 101, ECONNABORTED: 103, ECONNRESET: 104, ENOBUFS: 105, EISCONN: 106, ETIMEDOUT: 110,
  ECONNREFUSED: 111, EHOSTDOWN: 112, EHOSTUNREACH: 113, EALREADY: 114, EINPROGRESS: 115, EDQUOT: 122,
}).map(([name, n]) => [n, name]));

/** Name of a negative syscall result (`-2` → `ENOENT`), `errno <n>` when unknown, null for a result >= 0. */
export function errnoName(result: number): string | null {
  if (result >= 0) return null;
  return ERRNO_NAMES.get(-result) ?? `errno ${-result}`;
}

/** One line for a file open: `open <path>[…] <flags_text> → fd <n>` or `→ <ERRNO>`, e.g. `open /etc/hosts O_RDONLY → fd 3`. */
export function fileSummary(rec: RawFileOpenRecord): string {
  const path = (rec.path || '?') + (rec.path_truncated ? '…' : '');
  return `open ${quoteArg(path)} ${rec.flags_text} → ${rec.result >= 0 ? `fd ${rec.result}` : errnoName(rec.result)}`;
}

/** `host:port` of a connect target (`[v6]:port` for inet6), `unix:<path>` for a unix socket. */
export function netTarget(rec: Pick<RawNetConnectRecord, 'family' | 'address' | 'port'>): string {
  if (rec.family === 'unix') return `unix:${rec.address || '?'}`;
  const addr = rec.address || '?';
  return rec.family === 'inet6' ? `[${addr}]:${rec.port}` : `${addr}:${rec.port}`;
}

/** One line for a connect(): `connect <target> → ok` or `→ <ERRNO>`, e.g. `connect 127.0.0.1:443 → ok`. */
export function netSummary(rec: RawNetConnectRecord): string {
  return `connect ${netTarget(rec)} → ${rec.result === 0 ? 'ok' : errnoName(rec.result)}`;
}

/**
 * The audit record of one raw proc-stream record of a thread (file_open, net_connect, tls_notice): `v` 1, id
 * `deriveId('audit', type, '<boot_id>:<run>:<seq>')`, the record's host, `ts_ns` = its wall-clock ns, pid, ppid (0 when
 * the record has none), comm; `details` = the given fields, then the record's tid, uid and `source_id` (its message id).
 */
function threadAudit(
  rec: RawFileOpenRecord | RawNetConnectRecord | RawTlsNoticeRecord,
  type: AuditRecord['type'],
  action: string,
  summary: string,
  details: Record<string, unknown>,
): AuditRecord {
  return {
    v: 1,
    id: deriveId('audit', type, rawMsgId(rec)),
    type,
    action,
    host: rec.host,
    ts_ns: rec.ts_wall_ns,
    pid: rec.pid,
    ppid: rec.ppid ?? 0,
    comm: rec.comm,
    summary,
    details: { ...details, tid: rec.tid, uid: rec.uid, source_id: rawMsgId(rec) },
  };
}

/**
 * The audit record of a file open: type `file`, action `open`, `ts_ns` = the record's wall-clock ns, `details` = path,
 * path_truncated, flags, flags_text, mode, result, fd (null on failure), errno (name, null on success), tid, uid.
 * Id `deriveId('audit', 'file', '<boot_id>:<run>:<seq>')`.
 */
export function auditForFile(rec: RawFileOpenRecord): AuditRecord {
  return threadAudit(rec, 'file', 'open', fileSummary(rec), {
    path: rec.path,
    path_truncated: rec.path_truncated,
    flags: rec.flags,
    flags_text: rec.flags_text,
    mode: rec.mode,
    result: rec.result,
    fd: rec.result >= 0 ? rec.result : null,
    errno: errnoName(rec.result),
  });
}

/**
 * The audit record of a connect(): type `net`, action `connect`, `ts_ns` = the record's wall-clock ns, `details` =
 * family, address, port, target (`host:port`, `[v6]:port`, `unix:<path>`), result, errno (name, null on success;
 * `EINPROGRESS` is a non-blocking connect in progress, not a failure), tid, uid.
 * Id `deriveId('audit', 'net', '<boot_id>:<run>:<seq>')`.
 */
export function auditForNet(rec: RawNetConnectRecord): AuditRecord {
  return threadAudit(rec, 'net', 'connect', netSummary(rec), {
    family: rec.family,
    address: rec.address,
    port: rec.port,
    target: netTarget(rec),
    result: rec.result,
    errno: errnoName(rec.result),
  });
}

/**
 * The audit record of TLS traffic the probe could not capture (RawTlsNoticeRecord): type `capture`, action
 * `tls_not_captured`, summary {@link tlsNoticeText}, `details` = binary, library, cause, reason, address, port,
 * server_name, target (`host:port`), tid, uid. Id `deriveId('audit', 'capture', '<boot_id>:<run>:<seq>')`.
 */
export function auditForTlsNotice(rec: RawTlsNoticeRecord): AuditRecord {
  return threadAudit(rec, 'capture', 'tls_not_captured', tlsNoticeText(rec), {
    binary: rec.binary,
    library: rec.library,
    cause: rec.cause,
    reason: rec.reason,
    address: rec.address,
    port: rec.port,
    server_name: rec.server_name,
    target: netTarget({ family: rec.address.includes(':') ? 'inet6' : 'inet', address: rec.address, port: rec.port }),
  });
}
