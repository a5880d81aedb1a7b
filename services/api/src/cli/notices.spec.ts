/** What the CLI says about uncaptured TLS and about a run with no LLM call (notices.ts), from real probe line shapes. */
import { lostBytes, lostRecords } from '@agentsight/contracts';
import { captureGapsText, liveNoticeText, probeCountersText, probeLossText, zeroCallsReason } from './notices';

const notice = {
  event: 'tls_notice', pid: 812, comm: 'static-agent', binary: '/opt/agent/static-agent', library: '', cause: 'unsupported',
  reason: 'TLS library not supported yet: no TLS stack the probe knows in the executable or the libraries it maps',
  address: '127.0.0.1', port: 8443, server_name: 'api.example.test',
};
const stopped = (over: Record<string, unknown>) => ({
  event: 'stopped', records: 10, probes: [], attach_failures: [], holds: { held: 3, misses: 0, max_us: 900, total_us: 1500, bound_ms: 1000 },
  tls_hellos: 0, tls_notices: [], ...over,
});

describe('CLI capture notices', () => {
  test('a tls_notice line is a warning naming binary, peer and reason; a hold_miss says what may be missed', () => {
    expect(liveNoticeText(notice)).toBe(`warning: TLS of /opt/agent/static-agent to api.example.test:8443 not captured: ${notice.reason} (pid 812)`);
    expect(liveNoticeText({ event: 'hold_miss', pid: 9, what: 'exec', bound_ms: 1000 }))
      .toBe('warning: pid 9 ran before its executable was attached (waited 1000 ms): its first TLS calls may be missed');
    expect(liveNoticeText({ event: 'stats' })).toBeNull();
  });

  test('the final lines: one per (binary, library, reason) with counts, then hold misses', () => {
    const s = stopped({
      tls_notices: [{ binary: '/usr/bin/node', library: '/home/u/.cache/copilot/runtime.node', reason: 'rustls not recognised', connections: 3, processes: 2 }],
      holds: { held: 5, misses: 1, max_us: 1_000_500, total_us: 1_200_000, bound_ms: 1000 },
    });
    expect(captureGapsText(s)).toEqual([
      'not captured: 3 TLS connection(s) of /usr/bin/node (/home/u/.cache/copilot/runtime.node) in 2 processes: rustls not recognised',
      'warning: 1 process(es) ran before their new code was attached (bound 1000 ms): their first TLS calls may be missed',
    ]);
    expect(captureGapsText(stopped({}))).toEqual([]);
    expect(captureGapsText(undefined)).toEqual([]);
  });

  test('0 LLM calls always says why', () => {
    expect(zeroCallsReason(2, stopped({}))).toBeNull();
    expect(zeroCallsReason(0, stopped({ tls_notices: [{ binary: '/a/claude', library: '', reason: 'x', connections: 1, processes: 1 }] })))
      .toBe('TLS traffic of /a/claude was not captured (see above)');
    expect(zeroCallsReason(0, stopped({}))).toBe('the traced processes made no TLS connection');
    expect(zeroCallsReason(0, stopped({ tls_hellos: 2, probes: [{ binary: '/usr/bin/node', fn: 'SSL_do_handshake', records: 2 }] })))
      .toBe('2 TLS connection(s) were seen but no plaintext was captured');
    expect(zeroCallsReason(0, stopped({ tls_hellos: 1, probes: [{ binary: '/usr/bin/node', fn: 'SSL_write', records: 4 }, { binary: '/usr/bin/node', fn: 'SSL_read', records: 3 }] })))
      .toBe('7 TLS call(s) were captured, but none was an LLM API request the analyzer recognises');
    expect(zeroCallsReason(0, undefined)).toBe('the probe gave no stop report');
  });

  test('kernel loss is read under its name (lost_records) and under the deprecated one of older producers (ringbuf_drops)', () => {
    const probe = { binary: '/usr/bin/node', fn: 'SSL_write', records: 4, fragments: 4, bytes: 900 };
    const current = stopped({ lost_records: 3, lost_bytes: 70, ringbuf_drops: 3, probes: [{ ...probe, lost_records: 2, ringbuf_drops: 2 }] });
    const older = stopped({ ringbuf_drops: 3, ringbuf_drop_bytes: 70, probes: [{ ...probe, ringbuf_drops: 2 }] });
    for (const s of [current, older]) {
      expect(lostRecords(s)).toBe(3);
      expect(lostBytes(s)).toBe(70);
      const text = probeCountersText(s);
      expect(text).toContain('warning: 3 record(s) were lost in the kernel ring buffer');
      expect(text.split('\n').find((l) => l.includes('SSL_write'))).toMatch(/\b900\s+2\s*$/);
    }
    expect(lostRecords(stopped({}))).toBe(0);
    expect(lostRecords({ lost_records: 0n, ringbuf_drops: 5 })).toBe(0); // the new name wins, even at 0
    expect(probeCountersText(stopped({ probes: [{ ...probe, lost_records: 0 }] }))).not.toContain('lost in the kernel');
  });

  test('the end-of-run warnings name each kind of loss: kernel, publish failures, records stored out of order after a NATS restart', () => {
    expect(probeLossText(stopped({ lost_records: 0, publish_failures: 0, publish_reordered: 0 }))).toEqual([]);
    expect(probeLossText(stopped({ lost_records: 2, ringbuf_drops: 2, publish_failures: 1, publish_reordered: 4 }))).toEqual([
      'warning: 2 record(s) were lost in the kernel ring buffer',
      'warning: 1 record(s) could not be published to NATS',
      'warning: 4 record(s) were stored out of order after a NATS restart: their bytes may have been taken for duplicates',
    ]);
    expect(probeCountersText(stopped({ publish_reordered: 3 }))).toContain('warning: 3 record(s) were stored out of order after a NATS restart');
  });
});
