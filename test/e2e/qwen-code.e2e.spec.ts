/**
 * Qwen Code, the real agent pinned in test/agents (installed from npm into /var/cache/agentsight-test/agents), run as a
 * user would under `agentsight exec -- …` with no other flags against the local mock LLM (Node; `qwen -p … --yolo`, OPENAI_BASE_URL (Chat Completions), NODE_EXTRA_CA_CERTS;
 * settings and flags in test/e2e/agents.ts). The checks are test/e2e/agent-spec.ts's: every response the mock sent
 * stored once and exact, session named qwen-code, the shell tool's command in the audit linked to its tool use, 0 loss.
 */
import { describeAgentE2e } from './agent-spec';

describeAgentE2e('qwen-code', 'Qwen Code');
