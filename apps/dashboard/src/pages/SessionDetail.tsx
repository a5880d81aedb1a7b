import { useQuery } from '@tanstack/react-query';
import { useState, type JSX } from 'react';
import { Link, useParams } from 'react-router-dom';
import { get, type AuditEntry, type SessionDetail, type SessionResources } from '../api';
import { Chart } from '../charts';
import { Loaded } from '../components';
import { bytes, cpuSeconds, int, ms, time, usd } from '../format';
import { Inert, InertBlock } from '../Inert';

type Bar = { name: string; kind: 'invoke_agent' | 'chat' | 'execute_tool'; start: number; end: number };

/** Span waterfall: the invoke_agent span, its chat (LLM call) and execute_tool children as bars on one time axis. */
function waterfall(d: SessionDetail) {
  const bars: Bar[] = [];
  const t = (s: string | null | undefined) => (s ? Date.parse(s) : NaN);
  const s = d.session;
  const s0 = t(s.start_time ?? d.calls[0]?.start_time);
  const s1 = t(s.end_time) || s0;
  bars.push({ name: s.name, kind: 'invoke_agent', start: s0, end: Math.max(s1, s0 + 1) });
  for (const c of d.calls) bars.push({ name: `chat ${c['gen_ai.response.model'] ?? c['gen_ai.request.model'] ?? '?'}`, kind: 'chat', start: t(c.start_time), end: t(c.start_time) + Math.max(c.duration_ms, 1) });
  for (const x of d.tool_spans) bars.push({ name: x.name, kind: 'execute_tool', start: t(x.start_time ?? x.end_time), end: Math.max(t(x.end_time ?? x.start_time), t(x.start_time ?? x.end_time) + 1) });
  bars.sort((a, b) => (a.kind === 'invoke_agent' ? -1 : b.kind === 'invoke_agent' ? 1 : a.start - b.start));
  const colors = { invoke_agent: '#7c8da6', chat: '#4f8fe8', execute_tool: '#e0a030' };
  return {
    bars,
    option: {
      tooltip: { trigger: 'item', formatter: (p: { value: number[]; name: string }) => `${p.name}\n${Math.round(p.value[2] - p.value[1])} ms` },
      grid: { left: 220, right: 20, top: 10, bottom: 40 },
      xAxis: { type: 'value', min: s0, max: Math.max(...bars.map((b) => b.end)), axisLabel: { formatter: (v: number) => `+${Math.round(v - s0)} ms` } },
      yAxis: { type: 'category', inverse: true, data: bars.map((b, i) => `${i + 1}. ${b.name}`) },
      dataZoom: [{ type: 'inside', xAxisIndex: 0 }, { type: 'slider', xAxisIndex: 0, height: 14, bottom: 5 }],
      series: [{
        type: 'custom',
        renderItem: (_p: unknown, api: any) => {
          const i = api.value(0);
          const a = api.coord([api.value(1), i]);
          const b = api.coord([api.value(2), i]);
          const h = api.size([0, 1])[1] * 0.6;
          return { type: 'rect', shape: { x: a[0], y: a[1] - h / 2, width: Math.max(b[0] - a[0], 2), height: h }, style: { fill: api.visual('color') } };
        },
        encode: { x: [1, 2], y: 0 },
        data: bars.map((b, i) => ({ name: b.name, value: [i, b.start, b.end], itemStyle: { color: colors[b.kind] } })),
      }],
    },
  };
}

const MiB = 1 << 20;

/**
 * The agent's process tree over the session: CPU % (of one core; the mean since the previous sample, drawn as steps)
 * and RSS (MiB) from its resource samples, with the LLM calls (blue) and tool uses (orange) drawn as bands under them
 * (at least 1/200 of the axis wide and inside it, so a short call stays visible, the last one too).
 */
function resourceChart(d: SessionDetail, r: SessionResources) {
  const t = (s: string | null | undefined) => (s ? Date.parse(s) : NaN);
  const last = r.points.length ? t(r.points[r.points.length - 1].ts) : t(d.session.end_time);
  const x0 = Math.min(t(d.session.start_time ?? d.session.end_time), t(r.points[0]?.ts));
  const x1 = Math.max(t(d.session.end_time ?? d.session.start_time), last);
  // A call of 50 ms in a session of minutes would be a hair: bands are at least 1/200 of the axis wide, widened to
  // the right, or to the left where the axis ends (the session's last call ends at its end).
  const minWidth = Number.isFinite(x1 - x0) ? Math.max(1, (x1 - x0) / 200) : 1;
  const band = (name: string, from: number, to: number, color: string) => {
    const lo = Number.isFinite(x0) && Number.isFinite(x1) ? Math.max(x0, Math.min(from, x1 - minWidth)) : from;
    return [{ name, xAxis: lo, itemStyle: { color } }, { xAxis: Math.max(to, lo + minWidth) }];
  };
  // Tool bands first, LLM calls over them (a call's band can reach into the tool that follows it).
  const bands = [
    ...r.tool_uses.map((u) => band(`tool ${u.name}`, t(u.start_time ?? u.end_time), u.end_time ? t(u.end_time) : last, 'rgba(224, 160, 48, 0.28)')),
    ...d.calls.map((c) => band(`LLM ${c['gen_ai.response.model'] ?? c['gen_ai.request.model'] ?? '?'}`, t(c.start_time), t(c.start_time) + c.duration_ms, 'rgba(79, 143, 232, 0.35)')),
  ].filter(([a, b]) => Number.isFinite(a.xAxis) && Number.isFinite(b.xAxis));
  return {
    tooltip: { trigger: 'axis' },
    legend: { data: ['CPU %', 'RSS MiB'], top: 0 },
    grid: { left: 60, right: 70, top: 30, bottom: 40 },
    // The whole session, and the samples around it.
    xAxis: { type: 'time', min: x0 || undefined, max: x1 || undefined },
    yAxis: [{ type: 'value', name: 'CPU %', min: 0 }, { type: 'value', name: 'RSS MiB', min: 0 }],
    dataZoom: [{ type: 'inside', xAxisIndex: 0 }, { type: 'slider', xAxisIndex: 0, height: 14, bottom: 5 }],
    series: [
      {
        name: 'CPU %', type: 'line', step: 'end', showSymbol: false, yAxisIndex: 0, data: r.points.map((p) => [t(p.ts), p.cpu_pct]),
        markArea: { silent: true, label: { show: false }, data: bands },
      },
      { name: 'RSS MiB', type: 'line', showSymbol: false, yAxisIndex: 1, data: r.points.map((p) => [t(p.ts), Math.round((p.rss_bytes / MiB) * 10) / 10]) },
    ],
  };
}

/** The session's resources: the chart, and each tool use's CPU seconds and peak RSS (why not, when not sampled). */
function Resources({ d, id }: { d: SessionDetail; id: string }) {
  const q = useQuery({ queryKey: ['session-resources', id], queryFn: () => get<SessionResources>(`agent-sessions/${encodeURIComponent(id)}/resources`) });
  return (
    <Loaded q={q}>
      {(r) => (
        <div data-testid="session-resources">
          {r.points.length
            ? <Chart testId="resource-chart" option={resourceChart(d, r)} height={260} />
            : <p className="muted" data-testid="resource-note"><Inert text={r.note ?? ''} /></p>}
          {r.tool_uses.length > 0 && (
            <table className="grid compact" data-testid="tool-resources">
              <thead><tr><th>tool</th><th>call id</th><th>start</th><th>duration</th><th>CPU</th><th>peak RSS</th><th>net sent</th><th>net recv</th><th>note</th></tr></thead>
              <tbody>{r.tool_uses.map((u) => (
                <tr key={u.id}>
                  <td><Inert text={u.name} /></td><td className="mono"><Inert text={u.call_id ?? ''} /></td><td>{time(u.start_time)}</td><td>{ms(u.duration_ms)}</td>
                  <td className="num" data-testid="tool-cpu">{cpuSeconds(u.cpu_s)}</td><td className="num" data-testid="tool-rss">{u.peak_rss_bytes === null ? '—' : bytes(u.peak_rss_bytes)}</td>
                  <td className="num" data-testid="tool-net-sent">{u.net_sent_bytes === null ? '—' : bytes(u.net_sent_bytes)}</td><td className="num" data-testid="tool-net-recv">{u.net_recv_bytes === null ? '—' : bytes(u.net_recv_bytes)}</td>
                  <td className="muted"><Inert text={u.resources_note ?? ''} /></td>
                </tr>
              ))}</tbody>
            </table>
          )}
        </div>
      )}
    </Loaded>
  );
}

/** The agent's process tree: each process (exec) under its parent, with its file opens and connects, and the tool use that caused it. */
function ProcessTree({ audit, agentPid }: { audit: AuditEntry[]; agentPid: number }) {
  const execs = audit.filter((a) => a.type === 'process' && a.action === 'exec');
  const children = (pid: number) => execs.filter((e) => e.ppid === pid && e.pid !== pid);
  const others = (pid: number) => audit.filter((a) => a.pid === pid && (a.type === 'file' || a.type === 'net'));
  const node = (pid: number, label: string, depth: number, cause?: AuditEntry['caused_by']): JSX.Element => (
    <li key={`${pid}-${depth}-${label}`}>
      <span className="mono">pid {pid}</span> <Inert className="mono" text={label} />
      {cause && <span className="cause"> ← tool <Inert text={cause.tool_name} /> {cause.call_id && <span className="mono muted"><Inert text={cause.call_id} /></span>} {cause.llm_call_id && <Link to={`/calls/${encodeURIComponent(cause.llm_call_id)}`}>LLM call</Link>}{cause.ambiguous ? ' (ambiguous)' : ''}</span>}
      <ul>
        {others(pid).length > 0 && (
          <li className="leaf">
            <details open={others(pid).length <= 8}>
              <summary>{others(pid).filter((o) => o.type === 'file').length} file opens · {others(pid).filter((o) => o.type === 'net').length} connects</summary>
              <ul>{others(pid).slice(0, 500).map((o) => <li key={o.id} className="leaf">{o.type} <Inert className="mono" text={o.summary} />{o.caused_by && <span className="cause"> ← tool <Inert text={o.caused_by.tool_name} /></span>}</li>)}</ul>
            </details>
          </li>
        )}
        {depth < 20 && children(pid).map((c) => node(c.pid, String((c.details.argv as string[] | undefined)?.join(' ') ?? c.summary), depth + 1, c.caused_by))}
      </ul>
    </li>
  );
  const self = execs.filter((e) => e.pid === agentPid).pop();
  const label = self ? String((self.details.argv as string[] | undefined)?.join(' ') ?? self.summary) : '(agent; its exec was not captured)';
  return <ul className="tree" data-testid="process-tree">{node(agentPid, label, 0)}</ul>;
}

/** One timeline of the session: calls, tool uses and audit records, filterable by type, command/path and pid. */
function Timeline({ d }: { d: SessionDetail }) {
  const [type, setType] = useState('');
  const [text, setText] = useState('');
  const [pid, setPid] = useState('');
  const rows = [
    ...d.calls.map((c) => ({ t: c.start_time, type: 'llm', pid: c.pid, what: `chat ${c['gen_ai.response.model'] ?? '?'} · ${int(c['gen_ai.usage.input_tokens'])} in / ${int(c['gen_ai.usage.output_tokens'])} out`, id: c.call_id, link: `/calls/${encodeURIComponent(c.call_id)}` })),
    ...d.tool_uses.map((x) => ({ t: x.start_time ?? x.end_time ?? '', type: 'tool', pid: x.pid, what: `${x.name} ${x.arguments}`, id: x.id, link: '' })),
    ...d.audit.map((a) => ({ t: a.ts, type: a.type, pid: a.pid, what: a.summary, id: a.id, link: '' })),
  ].sort((a, b) => a.t.localeCompare(b.t))
    .filter((r) => (!type || r.type === type) && (!text || r.what.toLowerCase().includes(text.toLowerCase())) && (!pid || String(r.pid) === pid));
  return (
    <>
      <div className="filters">
        <label className="filter">type <select value={type} onChange={(e) => setType(e.target.value)}><option value="">all</option>{['llm', 'tool', 'process', 'file', 'net'].map((t) => <option key={t}>{t}</option>)}</select></label>
        <label className="filter">command / path <input value={text} onChange={(e) => setText(e.target.value)} /></label>
        <label className="filter">pid <input size={7} value={pid} onChange={(e) => setPid(e.target.value)} /></label>
      </div>
      <table className="grid compact" data-testid="timeline">
        <thead><tr><th>time</th><th>type</th><th>pid</th><th>what</th></tr></thead>
        <tbody>{rows.map((r) => <tr key={r.type + r.id}><td>{time(r.t)}</td><td>{r.type}</td><td>{r.pid}</td><td className="mono">{r.link ? <Link to={r.link}><Inert text={r.what} /></Link> : <Inert text={r.what} />}</td></tr>)}</tbody>
      </table>
    </>
  );
}

function Conversation({ d }: { d: SessionDetail }) {
  return (
    <div className="conversation" data-testid="conversation">
      {d.calls.map((c) => (
        <div key={c.call_id} className="turn">
          {c.new_messages.filter((m) => !(m.role === 'tool' && m.tool_call_id && d.tool_uses.some((u) => u.call_id === m.tool_call_id))).map((m, i) => (
            m.role === 'system' ? <details key={i} className="msg system"><summary>system prompt</summary><InertBlock text={m.text} json={false} /></details>
              : <div key={i} className={`msg ${m.role}`}><span className="role">{m.role}</span><InertBlock text={m.text} json={false} /></div>
          ))}
          <div className="msg assistant">
            <span className="role">assistant</span>{' '}
            <Link className="meta" to={`/calls/${encodeURIComponent(c.call_id)}`}><Inert text={c['gen_ai.response.model'] ?? '?'} /> · {int(c['gen_ai.usage.input_tokens'])} in · {int(c['gen_ai.usage.output_tokens'])} out · {usd(c.cost_usd)} · {ms(c.duration_ms)}</Link>
            {c['gen_ai.usage.reasoning.output_tokens'] ? <details><summary>reasoning ({int(c['gen_ai.usage.reasoning.output_tokens'])} tokens; text not stored)</summary></details> : null}
            {c.output_text && <InertBlock text={c.output_text} json={false} />}
            {c.tool_calls.map((t, i) => {
              const use = d.tool_uses.find((u) => u.origin_llm_call_id === c.call_id && u.name === t.name);
              return (
                <div key={i} className="toolcall" data-testid="toolcall">
                  <div>tool call <b><Inert text={t.name} /></b></div>
                  <InertBlock text={typeof t.arguments === 'string' ? t.arguments : JSON.stringify(t.arguments)} />
                  {use && <><div className="muted">result {use.success === false ? '(failed)' : ''} · {ms(use.duration_ms)}</div><InertBlock text={use.result ?? '(pending)'} json={false} /></>}
                </div>
              );
            })}
          </div>
        </div>
      ))}
    </div>
  );
}

export function SessionDetailPage() {
  const { id = '' } = useParams();
  const q = useQuery({ queryKey: ['session', id], queryFn: () => get<SessionDetail>(`agent-sessions/${encodeURIComponent(id)}`) });
  return (
    <Loaded q={q}>
      {(d) => {
        const s = d.session;
        const w = waterfall(d);
        return (
          <div data-testid="session-detail">
            <h1>Session <Inert text={s.agent_name ?? s.process_name} /> <Inert className="mono muted" text={s.conversation_id ?? ''} /></h1>
            <p>{int(s.llm_calls)} LLM calls · {int(s.tool_uses)} tool uses ({int(s.tool_errors)} failed) · {int(s.input_tokens)} in / {int(s.output_tokens)} out · {usd(s.cost_usd)}{s.unpriced_calls ? ` + ${s.unpriced_calls} unpriced` : ''} · {time(s.start_time)} → {time(s.end_time)} · pid {s.pid} on <Inert text={s.host} /> · <b data-testid="session-state">{d.live ? 'live' : 'ended'}</b></p>
            <h2>span waterfall</h2>
            <Chart testId="waterfall" option={w.option} height={Math.max(120, 40 + w.bars.length * 28)} />
            <h2>resources (CPU, memory of the agent's process tree)</h2>
            <Resources d={d} id={id} />
            <h2>conversation</h2>
            <Conversation d={d} />
            <h2>process tree (causal links)</h2>
            <ProcessTree audit={d.audit} agentPid={s.pid} />
            {d.audit_truncated && <p className="error">the process tree is cut at {d.audit.length} records</p>}
            <h2>timeline</h2>
            <Timeline d={d} />
          </div>
        );
      }}
    </Loaded>
  );
}
