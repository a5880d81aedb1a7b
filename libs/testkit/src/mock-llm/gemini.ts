/**
 * Gemini API (`POST …/models/<model>:generateContent`, `:streamGenerateContent?alt=sse`, `:countTokens`,
 * `GET …/models`) as https://ai.google.dev/api/generate-content describes it: `GenerateContentResponse` objects
 * (SSE `data:` lines when streamed), `functionCall` parts, `usageMetadata` with `promptTokenCount` (cached included),
 * `cachedContentTokenCount`, `candidatesTokenCount` (reasoning excluded), `thoughtsTokenCount`, `totalTokenCount`.
 */
import { decide, DeclaredTool, MockAnswer, MockRequest, pad, pieces, sideLog, tokensFor } from './script';

/** Whether a Gemini request's contents carry a `functionResponse` part. */
function hasToolResult(body: any): boolean {
  return (body?.contents ?? []).some((c: any) => (c?.parts ?? []).some((p: any) => p?.functionResponse));
}

function declared(body: any): DeclaredTool[] {
  return (body?.tools ?? []).flatMap((t: any) => (t?.functionDeclarations ?? t?.function_declarations ?? [])
    .filter((f: any) => f?.name).map((f: any) => ({ name: String(f.name), schema: f.parametersJsonSchema ?? f.parameters })));
}

/** Answers one Gemini request, or undefined when the path is not Gemini's. */
export function gemini(req: MockRequest): MockAnswer | undefined {
  const p = req.pathname;
  if (req.method === 'GET' && /\/v1(beta|alpha)?\d*\/models$/.test(p) && /\/v1(beta|alpha)/.test(p)) {
    const models = ['gemini-2.5-pro', 'gemini-2.5-flash'].map((m) => ({ name: `models/${m}`, displayName: m, inputTokenLimit: 1048576,
      outputTokenLimit: 65536, supportedGenerationMethods: ['generateContent', 'countTokens'] }));
    return { status: 200, json: { models }, log: sideLog('gemini.generate_content', req) };
  }
  const m = /\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/.exec(p);
  if (req.method !== 'POST' || !m) return undefined;
  const model = decodeURIComponent(m[1]);
  if (m[2] === 'countTokens') return { status: 200, json: { totalTokens: 42 }, log: sideLog('gemini.generate_content', req, model) };
  const body = req.body ?? {};
  const d = decide(declared(body), hasToolResult(body), req.toolCommand, req.answer);
  const n = req.next();
  const tk = tokensFor(n);
  const id = `gemmock${pad(n)}agentsight`;
  const prompt = tk.uncached + tk.cache_read;
  const usageMetadata = { promptTokenCount: prompt, candidatesTokenCount: tk.visible_output, totalTokenCount: prompt + tk.visible_output + tk.reasoning,
    cachedContentTokenCount: tk.cache_read, promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt }],
    cacheTokensDetails: [{ modality: 'TEXT', tokenCount: tk.cache_read }], thoughtsTokenCount: tk.reasoning };
  const text = d.kind === 'tool_call' ? '' : d.text;
  const args = d.kind === 'tool_call' ? JSON.stringify(d.args) : '';
  const stream = m[2] === 'streamGenerateContent';
  const log = {
    api: 'gemini.generate_content' as const, path: req.path, stream, model, response_id: id,
    input_tokens: prompt, output_tokens: tk.visible_output + tk.reasoning, cache_read_tokens: tk.cache_read, cache_creation_tokens: 0,
    reasoning_tokens: tk.reasoning, finish_reason: 'STOP', tool_calls: d.kind === 'tool_call' ? [{ id: '', name: d.tool.name, arguments: args }] : [],
    text, turn: d.kind,
  };
  const resp = (parts: unknown[], finish: boolean) => ({
    candidates: [{ content: { parts, role: 'model' }, ...(finish ? { finishReason: 'STOP' } : {}), index: 0 }],
    usageMetadata, modelVersion: model, responseId: id,
  });
  const allParts = d.kind === 'tool_call' ? [{ functionCall: { name: d.tool.name, args: d.args } }] : [{ text }];
  if (!stream) return { status: 200, json: resp(allParts, true), log };
  const chunks = d.kind === 'tool_call' ? [resp(allParts, true)] : pieces(text).map((t, i, a) => resp([{ text: t }], i === a.length - 1));
  if (req.query.get('alt') !== 'sse') return { status: 200, json: chunks, log }; // without alt=sse: one JSON array
  // Real streams repeat usageMetadata on every chunk (the last one holds the final counts); so does the mock.
  return { status: 200, sse: chunks.map((c) => `data: ${JSON.stringify(c)}\r\n\r\n`), log };
}
