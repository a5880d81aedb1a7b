/**
 * Analyzer domain: recognises LLM API calls in HTTP exchanges and audits them and process events. Pure TypeScript,
 * no NATS; the service layer publishes the results.
 */
export { analyzeExchange, NO_RESPONSE_ERROR } from './analyze';
export { defineApi, type ExtractContext, type History, type LlmApiAdapter } from './api-adapter';
export { apiAdapter, LLM_APIS } from './apis';
export { auditForCall, auditForProc, llmSummary, procSummary } from './audit';
export { anthropicUsage, extractAnthropicMessages } from './anthropic-messages';
export { extractOpenAiChat, openAiUsage } from './openai-chat';
export { extractOpenAiResponses, responsesFinish, responsesUsage } from './openai-responses';
export { reportsReasoningApart, withReasoningInOutput } from './reasoning';
export { extractGemini, geminiUsage, googleErrorType } from './gemini';
export { bedrockErrorType, bedrockUsage, extractBedrockConverse, extractBedrockInvoke } from './bedrock';
export { crc32, decodeEventStream, looksLikeEventStream, type EventStreamDecode, type EventStreamMessage } from './eventstream';
export { extractOllama, isOllamaShape, ollamaUsage } from './ollama';
export { dashscopeUsage, extractDashscope } from './dashscope';
export { apiFromPath, isStreamingPath, modelFromPath, providerFor, targetPath } from './providers';
export { parseSseText } from './json';
export type { Extraction, JsonEvent, ResponseJson } from './extraction';
export { type AnalyzeResult, type AnalyzerDeadLetter, type LlmApi } from './types';
export { llmContent, normalizeRequest, outputMessages, semconvFinishReason, toSemconvMessages, type NormalizedRequest, type NormMessage } from './messages';
export { conversationOf, processConversationId, type ConversationRef } from './conversation';
export {
  auditForTool, mergeToolUse, toolHalvesOf, toolRequests, toolResults, toolSummary, toolUseId, turnKey,
  type ToolRequestHalf, type ToolResultHalf,
} from './tools';
