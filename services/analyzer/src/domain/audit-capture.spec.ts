/** The `capture` audit record of TLS traffic the probe could not capture (RawTlsNoticeRecord). */
import { deriveId, tlsNoticeText, type RawTlsNoticeRecord } from '@agentsight/contracts';
import { auditForTlsNotice } from './audit';

const notice: RawTlsNoticeRecord = {
  v: 1, kind: 'tls_notice', host: 'dev-box', boot_id: 'b00t', run: 7, seq: 9, ts_boot_ns: 5n, ts_wall_ns: 1_773_710_000_000_000_000n,
  pid: 4242, tid: 4243, uid: 1000, ppid: 4200, comm: 'claude',
  binary: '/home/u/.local/bin/claude', library: '', cause: 'unrecognised',
  reason: 'BoringSSL (Bun v1.4.0 (63bb0ca0d)) not recognised: no pattern set matches every function exactly once',
  address: '160.79.104.10', port: 443, server_name: 'api.anthropic.com',
};

describe('auditForTlsNotice', () => {
  test('type capture, action tls_not_captured, the one notice line as summary, every field in details', () => {
    const a = auditForTlsNotice(notice);
    expect(a).toMatchObject({ v: 1, type: 'capture', action: 'tls_not_captured', host: 'dev-box', pid: 4242, ppid: 4200, comm: 'claude', ts_ns: 1_773_710_000_000_000_000n });
    expect(a.id).toBe(deriveId('audit', 'capture', 'b00t:7:9'));
    expect(a.summary).toBe('TLS of /home/u/.local/bin/claude to api.anthropic.com:443 not captured: BoringSSL (Bun v1.4.0 (63bb0ca0d)) not recognised: no pattern set matches every function exactly once');
    expect(a.details).toEqual({
      binary: '/home/u/.local/bin/claude', library: '', cause: 'unrecognised', reason: notice.reason, address: '160.79.104.10', port: 443,
      server_name: 'api.anthropic.com', target: '160.79.104.10:443', tid: 4243, uid: 1000, source_id: 'b00t:7:9',
    });
  });

  test('names the library, and the address when the hello had no server name (IPv6 in brackets)', () => {
    expect(tlsNoticeText({ ...notice, library: '/tmp/runtime.node', server_name: '', address: '::1', port: 8443 }))
      .toBe(`TLS of /home/u/.local/bin/claude (/tmp/runtime.node) to [::1]:8443 not captured: ${notice.reason}`);
    expect(auditForTlsNotice({ ...notice, address: '::1' }).details.target).toBe('[::1]:443');
  });
});
