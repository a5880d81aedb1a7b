/**
 * Stored HTTP exchanges (`exchanges`): one exchange with its bodies (`GET /api/exchanges/:id`, the call page's
 * exchange) and the latest exchanges without bodies (`GET /api/exchanges`). Read with `FINAL`; bodies as stored, i.e.
 * after redaction.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { decodeBody, type ExchangeRow } from '../rows';
import { DEFAULT_DATABASE, qualified } from '../schema';
import { clampLimit, nsIso, type DbOption } from './read';
import { n, queryRows } from './sql';

/** A stored exchange with its bodies decoded back to bytes (as stored, i.e. after redaction). */
export type StoredExchange = Omit<ExchangeRow, 'request_body' | 'request_body_encoding' | 'response_body' | 'response_body_encoding' | 'start_time' | 'end_time'> & {
  request_body: Uint8Array;
  /** For streamed responses: the SSE events as text (see schema.ts). */
  response_body: Uint8Array;
  /** Wall-clock ns. */
  start_ns: bigint;
  end_ns: bigint;
};

/** One exchange by id, or null when absent. */
export async function getExchange(client: ClickHouseClient, id: string, opts: DbOption = {}): Promise<StoredExchange | null> {
  type R = Omit<StoredExchange, 'request_body' | 'response_body' | 'start_ns' | 'end_ns'> & {
    request_body: string; request_body_encoding: string; response_body: string; response_body_encoding: string;
    start_ns: string; end_ns: string;
  };
  const rs = await queryRows<R>(
    client,
    `SELECT * EXCEPT (start_time, end_time, ingested_at),
            toString(toUnixTimestamp64Nano(start_time)) AS start_ns, toString(toUnixTimestamp64Nano(end_time)) AS end_ns
     FROM ${qualified(opts.database ?? DEFAULT_DATABASE, 'exchanges')} FINAL
     WHERE exchange_id = {id:String}
     LIMIT 1`,
    { id },
  );
  const r = rs[0];
  if (!r) return null;
  const { request_body_encoding, response_body_encoding, ...rest } = r;
  return {
    ...rest,
    pid: Number(r.pid),
    tid: Number(r.tid),
    uid: Number(r.uid),
    ppid: n(r.ppid),
    status: n(r.status),
    has_response: Boolean(r.has_response),
    streaming: Boolean(r.streaming),
    sse_events: Number(r.sse_events),
    request_headers: r.request_headers.map(([k, v]) => [k, v]),
    response_headers: r.response_headers.map(([k, v]) => [k, v]),
    request_body: decodeBody(r.request_body, request_body_encoding),
    response_body: decodeBody(r.response_body, response_body_encoding),
    start_ns: BigInt(r.start_ns),
    end_ns: BigInt(r.end_ns),
  };
}

/** One exchange in a listing (no bodies). */
export interface ExchangeSummary {
  exchange_id: string;
  /** ISO 8601, UTC, ms precision. */
  start_time: string;
  pid: number;
  comm: string;
  server_address: string;
  method: string;
  target: string;
  status: number | null;
  streaming: boolean;
  /** Stored (redacted) request body size, bytes. */
  request_body_bytes: number;
}

/** Latest exchanges, newest first; `target` keeps those whose request-target starts with it. */
export async function listExchanges(client: ClickHouseClient, opts: DbOption & { target?: string; limit?: number } = {}): Promise<ExchangeSummary[]> {
  const params: Record<string, unknown> = { limit: clampLimit(opts.limit, 100), target: opts.target ?? '' };
  type R = { exchange_id: string; start_ns: string; pid: number; comm: string; server_address: string; method: string; target: string; status: number | null; streaming: number; request_body_bytes: string };
  const rs = await queryRows<R>(
    client,
    `SELECT exchange_id, toString(toUnixTimestamp64Nano(start_time)) AS start_ns, pid, comm, server_address, method, target, status,
            streaming, if(request_body_encoding = 'base64', length(base64Decode(request_body)), length(request_body)) AS request_body_bytes
     FROM ${qualified(opts.database ?? DEFAULT_DATABASE, 'exchanges')} FINAL
     WHERE startsWith(target, {target:String})
     ORDER BY start_time DESC, exchange_id
     LIMIT {limit:UInt32}`,
    params,
  );
  return rs.map((r) => ({
    exchange_id: r.exchange_id, start_time: nsIso(r.start_ns), pid: Number(r.pid), comm: r.comm, server_address: r.server_address,
    method: r.method, target: r.target, status: n(r.status), streaming: Boolean(r.streaming), request_body_bytes: Number(r.request_body_bytes),
  }));
}
