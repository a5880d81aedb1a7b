import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router-dom';
import { get, type Overview, type TimeSeries } from '../api';
import { Chart } from '../charts';
import { Kpi, Loaded, RangePicker } from '../components';
import { int, ms, usd } from '../format';
import { Inert } from '../Inert';
import { useRange } from '../url';

/** Stacked series per model over the buckets of a time series (values aggregated by the server). */
function stacked(ts: TimeSeries, value: (p: TimeSeries['points'][number]) => number | null, type: 'bar' | 'line' = 'bar') {
  const buckets = [...new Set(ts.points.map((p) => p.t))].sort();
  const models = [...new Set(ts.points.map((p) => p.model))].sort();
  return {
    legend: { type: 'scroll', top: 0 },
    grid: { left: 60, right: 20, top: 30, bottom: 50 },
    xAxis: { type: 'category', data: buckets.map((b) => b.slice(5, 16).replace('T', ' ')) },
    yAxis: { type: 'value' },
    dataZoom: [{ type: 'inside' }, { type: 'slider', height: 16, bottom: 5 }],
    series: models.map((m) => ({
      name: m, type, stack: type === 'bar' ? 'total' : undefined,
      data: buckets.map((b) => {
        const p = ts.points.find((x) => x.t === b && x.model === m);
        return p ? value(p) : null;
      }),
    })),
  };
}

function Top({ title, rows, kind }: { title: string; rows: Overview['top_agents']; kind: 'tokens' | 'failures' | 'count' }) {
  return (
    <div className="panel">
      <h3>{title}</h3>
      <table className="grid compact">
        <tbody>
          {rows.map((r) => (
            <tr key={r.name}>
              <td><Inert text={r.name} /></td>
              <td className="num">{int(r.count)}</td>
              {kind === 'tokens' && <td className="num">{int(r.tokens)} tok</td>}
              {kind === 'tokens' && <td className="num">{usd(r.cost_usd)}</td>}
              {kind === 'failures' && <td className="num">{int(r.failures)} failed</td>}
            </tr>
          ))}
          {rows.length === 0 && <tr><td className="muted">none</td></tr>}
        </tbody>
      </table>
    </div>
  );
}

export function OverviewPage() {
  const r = useRange();
  const ov = useQuery({ queryKey: ['overview', r.from, r.to], queryFn: () => get<Overview>('overview', { from: r.from, to: r.to }) });
  const ts = useQuery({ queryKey: ['timeseries', r.from, r.to], queryFn: () => get<TimeSeries>('timeseries', { from: r.from, to: r.to }) });
  return (
    <div>
      <h1>Overview</h1>
      <RangePicker />
      <Loaded q={ov}>
        {(o) => (
          <>
            <div className="kpis">
              <Kpi testId="kpi-calls" label="LLM calls" value={int(o.kpis.llm_calls)} sub={<Link to="/calls">list</Link>} />
              <Kpi testId="kpi-input" label="input tokens" value={int(o.kpis.input_tokens)} sub={`cache read ${int(o.kpis.cache_read_input_tokens)} · write ${int(o.kpis.cache_creation_input_tokens)}`} />
              <Kpi testId="kpi-output" label="output tokens" value={int(o.kpis.output_tokens)} />
              <Kpi testId="kpi-cost" label="cost (USD, list prices)" value={usd(o.kpis.cost_usd)} sub={o.kpis.unpriced_calls ? `+ ${o.kpis.unpriced_calls} unpriced call(s)` : 'all calls priced'} />
              <Kpi testId="kpi-tools" label="tool uses" value={int(o.kpis.tool_uses)} sub={`${int(o.kpis.tool_failures)} failed`} />
              <Kpi testId="kpi-processes" label="processes started" value={int(o.kpis.processes_started)} />
              <Kpi testId="kpi-agents" label="agent sessions" value={int(o.kpis.agents)} />
              <Kpi testId="kpi-errors" label="errors · dead letters" value={`${int(o.kpis.errors)} · ${int(o.kpis.dead_letters)}`} sub={<Link to="/capture">capture health</Link>} />
              <Kpi testId="kpi-latency" label="latency p50 / p95" value={`${ms(o.latency.p50_ms)} / ${ms(o.latency.p95_ms)}`}
                sub={o.latency.ttft_note ? `TTFT: ${o.latency.ttft_note} (${o.latency.streamed_calls} streamed)` : `TTFT ${ms(o.latency.ttft_p50_ms)} / ${ms(o.latency.ttft_p95_ms)}`} />
            </div>
          </>
        )}
      </Loaded>
      <Loaded q={ts}>
        {(t) => (
          <div className="charts">
            <div className="panel"><h3>tokens by model (per {t.interval_seconds} s)</h3><Chart testId="chart-tokens" option={stacked(t, (p) => p.input_tokens + p.output_tokens)} /></div>
            <div className="panel"><h3>cost USD by model (priced calls)</h3><Chart testId="chart-cost" option={stacked(t, (p) => p.cost_usd)} /></div>
            <div className="panel"><h3>latency p95 by model, ms</h3><Chart testId="chart-latency" option={stacked(t, (p) => p.p95_ms, 'line')} /></div>
          </div>
        )}
      </Loaded>
      <Loaded q={ov}>
        {(o) => (
          <div className="tops">
            <Top title="top agents" rows={o.top_agents} kind="tokens" />
            <Top title="top models" rows={o.top_models} kind="tokens" />
            <Top title="top tools" rows={o.top_tools} kind="failures" />
            <Top title="top commands" rows={o.top_commands} kind="count" />
          </div>
        )}
      </Loaded>
    </div>
  );
}
