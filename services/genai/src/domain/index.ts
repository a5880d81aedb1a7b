/** GenAI domain: LLM calls → OpenTelemetry GenAI semantic events (semconv v1.41). Pure TypeScript, no NATS. */
export { callCost, genAiAttributes, toInferenceEvent } from './genai';
export { agentEventId, toAgentEvent, toToolEvent, TOOL_ERROR_TYPE, type SessionContribution, type SessionState } from './agent';
