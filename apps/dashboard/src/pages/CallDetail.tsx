import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'react-router-dom';
import { get, type AuditEntry, type CallDetailResponse } from '../api';
import { Loaded } from '../components';
import { int, ms, time, usd } from '../format';
import { Inert, InertBlock } from '../Inert';

function Headers({ h }: { h: Array<[string, string]> }) {
  return (
    <table className="grid compact mono">
      <tbody>{h.map(([k, v], i) => <tr key={i}><td><Inert text={k} /></td><td><Inert text={v} /></td></tr>)}</tbody>
    </table>
  );
}

/** SSE events of a stored streamed response (`event:`/`id:`/`data:` lines, events separated by a blank line), in order. */
function sseEvents(text: string): Array<{ event: string; data: string }> {
  return text.split(/\n\n/).filter((b) => b.trim()).map((b) => {
    const lines = b.split('\n');
    return {
      event: lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message',
      data: lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'),
    };
  });
}

export function Caused({ rows }: { rows: AuditEntry[] }) {
  if (!rows.length) return <p className="muted">no exec, file open or connect linked to this call's tool uses</p>;
  return (
    <table className="grid compact" data-testid="caused">
      <thead><tr><th>time</th><th>type</th><th>pid</th><th>what</th><th>caused by</th></tr></thead>
      <tbody>
        {rows.map((a) => (
          <tr key={a.id}>
            <td>{time(a.ts)}</td><td>{a.type} {a.action}</td><td>{a.pid} <span className="muted">← {a.ppid}</span></td>
            <td className="mono"><Inert text={a.summary} /></td>
            <td>{a.caused_by && <>tool <Inert text={a.caused_by.tool_name} />{a.caused_by.ambiguous ? ' (ambiguous)' : ''}</>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function CallDetailPage() {
  const { id = '' } = useParams();
  const q = useQuery({ queryKey: ['call', id], queryFn: () => get<CallDetailResponse>(`llm-calls/${encodeURIComponent(id)}`) });
  return (
    <Loaded q={q}>
      {(d) => {
        const c = d.call;
        const ex = d.exchange;
        return (
          <div data-testid="call-detail">
            <h1>LLM call <Inert className="mono" text={c.call_id} /></h1>
            <div className="cols">
              <table className="grid compact kv">
                <tbody>
                  <tr><th>model</th><td data-testid="call-model"><Inert text={c['gen_ai.response.model'] ?? c['gen_ai.request.model'] ?? '?'} /> <span className="muted">(requested <Inert text={c['gen_ai.request.model'] ?? '?'} />)</span></td></tr>
                  <tr><th>provider · operation</th><td><Inert text={c['gen_ai.provider.name']} /> · <Inert text={c['gen_ai.operation.name']} /></td></tr>
                  <tr><th>response id</th><td data-testid="call-response-id" className="mono"><Inert text={c['gen_ai.response.id'] ?? '—'} /></td></tr>
                  <tr><th>finish reasons</th><td><Inert text={c['gen_ai.response.finish_reasons'].join(', ')} /></td></tr>
                  <tr><th>status</th><td>{c['http.response.status_code'] ?? '—'} {c['error.type'] && <span className="error"><Inert text={c['error.type']} /></span>}</td></tr>
                  <tr><th>start · end · duration</th><td>{time(c.start_time)} · {time(d.end_time)} · {ms(c.duration_ms)}</td></tr>
                  <tr><th>process</th><td><Link to={`/processes?pid=${c.pid}`}><Inert text={c.process_name} /> (pid {c.pid})</Link> on <Inert text={d.host} /> → <Inert text={c['server.address']} /></td></tr>
                  <tr><th>session</th><td>{d.conversation_id ? <Link to={`/sessions/${encodeURIComponent(d.conversation_id)}`}><Inert text={d.agent_name ?? d.conversation_id} /> <span className="mono muted"><Inert text={d.conversation_id} /></span></Link> : '—'}</td></tr>
                </tbody>
              </table>
              <table className="grid compact kv" data-testid="call-usage">
                <tbody>
                  <tr><th>input tokens</th><td className="num" data-testid="call-input-tokens">{int(c['gen_ai.usage.input_tokens'])}</td></tr>
                  <tr><th>output tokens</th><td className="num" data-testid="call-output-tokens">{int(c['gen_ai.usage.output_tokens'])}</td></tr>
                  <tr><th>cache read · write</th><td className="num">{int(c['gen_ai.usage.cache_read.input_tokens'])} · {int(c['gen_ai.usage.cache_creation.input_tokens'])}</td></tr>
                  <tr><th>reasoning tokens</th><td className="num">{int(c['gen_ai.usage.reasoning.output_tokens'])}</td></tr>
                  <tr><th>usage source</th><td data-testid="call-usage-source">{c.usage_source}{c.usage_tokenizer ? ` (${c.usage_tokenizer})` : ''}</td></tr>
                  {c.usage_detail?.input && <tr><th>input by role</th><td>system {int(c.usage_detail.input.system)} · user {int(c.usage_detail.input.user)} · assistant {int(c.usage_detail.input.assistant)} · tool {int(c.usage_detail.input.tool)}</td></tr>}
                  {c.usage_detail?.output && <tr><th>output by type</th><td>text {int(c.usage_detail.output.text)} · reasoning {int(c.usage_detail.output.reasoning)} · tool calls {int(c.usage_detail.output.tool_calls)}</td></tr>}
                  <tr><th>cost</th><td data-testid="call-cost">{usd(d.cost.cost_usd)}</td></tr>
                  <tr><th>price entry</th><td className="mono"><Inert text={d.cost.price_id ?? '—'} /></td></tr>
                  {d.cost.breakdown && <tr><th>cost by token type</th><td data-testid="call-cost-breakdown">{Object.entries(d.cost.breakdown).map(([k, v]) => `${k} ${usd(v)}`).join(' · ')}</td></tr>}
                  {d.cost.note && <tr><th></th><td className="muted">{d.cost.note}</td></tr>}
                </tbody>
              </table>
            </div>
            <h2>raw usage</h2>
            <InertBlock text={JSON.stringify(c.raw_usage)} />
            <h2>answer</h2>
            <InertBlock text={c.output_text} json={false} />
            <h2>tool uses</h2>
            {d.tool_uses.length === 0 ? <p className="muted">none</p> : (
              <table className="grid compact" data-testid="call-tools">
                <thead><tr><th>relation</th><th>tool</th><th>call id</th><th>arguments</th><th>result</th><th>duration</th></tr></thead>
                <tbody>
                  {d.tool_uses.map((t) => (
                    <tr key={t.id}>
                      <td>{t.relation === 'origin' ? 'asked for by this call' : 'result sent in this call'}</td>
                      <td><Inert text={t.name} /></td><td className="mono"><Inert text={t.call_id ?? ''} /></td>
                      <td><InertBlock text={t.arguments} /></td><td><InertBlock text={t.result ?? '(pending)'} json={false} /></td><td>{ms(t.duration_ms)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <h2>processes, files and connections its tool uses caused</h2>
            <Caused rows={d.caused} />
            <h2>request</h2>
            {ex ? (
              <>
                <p className="mono"><Inert text={`${ex.method} ${ex.target}`} /> → <Inert text={ex.server_address} /> <span className="muted">(pid {ex.pid}, uid {ex.uid}, argv <Inert text={ex.process_argv.join(' ')} />)</span></p>
                <Headers h={ex.request_headers} />
                {ex.request_body_incomplete && <p className="error">request body incomplete: {ex.request_body_incomplete}</p>}
                <InertBlock text={ex.request_body.binary ? `(${ex.request_body.bytes} bytes, not UTF-8)` : ex.request_body.text} />
                <h2>response {ex.status} <Inert text={ex.reason} /></h2>
                <Headers h={ex.response_headers} />
                {ex.response_body_incomplete && <p className="error">response body incomplete: {ex.response_body_incomplete}</p>}
                {ex.streaming ? (
                  <table className="grid compact" data-testid="sse-events">
                    <thead><tr><th>#</th><th>event</th><th>data</th></tr></thead>
                    <tbody>{sseEvents(ex.response_body.text).map((e, i) => <tr key={i}><td>{i + 1}</td><td><Inert text={e.event} /></td><td><InertBlock text={e.data} /></td></tr>)}</tbody>
                  </table>
                ) : <InertBlock text={ex.response_body.binary ? `(${ex.response_body.bytes} bytes, not UTF-8)` : ex.response_body.text} />}
              </>
            ) : <p className="error">the exchange of this call is not stored</p>}
          </div>
        );
      }}
    </Loaded>
  );
}
