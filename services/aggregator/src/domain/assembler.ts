import {
  deriveId, Exchange, headerValue, HttpEvent, HttpRequestEvent, HttpResponseHeadEvent, ProcessInfo, SseEvent,
} from '@agentsight/contracts';

/** How many finished message ids a connection remembers to drop replayed duplicates. */
export const DONE_IDS_KEPT = 64;

/** A streamed response being gathered: its head, the request it answers, and its SSE events so far. */
export interface OpenResponse {
  head: HttpResponseHeadEvent;
  request: HttpRequestEvent | null;
  events: SseEvent[];
  /** Wall-clock ns of the last byte seen so far. */
  last_ns: bigint;
}

/**
 * Pairing state of one TLS connection (HTTP/1.1: responses come in request order, RFC 9112 §9.3).
 * `pending` requests await a response; `open` is a streamed response in progress; `done` holds ids of recently
 * finished messages so a replayed duplicate is recognised.
 */
export interface ConnState {
  pending: HttpRequestEvent[];
  open: OpenResponse | null;
  done: string[];
  /** Set while the events of an already finished streamed response are being replayed. */
  replaying: boolean;
}

export const emptyConnState = (): ConnState => ({ pending: [], open: null, done: [], replaying: false });

/** Effect of one event on a connection: whether state changed, an SSE event to append, a finished exchange. */
export interface Applied {
  changed: boolean;
  /** The event was a duplicate (replay) and was ignored. */
  duplicate: boolean;
  /** Set when a streamed response started (its previous event list must be cleared). */
  opened?: boolean;
  appended?: SseEvent;
  /** Finished exchanges, in order; `process` is null here, the caller joins it. */
  exchanges: Exchange[];
  /** The connection ended: its state can be dropped. */
  ended?: boolean;
  /** Why an event could not be placed (e.g. an SSE event with no open response). */
  orphan?: string;
}

/**
 * Applies one HTTP event of a connection to its state (mutating `s`), in the connection's event order. Idempotent
 * for events replayed after a restart: requests by id, SSE events by ordinal, responses by id.
 */
export function applyEvent(s: ConnState, ev: HttpEvent): Applied {
  const dup: Applied = { changed: false, duplicate: true, exchanges: [] };
  switch (ev.type) {
    case 'request':
      if (s.done.includes(ev.id) || s.pending.some((r) => r.id === ev.id) || s.open?.request?.id === ev.id) return dup;
      s.pending.push(ev);
      return { changed: true, duplicate: false, exchanges: [] };
    case 'response_head': {
      if (s.open?.head.id === ev.id) return dup;
      if (s.done.includes(ev.id)) {
        s.replaying = true;
        return dup;
      }
      s.replaying = false;
      const exchanges = s.open ? [finish(s, s.open, s.open.last_ns, 'short')] : []; // a stream that never ended
      s.open = { head: ev, request: s.pending.shift() ?? null, events: [], last_ns: ev.end_ns };
      return { changed: true, duplicate: false, opened: true, exchanges };
    }
    case 'sse_event': {
      if (!s.open && s.replaying) return dup;
      if (!s.open) return { changed: false, duplicate: false, exchanges: [], orphan: 'sse event without an open streamed response' };
      if (ev.ordinal < s.open.events.length) return dup;
      const e: SseEvent = { event: ev.event, data: ev.data };
      if (ev.last_event_id !== undefined) e.last_event_id = ev.last_event_id;
      s.open.events.push(e);
      if (ev.end_ns > s.open.last_ns) s.open.last_ns = ev.end_ns;
      return { changed: false, duplicate: false, exchanges: [], appended: e };
    }
    case 'response_end': {
      if (!s.open || s.done.includes(ev.id)) {
        s.replaying = false;
        return dup;
      }
      const open = s.open;
      const exchange = finish(s, open, ev.end_ns, ev.body_incomplete);
      remember(s, ev.id);
      return { changed: true, duplicate: false, exchanges: [exchange] };
    }
    case 'response': {
      if (s.done.includes(ev.id)) return dup;
      const request = s.pending.shift() ?? null;
      remember(s, ev.id);
      if (request) remember(s, request.id);
      return {
        changed: true,
        duplicate: false,
        exchanges: [build(request, {
          status: ev.status, reason: ev.reason, version: ev.version, headers: ev.headers, body: ev.body,
          body_incomplete: ev.body_incomplete, events: [], streaming: false, start_ns: ev.start_ns, end_ns: ev.end_ns,
        }, ev)],
      };
    }
    case 'connection_end': {
      // Nothing more will come: an open stream ends as it is, unanswered requests become exchanges without response.
      const exchanges = s.open ? [finish(s, s.open, s.open.last_ns, 'short')] : [];
      for (const req of s.pending.splice(0)) {
        remember(s, req.id);
        exchanges.push(build(req, null, req));
      }
      s.replaying = false;
      return { changed: exchanges.length > 0, duplicate: false, exchanges, ended: true };
    }
  }
}

/** Ends the open streamed response of `s` as an exchange (body_incomplete when its end was not seen). */
function finish(s: ConnState, open: OpenResponse, endNs: bigint, incomplete?: 'short' | 'decode_error'): Exchange {
  s.open = null;
  remember(s, open.head.id);
  if (open.request) remember(s, open.request.id);
  const h = open.head;
  return build(open.request, {
    status: h.status, reason: h.reason, version: h.version, headers: h.headers, body: new Uint8Array(0),
    body_incomplete: incomplete, events: open.events, streaming: true, start_ns: h.start_ns, end_ns: endNs,
  }, h);
}

function remember(s: ConnState, id: string): void {
  s.done.push(id);
  if (s.done.length > DONE_IDS_KEPT) s.done.splice(0, s.done.length - DONE_IDS_KEPT);
}

function build(req: HttpRequestEvent | null, response: Exchange['response'], first: HttpEvent): Exchange {
  const anchor = req ?? first;
  const request = req
    ? { method: req.method, target: req.target, version: req.version, headers: req.headers, body: req.body,
        body_incomplete: req.body_incomplete, start_ns: req.start_ns, end_ns: req.end_ns }
    : { method: '', target: '', version: '', headers: [], body: new Uint8Array(0), start_ns: first.start_ns, end_ns: first.start_ns };
  if (response && response.body_incomplete === undefined) delete response.body_incomplete;
  if (request.body_incomplete === undefined) delete (request as { body_incomplete?: unknown }).body_incomplete;
  return {
    v: 1,
    id: deriveId('exchange', anchor.id),
    conn: anchor.conn,
    process: null,
    server_address: (req && headerValue(req.headers, 'host')) || '',
    request,
    response,
  };
}

/** Returns `ex` with the process joined (exchanges are built without it). */
export function withProcess(ex: Exchange, process: ProcessInfo | null): Exchange {
  return { ...ex, process };
}
