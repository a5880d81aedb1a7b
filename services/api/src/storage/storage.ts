import { Injectable } from '@nestjs/common';
import type { ClickHouseClient } from '@clickhouse/client';
import { ensureSchema, openClickHouse, writeOwnerPid } from '@agentsight/clickhouse';
import { dataDir } from '../cli/paths';

/**
 * The ClickHouse connection of the api service, which owns the embedded chDB directory (`<data dir>/chdb`) unless
 * `CLICKHOUSE_URL` points at a server. Everything else reads through this service's HTTP API.
 */
@Injectable()
export class Storage {
  private constructor(readonly client: ClickHouseClient) {}

  static async open(env: NodeJS.ProcessEnv = process.env): Promise<Storage> {
    const dir = dataDir(env);
    const client = await openClickHouse({ url: env.CLICKHOUSE_URL, dataDir: `${dir}/chdb` });
    await ensureSchema(client);
    if (!env.CLICKHOUSE_URL) writeOwnerPid(`${dir}/chdb`, process.pid);
    return new Storage(client);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
