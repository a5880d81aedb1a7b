import {
  BodyIncomplete, deriveId, Exchange, headerValue, HttpEvent, HttpRequestEvent, HttpResponseHeadEvent, HttpSseEvent, ProcessInfo, SseEvent, StreamReset,
} from '@agentsight/contracts';

/** How many finished message ids a connection remembers to drop replayed duplicates (HTTP/2 streams add 3–4 each). */
export const DONE_IDS_KEPT = 256;

/** A streamed response being gathered: its head, the request it answers, and its SSE events so far. */
export interface OpenResponse {
  head: HttpResponseHeadEvent;
  request: HttpRequestEvent | null;
  events: SseEvent[];
  /** Wall-clock ns of the record carrying the first SSE event's first byte; absent until one arrived. */
  first_event_ns?: bigint;
  /** Wall-clock ns of the last byte seen so far. */
  last_ns: bigint;
}

/**
 * One HTTP/2 stream being paired: its request (null until seen) and its streamed response in progress (null until a
 * `response_head`). Streams are independent: each has its own request and response, never another stream's.
 */
export interface StreamSlot {
  request: HttpRequestEvent | null;
  open: OpenResponse | null;
}

/**
 * Pairing state of one TLS connection. HTTP/1.1: responses come in request order (RFC 9112 §9.3); `pending` requests
 * await a response, `open` is a streamed response in progress. HTTP/2 (events with `stream_id`): pairing is by stream,
 * in `streams` (key = stream id in decimal), so concurrent streams never mix. `done` holds ids of recently finished
 * messages (and `h2:<stream id>` of finished streams) so a replayed duplicate is recognised.
 */
export interface ConnState {
  pending: HttpRequestEvent[];
  open: OpenResponse | null;
  done: string[];
  /** Set while the events of an already finished streamed response are being replayed. */
  replaying: boolean;
  /** HTTP/2 streams with a request or response in progress. Absent until the connection's first HTTP/2 event. */
  streams?: Record<string, StreamSlot>;
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
  /** HTTP/2: the stream whose SSE event list `opened`/`appended` concern (absent: the connection's HTTP/1.1 list). */
  stream_id?: number;
  /** HTTP/2: streams whose SSE event lists are no longer needed (their exchange is finished). */
  closedStreams?: number[];
}

/**
 * Applies one HTTP event of a connection to its state (mutating `s`), in the connection's event order. Idempotent
 * for events replayed after a restart: requests by id, SSE events by ordinal, responses by id.
 */
export function applyEvent(s: ConnState, ev: HttpEvent): Applied {
  if (ev.stream_id !== undefined && ev.type !== 'connection_end') return applyStreamEvent(s, ev, ev.stream_id);
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
      const e = sseEventOf(ev);
      if (s.open.events.length === 0) s.open.first_event_ns = ev.start_ns;
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
    case 'stream_reset':
      // Only HTTP/2 emits it, always with a stream id.
      return { changed: false, duplicate: false, exchanges: [], orphan: 'stream_reset without stream_id' };
    case 'connection_end': {
      // Nothing more will come: an open stream ends as it is, unanswered requests become exchanges without response.
      const exchanges = s.open ? [finish(s, s.open, s.open.last_ns, 'short')] : [];
      for (const req of s.pending.splice(0)) {
        remember(s, req.id);
        exchanges.push(build(req, null, req));
      }
      // HTTP/2 streams still in progress, in stream order.
      const closedStreams: number[] = [];
      for (const key of Object.keys(s.streams ?? {}).sort((a, b) => Number(a) - Number(b))) {
        const slot = s.streams![key];
        const sid = Number(key);
        closedStreams.push(sid);
        if (slot.open) exchanges.push(finish(s, slot.open, slot.open.last_ns, 'short', sid));
        else if (slot.request) {
          remember(s, slot.request.id);
          exchanges.push(build(slot.request, null, slot.request, sid));
        }
        remember(s, `h2:${sid}`);
      }
      if (s.streams) s.streams = {};
      s.replaying = false;
      return { changed: exchanges.length > 0 || closedStreams.length > 0, duplicate: false, exchanges, ended: true, closedStreams };
    }
  }
}

/** The SSE event an `sse_event` carries, as an exchange keeps it: `event`, `data`, and `last_event_id` when set. */
function sseEventOf(ev: HttpSseEvent): SseEvent {
  const e: SseEvent = { event: ev.event, data: ev.data };
  if (ev.last_event_id !== undefined) e.last_event_id = ev.last_event_id;
  return e;
}

/**
 * An HTTP/2 event of stream `sid` (RFC 9113 §5: each stream is one request and its response). Idempotent for replays
 * like {@link applyEvent}: finished streams are remembered as `h2:<sid>` in `done`.
 */
function applyStreamEvent(s: ConnState, ev: Exclude<HttpEvent, { type: 'connection_end' }>, sid: number): Applied {
  const dup: Applied = { changed: false, duplicate: true, exchanges: [], stream_id: sid };
  const streams = (s.streams ??= {});
  const key = String(sid);
  const closed = s.done.includes(`h2:${sid}`);
  const slot = (): StreamSlot => (streams[key] ??= { request: null, open: null });
  /** The stream's exchange is finished: forget it (its id stays in `done`). */
  const close = (exchanges: Exchange[]): Applied => {
    delete streams[key];
    remember(s, `h2:${sid}`);
    return { changed: true, duplicate: false, exchanges, stream_id: sid, closedStreams: [sid] };
  };
  if (closed) return dup;
  switch (ev.type) {
    case 'request': {
      const sl = slot();
      if (sl.request?.id === ev.id) return dup;
      sl.request = ev;
      // A response that began first (the server answered before the request body ended) now has its request.
      if (sl.open) sl.open.request = ev;
      if (ev.body_incomplete === 'reset' && !sl.open) return close([build(ev, null, ev, sid, ev.reset)]);
      return { changed: true, duplicate: false, exchanges: [], stream_id: sid };
    }
    case 'response_head': {
      const sl = slot();
      if (sl.open?.head.id === ev.id) return dup;
      sl.open = { head: ev, request: sl.request, events: [], last_ns: ev.end_ns };
      return { changed: true, duplicate: false, opened: true, exchanges: [], stream_id: sid };
    }
    case 'sse_event': {
      const open = streams[key]?.open;
      if (!open) return { changed: false, duplicate: false, exchanges: [], orphan: `sse event without an open streamed response on HTTP/2 stream ${sid}`, stream_id: sid };
      if (ev.ordinal < open.events.length) return dup;
      const e = sseEventOf(ev);
      if (open.events.length === 0) open.first_event_ns = ev.start_ns;
      open.events.push(e);
      if (ev.end_ns > open.last_ns) open.last_ns = ev.end_ns;
      return { changed: false, duplicate: false, exchanges: [], appended: e, stream_id: sid };
    }
    case 'response_end': {
      const open = streams[key]?.open;
      if (!open) return { changed: false, duplicate: false, exchanges: [], orphan: `response_end without an open streamed response on HTTP/2 stream ${sid}`, stream_id: sid };
      remember(s, ev.id);
      return close([finish(s, open, ev.end_ns, ev.body_incomplete, sid, ev.reset)]);
    }
    case 'response': {
      const request = streams[key]?.request ?? null;
      remember(s, ev.id);
      if (request) remember(s, request.id);
      return close([build(request, {
        status: ev.status, reason: ev.reason, version: ev.version, headers: ev.headers, body: ev.body,
        body_incomplete: ev.body_incomplete, events: [], streaming: false, start_ns: ev.start_ns, end_ns: ev.end_ns,
      }, ev, sid, ev.reset)]);
    }
    case 'stream_reset': {
      const sl = streams[key];
      if (!sl) return { changed: false, duplicate: false, exchanges: [], stream_id: sid };
      if (sl.open) return close([finish(s, sl.open, sl.open.last_ns, 'reset', sid, ev.reset)]);
      if (!sl.request) return close([]);
      remember(s, sl.request.id);
      return close([build(sl.request, null, sl.request, sid, ev.reset)]);
    }
  }
}

/**
 * Ends a streamed response as an exchange (body_incomplete when its end was not seen): the connection's HTTP/1.1 one,
 * or that of HTTP/2 stream `sid` (the caller drops the stream's slot).
 */
function finish(s: ConnState, open: OpenResponse, endNs: bigint, incomplete?: BodyIncomplete, sid?: number, reset?: StreamReset): Exchange {
  if (sid === undefined) s.open = null;
  remember(s, open.head.id);
  if (open.request) remember(s, open.request.id);
  const h = open.head;
  return build(open.request, {
    status: h.status, reason: h.reason, version: h.version, headers: h.headers, body: new Uint8Array(0),
    body_incomplete: incomplete, events: open.events, streaming: true, start_ns: h.start_ns, end_ns: endNs,
    ...(open.first_event_ns !== undefined ? { first_event_ns: open.first_event_ns } : {}),
  }, h, sid, reset);
}

function remember(s: ConnState, id: string): void {
  s.done.push(id);
  if (s.done.length > DONE_IDS_KEPT) s.done.splice(0, s.done.length - DONE_IDS_KEPT);
}

function build(req: HttpRequestEvent | null, response: Exchange['response'], first: HttpEvent, sid?: number, reset?: StreamReset): Exchange {
  const anchor = req ?? first;
  const request = req
    ? { method: req.method, target: req.target, version: req.version, headers: req.headers, body: req.body,
        body_incomplete: req.body_incomplete, start_ns: req.start_ns, end_ns: req.end_ns }
    : { method: '', target: '', version: '', headers: [], body: new Uint8Array(0), start_ns: first.start_ns, end_ns: first.start_ns };
  if (response && response.body_incomplete === undefined) delete response.body_incomplete;
  if (request.body_incomplete === undefined) delete (request as { body_incomplete?: unknown }).body_incomplete;
  const ex: Exchange = {
    v: 1,
    id: deriveId('exchange', anchor.id),
    conn: anchor.conn,
    process: null,
    server_address: (req && headerValue(req.headers, 'host')) || '',
    request,
    response,
  };
  if (sid !== undefined) ex.stream_id = sid;
  const why = reset ?? req?.reset;
  if (why) ex.stream_reset = why;
  return ex;
}

/** Returns `ex` with the process joined (exchanges are built without it). */
export function withProcess(ex: Exchange, process: ProcessInfo | null): Exchange {
  return { ...ex, process };
}
