/** Audit records of process events, file opens, connect() calls and LLM calls: summaries, details and deterministic ids. */
import { deriveId, type RawBase, type RawFileOpenRecord, type RawNetConnectRecord, type RawProcRecord } from '@agentsight/contracts';
import { claudeCodeExchange, groundTruth, vercelExchange } from '@agentsight/testkit';
import { analyzeExchange } from './analyze';
import { auditForCall, auditForFile, auditForNet, auditForProc, errnoName } from './audit';

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

const BASE: Omit<RawBase, 'seq'> = {
  v: 1,
  host: 'dev-box',
  boot_id: '6f1c2a9e-0d7b-4d5e-9a51-1b8c3f2e7d10',
  run: 123456789,
  ts_boot_ns: 5_000_000_000n,
  ts_wall_ns: 1_773_710_000_000_000_000n,
};

function fileOpen(over: Partial<RawFileOpenRecord>): RawFileOpenRecord {
  return {
    ...BASE, seq: 50, kind: 'file_open', pid: 60228, tid: 60230, uid: 1000, ppid: 60100, comm: 'node',
    path: '/etc/hosts', path_truncated: false, flags: 0o2000000, flags_text: 'O_RDONLY|O_CLOEXEC', mode: 0, result: 3, ...over,
  };
}

function netConnect(over: Partial<RawNetConnectRecord>): RawNetConnectRecord {
  return {
    ...BASE, seq: 60, kind: 'net_connect', pid: 60228, tid: 60228, uid: 1000, ppid: 60100, comm: 'node',
    family: 'inet', address: '127.0.0.1', port: 443, result: 0, ...over,
  };
}

describe('auditForFile', () => {
  test('successful open', () => {
    const a = auditForFile(fileOpen({}));
    expect(a).toMatchObject({ v: 1, type: 'file', action: 'open', host: 'dev-box', pid: 60228, ppid: 60100, comm: 'node', ts_ns: 1_773_710_000_000_000_000n });
    expect(a.summary).toBe('open /etc/hosts O_RDONLY|O_CLOEXEC → fd 3');
    expect(a.id).toBe(deriveId('audit', 'file', '6f1c2a9e-0d7b-4d5e-9a51-1b8c3f2e7d10:123456789:50'));
    expect(a.details).toEqual({
      path: '/etc/hosts',
      path_truncated: false,
      flags: 0o2000000,
      flags_text: 'O_RDONLY|O_CLOEXEC',
      mode: 0,
      result: 3,
      fd: 3,
      errno: null,
      tid: 60230,
      uid: 1000,
      source_id: '6f1c2a9e-0d7b-4d5e-9a51-1b8c3f2e7d10:123456789:50',
    });
  });

  test('created file, failed open, truncated and quoted paths', () => {
    expect(auditForFile(fileOpen({ path: '/tmp/out.txt', flags: 0o1101, flags_text: 'O_WRONLY|O_CREAT|O_TRUNC', mode: 0o644, result: 4 })).summary)
      .toBe('open /tmp/out.txt O_WRONLY|O_CREAT|O_TRUNC → fd 4');
    const missing = auditForFile(fileOpen({ path: '/nope', flags: 0, flags_text: 'O_RDONLY', result: -2 }));
    expect(missing.summary).toBe('open /nope O_RDONLY → ENOENT');
    expect(missing.details).toMatchObject({ result: -2, fd: null, errno: 'ENOENT' });
    expect(auditForFile(fileOpen({ path: '/a/b', path_truncated: true, result: -36 })).summary).toBe('open /a/b… O_RDONLY|O_CLOEXEC → ENAMETOOLONG');
    expect(auditForFile(fileOpen({ path: '/tmp/my file', result: -13 })).summary).toBe('open "/tmp/my file" O_RDONLY|O_CLOEXEC → EACCES');
  });

  test('ids are deterministic per source record and distinct from the other types', () => {
    expect(auditForFile(fileOpen({})).id).toBe(auditForFile(fileOpen({})).id);
    expect(auditForFile(fileOpen({ seq: 51 })).id).not.toBe(auditForFile(fileOpen({})).id);
    expect(auditForFile(fileOpen({ seq: 60 })).id).not.toBe(auditForNet(netConnect({ seq: 60 })).id);
  });
});

describe('auditForNet', () => {
  test('inet connect', () => {
    const a = auditForNet(netConnect({}));
    expect(a).toMatchObject({ v: 1, type: 'net', action: 'connect', host: 'dev-box', pid: 60228, ppid: 60100, comm: 'node' });
    expect(a.summary).toBe('connect 127.0.0.1:443 → ok');
    expect(a.id).toBe(deriveId('audit', 'net', '6f1c2a9e-0d7b-4d5e-9a51-1b8c3f2e7d10:123456789:60'));
    expect(a.details).toEqual({
      family: 'inet',
      address: '127.0.0.1',
      port: 443,
      target: '127.0.0.1:443',
      result: 0,
      errno: null,
      tid: 60228,
      uid: 1000,
      source_id: '6f1c2a9e-0d7b-4d5e-9a51-1b8c3f2e7d10:123456789:60',
    });
  });

  test('inet6, unix, non-blocking and refused connects', () => {
    expect(auditForNet(netConnect({ family: 'inet6', address: '2606:4700::6810:84e5', result: -115 })).summary).toBe('connect [2606:4700::6810:84e5]:443 → EINPROGRESS');
    expect(auditForNet(netConnect({ family: 'unix', address: '/run/docker.sock', port: 0 })).summary).toBe('connect unix:/run/docker.sock → ok');
    expect(auditForNet(netConnect({ port: 9, result: -111 })).summary).toBe('connect 127.0.0.1:9 → ECONNREFUSED');
    expect(auditForNet(netConnect({ port: 9, result: -111 })).details).toMatchObject({ errno: 'ECONNREFUSED', result: -111 });
  });
});

describe('errnoName', () => {
  test('Linux numbers, unknown ones and successes', () => {
    expect(errnoName(-2)).toBe('ENOENT');
    expect(errnoName(-115)).toBe('EINPROGRESS');
    expect(errnoName(-4095)).toBe('errno 4095');
    expect(errnoName(0)).toBeNull();
    expect(errnoName(7)).toBeNull();
  });
});
