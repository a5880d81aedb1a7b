import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_KEPT_LINES, spawnReady } from './children';

describe('spawnReady: the JSON lines kept for exit stay bounded (a child may run for weeks)', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'children-spec-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the latest stats line and the newest MAX_KEPT_LINES others, counting the rest', async () => {
    const others = MAX_KEPT_LINES + 5;
    const script = `
      const out = [JSON.stringify({ event: 'ready' })];
      for (let i = 0; i < ${others}; i++) { out.push(JSON.stringify({ event: 'tls_notice', i })); out.push(JSON.stringify({ event: 'stats', i })); }
      out.push(JSON.stringify({ event: 'stopped' }));
      process.stdout.write(out.join('\\n') + '\\n');`;
    const c = await spawnReady('lines', process.execPath, ['-e', script], { env: process.env, logDir: dir });
    const { code, lines, dropped_lines } = await c.exited;
    expect(code).toBe(0);
    expect(lines.length).toBe(MAX_KEPT_LINES + 1);
    expect(lines[0]).toEqual({ event: 'tls_notice', i: 6 }); // the 6 oldest notices (of 10,005 + stopped) went
    expect(lines.slice(-2)).toEqual([{ event: 'stopped' }, { event: 'stats', i: others - 1 }]);
    expect(lines.filter((l) => l.event === 'stats')).toHaveLength(1);
    expect(dropped_lines).toBe(6 + (others - 1));
  });
});
