/** Audit records from the analyzer (subject `agentsight.audit.<host>`), contract v1. */

/** Types of audit records (the `--type` / `?type=` filter values). */
export const AUDIT_TYPES = ['llm', 'tool', 'process', 'file', 'net', 'capture'] as const;
export type AuditType = (typeof AUDIT_TYPES)[number];

/** True if t is one of {@link AUDIT_TYPES}. */
export function isAuditType(t: unknown): t is AuditType {
  return typeof t === 'string' && (AUDIT_TYPES as readonly string[]).includes(t);
}

/**
 * One audited action. `id` is deterministic: deriveId('audit', type, source id).
 * - `llm`: an LLM call (`details`: provider, model, tokens, finish reason, tool names).
 * - `tool`: a tool use, action `execute_tool` (`details`: the ToolUse fields, see tool.ts).
 * - `process`: an exec or exit (`details`: event, filename, argv, ppid, exit_code, duration_ns).
 * - `file`: a file open, action `open` (`details`: path, flags, flags_text, mode, result, fd, errno).
 * - `net`: a connect(), action `connect` (`details`: family, address, port, result, errno).
 * - `capture`: what agentsight could not capture, action `tls_not_captured` (`details`: the RawTlsNoticeRecord
 *   fields binary, library, cause, reason, address, port, server_name, target): the capture page and `audit --type
 *   capture` show why a traced process' TLS traffic is missing.
 */
export interface AuditRecord {
  v: 1;
  id: string;
  type: AuditType;
  /** What happened, e.g. `exec`, `exit`, `llm_call`, `open`, `connect`. */
  action: string;
  host: string;
  /** Wall-clock ns. */
  ts_ns: bigint;
  pid: number;
  ppid: number;
  comm: string;
  /** One human-readable line, e.g. `exec /usr/bin/ls -la` or `anthropic claude-haiku-4-5 in=10 out=222`. */
  summary: string;
  details: Record<string, unknown>;
}
