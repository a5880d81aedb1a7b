import { useQuery } from '@tanstack/react-query';
import { get, type CaptureStatus } from '../api';
import { Loaded } from '../components';
import { bytes, int, time } from '../format';
import { Inert, InertBlock } from '../Inert';

function b64text(s: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: false }).decode(Uint8Array.from(atob(s), (c) => c.charCodeAt(0)));
  } catch {
    return s;
  }
}

export function CapturePage() {
  const q = useQuery({ queryKey: ['capture'], queryFn: () => get<CaptureStatus>('capture') });
  return (
    <div>
      <h1>Capture health</h1>
      <Loaded q={q}>
        {(c) => (
          <>
            <h2>probes (latest loss record of each producer)</h2>
            {c.producers_error && <p className="error">{c.producers_error}</p>}
            {c.producers.map((p) => (
              <div key={p.host} className="panel" data-testid="producer">
                <p><b><Inert text={p.host} /></b> at {time(p.ts)}: <span data-testid="records">{int(p.records)}</span> records, <span data-testid="kernel-loss" className={p.lost_records ? 'error' : ''}>{int(p.lost_records)} lost in the kernel</span> ({bytes(p.lost_bytes)}), {int(p.publish_failures)} publish failures, <span data-testid="reordered" className={p.publish_reordered ? 'error' : ''}>{p.publish_reordered === null ? 'reordering not reported by this probe version' : `${int(p.publish_reordered)} stored out of order after a NATS restart`}</span>, {int(p.file_opens_skipped)} /proc,/sys,/dev opens skipped (not a loss)</p>
                <table className="grid compact" data-testid="probes">
                  <thead><tr><th>binary</th><th>function</th><th>records</th><th>fragments</th><th>bytes</th><th>lost</th></tr></thead>
                  <tbody>{p.probes.map((x, i) => <tr key={i} className={x.lost_records ? 'error' : ''}><td className="mono"><Inert text={x.binary} /></td><td><Inert text={x.fn} /></td><td className="num">{int(x.records)}</td><td className="num">{int(x.fragments)}</td><td className="num">{bytes(x.bytes)}</td><td className="num">{int(x.lost_records)}</td></tr>)}</tbody>
                </table>
                {p.attach_failures.length > 0 && <><h3>not attached</h3><ul>{p.attach_failures.map((f, i) => <li key={i} className="mono"><Inert text={`${f.binary} ${f.fn}: ${f.error}`} /></li>)}</ul></>}
              </div>
            ))}
            <h2>TLS not captured (binary or library, and why)</h2>
            <table className="grid compact" data-testid="not-captured">
              <thead><tr><th>time</th><th>pid</th><th>binary</th><th>library</th><th>to</th><th>why</th></tr></thead>
              <tbody>
                {c.not_captured.map((n, i) => <tr key={i} className="error"><td>{time(n.ts)}</td><td className="num">{n.pid}</td><td className="mono"><Inert text={n.binary} /></td><td className="mono"><Inert text={n.library} /></td><td><Inert text={n.peer} /></td><td><Inert text={n.reason} /></td></tr>)}
                {c.not_captured.length === 0 && <tr><td colSpan={6} className="muted">every TLS connection seen was captured by a probe</td></tr>}
              </tbody>
            </table>
            <h2>dead letters by stage and reason</h2>
            <table className="grid compact" data-testid="dead-letters">
              <thead><tr><th>stage</th><th>reason</th><th>count</th><th>last</th><th>last error</th><th>sample</th></tr></thead>
              <tbody>
                {c.dead_letters.map((d) => <tr key={d.stage + d.reason}><td>{d.stage}</td><td><Inert text={d.reason} /></td><td className="num">{int(d.count)}</td><td>{time(d.last_ts)}</td><td><Inert text={d.last_error} /></td><td><InertBlock text={b64text(d.last_sample_base64).slice(0, 400)} json={false} /></td></tr>)}
                {c.dead_letters.length === 0 && <tr><td colSpan={6} className="muted">no dead letter</td></tr>}
              </tbody>
            </table>
            <h2>stage events (since the api started)</h2>
            <table className="grid compact" data-testid="stage-events">
              <thead><tr><th>stage</th><th>event</th><th>labels</th><th>count</th></tr></thead>
              <tbody>
                {c.stage_events.map((e) => (
                  <tr key={e.stage + e.name + JSON.stringify(e.labels)} className={e.value ? 'error' : ''}>
                    <td>{e.stage}</td><td title={e.help}><span className="mono">{e.name}</span></td>
                    <td className="mono">{Object.entries(e.labels).map(([k, v]) => `${k}=${v}`).join(' ')}</td><td className="num">{int(e.value)}</td>
                  </tr>
                ))}
                {c.stage_events.length === 0 && <tr><td colSpan={4} className="muted">no stage has reported since the api started</td></tr>}
              </tbody>
            </table>
            <h2>stage lag (pending messages per durable)</h2>
            {c.nats_error && <p className="error">{c.nats_error}</p>}
            <table className="grid compact" data-testid="consumers">
              <thead><tr><th>stream</th><th>durable</th><th>pending</th><th>ack pending</th><th>redelivered</th></tr></thead>
              <tbody>{c.consumers.map((x) => <tr key={x.stream + x.durable}><td>{x.stream}</td><td>{x.durable}</td><td className="num">{int(x.pending)}</td><td className="num">{int(x.ack_pending)}</td><td className="num">{int(x.redelivered)}</td></tr>)}</tbody>
            </table>
            <div className="cols">
              <div><h2>streams</h2><table className="grid compact" data-testid="streams"><thead><tr><th>stream</th><th>messages</th><th>bytes</th></tr></thead>
                <tbody>{c.streams.map((s) => <tr key={s.stream}><td>{s.stream}</td><td className="num">{int(s.messages)}</td><td className="num">{bytes(s.bytes)}</td></tr>)}</tbody></table></div>
              <div><h2>tables</h2><table className="grid compact" data-testid="tables"><thead><tr><th>table</th><th>rows</th><th>on disk</th></tr></thead>
                <tbody>{c.tables.map((t) => <tr key={t.table}><td>{t.table}</td><td className="num">{int(t.rows)}</td><td className="num">{t.bytes === null ? 'unknown' : bytes(t.bytes)}</td></tr>)}</tbody></table>
                {c.retention && (
                  <p data-testid="retention">
                    store {c.retention.store_bytes === null ? <span data-testid="store-size-unknown">size unknown ({c.retention.store_bytes_note})</span> : bytes(c.retention.store_bytes)} of {c.retention.max_bytes ? bytes(c.retention.max_bytes) : 'no'} cap; rows kept {c.retention.retention_days} days.{' '}
                    {c.retention.dropped.days
                      ? <span className="error">Size cap dropped {int(c.retention.dropped.days)} day(s), {int(c.retention.dropped.rows)} rows, {bytes(c.retention.dropped.bytes)} (newest dropped day {c.retention.dropped.newest_day}).</span>
                      : 'Nothing dropped by the size cap.'}
                    {c.retention.over_cap && <span className="error"> Still over the cap with only the newest day left.</span>}
                  </p>
                )}</div>
            </div>
          </>
        )}
      </Loaded>
    </div>
  );
}
