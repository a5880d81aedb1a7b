import { BadRequestException, Controller, Get, NotFoundException, Param, Query } from '@nestjs/common';
import { agentActivity, auditSummary, getExchange, listAudit, listCalls, listDeadLetters, listExchanges, listGenAiSpans, listToolUses, timeToNs, withResources, TOKEN_GROUP_BYS, TOKEN_PERIODS, tokenSummary } from '@agentsight/clickhouse';
import type { TokenGroupBy, TokenPeriod } from '@agentsight/clickhouse';
import { AUDIT_TYPES, isAuditType, type AuditType } from '@agentsight/contracts';
import { dataDir } from '../cli/paths';
import { Storage } from '../storage/storage';

/**
 * Read API over the stored data (JSON), used by the `agentsight` CLI and the dashboard:
 * `GET /api/health`, `/api/calls?limit&pid&since` (each call with `cost_usd`, null = unpriced),
 * `/api/token?period=today|yesterday|week|last_week|month|last_month&group_by=model|provider|process&compare=1`
 * (a `TokenSummary`: rows, totals with `cost_usd` in USD and `unpriced_calls`, and with `compare` the previous
 * period's totals and the change; `&detail=1` adds each group's token breakdown by role and type, `TokenDetail`),
 * `/api/audit?pid&type=llm|process|file|net&since&limit` (`since`: ISO 8601 or `30s`/`15m`/`2h`/`7d`/`1w` back from now;
 * records at or after it), `/api/audit/summary?pid&type&since` (an `AuditSummary`: counts per type and action, top
 * commands and connect targets, LLM providers, tokens and cost), `/api/dead-letters?limit`, `/api/exchanges?target&limit` and
 * `/api/exchanges/:id` (bodies base64 in `request_body_base64` / `response_body_base64`, secrets redacted),
 * `/api/tools?pid&conversation&since&limit` (tool uses, `ToolUseEntry`: the latest version of each),
 * `/api/sessions?conversation&since&limit` (agent sessions: `invoke_agent` events with their totals) and
 * `/api/spans?kind=execute_tool|invoke_agent&conversation&since&limit` (`GenAiSpanEntry`) and
 * `/api/agents/activity?since&host` (`AgentActivity`: per agent process, its calls, tokens, cost, tool uses, its
 * tree's execs/files/connections and its last resource samples since `since`, default 1 h; `agentsight top`).
 */
@Controller('api')
export class QueryController {
  constructor(private readonly storage: Storage) {}

  /** Liveness, and which installation this is: the data dir it stores into (`exec` refuses to reuse another's). */
  @Get('health')
  health(): { ok: true; pid: number; data_dir: string } {
    return { ok: true, pid: process.pid, data_dir: dataDir(process.env) };
  }

  @Get('calls')
  calls(@Query('limit') limit?: string, @Query('pid') pid?: string, @Query('since') since?: string) {
    return listCalls(this.storage.client, { limit: int(limit, 100), pid: pid ? int(pid, 0) : undefined, since });
  }

  @Get('token')
  token(@Query('period') period = 'today', @Query('group_by') groupBy = 'model', @Query('compare') compare?: string, @Query('detail') detail?: string) {
    if (!TOKEN_PERIODS.includes(period as never)) throw new BadRequestException(`period must be one of ${TOKEN_PERIODS.join(', ')}`);
    if (!TOKEN_GROUP_BYS.includes(groupBy as never)) throw new BadRequestException(`group_by must be one of ${TOKEN_GROUP_BYS.join(', ')}`);
    if (compare !== undefined && !['', '0', '1', 'true', 'false'].includes(compare)) throw new BadRequestException('compare must be 1/true or 0/false');
    if (detail !== undefined && !['', '0', '1', 'true', 'false'].includes(detail)) throw new BadRequestException('detail must be 1/true or 0/false');
    return tokenSummary(this.storage.client, {
      period: period as TokenPeriod,
      groupBy: groupBy as TokenGroupBy,
      compare: compare === '' || compare === '1' || compare === 'true',
      detail: detail === '' || detail === '1' || detail === 'true',
    });
  }

  @Get('audit')
  audit(@Query('pid') pid?: string, @Query('type') type?: string, @Query('since') since?: string, @Query('limit') limit?: string) {
    return listAudit(this.storage.client, { ...auditFilters(pid, type, since), limit: int(limit, 200) });
  }

  @Get('audit/summary')
  auditSummary(@Query('pid') pid?: string, @Query('type') type?: string, @Query('since') since?: string) {
    return auditSummary(this.storage.client, auditFilters(pid, type, since));
  }

  @Get('exchanges')
  exchanges(@Query('target') target?: string, @Query('limit') limit?: string) {
    return listExchanges(this.storage.client, { target, limit: int(limit, 100) });
  }

  @Get('exchanges/:id')
  async exchange(@Param('id') id: string) {
    const ex = await getExchange(this.storage.client, id);
    if (!ex) throw new NotFoundException(`no exchange ${id}`);
    const { request_body, response_body, start_ns, end_ns, ...rest } = ex;
    return {
      ...rest,
      start_ns: start_ns.toString(),
      end_ns: end_ns.toString(),
      request_body_base64: Buffer.from(request_body).toString('base64'),
      response_body_base64: Buffer.from(response_body).toString('base64'),
    };
  }

  @Get('tools')
  async tools(@Query('pid') pid?: string, @Query('conversation') conversation?: string, @Query('since') since?: string, @Query('limit') limit?: string) {
    return withResources(this.storage.client, await listToolUses(this.storage.client, { pid: pid ? int(pid, 0) : undefined, conversation: conversation || undefined, since: sinceParam(since), limit: int(limit, 200) }));
  }

  @Get('sessions')
  async sessions(@Query('conversation') conversation?: string, @Query('since') since?: string, @Query('limit') limit?: string) {
    return withResources(this.storage.client, await listGenAiSpans(this.storage.client, { kind: 'invoke_agent', conversation: conversation || undefined, since: sinceParam(since), limit: int(limit, 200) }));
  }

  @Get('spans')
  spans(@Query('kind') kind?: string, @Query('conversation') conversation?: string, @Query('since') since?: string, @Query('limit') limit?: string) {
    if (kind && kind !== 'execute_tool' && kind !== 'invoke_agent') throw new BadRequestException('kind must be execute_tool or invoke_agent');
    return listGenAiSpans(this.storage.client, { kind: (kind || undefined) as 'execute_tool' | 'invoke_agent' | undefined, conversation: conversation || undefined, since: sinceParam(since), limit: int(limit, 200) });
  }

  @Get('agents/activity')
  agentsActivity(@Query('since') since?: string, @Query('host') host?: string) {
    return agentActivity(this.storage.client, { since: sinceParam(since) ?? '1h', host: host || undefined });
  }

  @Get('dead-letters')
  deadLetters(@Query('limit') limit?: string) {
    return listDeadLetters(this.storage.client, { limit: int(limit, 100) });
  }
}

function int(s: string | undefined, dflt: number): number {
  const n = s === undefined ? dflt : Number(s);
  if (!Number.isInteger(n) || n < 0) throw new BadRequestException(`not a non-negative integer: ${s}`);
  return n;
}

/** A `since` query parameter, validated (400 on a bad time); undefined when absent. */
function sinceParam(since: string | undefined): string | undefined {
  if (!since) return undefined;
  try {
    timeToNs(since);
  } catch (err) {
    throw new BadRequestException((err as Error).message);
  }
  return since;
}

/** The `pid` / `type` / `since` query parameters of the audit endpoints, validated (400 on a bad value). */
function auditFilters(pid: string | undefined, type: string | undefined, since: string | undefined): { pid?: number; type?: AuditType; since?: string } {
  if (type && !isAuditType(type)) throw new BadRequestException(`type must be one of ${AUDIT_TYPES.join(', ')}`);
  if (since) {
    try {
      timeToNs(since);
    } catch (err) {
      throw new BadRequestException((err as Error).message);
    }
  }
  return { pid: pid ? int(pid, 0) : undefined, type: isAuditType(type) ? type : undefined, since: since || undefined };
}
