/**
 * The agent watch of system-wide captures against the real /proc: agent processes started here (a node script laid
 * out like Claude Code's npm bin) are found by the built-in discovery rules and become sampled roots of a real
 * ResourceSampler, once each, their agent children not again; agentsight's own processes never.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RawResourceSample } from '@agentsight/contracts';
import { builtinRules } from '../discover/command';
import { repoRoot } from '../paths';
import { AgentWatch, agentScanMs, newAgentRoots } from './agent-watch';
import { bootId, ResourceSampler } from './sampler';

describe('newAgentRoots', () => {
  const parents = new Map([[10, 1], [11, 10], [12, 11], [20, 1], [21, 20], [30, 5], [5, 1]]);
  const parentOf = (p: number) => parents.get(p);
  it('adds an agent unless it or an ancestor is sampled, or an ancestor is an agent found too', () => {
    const found = [{ pid: 12, ppid: 11 }, { pid: 10, ppid: 1 }, { pid: 21, ppid: 20 }, { pid: 30, ppid: 5 }];
    expect(newAgentRoots(found, parentOf, new Set())).toEqual([10, 21, 30]); // 12 is under agent 10
    expect(newAgentRoots(found, parentOf, new Set([20, 10]))).toEqual([30]); // 21 under a sampled root, 10 sampled
    expect(newAgentRoots([{ pid: 7, ppid: 8 }], (p) => (p === 8 ? 7 : undefined), new Set())).toEqual([7]); // a cycle ends the walk
  });
  it('reads its interval from the environment and refuses nonsense', () => {
    expect(agentScanMs({})).toBe(5000);
    expect(agentScanMs({ AGENTSIGHT_AGENT_SCAN_MS: '0' })).toBe(0);
    expect(() => agentScanMs({ AGENTSIGHT_AGENT_SCAN_MS: '50' })).toThrow(/at least 100/);
    expect(() => agentScanMs({ AGENTSIGHT_AGENT_SCAN_MS: 'often' })).toThrow(/AGENTSIGHT_AGENT_SCAN_MS/);
  });
});

describe('AgentWatch on the real /proc', () => {
  const started: ChildProcess[] = [];
  let dir = '';
  afterAll(() => {
    for (const c of started) c.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('samples each running agent once as a root (not its agent child, not agentsight itself), and one started later at the next scan', async () => {
    dir = mkdtempSync(join(tmpdir(), 'agentsight-watch-'));
    mkdirSync(join(dir, 'bin'));
    // An agent that starts a second instance of itself as its child (as agents run sub-agents).
    writeFileSync(join(dir, 'bin', 'claude'), `
      if (!process.env.CHILD) require('child_process').spawn(process.execPath, [__filename], { env: { ...process.env, CHILD: '1' }, stdio: 'ignore' });
      console.log('ready'); setInterval(() => {}, 1000);`);
    const agent = () => {
      const c = spawn(process.execPath, [join(dir, 'bin', 'claude')], { stdio: ['ignore', 'pipe', 'ignore'] });
      started.push(c);
      return new Promise<ChildProcess>((res) => c.stdout!.once('data', () => res(c)));
    };
    const first = await agent();
    await new Promise((r) => setTimeout(r, 300)); // its child is up
    const samples: RawResourceSample[] = [];
    const sampler = new ResourceSampler({ host: 'h', boot_id: bootId() }, { activeMs: 200, idleMaxMs: 200 }, async (s) => void samples.push(s));
    const said: string[] = [];
    // A rule file's agents count too: the built-in rules here.
    const watch = new AgentWatch(sampler, { rules: builtinRules(), self: { pid: process.pid, root: repoRoot() }, intervalMs: 0, say: (s) => said.push(s) });
    try {
      expect(watch.scan().filter((p) => p === first.pid)).toEqual([first.pid]);
      expect(sampler.pids()).toContain(first.pid);
      expect(said).toContain(`sampling Claude Code (pid ${first.pid})`);
      const second = await agent();
      const again = watch.scan();
      expect(again).toContain(second.pid);
      expect(again).not.toContain(first.pid); // sampled already
      // The children (agents too) are in their parents' trees, never roots of their own.
      const roots = sampler.pids();
      await new Promise((r) => setTimeout(r, 300));
      expect(sampler.pids()).toEqual(roots);
      expect(roots).not.toContain(process.pid);
      const ofFirst = samples.filter((s) => s.root_pid === first.pid);
      expect(ofFirst.length).toBeGreaterThan(0);
      expect(ofFirst.at(-1)!.procs.length).toBe(2); // the agent and its child
      expect(ofFirst.at(-1)!.agent_name).toBe('claude-code');
      expect(watch.stats.scans).toBe(2);
      expect(watch.stats.cpu_ms).toBeGreaterThan(0);
    } finally {
      watch.stop();
      sampler.stop();
    }
  });
});
