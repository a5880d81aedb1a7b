/** `agentsight audit`: the audit records (LLM calls, tool uses, exec/exit, file opens, connect() calls), or their summary. */
import type { Command } from 'commander';
import type { AuditEntry, AuditSummary } from '@agentsight/clickhouse';
import { AUDIT_TYPES, isAuditType } from '@agentsight/contracts';
import { printRows, table, usdText } from '../format';
import { dataDirOption, jsonOption, limitOption, pidFilter, pidOption, sinceOption } from '../options';
import { withReader } from '../read';

/** Registers `audit`. */
export function registerAudit(p: Command): void {
  const c = pidOption(jsonOption(dataDirOption(p.command('audit').description('audit records: LLM calls, tool uses, process exec/exit, file opens, connect() calls'))), 'only this pid')
    .option('--type <t>', AUDIT_TYPES.join(' | '));
  sinceOption(limitOption(c, '200'), 'only records at or after this time')
    .option('--summary', 'one summary instead of the records: counts per type/action, top commands and connect targets, LLM providers, tokens and cost')
    .action((o) => {
      if (o.type !== undefined && !isAuditType(o.type)) throw new Error(`--type must be one of ${AUDIT_TYPES.join(', ')}`);
      const filters = { pid: pidFilter(o.pid), type: o.type, since: o.since as string | undefined };
      if (!o.summary) {
        return withReader(o, async (r) => printRows<AuditEntry>(await r.audit({ ...filters, limit: Number(o.limit) }), o.json, [
          ['ts', (a) => a.ts], ['type', (a) => a.type], ['pid', (a) => a.pid], ['ppid', (a) => a.ppid], ['comm', (a) => a.comm], ['summary', (a) => a.summary + causeText(a)],
        ]));
      }
      return withReader(o, async (r) => {
        const s = await r.auditSummary(filters);
        process.stdout.write((o.json ? JSON.stringify(s, null, 2) : auditSummaryText(s)) + '\n');
      });
    });
}

/** ` ← tool Bash (toolu_…) of LLM call 1a2b3c4d` for an action a tool use caused; '' otherwise. */
export function causeText(a: AuditEntry): string {
  const c = a.caused_by;
  if (!c) return '';
  return ` ← tool ${c.tool_name}${c.call_id ? ` (${c.call_id})` : ''}${c.llm_call_id ? ` of LLM call ${c.llm_call_id.slice(0, 8)}` : ''}${c.ambiguous ? ' [ambiguous]' : ''}`;
}

/** `audit --summary` as text: the scope and counts per type, then by action, top commands, top connect targets, LLM totals. */
export function auditSummaryText(s: AuditSummary): string {
  const f = s.filters;
  const scope = [f.since ? `since ${f.since}` : 'all time', f.pid !== null ? `pid ${f.pid}` : '', f.type ? `type ${f.type}` : ''].filter(Boolean).join(', ');
  const section = <T>(title: string, rows: T[], cols: Array<[string, (x: T) => unknown]>) => `\n${title}:\n${rows.length ? table(rows, cols) : '(none)'}`;
  const l = s.llm;
  const out = [
    `audit summary (${scope}): ${s.total} record(s)${s.by_type.length ? ': ' + s.by_type.map((t) => `${t.type} ${t.count}`).join(', ') : ''}`,
    section('by action', s.by_action, [['type', (a) => a.type], ['action', (a) => a.action], ['count', (a) => a.count]]),
    section('top commands (exec)', s.top_commands, [['command', (c) => c.command], ['count', (c) => c.count]]),
    section('top connect targets', s.top_connects, [['target', (c) => c.target], ['count', (c) => c.count], ['failed', (c) => c.failed]]),
    `\nLLM calls${f.type ? ' (all types)' : ''}: ${l.calls}${s.providers.length ? ' (' + s.providers.map((p) => `${p.provider} ${p.calls}`).join(', ') + ')' : ''}, ` +
      `${l.input_tokens} input + ${l.output_tokens} output tokens, cost ${usdText(l.cost_usd, l.cost_usd === null ? 0 : l.unpriced_calls)}` +
      (l.cost_usd === null ? ` (${l.unpriced_calls} call(s))` : ''),
  ];
  return out.join('\n');
}
