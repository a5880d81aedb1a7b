/** Audit records from the analyzer (subject `agentsight.audit.<host>`), contract v1. */

/**
 * One audited action. `id` is deterministic: deriveId('audit', type, source id).
 * - `llm`: an LLM call (`details`: provider, model, tokens, finish reason, tool names).
 * - `process`: an exec or exit (`details`: event, filename, argv, ppid, exit_code, duration_ns).
 */
export interface AuditRecord {
  v: 1;
  id: string;
  type: 'llm' | 'process';
  /** What happened, e.g. `exec`, `exit`, `llm_call`. */
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
