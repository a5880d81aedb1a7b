import { Injectable } from '@nestjs/common';
import { Subject } from 'rxjs';
import type { LiveEvent } from '@agentsight/contracts';

/**
 * What the storage sink stored, as it is stored: the storage service calls {@link LiveBus.stored} once per row, after
 * the ClickHouse insert holding it succeeded; the dashboard's `GET /api/live` (Server-Sent Events) forwards each to the
 * open pages, which refetch only the views the row belongs to.
 */
@Injectable()
export class LiveBus {
  readonly events = new Subject<LiveEvent>();

  /** Announces one stored row of `table` (its id: `call_id`, else `id`, else `exchange_id`; its audit type or span kind). */
  stored(table: string, row: Record<string, unknown>): void {
    if (!this.events.observed) return;
    const id = String(row.call_id ?? row.id ?? row.exchange_id ?? '');
    const kind = typeof row.type === 'string' ? row.type : typeof row.kind === 'string' ? row.kind : undefined;
    this.events.next({ table, id, ...(kind ? { kind } : {}), stored_at: Date.now() });
  }
}
