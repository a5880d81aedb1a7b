/**
 * Gemini CLI, the real agent pinned in test/agents (installed from npm into /var/cache/agentsight-test/agents), run as a
 * user would under `agentsight exec -- …` with no other flags against the local mock LLM (Node, static OpenSSL; `gemini -p … --yolo`, GOOGLE_GEMINI_BASE_URL, NODE_EXTRA_CA_CERTS;
 * settings and flags in test/e2e/agents.ts). The checks are test/e2e/agent-spec.ts's: every response the mock sent
 * stored once and exact, session named gemini-cli, the shell tool's command in the audit linked to its tool use, 0 loss.
 */
import { describeAgentE2e } from './agent-spec';

describeAgentE2e('gemini-cli', 'Gemini CLI');
