import { useQuery } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { Link } from 'react-router-dom';
import { get, type CallSummary, type Page } from '../api';
import { DataTable, FilterInput, Loaded, Pager, RangePicker } from '../components';
import { int, ms, time, usd } from '../format';
import { Inert } from '../Inert';
import { useParams, useRange } from '../url';

const col = createColumnHelper<CallSummary>();
const columns = [
  col.accessor('start_time', { header: 'start (UTC)', cell: (c) => <Link to={`/calls/${encodeURIComponent(c.row.original.call_id)}`}>{time(c.getValue())}</Link> }),
  col.accessor('process_name', { header: 'process', cell: (c) => <><Inert text={c.getValue()} /> <span className="muted">{c.row.original.pid}</span></> }),
  col.accessor((r) => r['gen_ai.provider.name'], { id: 'provider', header: 'provider', cell: (c) => <Inert text={c.getValue()} /> }),
  col.accessor((r) => r['gen_ai.response.model'] ?? r['gen_ai.request.model'], { id: 'model', header: 'model', cell: (c) => <Inert text={c.getValue() ?? '?'} /> }),
  col.accessor((r) => r['gen_ai.usage.input_tokens'], { id: 'input_tokens', header: 'in', cell: (c) => <span className="num">{int(c.getValue())}</span> }),
  col.accessor((r) => r['gen_ai.usage.output_tokens'], { id: 'output_tokens', header: 'out', cell: (c) => <span className="num">{int(c.getValue())}</span> }),
  col.accessor('cost_usd', { header: 'cost', cell: (c) => <span className="num">{usd(c.getValue())}</span> }),
  col.accessor('duration_ms', { header: 'duration', cell: (c) => <span className="num">{ms(c.getValue())}</span> }),
  col.accessor((r) => r['error.type'] ?? r['http.response.status_code'], { id: 'status', header: 'status', cell: (c) => <Inert text={String(c.getValue() ?? '')} /> }),
  col.accessor('tool_calls', { header: 'tool calls', cell: (c) => <Inert text={c.getValue().map((t) => t.name).join(', ')} /> }),
  col.accessor((r) => r['gen_ai.response.id'], { id: 'response_id', header: 'response id', cell: (c) => <Inert className="mono" text={c.getValue() ?? ''} /> }),
];

export function CallsPage() {
  const [p, set] = useParams();
  const r = useRange();
  const custom = Boolean(p.range || p.from);
  const params = { cursor: p.cursor, sort: p.sort, order: p.order, provider: p.provider, model: p.model, agent: p.agent, pid: p.pid, status: p.status, error: p.error, q: p.q, conversation: p.conversation, ...(custom ? { from: r.from, to: r.to } : {}) };
  const calls = useQuery({ queryKey: ['calls', params], queryFn: () => get<Page<CallSummary>>('llm-calls', params) });
  return (
    <div>
      <h1>LLM calls</h1>
      <div className="filters">
        <FilterInput name="q" label="search" width={24} />
        <FilterInput name="provider" label="provider" />
        <FilterInput name="model" label="model" width={16} />
        <FilterInput name="agent" label="agent" />
        <FilterInput name="pid" label="pid" width={7} />
        <label className="filter">status{' '}
          <select value={p.status ?? ''} onChange={(e) => set({ status: e.target.value || undefined })}>
            <option value="">any</option><option value="ok">ok</option><option value="error">error</option>
          </select>
        </label>
      </div>
      {custom ? <RangePicker /> : <p className="muted">all time · <button className="link" onClick={() => set({ range: '24h' })}>limit to a time range</button></p>}
      <Loaded q={calls}>
        {(page) => (
          <>
            <DataTable testId="calls-table" rows={page.items} columns={columns} empty="no LLM call matches"
              sortable={{ start_time: 'start_time', input_tokens: 'input_tokens', output_tokens: 'output_tokens', cost_usd: 'cost', duration_ms: 'duration' }} />
            <Pager next={page.next_cursor} />
          </>
        )}
      </Loaded>
    </div>
  );
}
