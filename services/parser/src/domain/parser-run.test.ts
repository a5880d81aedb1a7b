/** Test helper of the parser specs (not a spec itself): feeds records to an HttpStreamParser and gathers what it emits. */
import type { HttpEvent, RawSslRecord } from '@agentsight/contracts';
import type { HttpStreamParser } from './http-stream-parser';
import type { ParserDeadLetter } from './types';

/** Pushes `recs` in order; every event and dead-letter draft the parser emitted, in order. */
export function run(p: HttpStreamParser, recs: RawSslRecord[]): { events: HttpEvent[]; deadLetters: ParserDeadLetter[] } {
  const events: HttpEvent[] = [];
  const deadLetters: ParserDeadLetter[] = [];
  for (const r of recs) {
    const o = p.push(r);
    events.push(...o.events);
    deadLetters.push(...o.deadLetters);
  }
  return { events, deadLetters };
}
