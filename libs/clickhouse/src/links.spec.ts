import { Action, linkActions, ProcessStart, ToolWindow } from './links';

const H = 'host-a';
const s = (n: number) => BigInt(Math.round(n * 1000)) * 1_000_000n;

function tool(id: string, pid: number, start: number, end: number | null, args = '{}', name = 'Bash'): ToolWindow {
  return { id, host: H, pid, start_ns: s(start), end_ns: end === null ? null : s(end), name, call_id: `call_${id}`, arguments: args, origin_llm_call_id: `llm_${id}` };
}
const start = (pid: number, ppid: number, at: number): ProcessStart => ({ host: H, pid, ppid, ts_ns: s(at) });
const act = (id: string, pid: number, ppid: number, at: number, subject = ''): Action => ({ id, host: H, pid, ppid, ts_ns: s(at), subject });

describe('causal links from tool uses to actions', () => {
  // Agent 100 asks for tool t1 at 10 s, sends its result at 20 s; t2 runs 30–40 s.
  const tools = [tool('t1', 100, 10, 20, '{"command":"ls -la"}'), tool('t2', 100, 30, 40, '{"command":"npm test"}')];
  const starts = [start(100, 1, 0), start(200, 100, 12), start(201, 200, 13), start(300, 100, 31), start(400, 1, 15)];

  test('an exec by the agent\'s child inside the window is linked, with the tool and its LLM call', () => {
    const links = linkActions([act('e1', 200, 100, 12, '/usr/bin/ls')], tools, starts);
    expect(links.get('e1')).toEqual({ tool_use_id: 't1', tool_name: 'Bash', call_id: 'call_t1', llm_call_id: 'llm_t1', agent_pid: 100, ambiguous: false });
  });

  test('a grandchild\'s file open is linked through the tree, also after the result went back', () => {
    const links = linkActions([act('f1', 201, 200, 25, '/etc/hosts')], tools, starts);
    expect(links.get('f1')?.tool_use_id).toBe('t1');
  });

  test('the agent\'s own actions are linked by their own time; outside every window they are not', () => {
    const links = linkActions([act('o1', 100, 1, 35, '/tmp/x'), act('o2', 100, 1, 25, '/tmp/y')], tools, starts);
    expect(links.get('o1')?.tool_use_id).toBe('t2');
    expect(links.has('o2')).toBe(false);
  });

  test('processes outside the agent\'s tree are never linked', () => {
    const links = linkActions([act('x1', 400, 1, 15, '/usr/bin/ls')], tools, starts);
    expect(links.size).toBe(0);
  });

  test('parallel tool calls: the one whose arguments name the command wins; a tie is marked ambiguous', () => {
    const parallel = [tool('p1', 100, 50, 60, '{"command":"git status"}'), tool('p2', 100, 50, 60, '{"command":"ls /srv"}')];
    const st = [...starts, start(500, 100, 51), start(501, 100, 52)];
    const links = linkActions([act('a1', 500, 100, 51, '/usr/bin/ls'), act('a2', 501, 100, 52, '/usr/bin/date')], parallel, st);
    expect(links.get('a1')).toMatchObject({ tool_use_id: 'p2', ambiguous: false });
    expect(links.get('a2')).toMatchObject({ ambiguous: true });
  });

  test('a child started while the response was still being read (before start_ns) is linked from when the call was sent', () => {
    const t = [{ ...tool('s1', 100, 70, 80), open_ns: s(65) }, { ...tool('s0', 100, 60, 65), open_ns: s(55) }];
    const st = [...starts, start(600, 100, 68)];
    const links = linkActions([act('c1', 600, 100, 68, '/usr/bin/ls'), act('own', 100, 1, 68, '/tmp/z')], t, st);
    expect(links.get('c1')?.tool_use_id).toBe('s1');
    expect(links.has('own')).toBe(false);
  });

  test('an open window (result not seen yet) links what follows its start', () => {
    const links = linkActions([act('n1', 300, 100, 99, '/usr/bin/sleep')], [tool('t3', 100, 31, null)], starts);
    expect(links.get('n1')?.tool_use_id).toBe('t3');
  });

  test('the closest agent ancestor owns the action (an agent started by an agent)', () => {
    const nested = [...tools, tool('sub', 200, 12.5, 19)];
    const links = linkActions([act('g1', 201, 200, 13, '/usr/bin/cat')], nested, starts);
    expect(links.get('g1')?.tool_use_id).toBe('sub');
  });

  test('a pid loop in bad data ends', () => {
    const loop = [start(700, 701, 1), start(701, 700, 1)];
    expect(linkActions([act('l1', 700, 701, 5)], tools, loop).size).toBe(0);
  });
});
