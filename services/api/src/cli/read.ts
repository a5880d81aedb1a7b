import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { agentActivity, auditSummary, listAudit, listCalls, listGenAiSpans, listToolUses, openClickHouse, timeToNs, tokenSummary, withResources, type ResourceColumns } from '@agentsight/clickhouse';
import type { AgentActivity, AuditEntry, AuditSummary, CallSummary, GenAiSpanEntry, TokenGroupBy, TokenPeriod, TokenSummary, ToolUseEntry } from '@agentsight/clickhouse';
import type { AuditType } from '@agentsight/contracts';
import { apiPort, dataDir } from './paths';
import { apiRunning, assertOwnInstallation } from './pipeline';
import { cliToken } from './serve';

/** Reads stored data: through a running api service (which owns the chDB directory), else by opening it directly. */
export class Reader {
  private constructor(private readonly env: NodeJS.ProcessEnv, private readonly client: ClickHouseClient | null, private readonly authToken: string | null = null) {}

  static async open(env: NodeJS.ProcessEnv, dataDir: string): Promise<Reader> {
    if (await apiRunning(env)) {
      const token = cliToken(env, dataDir);
      await assertOwnInstallation(env, dataDir, token);
      return new Reader(env, null, token);
    }
    const chdb = join(dataDir, 'chdb');
    if (!env.CLICKHOUSE_URL && !existsSync(chdb)) throw new Error(`no data yet in ${dataDir} (run agentsight exec or trace first)`);
    return new Reader(env, await openClickHouse({ url: env.CLICKHOUSE_URL, dataDir: chdb }));
  }

  private async api<T>(path: string): Promise<T> {
    const r = await fetch(`http://127.0.0.1:${apiPort(this.env)}${path}`, { headers: this.authToken ? { authorization: `Bearer ${this.authToken}` } : {} });
    if (!r.ok) throw new Error(`api ${path}: ${r.status} ${await r.text()}`);
    return (await r.json()) as T;
  }

  calls(opts: { limit: number; since?: string; pid?: number }): Promise<CallSummary[]> {
    return this.client ? listCalls(this.client, opts) : this.api(`/api/calls?${qs(opts)}`);
  }

  /**
   * Tokens and cost (USD) over `period` per group, with the previous period and the change when `compare`, and the
   * breakdown by role and type when `detail`.
   */
  async token(opts: { period: TokenPeriod; groupBy: TokenGroupBy; compare: boolean; detail?: boolean }): Promise<TokenSummary> {
    if (this.client) return tokenSummary(this.client, opts);
    const s = await this.api<TokenSummary | unknown[]>(
      `/api/token?${qs({ period: opts.period, group_by: opts.groupBy, compare: opts.compare ? 1 : undefined, detail: opts.detail ? 1 : undefined })}`,
    );
    if (Array.isArray(s)) throw new Error(`the running agentsight api (port ${apiPort(this.env)}) is an older version without costs: restart it`);
    return s;
  }

  /** Audit records, newest first; `since` = ISO 8601 or a duration back from now (`30m`, `2h`, `7d`). */
  async audit(opts: { pid?: number; type?: AuditType; since?: string; limit: number }): Promise<AuditEntry[]> {
    const since = opts.since ? timeToNs(opts.since) : null; // throws a readable error on a bad time
    if (this.client) return listAudit(this.client, opts);
    const rs = await this.api<AuditEntry[]>(`/api/audit?${qs(opts)}`);
    // An older running api ignores `since`; keeping the records at or after it is exact (newest first, then cut).
    return since === null ? rs : rs.filter((a) => BigInt(Date.parse(a.ts)) * 1_000_000n >= since - (since % 1_000_000n));
  }

  /** One summary of the audit records (and LLM calls) matching the filters. */
  async auditSummary(opts: { pid?: number; type?: AuditType; since?: string }): Promise<AuditSummary> {
    if (opts.since) timeToNs(opts.since); // throws a readable error on a bad time
    if (this.client) return auditSummary(this.client, opts);
    try {
      return await this.api<AuditSummary>(`/api/audit/summary?${qs(opts)}`);
    } catch (err) {
      if (/: 404 /.test((err as Error).message)) throw new Error(`the running agentsight api (port ${apiPort(this.env)}) is an older version without audit summaries: restart it`);
      throw err;
    }
  }

  /** Tool uses (latest version of each), newest first. */
  tools(opts: { pid?: number; conversation?: string; since?: string; limit: number }): Promise<Array<ToolUseEntry & ResourceColumns>> {
    if (opts.since) timeToNs(opts.since); // throws a readable error on a bad time
    return this.client ? listToolUses(this.client, opts).then((t) => withResources(this.client!, t)) : this.api(`/api/tools?${qs(opts)}`);
  }

  /** Agent sessions (`invoke_agent` events with their totals), newest first. */
  sessions(opts: { conversation?: string; since?: string; limit: number }): Promise<Array<GenAiSpanEntry & ResourceColumns>> {
    if (opts.since) timeToNs(opts.since);
    return this.client ? listGenAiSpans(this.client, { ...opts, kind: 'invoke_agent' }).then((s) => withResources(this.client!, s)) : this.api(`/api/sessions?${qs(opts)}`);
  }

  /** What each agent process did since `since` ({@link AgentActivity}), newest activity first; for `agentsight top`. */
  async agentActivity(opts: { since: string; host?: string }): Promise<AgentActivity[]> {
    timeToNs(opts.since); // throws a readable error on a bad time
    if (this.client) return agentActivity(this.client, opts);
    try {
      return await this.api<AgentActivity[]>(`/api/agents/activity?${qs(opts)}`);
    } catch (err) {
      if (/: 404 /.test((err as Error).message)) throw new Error(`the running agentsight api (port ${apiPort(this.env)}) is an older version without agent activity: restart it`);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}

function qs(o: Record<string, unknown>): string {
  return new URLSearchParams(Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]): [string, string] => [k, String(v)])).toString();
}

/** Runs `f` with a {@link Reader} of the data directory (`--data-dir`, `$AGENTSIGHT_DATA_DIR`, `~/.agentsight`), closed after. */
export async function withReader<T>(opts: { dataDir?: string }, f: (r: Reader) => Promise<T>): Promise<T> {
  const r = await Reader.open(process.env, dataDir(process.env, opts.dataDir));
  try {
    return await f(r);
  } finally {
    await r.close();
  }
}
