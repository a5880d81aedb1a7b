import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  EXAMPLE_AGENT_FIXTURES, EXAMPLE_AGENT_ROUTES, groundTruthFor, repoRoot, ReplayServer, runNode, startReplayServer,
} from './index';

const root = repoRoot();
const agentJs = path.join(root, 'examples', 'dist', 'agent.js');

describe('example agent (official openai SDK, node TLS) against the replay server', () => {
  let server: ReplayServer;
  let dir: string;
  const proof = `agentsight-ls-proof-${process.pid}-${Date.now()}.txt`;

  beforeAll(async () => {
    // compile examples/src → examples/dist (no ts-node): the test runs the real compiled agent as a child process
    execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-b', 'examples'], { cwd: root, stdio: 'pipe' });
    server = await startReplayServer({ routes: EXAMPLE_AGENT_ROUTES });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-dir-'));
    fs.writeFileSync(path.join(dir, proof), 'x');
  }, 120000);
  afterAll(async () => {
    await server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('streams a tool call, runs ls, sends the result back and prints the final answer', async () => {
    const [toolGt, textGt] = EXAMPLE_AGENT_FIXTURES.map((f) => groundTruthFor(f));
    const r = await runNode(agentJs, [dir], {
      env: { OPENAI_BASE_URL: `${server.url}/v1`, NODE_EXTRA_CA_CERTS: server.caPath, OPENAI_API_KEY: '', AGENT_LS_DIR: '' },
    });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    // call 1: the recorded tool-call stream
    expect(r.stdout).toContain(`call 1: id=${toolGt.response_id} model=${toolGt.model}`);
    expect(r.stdout).toContain(`finish=tool_calls usage(in/out)=${toolGt.input_tokens}/${toolGt.output_tokens} tool_calls=1`);
    // the tool really ran: ls output of our temp dir, including the file only we created
    expect(r.stdout).toContain(`tool get_current_weather(${toolGt.tool_calls[0].arguments}) -> ran: ls -la ${dir} (exit 0`);
    expect(r.stdout).toContain(proof);
    // call 2: the recorded text stream, printed as the final answer
    expect(r.stdout).toContain(`call 2: id=${textGt.response_id} model=${textGt.model}`);
    expect(r.stdout).toContain(`usage(in/out)=${textGt.input_tokens}/${textGt.output_tokens}`);
    const answer = r.stdout.split(/\[agent\] answer \(\d+ chars\):\n/)[1];
    expect(textGt.text_prefix).toBeTruthy();
    expect(answer.startsWith(textGt.text_prefix!)).toBe(true);

    // what the server received from the SDK
    expect(server.requests.map((q) => [q.method, q.path, q.fixture])).toEqual([
      ['POST', '/v1/chat/completions', `${EXAMPLE_AGENT_FIXTURES[0]}#0`],
      ['POST', '/v1/chat/completions', `${EXAMPLE_AGENT_FIXTURES[1]}#0`],
    ]);
    const [q1, q2] = server.requests.map((q) => ({ headers: q.headers, body: JSON.parse(q.body.toString()) }));
    expect(q1.headers.authorization).toBe('Bearer sk-example-not-a-real-key');
    expect(q1.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(q1.body.tools[0].function.name).toBe('get_current_weather');
    const assistant = q2.body.messages.find((m: { role: string }) => m.role === 'assistant');
    expect(assistant.tool_calls[0].id).toBe('call_HuRWIamjJM7bLsbCamjSgf8e');
    expect(JSON.parse(assistant.tool_calls[0].function.arguments)).toEqual(JSON.parse(toolGt.tool_calls[0].arguments));
    const toolMsg = q2.body.messages.find((m: { role: string }) => m.role === 'tool');
    expect(toolMsg.tool_call_id).toBe('call_HuRWIamjJM7bLsbCamjSgf8e');
    expect(toolMsg.content).toContain(proof);
  });
});
