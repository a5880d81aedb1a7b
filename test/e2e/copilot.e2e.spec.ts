/**
 * Copilot CLI, the real single-file binary pinned in test/agents (`@github/copilot-linux-x64/copilot`), run as a user
 * would under `agentsight exec -- copilot -p … --allow-all-tools` with no other flags against the local mock LLM
 * (COPILOT_OFFLINE + COPILOT_PROVIDER_BASE_URL, Chat Completions; launch in test/e2e/agents.ts).
 *
 * Its HTTP goes through the Rust addon `runtime.node` it unpacks under ~/.cache/copilot and loads at run time in a
 * child process: reqwest + native-tls over a statically linked, stripped OpenSSL 3.5, found when the file is mapped
 * executable and located by services/probe-producer/src/locate_openssl.c. The checks are test/e2e/agent-spec.ts's:
 * every response the mock sent stored once and exact, session named copilot, the shell tool's command in the audit
 * linked to its tool use, 0 loss.
 */
import { describeAgentE2e } from './agent-spec';

describeAgentE2e('copilot', 'Copilot CLI');
