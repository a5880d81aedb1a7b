// An agent-like workload for the resource test: the official openai SDK against the mock LLM (OPENAI_BASE_URL),
// declaring a `bash` tool; each tool call's command runs with `sh -c` as a child (async), its output is the result;
// ends at the first answer. Usage: node resource-agent.js
const { spawn } = require('node:child_process');
const OpenAI = require('openai');

const client = new OpenAI({ apiKey: 'sk-test-resource-agent', baseURL: process.env.OPENAI_BASE_URL });
const tools = [{ type: 'function', function: { name: 'bash', description: 'run a shell command', parameters: { type: 'object', properties: { command: { type: 'string' } }, required: ['command'] } } }];

function run(command) {
  return new Promise((resolve) => {
    const c = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', (code) => resolve(`${out}exit ${code}`));
  });
}

(async () => {
  const messages = [{ role: 'user', content: 'compile the project' }];
  for (let turn = 0; turn < 5; turn++) {
    const r = await client.chat.completions.create({ model: 'gpt-4.1-mock', messages, tools });
    const m = r.choices[0].message;
    if (!m.tool_calls || !m.tool_calls.length) {
      console.log(m.content);
      return;
    }
    messages.push(m);
    for (const t of m.tool_calls) messages.push({ role: 'tool', tool_call_id: t.id, content: await run(JSON.parse(t.function.arguments).command) });
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
