/**
 * Every HTTP recording of the corpus under real capture: the testkit replay server serves each ground-truth call
 * (recorded bytes, `x-replay-fixture`), a real client makes the request under the real eBPF probe, and the stored LLM
 * call read back through the api service must equal the corpus README's ground truth exactly (model, response id,
 * tokens incl. cache and reasoning, finish reasons, error type and HTTP status, tool calls, answer text, streaming).
 *
 * Clients: the official `openai` SDK (Chat Completions, streamed with `stream_options.include_usage`, and Responses)
 * for OpenAI recordings, the official `@anthropic-ai/sdk` (`messages.create`, `messages.stream`, `beta.messages`) for
 * Anthropic ones, and plain HTTPS clients in rotation (node:https, Python urllib on the system libssl, curl) for
 * Gemini, Bedrock, DeepSeek, xAI, Groq and Azure. Each client talks to the provider's real host name resolved to
 * 127.0.0.1 (or sends it as Host), so provider detection runs as in production. One probe and one pipeline serve all
 * calls; each call runs in its own process, a few at a time, and its pid ties the stored call to its fixture.
 *
 * Not here: `agentsight__claude-code-raw.jsonl` is a raw eBPF capture, not an HTTP recording; it is replayed as raw
 * records by capture-replay.spec.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  groundTruth, groundTruthDiff, groundTruthRequest, gtLabel, observedStoredCall, PY_CLIENT, pythonBin, startReplayServer,
  type GroundTruthEntry, type ReplayServer, type StoredCallFields,
} from '@agentsight/testkit';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { api, captureRun, describeCapture, Infra, runCli, Stages, startInfra } from './harness';

type Row = Record<string, any>;

/** Ground-truth rows not replayed here, with the reason (must stay this one). */
const NOT_HERE: Record<string, string> = {
  'agentsight__claude-code-raw.jsonl': 'raw eBPF capture, not an HTTP recording: replayed as raw records by capture-replay.spec.ts',
};

/** What runs one row: the client process and its spec. */
interface PlanItem {
  label: string;
  client: 'node' | 'python' | 'curl';
  kind: string;
  spec: Record<string, unknown>;
}

const PLAIN = ['node-https', 'python', 'curl'] as const;
/** Anthropic streams read with the SDK's `messages.stream()` helper (the rest iterate `messages.create({stream})`). */
const HELPER = new Set(['vercel__anthropic-text.chunks.txt', 'ddtrace__anthropic_completion_stream_cache_read.yaml']);

function plan(rows: GroundTruthEntry[], server: ReplayServer, dir: string): PlanItem[] {
  let plain = 0;
  return rows.map((gt, i) => {
    const label = gtLabel(gt);
    const req = groundTruthRequest(gt);
    const bodyFile = join(dir, `body-${i}.json`);
    writeFileSync(bodyFile, req.body);
    const spec: Record<string, unknown> = {
      host: req.host, port: server.port, ca: server.caPath, target: req.target, body: req.body, bodyFile,
      fixture: `${gt.file}#${gt.call ?? 0}`, stream: gt.streaming, pyClient: PY_CLIENT, python: pythonBin(),
    };
    if (gt.provider === 'openai') {
      spec.kind = gt.api === 'responses' ? 'openai-responses' : 'openai-chat';
      return { label, client: 'node', kind: `openai SDK ${gt.api}`, spec };
    }
    if (gt.provider === 'anthropic') {
      spec.kind = 'anthropic';
      if (gt.file.endsWith('.sse')) {
        spec.variant = 'beta'; // as Claude Code sends it: POST /v1/messages?beta=true
        spec.target = '/v1/messages?beta=true';
      } else if (HELPER.has(gt.file)) spec.variant = 'helper';
      return { label, client: 'node', kind: `anthropic SDK ${spec.variant ?? 'create'}`, spec };
    }
    const how = PLAIN[plain++ % PLAIN.length];
    if (how === 'node-https') {
      spec.kind = 'node-https';
      return { label, client: 'node', kind: 'node:https', spec };
    }
    return { label, client: how, kind: how === 'python' ? 'python urllib' : 'curl', spec };
  });
}

describeCapture('every corpus recording under real capture, official SDKs and plain clients', () => {
  const rows = groundTruth().filter((g) => !(g.file in NOT_HERE));
  let infra: Infra;
  let stages: Stages;
  let server: ReplayServer;
  let dir: string;
  let items: PlanItem[];
  const ran = new Map<string, Row>();
  let calls: Row[] = [];
  let exchanges: Row[] = [];

  beforeAll(async () => {
    infra = await startInfra();
    stages = new Stages(infra.env);
    await stages.startAll();
    const hostnames = [...new Set(rows.map((g) => groundTruthRequest(g).host))];
    server = await startReplayServer({ hostnames });
    dir = mkdtempSync(join(tmpdir(), 'agentsight-corpus-'));
    items = plan(rows, server, dir);
    const planFile = join(dir, 'plan.json');
    writeFileSync(planFile, JSON.stringify(items));
    const run = await captureRun(infra, `${process.execPath} ${join(__dirname, 'corpus-clients.js')} ${planFile} 4`);
    for (const line of run.stdout.split('\n').filter(Boolean)) {
      const r = JSON.parse(line) as Row;
      ran.set(r.label, r);
    }
    await waitDrained(infra.env);
    calls = await api(infra, '/api/calls?limit=1000');
    exchanges = await api(infra, '/api/exchanges?limit=1000');
  }, 240_000);

  afterAll(async () => {
    await server?.close();
    await stages?.stopAll();
    await infra?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every ground-truth row is replayed here, except the raw capture (covered by capture-replay.spec.ts)', () => {
    const all = groundTruth();
    expect(all.filter((g) => g.file in NOT_HERE).map(gtLabel)).toEqual(Object.keys(NOT_HERE));
    expect(rows.length + Object.keys(NOT_HERE).length).toBe(all.length);
    expect(new Set(rows.map(gtLabel)).size).toBe(rows.length);
    expect([...ran.keys()].sort()).toEqual(rows.map(gtLabel).sort());
    // The clients varied as intended.
    const kinds = new Set(items.map((i) => i.kind));
    for (const k of ['openai SDK chat.completions', 'openai SDK responses', 'anthropic SDK create', 'anthropic SDK helper', 'anthropic SDK beta', 'node:https', 'python urllib', 'curl']) {
      expect(kinds).toContain(k);
    }
    expect(calls).toHaveLength(rows.length);
  });

  test('the token breakdown is stored per call and summed by `agentsight token --detail` (HTTP API and CLI)', async () => {
    let input = 0;
    let output = 0;
    let withDetail = 0;
    for (const c of calls) {
      const d = c.usage_detail;
      if (c['gen_ai.usage.input_tokens'] === null && c['gen_ai.usage.output_tokens'] === null) {
        expect({ call: c['gen_ai.response.id'], d }).toEqual({ call: c['gen_ai.response.id'], d: null });
        continue;
      }
      withDetail++;
      const i = d.input.system + d.input.user + d.input.assistant + d.input.tool;
      expect({ call: c['gen_ai.response.id'], i }).toEqual({ call: c['gen_ai.response.id'], i: c['gen_ai.usage.input_tokens'] });
      input += i;
      if (d.output) {
        const o = d.output.text + d.output.tool_calls + d.output.reasoning;
        expect({ call: c['gen_ai.response.id'], o }).toEqual({ call: c['gen_ai.response.id'], o: c['gen_ai.usage.output_tokens'] });
        output += d.output.text + d.output.reasoning + d.output.tool_calls;
      }
    }
    expect(withDetail).toBeGreaterThan(45);
    const s: Row = await api(infra, '/api/token?period=week&detail=1');
    const t = s.totals.detail;
    expect(t.input_calls).toBe(withDetail);
    expect(t.input.system + t.input.user + t.input.assistant + t.input.tool).toBe(input);
    expect(t.output.text + t.output.reasoning + t.output.tool_calls).toBe(output);
    const cli = await runCli(['token', '--period', 'week', '--detail', '--json'], infra.env);
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout).totals.detail).toEqual(t);
    const text = await runCli(['token', '--period', 'week', '--detail'], infra.env);
    expect(text.stdout).toContain('tokens by role (input) and type (output):');
  });

  test.each(rows.map((g) => [gtLabel(g), g] as const))('%s', async (label, gt) => {
    const r = ran.get(label);
    const item = items.find((i) => i.label === label)!;
    const where = `${label} (${item.kind})`;
    expect({ fixture: where, client: r && { code: r.code, out: r.out, err: r.err } }).toEqual({
      fixture: where, client: expect.objectContaining({ code: gt.finish_reason?.startsWith('error:') && item.client === 'python' ? 22 : 0 }),
    });
    expect({ fixture: where, served: server.requests.filter((q) => q.fixture === `${gt.file}#${gt.call ?? 0}`).length }).toEqual({ fixture: where, served: 1 });
    const mine = calls.filter((c) => c.pid === r!.pid);
    const ex = exchanges.filter((e) => e.pid === r!.pid);
    expect({ fixture: where, calls: mine.length, exchanges: ex.length }).toEqual({ fixture: where, calls: 1, exchanges: 1 });
    // A stream is SSE (the parser splits it into events) or AWS event-stream frames (Bedrock; kept as a framed body).
    const detail: Row = await api(infra, `/api/exchanges/${ex[0].exchange_id}`);
    const contentType = detail.response_headers.find(([k]: string[]) => k.toLowerCase() === 'content-type')?.[1] ?? '';
    const streaming = detail.streaming || /vnd\.amazon\.eventstream/.test(contentType);
    expect({ fixture: where, diff: groundTruthDiff(gt, observedStoredCall(mine[0] as StoredCallFields, streaming)) }).toEqual({ fixture: where, diff: [] });
  });
});
