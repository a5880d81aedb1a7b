import { execFileSync, spawn } from 'child_process';
import * as path from 'path';
import { EXAMPLE_AGENT_ROUTES, fixtureBytes, loadFixture, parseCliArgs, repoRoot, runCurl } from './index';

describe('replay-server CLI', () => {
  it('parses flags', () => {
    expect(parseCliArgs(['--route', '/v1/x=a.json,b.yaml#1', '--port', '8443', '--gzip', '--delay-ms', '5'])).toEqual({
      routes: { '/v1/x': ['a.json', 'b.yaml#1'] }, port: 8443, gzip: true, delayMs: 5,
    });
    expect(parseCliArgs(['--example-agent']).routes).toEqual(EXAMPLE_AGENT_ROUTES);
    expect(() => parseCliArgs(['--bogus'])).toThrow(/unknown flag/);
    expect(() => parseCliArgs(['--route', 'nope'])).toThrow(/--route/);
  });

  it('runs as a separate process, prints one JSON line, serves routes and exits 0 on SIGTERM', async () => {
    const root = repoRoot();
    execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-b', 'libs/testkit'], { cwd: root, stdio: 'pipe' });
    const child = spawn(process.execPath, [path.join(root, 'libs/testkit/dist/replay-server-cli.js'),
      '--route', '/v1/custom=vercel__anthropic-json-tool.1.chunks.txt'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', (d) => { buf += d; if (buf.includes('\n')) resolve(buf.split('\n')[0]); });
        child.once('exit', () => reject(new Error(`cli exited early: ${stderr}`)));
      });
      const info = JSON.parse(line) as { url: string; port: number; caPath: string; pid: number };
      expect(info.url).toBe(`https://127.0.0.1:${info.port}`);
      expect(info.pid).toBe(child.pid);
      const r = await runCurl(['-d', '{}', `${info.url}/v1/custom`], { caPath: info.caPath });
      expect(r.exitCode).toBe(0);
      expect(r.stdoutBytes.equals(fixtureBytes(loadFixture('vercel__anthropic-json-tool.1.chunks.txt')))).toBe(true);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toContain('"path":"/v1/custom"');
    expect(stderr).toContain('"fixture":"vercel__anthropic-json-tool.1.chunks.txt#0"');
  });
});
