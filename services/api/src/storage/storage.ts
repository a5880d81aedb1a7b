import { Injectable } from '@nestjs/common';
import type { ClickHouseClient } from '@clickhouse/client';
import { enforceStoreCap, ensureSchema, openClickHouse, retentionDays, storeMaxBytes, writeOwnerPid, type CapResult } from '@agentsight/clickhouse';
import { dataDir } from '../cli/paths';

/**
 * The ClickHouse connection of the api service, which owns the embedded chDB directory (`<data dir>/chdb`) unless
 * `CLICKHOUSE_URL` points at a server. Everything else reads through this service's HTTP API.
 */
@Injectable()
export class Storage {
  private timer?: NodeJS.Timeout;
  /** The last size-cap check (null before the first). */
  lastCap: CapResult | null = null;

  private constructor(readonly client: ClickHouseClient, readonly retentionDays: number, readonly maxBytes: number) {}

  static async open(env: NodeJS.ProcessEnv = process.env): Promise<Storage> {
    const dir = dataDir(env);
    const client = await openClickHouse({ url: env.CLICKHOUSE_URL, dataDir: `${dir}/chdb` });
    const days = retentionDays(env);
    const maxBytes = storeMaxBytes(env);
    await ensureSchema(client, undefined, { retentionDays: days });
    if (!env.CLICKHOUSE_URL) writeOwnerPid(`${dir}/chdb`, process.pid);
    const s = new Storage(client, days, maxBytes);
    await s.checkCap();
    const everyS = Number(env.AGENTSIGHT_STORE_CHECK_S || 60);
    s.timer = setInterval(() => void s.checkCap().catch((err) => process.stderr.write(`storage: size cap check failed: ${(err as Error).message}\n`)), everyS * 1000);
    s.timer.unref();
    return s;
  }

  /**
   * Applies the size cap (`AGENTSIGHT_STORE_MAX_BYTES`, see libs/clickhouse retention.ts): drops the oldest days
   * when the store is over it; logs what it dropped and when the store stays over the cap.
   */
  async checkCap(): Promise<CapResult> {
    const r = await enforceStoreCap(this.client, this.maxBytes);
    this.lastCap = r;
    if (r.days.length) process.stderr.write(`storage: store ${r.before} bytes over the cap of ${this.maxBytes}: dropped day(s) ${r.days.join(', ')} (${r.rows} rows, ${r.bytes} bytes)\n`);
    if (r.over) process.stderr.write(`storage: store still over the cap (${r.after} > ${this.maxBytes} bytes) with only its newest day left\n`);
    return r;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.client.close();
  }
}
