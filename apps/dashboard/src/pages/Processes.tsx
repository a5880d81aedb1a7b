import { useQuery } from '@tanstack/react-query';
import { createColumnHelper } from '@tanstack/react-table';
import { Link } from 'react-router-dom';
import { get, type AuditEntry, type Page } from '../api';
import { DataTable, FilterInput, Loaded, Pager } from '../components';
import { time } from '../format';
import { Inert } from '../Inert';
import { useParams } from '../url';

const col = createColumnHelper<AuditEntry>();
const columns = [
  col.accessor('ts', { header: 'time (UTC)', cell: (c) => time(c.getValue()) }),
  col.accessor((r) => `${r.type} ${r.action}`, { id: 'what', header: 'event' }),
  col.accessor('pid', { header: 'pid ← ppid', cell: (c) => `${c.getValue()} ← ${c.row.original.ppid}` }),
  col.accessor('comm', { header: 'comm', cell: (c) => <Inert text={c.getValue()} /> }),
  col.accessor('summary', { header: 'argv / path / address', cell: (c) => <Inert className="mono" text={c.getValue()} /> }),
  col.accessor((r) => (r.details as Record<string, unknown>), { id: 'detail', header: 'exit · uid', cell: (c) => {
    const d = c.getValue() as Record<string, unknown>;
    return [d.exit_code !== undefined ? `exit ${d.exit_code}` : '', d.duration_ns ? `${Math.round(Number(d.duration_ns) / 1e6)} ms` : '', d.uid !== undefined ? `uid ${d.uid}` : ''].filter(Boolean).join(' · ');
  } }),
  col.accessor('caused_by', { header: 'caused by', cell: (c) => {
    const x = c.getValue();
    return x ? <>tool <Inert text={x.tool_name} />{x.llm_call_id && <> of <Link to={`/calls/${encodeURIComponent(x.llm_call_id)}`}>LLM call</Link></>}{x.ambiguous ? ' (ambiguous)' : ''}</> : '';
  } }),
];

export function ProcessesPage() {
  const [p, set] = useParams();
  const params = { cursor: p.cursor, type: p.type, action: p.action, pid: p.pid, comm: p.comm, q: p.q };
  const q = useQuery({ queryKey: ['processes', params], queryFn: () => get<Page<AuditEntry>>('processes', params) });
  return (
    <div>
      <h1>Processes, files and connections</h1>
      <div className="filters">
        <label className="filter">type <select value={p.type ?? ''} onChange={(e) => set({ type: e.target.value || undefined })}>
          <option value="">all</option><option value="process">process</option><option value="file">file</option><option value="net">net</option>
        </select></label>
        <FilterInput name="q" label="argv / path / address" width={24} />
        <FilterInput name="pid" label="pid (or parent)" width={7} />
        <FilterInput name="comm" label="comm" />
        <FilterInput name="action" label="action" width={8} />
      </div>
      <Loaded q={q}>{(page) => <><DataTable testId="processes-table" rows={page.items} columns={columns} empty="no record matches" /><Pager next={page.next_cursor} /></>}</Loaded>
    </div>
  );
}
