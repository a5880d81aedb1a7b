/**
 * Audit records (contract `AuditRecord`, subject `agentsight.audit.<host>`): one per LLM call and one per process
 * event. Ids are deterministic, `deriveId('audit', type, source id)`, so a replay gives the same records.
 */
import { deriveId, rawMsgId, type AuditRecord, type LlmCall, type RawProcRecord } from '@agentsight/contracts';

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
