/**
 * `agentsight replay --resume` (issue 11) over private NATS, Redis and chDB, the stages as separate processes. 12
 * streamed LLM calls are published as raw records (as the probe would) and stored live; the tables are kept and
 * wiped. A replay is started in its own process group; once its parser runs its aggregator is stopped (SIGSTOP), so
 * the parser reads every raw input while nothing downstream goes on; then the group gets SIGINT (Ctrl-C): the replay
 * stops its stages (the stopped aggregator killed after the grace) and exits 1 saying what is left to go. `--resume ID`
 * says it goes on with exactly that (fewer live inputs than the raw stream holds: it does not start again), exits 0,
 * counts the live inputs read since the resume with the interrupted run's count in brackets, and leaves the tables as
 * live capture stored them and no consumer, subject or Redis key of the replay behind. A Ctrl-C while the first stage
 * is still starting is an interruption too (the resume line, exit 1), and `--resume` finishes that replay. No eBPF
 * needed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { STREAM } from '@agentsight/contracts';
import { connectNats } from '@agentsight/jetstream';
import { childrenRunning, CLI, Infra, runCli, startInfra, until } from './harness';
import { liveState, publishCalls, readRows, storeLive, wipeRows, type LiveState, type Rows } from './replay-rows';

const CALLS = 12;
const TO_GO = /(\d+) live input\(s\) and (\d+) derived message\(s\) to go/;

/** The live and derived figures of the line of `text` that matches `line` (a regex source with TO_GO's groups in it). */
function toGo(text: string, line: string): { live: number; derived: number } {
  const m = new RegExp(line.replace('TO_GO', TO_GO.source)).exec(text);
  if (!m) throw new Error(`no line /${line}/ in:\n${text}`);
  return { live: Number(m[1]), derived: Number(m[2]) };
}

describe('agentsight replay --resume goes on where an interrupted replay stopped', () => {
  let infra: Infra;
  let stored: Rows;
  let live: LiveState;
  /** Messages in the raw stream: what a replay from the start reads. */
  let raw: number;
  let replay: ChildProcess | undefined;
  let id: string;
  let interrupted: { code: number | null; stderr: string };
  let aggregator: number;

  /**
   * Starts `agentsight replay` in its own process group, as a shell's foreground job (Ctrl-C reaches the CLI and every
   * stage it started): its pid, its exit code once it exits, and its stderr so far.
   */
  function startReplay(): { pid: number; exited: Promise<number | null>; stderr: () => string } {
    const p = spawn(process.execPath, [CLI, 'replay'], { env: infra.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    replay = p;
    let text = '';
    p.stderr!.on('data', (d) => (text += d));
    return { pid: p.pid!, exited: new Promise((r) => p.on('exit', (code) => r(code))), stderr: () => text };
  }

  beforeAll(async () => {
    infra = await startInfra();
    await storeLive(infra, async () => {
      const nats = await connectNats(infra.natsUrl, 'replay-resume-spec');
      try {
        await publishCalls(nats, { count: CALLS, tag: 'replay-resume' });
        raw = (await nats.jsm.streams.info(STREAM.raw)).state.messages;
      } finally {
        await nats.nc.close();
      }
    });
    stored = await readRows(infra.dataDir);
    live = await liveState(infra);
    await wipeRows(infra.dataDir);
  }, 240_000);

  afterAll(async () => {
    // A failed test must not leave the replay's process group (a stage stopped) running.
    if (replay?.pid && replay.exitCode === null && replay.signalCode === null) {
      try {
        process.kill(-replay.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await infra?.stop();
  });

  test('the live pipeline stored every call', () => {
    expect(stored.llm_calls).toHaveLength(CALLS);
    expect(raw).toBeGreaterThan(CALLS);
  });

  test('SIGINT while the aggregator is stopped and the parser has read everything: exit 1 with what is left to go', async () => {
    const { pid, exited, stderr } = startReplay();
    await until("the replay's parser runs", () => childrenRunning(pid, 'services/parser/dist/main.js').length > 0, 120_000);
    [aggregator] = childrenRunning(pid, 'services/aggregator/dist/main.js');
    process.kill(aggregator, 'SIGSTOP');
    id = /replay (r\w+): from /.exec(stderr())![1];
    // Every parser partition has been delivered all its raw inputs (each raw record is in one partition's subject).
    const nats = await connectNats(infra.natsUrl, 'replay-resume-spec');
    try {
      await until('the parser partitions are done', async () => {
        let delivered = 0;
        let pending = 0;
        for await (const ci of nats.jsm.consumers.list(STREAM.raw)) {
          if (!ci.name.startsWith(`replay-${id}-parser`)) continue;
          delivered += ci.delivered.consumer_seq;
          pending += ci.num_pending;
        }
        return delivered >= raw && pending === 0;
      }, 120_000);
    } finally {
      await nats.nc.close();
    }
    // and the CLI has seen the parser ready (a Ctrl-C while a stage starts fails that start instead: no resume line)
    const parserLog = join(/logs in (\S+)/.exec(stderr())![1], 'parser.log');
    await until('the parser is ready', () => existsSync(parserLog) && readFileSync(parserLog, 'utf8').includes('"event":"ready"'));
    await new Promise((r) => setTimeout(r, 500));
    process.kill(-pid, 'SIGINT');
    interrupted = { code: await exited, stderr: stderr() };
    expect(interrupted.stderr).toContain(`replay ${id} interrupted with `);
    expect(interrupted.stderr).toContain(`: continue it with \`agentsight replay --resume ${id}\``);
    expect(interrupted.code).toBe(1);
    expect(childrenRunning(pid, 'services/')).toEqual([]);
    expect(existsSync(`/proc/${aggregator}`)).toBe(false); // stopped, so killed after the grace
    const left = toGo(interrupted.stderr, `replay ${id} interrupted with TO_GO`);
    // Nothing of the parser's outputs was handled downstream: the aggregator stopped before the parser started.
    expect(left.derived).toBeGreaterThan(0);
    // The open question: the parser keeps an input unacked only while its connection's exchange is unfinished; these
    // calls are complete, so once delivered every raw input is acked and nothing live is left (measured: 0 of 3,684).
    expect(left.live).toBe(0);
  }, 240_000);

  test('--resume goes on with what was left: exit 0, the tables as stored live, nothing of the replay left', async () => {
    expect(interrupted?.code).toBe(1);
    const r = await runCli(['replay', '--resume', id], infra.env);
    expect(r.stderr).toContain(`replay ${id} (resumed): from `);
    const left = toGo(interrupted.stderr, `replay ${id} interrupted with TO_GO`);
    const resumed = toGo(r.stderr, `replay ${id} resumed with TO_GO`);
    // Counted after the interrupted run's stages stopped and before the resumed run's start: the same state.
    expect(resumed).toEqual(left);
    expect(resumed.live).toBeLessThan(raw);
    const done = /replay r\w+ done: (\d+) input message\(s\) read from the live streams since the resume \((\d+) before it\)/.exec(r.stderr);
    expect(done).not.toBeNull();
    const [since, before] = [Number(done![1]), Number(done![2])];
    expect(r.stderr).toContain(`(${before} live input(s) read before)`);
    // Every raw input was read once before the interruption, none again since (nothing live was left).
    expect([since, before]).toEqual([resumed.live, raw]);
    expect(r.code).toBe(0);
    expect(await readRows(infra.dataDir)).toEqual(stored);
    expect(await liveState(infra)).toEqual({ ...live, replayConsumers: [], replayMessages: 0 });
    expect([existsSync(join(infra.dataDir, 'replays', `${id}.json`)), existsSync(join(infra.dataDir, 'replays', `${id}.read`))]).toEqual([false, false]);
  }, 240_000);

  test('SIGINT while the first stage is still starting: exit 1 with the resume line, and --resume finishes it', async () => {
    await wipeRows(infra.dataDir);
    const { pid, exited, stderr } = startReplay();
    await until('the replay has spawned its first stage', () => childrenRunning(pid, 'services/').length > 0, 120_000);
    const again = /replay (r\w+): from /.exec(stderr())![1];
    const logs = /logs in (\S+)/.exec(stderr())![1];
    const ready = () => ['api', 'parser'].some((s) => existsSync(join(logs, `${s}.log`)) && readFileSync(join(logs, `${s}.log`), 'utf8').includes('"event":"ready"'));
    expect(ready()).toBe(false); // (a stage takes over a second to get ready)
    process.kill(-pid, 'SIGINT');
    const code = await exited;
    expect(stderr()).toMatch(new RegExp(`replay ${again} interrupted while its stages started \\(0 of \\d+ ready\\), ${TO_GO.source} on the consumers made so far: continue it with \`agentsight replay --resume ${again}\``));
    expect(stderr()).not.toMatch(/error|exited \(/);
    expect(code).toBe(1);
    expect(childrenRunning(pid, 'services/')).toEqual([]);
    const r = await runCli(['replay', '--resume', again], infra.env);
    expect(r.stderr).toContain(`replay ${again} done: `);
    expect(r.code).toBe(0);
    expect(await readRows(infra.dataDir)).toEqual(stored);
    expect(await liveState(infra)).toEqual({ ...live, replayConsumers: [], replayMessages: 0 });
  }, 240_000);
});
