/**
 * analyzeExchange + toInferenceEvent against the real traffic corpus: EVERY ground-truth row (OpenAI-style Chat
 * Completions, OpenAI Responses, Anthropic Messages, Gemini generateContent/streamGenerateContent, Bedrock
 * ConverseStream), asserted exactly (rules A–F of the corpus README).
 *
 * Rule F (error responses): the ground truth writes the finish as `error:<HTTP status>:<error.type>`. The analyzer
 * keeps `finish_reasons` for what the model reported (none for a rejected request, so `[]`) and puts the provider's
 * error type in `error_type` (OTel `error.type`) next to `http_status`; the ground-truth string is rebuilt from those.
 */
import { GenAiAttr, type LlmCall } from '@agentsight/contracts';
import { GT_API as API, GT_PROVIDER as PROVIDER, groundTruthDiff, semconvInputTokens as semconvInput, semconvOutputTokens as semconvOutput, textPrefix as prefix, type ObservedCall, exchangeFor, groundTruth, vercelRequestModel, type GroundTruth } from '@agentsight/testkit';
import { toInferenceEvent } from '../../services/genai/src/domain';
import { analyzeExchange } from '../../services/analyzer/src/domain/analyze';
import { modelFromPath, targetPath } from '../../services/analyzer/src/domain/providers';

// API / PROVIDER maps, the semconv input rule and the 60-character prefix are shared with the end-to-end capture spec
// (test/e2e/corpus-capture.spec.ts) through @agentsight/testkit (ground-truth.ts).
const rows = groundTruth();

/** An analyzer call in the shape the shared ground-truth comparison takes. */
function observed(call: LlmCall): ObservedCall {
  return { ...call.usage, ...call, tool_calls: call.tool_calls };
}

/** Request model: the request body's `model`, else (Gemini, Bedrock) the model named in the request path. */
function expectedRequestModel(gt: GroundTruth, call: LlmCall, target: string): string | null {
  const fromPath = modelFromPath(targetPath(target));
  if (gt.api === 'converse-stream') return 'us.anthropic.claude-3-7-sonnet-20250219-v1:0';
  if (API[gt.api].api === 'generate_content') return fromPath;
  if (gt.file.startsWith('vercel__')) return vercelRequestModel(gt);
  if (gt.file.startsWith('agentsight__')) return 'claude-haiku-4-5-20251001';
  return call.request_model; // ddtrace: checked against the cassette request below
}

test('every ground-truth row is covered: 54 calls of 6 APIs and 8 providers', () => {
  expect(rows.length).toBe(54);
  expect(new Set(rows.map((r) => r.api))).toEqual(new Set(Object.keys(API)));
  expect(new Set(rows.map((r) => r.provider))).toEqual(new Set(Object.keys(PROVIDER)));
});

describe.each(rows.map((g) => [`${g.file}${g.call !== undefined ? `#${g.call}` : ''}`, g] as const))('%s', (_file, gt) => {
  const ex = exchangeFor(gt);
  const result = analyzeExchange(ex);
  const call = result.call!;

  test('is recognised, with no dead letter and one audit record', () => {
    expect(call).not.toBeNull();
    expect(result.deadLetters).toEqual([]);
    expect(call.api).toBe(API[gt.api].api);
    expect(call.provider).toBe(PROVIDER[gt.provider]);
    expect(call.operation).toBe(API[gt.api].operation);
    expect(call.streaming).toBe(gt.streaming);
    expect(result.audit).toHaveLength(1);
    expect(result.audit[0].type).toBe('llm');
    expect(result.audit[0].summary.startsWith(`${call.provider} `)).toBe(true);
    if (gt.http) expect(call.http_status).toBe(gt.http.status);
    expect(call.start_ns).toBe(ex.request.start_ns);
    expect(call.end_ns).toBe(ex.response!.end_ns);
  });

  test('model, response id and request model', () => {
    expect(call.response_model).toBe(gt.model);
    expect(call.response_id).toBe(gt.response_id);
    expect(call.request_model).toBe(expectedRequestModel(gt, call, ex.request.target));
    if (gt.file.startsWith('ddtrace__') && API[gt.api].api !== 'generate_content' && gt.api !== 'converse-stream') {
      expect(call.request_model).toBe((JSON.parse(Buffer.from(ex.request.body).toString('utf8')) as { model: string }).model);
    }
  });

  test('usage: provider-raw numbers and OTel mapping', () => {
    const u = call.usage;
    const raw = (call.raw_usage ?? {}) as Record<string, unknown>;
    expect(u.output_tokens).toBe(semconvOutput(gt));
    expect(u.cache_read_input_tokens).toBe(gt.cache_read_tokens);
    expect(u.cache_creation_input_tokens).toBe(gt.cache_creation_tokens);
    expect(u.reasoning_output_tokens).toBe(gt.reasoning_tokens);
    expect(u.input_tokens).toBe(semconvInput(gt));
    if (gt.input_tokens === null) {
      expect(call.raw_usage).toBeNull();
    } else if (gt.api === 'messages') {
      expect(raw.input_tokens).toBe(gt.input_tokens);
      expect(raw.output_tokens).toBe(gt.output_tokens);
      expect(raw.cache_read_input_tokens ?? null).toBe(gt.cache_read_tokens);
      expect(raw.cache_creation_input_tokens ?? null).toBe(gt.cache_creation_tokens);
    } else if (gt.api === 'responses') {
      expect(raw.input_tokens).toBe(gt.input_tokens);
      expect(raw.output_tokens).toBe(gt.output_tokens);
      expect((raw.input_tokens_details as Record<string, unknown>).cached_tokens).toBe(gt.cache_read_tokens);
      expect((raw.output_tokens_details as Record<string, unknown>).reasoning_tokens).toBe(gt.reasoning_tokens);
    } else if (API[gt.api].api === 'generate_content') {
      expect(raw.promptTokenCount).toBe(gt.input_tokens);
      expect(raw.candidatesTokenCount ?? null).toBe(gt.output_tokens);
      expect(raw.cachedContentTokenCount ?? null).toBe(gt.cache_read_tokens);
      expect(raw.thoughtsTokenCount ?? null).toBe(gt.reasoning_tokens);
    } else if (gt.api === 'converse-stream') {
      expect(raw.inputTokens).toBe(gt.input_tokens);
      expect(raw.outputTokens).toBe(gt.output_tokens);
      expect(raw.cacheReadInputTokens ?? null).toBe(gt.cache_read_tokens);
      expect(raw.cacheWriteInputTokens ?? null).toBe(gt.cache_creation_tokens);
    } else {
      expect(raw.prompt_tokens).toBe(gt.input_tokens);
      expect(raw.completion_tokens).toBe(gt.output_tokens);
    }
  });

  test('finish reason (rule F for errors)', () => {
    if (gt.finish_reason?.startsWith('error:')) {
      expect(call.finish_reasons).toEqual([]);
      expect(call.error_type).not.toBeNull();
      expect(`error:${call.http_status}:${call.error_type}`).toBe(gt.finish_reason);
    } else {
      expect(call.error_type).toBeNull();
      expect(call.finish_reasons).toEqual(gt.finish_reason === null ? [] : [gt.finish_reason]);
    }
  });

  test('tool calls: names and arguments (as parsed JSON; raw text for custom tools)', () => {
    expect(call.tool_calls.map((t) => t.name)).toEqual(gt.tool_calls.map((t) => t.name));
    call.tool_calls.forEach((t, i) => {
      const want = gt.tool_calls[i].arguments;
      let parsed: unknown;
      try {
        parsed = JSON.parse(want);
      } catch {
        expect(t.arguments).toBe(want); // OpenAI custom tool: raw input text
        return;
      }
      expect(JSON.parse(t.arguments)).toEqual(parsed);
    });
  });

  test('output text prefix (reasoning/thinking excluded)', () => {
    if (gt.text_prefix === null) expect(call.output_text).toBe('');
    else expect(prefix(call.output_text)).toBe(gt.text_prefix);
  });

  test('the shared ground-truth comparison finds no difference, and does find a changed count', () => {
    expect(groundTruthDiff(gt, observed(call))).toEqual([]);
    const off = observed(call);
    off.output_tokens = (off.output_tokens ?? 0) + 1;
    expect(groundTruthDiff(gt, off)).toEqual([`output_tokens: got ${off.output_tokens}, want ${JSON.stringify(semconvOutput(gt))}`]);
  });

  test('GenAI event attributes (semconv v1.41)', () => {
    const ev = toInferenceEvent(call);
    const a = ev.attributes;
    expect(ev.llm_call_id).toBe(call.id);
    expect(ev.name).toBe(`${API[gt.api].operation} ${call.request_model ?? call.response_model}`);
    expect(a[GenAiAttr.operationName]).toBe(API[gt.api].operation);
    expect(a[GenAiAttr.providerName]).toBe(PROVIDER[gt.provider]);
    expect(a[GenAiAttr.responseModel]).toBe(gt.model ?? undefined);
    expect(a[GenAiAttr.responseId]).toBe(gt.response_id ?? undefined);
    expect(a[GenAiAttr.usageInputTokens]).toBe(semconvInput(gt) ?? undefined);
    expect(a[GenAiAttr.usageOutputTokens]).toBe(semconvOutput(gt) ?? undefined);
    expect(a[GenAiAttr.usageCacheReadInputTokens]).toBe(gt.cache_read_tokens ?? undefined);
    expect(a[GenAiAttr.usageCacheCreationInputTokens]).toBe(gt.cache_creation_tokens ?? undefined);
    expect(a[GenAiAttr.usageReasoningOutputTokens]).toBe(gt.reasoning_tokens ?? undefined);
    expect(a[GenAiAttr.serverAddress]).toBe(ex.server_address.replace(/:\d+$/, ''));
    expect(a[GenAiAttr.httpResponseStatusCode]).toBe(ex.response!.status);
    if (gt.finish_reason?.startsWith('error:')) {
      expect(a[GenAiAttr.responseFinishReasons]).toBeUndefined();
      expect(`error:${a[GenAiAttr.httpResponseStatusCode]}:${a[GenAiAttr.errorType]}`).toBe(gt.finish_reason);
    } else {
      expect(a[GenAiAttr.responseFinishReasons]).toEqual([gt.finish_reason]);
      expect(a[GenAiAttr.errorType]).toBeUndefined();
    }
    expect(ev.raw_usage).toEqual(call.raw_usage);
    expect(ev.tool_calls.map((t) => t.name)).toEqual(gt.tool_calls.map((t) => t.name));
  });
});
