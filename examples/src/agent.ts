/**
 * A small tool-using agent built on the official `openai` SDK, used by agentsight's demo and tests as a REAL node TLS client
 * (node's statically linked OpenSSL) whose LLM traffic agentsight captures with eBPF.
 *
 *   OPENAI_BASE_URL=https://127.0.0.1:PORT/v1 NODE_EXTRA_CA_CERTS=/path/cert.pem node examples/dist/agent.js [dir]
 *
 * What it does:
 *   1. streamed chat completion (stream_options.include_usage) offering ONE tool, `get_current_weather`;
 *   2. if the streamed answer contains a tool call, it runs the tool — a real `ls -la <dir>` child process — and
 *   3. sends the tool result back in a second streamed chat completion and prints the final answer.
 * It prints a compact log line per step on stdout (prefix `[agent]`), followed by the ls output and the answer text.
 *
 * HONESTY NOTE: in the demo/tests this agent talks to agentsight's local replay server, which answers with REAL recorded
 * OpenAI streams (no internet, no live model). Call 1 is answered with the recording in `ddtrace__completion_stream_with_tools.yaml`,
 * whose tool call is `get_current_weather({"location":"San Francisco, CA","unit":"celsius"})`; call 2 with the recording
 * `vercel__openai-text.chunks.txt` (an unrelated text answer about a made-up holiday). The recorded model cannot know our tool, so the
 * agent offers a tool with the name the recording uses and implements it by listing a directory — it does NOT fetch any weather.
 * The point is that a real process makes a real TLS request, runs a real child process and sends its output back over TLS.
 *
 * Environment: OPENAI_BASE_URL (required in practice), OPENAI_API_KEY (default: a dummy key), OPENAI_MODEL (default gpt-3.5-turbo,
 * the model of the recorded tool-call request), AGENT_LS_DIR (default: argv[2] or the current directory).
 */
import { spawnSync } from 'child_process';
import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';

/** Name of the tool as it appears in the recorded stream replayed for call 1. */
export const TOOL_NAME = 'get_current_weather';

const TOOLS: ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: TOOL_NAME,
      // Name kept from the recording; the implementation lists the agent's working directory (see the note above).
      description: 'Get the current weather in a given location (demo implementation: lists a local directory with ls -la)',
      parameters: {
        type: 'object',
        properties: {
          location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
          unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
        },
        required: ['location'],
      },
    },
  },
];

interface StreamedTurn {
  id: string;
  model: string;
  text: string;
  finishReason: string | null;
  toolCalls: { id: string; name: string; arguments: string }[];
  usage: { prompt_tokens: number; completion_tokens: number } | null;
  chunks: number;
}

const log = (msg: string) => process.stdout.write(`[agent] ${msg}\n`);

/** Runs one streamed chat completion and assembles the deltas (text, tool calls by index, final usage). */
async function streamTurn(client: OpenAI, model: string, messages: ChatCompletionMessageParam[]): Promise<StreamedTurn> {
  const stream = await client.chat.completions.create({
    model,
    messages,
    tools: TOOLS,
    tool_choice: 'auto',
    stream: true,
    stream_options: { include_usage: true },
  });
  const turn: StreamedTurn = { id: '', model: '', text: '', finishReason: null, toolCalls: [], usage: null, chunks: 0 };
  for await (const chunk of stream) {
    turn.chunks++;
    if (!turn.id && chunk.id) turn.id = chunk.id;
    if (!turn.model && chunk.model) turn.model = chunk.model;
    if (chunk.usage) turn.usage = { prompt_tokens: chunk.usage.prompt_tokens, completion_tokens: chunk.usage.completion_tokens };
    const choice = chunk.choices[0];
    if (!choice) continue;
    if (choice.delta?.content) turn.text += choice.delta.content;
    for (const tc of choice.delta?.tool_calls ?? []) {
      const slot = (turn.toolCalls[tc.index] ??= { id: '', name: '', arguments: '' });
      if (tc.id) slot.id = tc.id;
      if (tc.function?.name) slot.name = tc.function.name;
      if (tc.function?.arguments) slot.arguments += tc.function.arguments;
    }
    if (choice.finish_reason) turn.finishReason = choice.finish_reason;
  }
  return turn;
}

/** The tool implementation: a real `ls -la <dir>` child process. Returns its combined output and exit status. */
function runTool(dir: string): { output: string; status: number | null } {
  const r = spawnSync('ls', ['-la', dir], { encoding: 'utf8' });
  return { output: (r.stdout ?? '') + (r.stderr ?? ''), status: r.status };
}

function describe(turn: StreamedTurn): string {
  const usage = turn.usage ? `${turn.usage.prompt_tokens}/${turn.usage.completion_tokens}` : 'n/a';
  return `id=${turn.id} model=${turn.model} chunks=${turn.chunks} finish=${turn.finishReason} usage(in/out)=${usage}`;
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const dir = process.env.AGENT_LS_DIR || argv[0] || process.cwd();
  const model = process.env.OPENAI_MODEL || 'gpt-3.5-turbo';
  // TLS trust for a local server comes from NODE_EXTRA_CA_CERTS set by the caller. maxRetries 0: a retry would consume the
  // next recording of the replay server's rotation and make the run confusing.
  const client = new OpenAI({
    baseURL: process.env.OPENAI_BASE_URL,
    apiKey: process.env.OPENAI_API_KEY || 'sk-example-not-a-real-key',
    maxRetries: 0,
  });
  log(`pid=${process.pid} base=${client.baseURL} model=${model} dir=${dir}`);

  const messages: ChatCompletionMessageParam[] = [
    { role: 'user', content: 'What is the weather like in San Francisco, CA?' },
  ];
  const first = await streamTurn(client, model, messages);
  log(`call 1: ${describe(first)} tool_calls=${first.toolCalls.length}`);
  if (first.toolCalls.length === 0) {
    log(`answer: ${first.text}`);
    return 0;
  }

  messages.push({
    role: 'assistant',
    content: first.text || null,
    tool_calls: first.toolCalls.map((tc) => ({ id: tc.id, type: 'function' as const, function: { name: tc.name, arguments: tc.arguments } })),
  });
  for (const tc of first.toolCalls) {
    if (tc.name !== TOOL_NAME) {
      log(`tool ${tc.name}: unknown tool, answering with an error`);
      messages.push({ role: 'tool', tool_call_id: tc.id, content: `error: unknown tool ${tc.name}` });
      continue;
    }
    const { output, status } = runTool(dir);
    log(`tool ${tc.name}(${tc.arguments}) -> ran: ls -la ${dir} (exit ${status}, ${output.split('\n').filter(Boolean).length} lines)`);
    process.stdout.write(output.endsWith('\n') ? output : output + '\n');
    messages.push({ role: 'tool', tool_call_id: tc.id, content: output });
  }

  const second = await streamTurn(client, model, messages);
  log(`call 2: ${describe(second)}`);
  log(`answer (${second.text.length} chars):`);
  process.stdout.write(second.text + '\n');
  log('done');
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`[agent] error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
