/**
 * Analyzer domain: recognises LLM API calls in HTTP exchanges and audits them and process events. Pure TypeScript,
 * no NATS; the service layer publishes the results.
 */
export { analyzeExchange, NO_RESPONSE_ERROR } from './analyze';
export { auditForCall, auditForProc, llmSummary, procSummary } from './audit';
export { anthropicUsage, extractAnthropicMessages } from './anthropic-messages';
export { extractOpenAiChat, openAiUsage } from './openai-chat';
export { apiFromPath, providerFor, targetPath } from './providers';
export { parseSseText } from './json';
export type { Extraction, JsonEvent, ResponseJson } from './extraction';
export { DLQ_SAMPLE_BYTES, type AnalyzeResult, type DeadLetterDraft, type LlmApi } from './types';
