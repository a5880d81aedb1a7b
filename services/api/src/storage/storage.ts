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

  /** The note of the last check that had one ({@link CapResult.note}), logged when it changes. */
  private lastNote: string | null = null;

  private constructor(
    readonly client: ClickHouseClient,
    readonly retentionDays: number,
    readonly maxBytes: number,
    /** `CLICKHOUSE_URL` (undefined: embedded chDB); on a cluster the cap reaches each node through it. */
    private readonly url: string | undefined,
  ) {}

  static async open(env: NodeJS.ProcessEnv = process.env): Promise<Storage> {
    const dir = dataDir(env);
    const client = await openClickHouse({ url: env.CLICKHOUSE_URL, dataDir: `${dir}/chdb` });
    const days = retentionDays(env);
    const maxBytes = storeMaxBytes(env);
    await ensureSchema(client, undefined, { retentionDays: days });
    if (!env.CLICKHOUSE_URL) writeOwnerPid(`${dir}/chdb`, process.pid);
    const s = new Storage(client, days, maxBytes, env.CLICKHOUSE_URL || undefined);
    // A failed check (e.g. a cluster node down) is logged and tried again at the next one; storing goes on.
    const check = () => s.checkCap().catch((err) => { process.stderr.write(`storage: size cap check failed: ${(err as Error).message}\n`); });
    await check();
    const everyS = Number(env.AGENTSIGHT_STORE_CHECK_S || 60);
    s.timer = setInterval(() => void check(), everyS * 1000);
    s.timer.unref();
    return s;
  }

  /**
   * Applies the size cap (`AGENTSIGHT_STORE_MAX_BYTES`, see libs/clickhouse retention.ts): drops the oldest days
   * when the store is over it (on a cluster on every node); logs what it dropped and why, each node's share, when the
   * store stays over the cap, and tables the cap cannot see. Throws what {@link enforceStoreCap} throws.
   */
  async checkCap(): Promise<CapResult> {
    const r = await enforceStoreCap(this.client, this.maxBytes, undefined, { url: this.url });
    this.lastCap = r;
    const text = capText(r, this.maxBytes);
    if (text) process.stderr.write(text);
    if (r.note !== this.lastNote && r.note) process.stderr.write(`storage: ${r.note}\n`);
    this.lastNote = r.note;
    return r;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.client.close();
  }
}

/**
 * What one size-cap check did, as the api logs it ('' when it dropped nothing and the store is within the cap):
 * the days dropped and why (the store's bytes against the cap), on a cluster each node's rows and bytes, and a store
 * left over the cap with only its newest day.
 */
export function capText(r: CapResult, maxBytes: number): string {
  const out: string[] = [];
  if (r.days.length) {
    const nodes = r.nodes.length ? ` on every node of the cluster (${r.nodes.map((n) => `${n.node}: ${n.rows} rows, ${n.bytes} bytes`).join('; ')})` : '';
    out.push(`storage: store ${r.before} bytes over the cap of ${maxBytes} (AGENTSIGHT_STORE_MAX_BYTES): dropped day(s) ${r.days.join(', ')}, oldest first (${r.rows} rows, ${r.bytes} bytes)${nodes}; now ${r.after} bytes\n`);
  }
  if (r.over) out.push(`storage: store still over the cap (${r.after} > ${maxBytes} bytes) with only its newest day left\n`);
  return out.join('');
}
