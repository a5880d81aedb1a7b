import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { listAudit, listCalls, openClickHouse, tokenSummary } from '@agentsight/clickhouse';
import type { AuditEntry, CallSummary, TokenGroupBy, TokenPeriod, TokenSummary } from '@agentsight/clickhouse';
import type { AuditType } from '@agentsight/contracts';
import { apiPort } from './paths';
import { apiRunning } from './pipeline';

/** Reads stored data: through a running api service (which owns the chDB directory), else by opening it directly. */
export class Reader {
  private constructor(private readonly env: NodeJS.ProcessEnv, private readonly client: ClickHouseClient | null) {}

  static async open(env: NodeJS.ProcessEnv, dataDir: string): Promise<Reader> {
    if (await apiRunning(env)) return new Reader(env, null);
    const chdb = join(dataDir, 'chdb');
    if (!env.CLICKHOUSE_URL && !existsSync(chdb)) throw new Error(`no data yet in ${dataDir} (run agentsight exec or trace first)`);
    return new Reader(env, await openClickHouse({ url: env.CLICKHOUSE_URL, dataDir: chdb }));
  }

  private async api<T>(path: string): Promise<T> {
    const r = await fetch(`http://127.0.0.1:${apiPort(this.env)}${path}`);
    if (!r.ok) throw new Error(`api ${path}: ${r.status} ${await r.text()}`);
    return (await r.json()) as T;
  }

  calls(opts: { limit: number; since?: string; pid?: number }): Promise<CallSummary[]> {
    return this.client ? listCalls(this.client, opts) : this.api(`/api/calls?${qs(opts)}`);
  }

  /** Tokens and cost (USD) over `period` per group, with the previous period and the change when `compare`. */
  async token(opts: { period: TokenPeriod; groupBy: TokenGroupBy; compare: boolean }): Promise<TokenSummary> {
    if (this.client) return tokenSummary(this.client, opts);
    const s = await this.api<TokenSummary | unknown[]>(`/api/token?${qs({ period: opts.period, group_by: opts.groupBy, compare: opts.compare ? 1 : undefined })}`);
    if (Array.isArray(s)) throw new Error(`the running agentsight api (port ${apiPort(this.env)}) is an older version without costs: restart it`);
    return s;
  }

  audit(opts: { pid?: number; type?: AuditType; limit: number }): Promise<AuditEntry[]> {
    return this.client ? listAudit(this.client, opts) : this.api(`/api/audit?${qs(opts)}`);
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}

function qs(o: Record<string, unknown>): string {
  return new URLSearchParams(Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]): [string, string] => [k, String(v)])).toString();
}
