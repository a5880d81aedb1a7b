import { useQuery } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { Link } from 'react-router-dom';
import { get, type Page, type SessionEntry } from '../api';
import { DataTable, FilterInput, Loaded, Pager, RangePicker } from '../components';
import { int, ms, time, usd } from '../format';
import { Inert } from '../Inert';
import { useParams, useRange } from '../url';

const col = createColumnHelper<SessionEntry>();
const columns = [
  col.accessor('agent_name', { header: 'agent', cell: (c) => c.row.original.conversation_id
    ? <Link to={`/sessions/${encodeURIComponent(c.row.original.conversation_id)}`}><Inert text={c.getValue() ?? c.row.original.process_name} /></Link>
    : <Inert text={c.getValue() ?? c.row.original.process_name} /> }),
  col.accessor('conversation_id', { header: 'conversation', cell: (c) => <Inert className="mono" text={c.getValue() ?? ''} /> }),
  col.accessor('first_prompt', { header: 'first user prompt', cell: (c) => <Inert className="prompt" text={(c.getValue() ?? '').slice(0, 160)} /> }),
  col.accessor('llm_calls', { header: 'calls', cell: (c) => int(c.getValue()) }),
  col.accessor('tool_uses', { header: 'tools', cell: (c) => `${int(c.getValue())}${c.row.original.tool_errors ? ` (${c.row.original.tool_errors} failed)` : ''}` }),
  col.accessor((r) => r.input_tokens + r.output_tokens, { id: 'tokens', header: 'tokens', cell: (c) => int(c.getValue()) }),
  col.accessor('cost_usd', { header: 'cost', cell: (c) => `${usd(c.getValue())}${c.row.original.unpriced_calls && c.getValue() !== null ? ` + ${c.row.original.unpriced_calls} unpriced` : ''}` }),
  col.accessor('start_time', { header: 'first activity', cell: (c) => time(c.getValue()) }),
  col.accessor('end_time', { header: 'last activity', cell: (c) => time(c.getValue()) }),
  col.accessor('duration_ms', { header: 'span', cell: (c) => ms(c.getValue()) }),
  col.accessor('live', { header: 'state', cell: (c) => (c.getValue() ? 'live' : 'ended') }),
];

export function SessionsPage() {
  const [p, set] = useParams();
  const r = useRange();
  const custom = Boolean(p.range || p.from);
  const params = { cursor: p.cursor, sort: p.sort, order: p.order, agent: p.agent, model: p.model, q: p.q, ...(custom ? { from: r.from, to: r.to } : {}) };
  const q = useQuery({ queryKey: ['sessions', params], queryFn: () => get<Page<SessionEntry>>('agent-sessions', params) });
  return (
    <div>
      <h1>Agent sessions</h1>
      <div className="filters">
        <FilterInput name="q" label="search prompts, answers, tools" width={28} />
        <FilterInput name="agent" label="agent" />
        <FilterInput name="model" label="model" width={16} />
      </div>
      {custom ? <RangePicker /> : <p className="muted">all time · <button className="link" onClick={() => set({ range: '24h' })}>limit to a time range</button></p>}
      <Loaded q={q}>{(page) => <><DataTable testId="sessions-table" rows={page.items} columns={columns} empty="no session matches"
        sortable={{ llm_calls: 'llm_calls', tool_uses: 'tool_uses', tokens: 'tokens', cost_usd: 'cost', start_time: 'first_activity', end_time: 'last_activity', duration_ms: 'duration' }} /><Pager next={page.next_cursor} /></>}</Loaded>
    </div>
  );
}
