/**
 * Copilot CLI, the real single-file binary pinned in test/agents (`@github/copilot-linux-x64/copilot`), run offline
 * as a user would under `agentsight exec -- copilot -p … --allow-all-tools` with no other flags against the local
 * mock LLM (COPILOT_OFFLINE + COPILOT_PROVIDER_BASE_URL, Chat Completions; launch in test/e2e/agents.ts).
 *
 * What is true today: its HTTP goes through the Rust addon `runtime.node` (rustls 0.23.46 + aws-lc-rs) that it
 * unpacks under ~/.cache/copilot and loads at run time; the rustls locator does not recognise that build yet, so no
 * call is captured. The user must be told so, by name ("never a silent zero"): this spec asserts exactly that, and
 * fails once the addon is captured (then replace it by `describeAgentE2e('copilot', …)`; README "Limits" too).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startMockLlm, type MockLlm } from '@agentsight/testkit';
import { AgentRun, runAgentUnderExec } from './agents';
import { describeCapture } from './harness';

describeCapture('Copilot CLI (real binary from npm) under agentsight exec: its runtime.node is named as not captured', () => {
  let dir: string;
  let mock: MockLlm;
  let r: AgentRun;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentsight-copilot-mock-'));
    mock = await startMockLlm({ dir, toolCommand: 'echo agentsight-copilot-tool', answer: 'DONE agentsight-copilot' });
    r = await runAgentUnderExec('copilot', mock, 'Run the shell command `echo agentsight-copilot-tool` and tell me what it printed.');
  }, 600_000);

  afterAll(async () => {
    await mock?.close();
    await r?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('copilot talked to the mock (its tool ran, it answered)', () => {
    expect(r.run.code).toBe(0);
    expect(mock.log().filter((e) => e.response_id !== '').map((e) => e.turn)).toEqual(expect.arrayContaining(['tool_call', 'answer']));
    expect(r.run.stdout + r.run.stderr).toContain('DONE agentsight-copilot');
  });

  test('exec names copilot\'s runtime.node, its TLS library and why it is not captured, and stores no call', () => {
    expect(r.run.stderr).toMatch(/not captured: [1-9]\d* TLS connection\(s\) of \S+\/copilot \(\S+\/\.cache\/copilot\/pkg\/linux-x64\/[\d.]+\/prebuilds\/linux-x64\/runtime\.node\): rustls \(rustls 0\.23\.\d+\) not recognised: \S/);
    expect(r.run.stderr).toMatch(/0 LLM call\(s\) captured: TLS traffic of \S+\/runtime\.node was not captured/);
    expect(r.calls).toEqual([]);
  });

  test('the commands copilot ran are still in the process audit (exec capture does not depend on TLS)', () => {
    expect(r.processAudit.some((a) => a.action === 'exec' && (a.details.argv ?? []).join(' ').includes('echo agentsight-copilot-tool'))).toBe(true);
  });
});
