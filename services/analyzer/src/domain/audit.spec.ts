/** Audit records of process events and LLM calls: summaries, details and deterministic ids. */
import { deriveId, type RawProcRecord } from '@agentsight/contracts';
import { analyzeExchange } from './analyze';
import { auditForCall, auditForProc } from './audit';
import { claudeCodeExchange, groundTruth, vercelExchange } from './corpus-helpers.test';

function proc(over: Partial<RawProcRecord>): RawProcRecord {
  return {
    v: 1,
    kind: 'proc',
    host: 'dev-box',
    boot_id: '6f1c2a9e-0d7b-4d5e-9a51-1b8c3f2e7d10',
    run: 123456789,
    seq: 42,
    ts_boot_ns: 5_000_000_000n,
    ts_wall_ns: 1_773_710_000_000_000_000n,
    event: 'exec',
    pid: 60228,
    ppid: 60100,
    uid: 1000,
    comm: 'ls',
    filename: '/usr/bin/ls',
    argv: ['ls', '-la'],
    argv_truncated: false,
    exit_code: 0,
    duration_ns: 0,
    ...over,
  };
}

describe('auditForProc', () => {
  test('exec', () => {
    const a = auditForProc(proc({}));
    expect(a).toMatchObject({ v: 1, type: 'process', action: 'exec', host: 'dev-box', pid: 60228, ppid: 60100, comm: 'ls' });
    expect(a.summary).toBe('exec /usr/bin/ls -la');
    expect(a.ts_ns).toBe(1_773_710_000_000_000_000n);
    expect(a.id).toBe(deriveId('audit', 'process', '6f1c2a9e-0d7b-4d5e-9a51-1b8c3f2e7d10:123456789:42'));
    expect(a.details).toEqual({
      event: 'exec',
      filename: '/usr/bin/ls',
      argv: ['ls', '-la'],
      argv_truncated: false,
      ppid: 60100,
      uid: 1000,
      exit_code: 0,
      duration_ns: 0,
      source_id: '6f1c2a9e-0d7b-4d5e-9a51-1b8c3f2e7d10:123456789:42',
    });
  });

  test('exit', () => {
    const a = auditForProc(proc({ event: 'exit', seq: 43, filename: '', argv: [], exit_code: 0, duration_ns: 12_345_678 }));
    expect(a.action).toBe('exit');
    expect(a.summary).toBe('exit 0 after 12.3 ms');
    expect(a.details).toMatchObject({ exit_code: 0, duration_ns: 12_345_678 });
    expect(a.id).not.toBe(auditForProc(proc({})).id);
  });

  test('exit by signal keeps the 128+signal code', () => {
    expect(auditForProc(proc({ event: 'exit', filename: '', argv: [], exit_code: 137, duration_ns: 2_500_000_000 })).summary).toBe('exit 137 after 2500.0 ms');
  });

  test('snapshot, quoted argument and truncated argv', () => {
    const a = auditForProc(proc({ event: 'snapshot', filename: '/usr/bin/node', argv: ['node', '/opt/app/cli.js', 'say hi'], argv_truncated: true }));
    expect(a.action).toBe('snapshot');
    expect(a.summary).toBe('snapshot /usr/bin/node /opt/app/cli.js "say hi" …');
  });

  test('the same record gives the same id (redelivery)', () => {
    expect(auditForProc(proc({})).id).toBe(auditForProc(proc({})).id);
    expect(auditForProc(proc({ run: 1 })).id).not.toBe(auditForProc(proc({})).id);
  });
});

describe('auditForCall', () => {
  test('Anthropic call from the real capture', () => {
    const call = analyzeExchange(claudeCodeExchange()).call!;
    const a = auditForCall(call);
    expect(a).toMatchObject({ v: 1, type: 'llm', action: 'llm_call', host: 'test-host', pid: 60228, comm: 'HTTP Client', ts_ns: call.start_ns });
    expect(a.id).toBe(deriveId('audit', 'llm', call.id));
    expect(a.summary).toBe('anthropic claude-haiku-4-5-20251001 in=25251 out=222 end_turn');
    expect(a.details).toMatchObject({
      provider: 'anthropic',
      request_model: 'claude-haiku-4-5-20251001',
      response_id: 'msg_014DDKVf4AE8b2x3UG7g6zer',
      finish_reasons: ['end_turn'],
      tools: [],
      http_status: 200,
      duration_ns: Number(call.end_ns - call.start_ns),
    });
  });

  test('tool names and HTTP errors appear in the summary', () => {
    const gt = groundTruth();
    const tools = analyzeExchange(vercelExchange(gt.find((g) => g.file === 'vercel__anthropic-code-execution-20260120-prompt-cache.1.chunks.txt')!)).call!;
    expect(auditForCall(tools).summary).toBe('anthropic claude-sonnet-5 in=9632 out=198 end_turn tools=[bash_code_execution,bash_code_execution]');
    const err = analyzeExchange(vercelExchange(gt.find((g) => g.file === 'vercel__reasoning-model-legacy-parameter-error.json')!)).call!;
    expect(auditForCall(err).summary).toBe('openai o1-mini in=? out=? error=invalid_request_error http=400');
  });
});
