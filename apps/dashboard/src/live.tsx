/**
 * The live channel: one EventSource on `/api/live` (Server-Sent Events). Each `stored` event names the table of a row
 * just stored; the views that show that table are refetched (at most every 250 ms), so a new call, tool use, process
 * or session total reaches an open page without a reload and without polling.
 */
import { useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import type { LiveEvent } from '@agentsight/contracts';

/** Query-key roots refetched when a row of a table is stored. */
const AFFECTS: Record<string, string[]> = {
  llm_calls: ['overview', 'timeseries', 'calls', 'call', 'sessions', 'session'],
  exchanges: ['call'],
  tool_uses: ['overview', 'call', 'session', 'sessions'],
  genai_spans: ['overview', 'sessions', 'session'],
  audit_events: ['overview', 'processes', 'session', 'call'],
  dead_letters: ['overview', 'capture'],
};

export interface LiveState {
  connected: boolean;
  /** Rows stored since the page opened. */
  events: number;
  last: LiveEvent | null;
}

const Ctx = createContext<LiveState>({ connected: false, events: 0, last: null });

export function LiveProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const [state, setState] = useState<LiveState>({ connected: false, events: 0, last: null });
  useEffect(() => {
    const es = new EventSource('/api/live');
    const pending = new Set<string>();
    let timer: ReturnType<typeof setTimeout> | null = null;
    const flush = () => {
      timer = null;
      const roots = new Set([...pending].flatMap((t) => AFFECTS[t] ?? []));
      pending.clear();
      void qc.invalidateQueries({ predicate: (q) => roots.has(String(q.queryKey[0])) });
      if (roots.has('capture') || roots.size) void qc.invalidateQueries({ queryKey: ['capture'] });
    };
    es.onopen = () => setState((s) => ({ ...s, connected: true }));
    es.onerror = () => setState((s) => ({ ...s, connected: false }));
    es.addEventListener('stored', (m) => {
      let e: LiveEvent;
      try {
        e = JSON.parse((m as MessageEvent<string>).data);
      } catch {
        return;
      }
      pending.add(e.table);
      setState((s) => ({ connected: true, events: s.events + 1, last: e }));
      if (!timer) timer = setTimeout(flush, 250);
    });
    return () => {
      es.close();
      if (timer) clearTimeout(timer);
    };
  }, [qc]);
  return <Ctx.Provider value={state}>{children}</Ctx.Provider>;
}

export function useLive(): LiveState {
  return useContext(Ctx);
}
