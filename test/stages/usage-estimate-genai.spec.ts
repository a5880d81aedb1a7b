/**
 * A call whose usage the analyzer estimated (corpus vercel__openai-text.chunks.txt with its usage chunk dropped, as in
 * the analyzer's usage-estimate.spec.ts) becomes a GenAI event that says so; a reported one does not. Analyzer domain →
 * genai domain, so it lives with the cross-stage specs.
 */
import { GenAiAttr } from '@agentsight/contracts';
import { exchangeFor, groundTruth, withoutUsageChunk } from '@agentsight/testkit';
import { freeTokenizers } from '@agentsight/tokens';
import { analyzeExchange } from '../../services/analyzer/src/domain/analyze';
import { toInferenceEvent } from '../../services/genai/src/domain';

afterAll(() => freeTokenizers());

describe('OpenAI stream without usage (corpus vercel__openai-text.chunks.txt, usage chunk dropped)', () => {
  const ex = exchangeFor(groundTruth().find((g) => g.file === 'vercel__openai-text.chunks.txt')!);
  const reported = analyzeExchange(ex).call!;
  const call = analyzeExchange(withoutUsageChunk(ex)).call!;

  it('GenAI event marks the estimate (agentsight.usage.source / tokenizer); reported events carry neither', () => {
    const a = toInferenceEvent(call).attributes;
    expect(a[GenAiAttr.usageSource]).toBe('estimated');
    expect(a[GenAiAttr.usageTokenizer]).toBe('o200k_base');
    expect(a[GenAiAttr.usageOutputTokens]).toBe(300);
    expect(a[GenAiAttr.usageInputTokens]).toBe(8);
    const r = toInferenceEvent(reported).attributes;
    expect(GenAiAttr.usageSource in r).toBe(false);
    expect(GenAiAttr.usageTokenizer in r).toBe(false);
  });
});
