/**
 * Incremental server-sent-events decoder following WHATWG HTML §9.2.6 "Interpreting an event stream":
 * - the stream is UTF-8 (a leading BOM is dropped, invalid sequences become U+FFFD);
 * - lines end with CRLF, LF or CR (a CRLF split across two `push` calls is still one line end);
 * - a line starting with `:` is a comment and ignored; `field:value` drops one space after the colon; a line without
 *   a colon is a field with an empty value;
 * - `data` lines are appended to the data buffer followed by LF, `event` sets the type, `id` (without NUL) sets the
 *   last-event-id buffer, which persists across events; `retry` and unknown fields are ignored;
 * - a blank line dispatches: if the data buffer is empty nothing is dispatched, else the trailing LF is removed and an
 *   event `{event: type || 'message', data, last_event_id}` is produced;
 * - at end of stream an incomplete event (no terminating blank line) is discarded, as the spec says; its presence is
 *   reported by {@link SseDecoder.end}.
 *
 * Lines are cut on bytes (CR and LF never occur inside multi-byte UTF-8 sequences), then decoded once per line, so a
 * line straddling any number of pushes costs one copy.
 */
import type { SseEvent } from '@agentsight/contracts';

const LF = 0x0a;
const CR = 0x0d;
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** Thrown when one line or one event's data grows beyond the decoder's cap (bytes). */
export class SseTooLargeError extends Error {}

export class SseDecoder {
  /** Bytes of the current, not yet terminated line. */
  private partial: Uint8Array[] = [];
  private partialBytes = 0;
  /** The previous push ended with CR: a leading LF of the next push belongs to that line end. */
  private pendingCr = false;
  private atStreamStart = true;
  private data: string[] = [];
  private dataChars = 0;
  private eventType = '';
  private lastEventId = '';
  /** True once the current event has at least one field line (data or not): used to report a discarded tail. */
  private eventOpen = false;

  /** @param maxEventBytes cap on one line and on one event's data (bytes / UTF-16 units), else {@link SseTooLargeError}. */
  constructor(private readonly maxEventBytes: number = 256 * 1024 * 1024) {}

  /**
   * Feeds decoded body bytes; `onEvent` is called for every event completed by them, in order. Throws
   * {@link SseTooLargeError} when a line or an event outgrows the cap.
   */
  push(bytes: Uint8Array, onEvent: (e: SseEvent) => void): void {
    let start = 0;
    let i = 0;
    const n = bytes.length;
    if (this.pendingCr && n > 0) {
      this.pendingCr = false;
      if (bytes[0] === LF) start = i = 1;
    }
    for (; i < n; i++) {
      const b = bytes[i];
      if (b !== LF && b !== CR) continue;
      this.line(bytes.subarray(start, i), onEvent);
      if (b === CR) {
        if (i + 1 < n) {
          if (bytes[i + 1] === LF) i++;
        } else this.pendingCr = true;
      }
      start = i + 1;
    }
    if (start < n) {
      const rest = bytes.subarray(start);
      this.partialBytes += rest.length;
      if (this.partialBytes > this.maxEventBytes) throw new SseTooLargeError(`SSE line exceeds ${this.maxEventBytes} bytes`);
      this.partial.push(rest);
    }
  }

  /** True when bytes of an undispatched event (or of an unterminated line) are held. */
  pending(): boolean {
    return this.partialBytes > 0 || this.eventOpen;
  }

  /**
   * End of stream. Returns true when an unterminated event was discarded (per spec). A final line without a line
   * terminator is processed as a line first (it cannot dispatch: only a blank line does).
   */
  end(): boolean {
    if (this.partialBytes > 0) this.line(new Uint8Array(0), () => undefined);
    const discarded = this.eventOpen;
    this.data = [];
    this.dataChars = 0;
    this.eventType = '';
    this.eventOpen = false;
    return discarded;
  }

  private line(tail: Uint8Array, onEvent: (e: SseEvent) => void): void {
    let bytes = tail;
    if (this.partialBytes > 0) {
      this.partial.push(tail);
      const total = this.partialBytes + tail.length;
      bytes = new Uint8Array(total);
      let w = 0;
      for (const p of this.partial) {
        bytes.set(p, w);
        w += p.length;
      }
      this.partial = [];
      this.partialBytes = 0;
    }
    if (this.atStreamStart) {
      this.atStreamStart = false;
      if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    }
    if (bytes.length === 0) {
      this.dispatch(onEvent);
      return;
    }
    if (bytes[0] === 0x3a /* ':' */) return;
    const text = utf8.decode(bytes);
    const colon = text.indexOf(':');
    let field: string;
    let value: string;
    if (colon < 0) {
      field = text;
      value = '';
    } else {
      field = text.slice(0, colon);
      value = text.charCodeAt(colon + 1) === 0x20 ? text.slice(colon + 2) : text.slice(colon + 1);
    }
    this.eventOpen = true;
    switch (field) {
      case 'data':
        this.dataChars += value.length + 1;
        if (this.dataChars > this.maxEventBytes) throw new SseTooLargeError(`SSE event data exceeds ${this.maxEventBytes} bytes`);
        this.data.push(value);
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.lastEventId = value;
        break;
      default:
        // `retry` and unknown fields: ignored.
        break;
    }
  }

  private dispatch(onEvent: (e: SseEvent) => void): void {
    const had = this.data.length > 0;
    const data = this.data.join('\n');
    const event = this.eventType || 'message';
    this.data = [];
    this.dataChars = 0;
    this.eventType = '';
    this.eventOpen = false;
    if (!had) return;
    const e: SseEvent = { event, data };
    if (this.lastEventId !== '') e.last_event_id = this.lastEventId;
    onEvent(e);
  }
}
