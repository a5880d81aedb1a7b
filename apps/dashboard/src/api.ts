/**
 * Typed client of the read API (same origin; the dashboard cookie or nothing: no token is ever held by scripts).
 * Types come from the contracts (`@agentsight/contracts`) and the stored entries (`@agentsight/clickhouse`).
 */
import type { CaptureStatus, Overview, Page, TimeSeries } from '@agentsight/contracts';
import type { AuditEntry, CallDetail, CallSummary, SessionDetail, SessionEntry, SessionResources } from '@agentsight/clickhouse';

export type { AuditEntry, CallSummary, SessionDetail, SessionEntry, SessionResources, CaptureStatus, Overview, Page, TimeSeries };

/** The body of one stored request/response as the API returns it. */
export interface BodyText {
  text: string;
  binary: boolean;
  bytes: number;
}

/** `GET /api/llm-calls/:id`. */
export type CallDetailResponse = CallDetail & {
  cost: { cost_usd: number | null; price_id: string | null; breakdown: Record<string, number> | null; note: string | null };
  exchange: null | {
    exchange_id: string; method: string; target: string; server_address: string; status: number | null; reason: string;
    request_headers: Array<[string, string]>; response_headers: Array<[string, string]>; streaming: boolean; sse_events: number;
    request_body: BodyText; response_body: BodyText; request_body_incomplete: string | null; response_body_incomplete: string | null;
    process_argv: string[]; process_exe: string; pid: number; ppid: number | null; uid: number;
  };
};

/** An API error with the server's reason. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** GET `path` (with `params`, empty values left out) as JSON; throws {@link ApiError} with the server's message. */
export async function get<T>(path: string, params: Record<string, string | number | undefined | null> = {}): Promise<T> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const r = await fetch(`/api/${path}${qs.size ? `?${qs}` : ''}`, { credentials: 'same-origin' });
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    try {
      const j = await r.json();
      msg = Array.isArray(j.message) ? j.message.join('; ') : String(j.message ?? msg);
    } catch {
      /* not JSON */
    }
    throw new ApiError(r.status, msg);
  }
  return (await r.json()) as T;
}
