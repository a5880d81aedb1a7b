/**
 * The built-in discovery rules (format and glob semantics: see `rules.ts`). A TypeScript module rather than a JSON
 * file so that it is compiled into `dist/` by the plain `tsc -b` build and found at run time without copying.
 *
 * Notes on what each kind of rule can see:
 * - Node CLIs installed by npm are started through a symlink such as `/usr/local/bin/claude` whose target is a script
 *   with `#!/usr/bin/env node`: the kernel passes the path AS INVOKED, so argv is `node /usr/local/bin/claude …` and the
 *   package path (`@anthropic-ai/claude-code`) only shows when the script is run by its real path. Hence both `*\/bin/<name>`
 *   and the package path in the `arg` globs. `comm` is `node` in that case, unless the CLI sets `process.title`
 *   (which on Linux also renames `comm`).
 * - Native binaries (Claude Code's Bun binary, Codex's musl binary, OpenCode's Bun binary, Copilot's single-file Node
 *   binary, Crush, Goose) are found by `comm` and `exe`. Agent titles come from `KNOWN_AGENTS` (`@agentsight/contracts`).
 * - Python scripts run through a direct `#!/…/python` shebang get the script's name as `comm` (e.g. `aider`); through
 *   `#!/usr/bin/env python3`, `comm` is the interpreter's and the script path is an argument.
 * - LLM SDKs inside a generic Node or Python process: JavaScript and `.py` modules are read and closed, never mapped,
 *   so once imported they leave no trace in `/proc/<pid>/maps` or `/proc/<pid>/fd`. What remains visible is
 *   (a) command-line hints (a script or `--require/--import` path inside the SDK package, `python -m litellm`), and
 *   (b) for Python, the native extension modules the SDKs pull in, which ARE mmapped: `jiter` (a dependency of the
 *   `openai` and `anthropic` packages), `tiktoken` (OpenAI's tokenizer, used by litellm and langchain-openai) and
 *   `tokenizers` (litellm, transformers) — but only once the code path that imports them has run. A Node process
 *   using `openai`/`@anthropic-ai/sdk`/`@google/genai` through a plain `node app.js` is NOT detectable this way
 *   (these SDKs have no native addon); an explicit user rule on its script path (`arg`) or `cwd`-based naming is the
 *   way to catch it.
 */
import { KNOWN_AGENTS as A } from '@agentsight/contracts';
import type { RuleInput } from './rules';

const NODE = ['*/node', '*/nodejs', '*/node[0-9]*', '*/bun'];
const PYTHON = ['*/python', '*/python[0-9]*', '*/pypy*'];
const NODE_SDKS = '{openai,@anthropic-ai/sdk,@anthropic-ai/bedrock-sdk,@anthropic-ai/vertex-sdk,@google/genai,@google/generative-ai,@google-cloud/vertexai,@mistralai/mistralai,groq-sdk,cohere-ai,ollama,ai,@ai-sdk/*,langchain,@langchain/*,llamaindex}';
const PY_SDKS = '{openai,anthropic,litellm,langchain,langchain_core,langchain_community,langchain_openai,langchain_anthropic,langchain_google_genai,google/genai,google/generativeai,mistralai,groq,cohere,llama_index}';
const SITE = '*/{site,dist}-packages';

/** The built-in rules, in precedence order: named agents first, generic SDK heuristics last. */
export const BUILTIN_RULES: RuleInput[] = [
  { id: 'claude-code.comm', agent: A.claudeCode.title, comm: ['claude', 'claude.exe'], description: 'the native claude binary, or the Node CLI after it set its process title' },
  { id: 'claude-code.native', agent: A.claudeCode.title, exe: ['*/claude/versions/*', '*/bin/claude', '*/@anthropic-ai/claude-code-linux-*/claude', '*/@anthropic-ai/claude-code/bin/claude.exe'], description: 'native Bun binary: installer (~/.local/share/claude/versions/<version>) or npm (@anthropic-ai/claude-code-linux-x64/claude, bin/claude.exe)' },
  { id: 'claude-code.node', agent: A.claudeCode.title, exe: NODE, arg: ['*/@anthropic-ai/claude-code/*', '*/bin/claude'], description: 'npm package @anthropic-ai/claude-code run by node/bun' },

  { id: 'gemini-cli.comm', agent: A.geminiCli.title, comm: 'gemini', description: 'process named gemini' },
  { id: 'gemini-cli.node', agent: A.geminiCli.title, exe: NODE, arg: ['*/@google/gemini-cli/*', '*/bin/gemini'], description: 'npm package @google/gemini-cli run by node' },

  { id: 'qwen-code.comm', agent: A.qwenCode.title, comm: 'qwen', description: 'process named qwen' },
  { id: 'qwen-code.node', agent: A.qwenCode.title, exe: NODE, arg: ['*/@qwen-code/qwen-code/*', '*/bin/qwen'], description: 'npm package @qwen-code/qwen-code run by node' },

  { id: 'codex.comm', agent: A.codex.title, comm: ['codex', 'codex-*'], description: 'the native codex binary (the npm wrapper starts it as a child)' },
  { id: 'codex.native', agent: A.codex.title, exe: ['*/@openai/codex/*', '*/@openai/codex-linux-*/*'], description: 'static musl binary shipped by the npm package (@openai/codex-linux-x64/vendor/<triple>/bin/codex)' },
  { id: 'codex.node', agent: A.codex.title, exe: NODE, arg: ['*/@openai/codex/*', '*/bin/codex'], description: 'the npm package @openai/codex (node wrapper)' },

  { id: 'copilot.comm', agent: A.copilot.title, comm: 'copilot', description: 'the single-file Node binary of @github/copilot-linux-x64' },
  { id: 'copilot.native', agent: A.copilot.title, exe: '*/@github/copilot-linux-*/copilot', description: 'the single-file Node binary shipped by the npm package' },
  { id: 'copilot.node', agent: A.copilot.title, exe: NODE, arg: ['*/@github/copilot/*', '*/bin/copilot'], description: 'the npm loader of @github/copilot run by node' },

  { id: 'crush.comm', agent: A.crush.title, comm: 'crush', description: 'the crush Go binary' },

  { id: 'aider.comm', agent: A.aider.title, comm: 'aider', description: 'the aider script started through its python shebang' },
  { id: 'aider.script', agent: A.aider.title, exe: PYTHON, arg: '*/bin/aider', description: 'python running the aider entry point' },
  { id: 'aider.module', agent: A.aider.title, exe: PYTHON, cmdline: '* -m aider{, *,.main*}', description: 'python -m aider' },

  { id: 'openclaw.comm', agent: A.openclaw.title, comm: 'openclaw*', description: 'openclaw / openclaw-gateway processes' },
  { id: 'openclaw.node', agent: A.openclaw.title, exe: NODE, arg: ['*/node_modules/openclaw/*', '*/bin/openclaw'], description: 'the npm package openclaw run by node' },

  { id: 'opencode.comm', agent: A.opencode.title, comm: ['opencode', 'opencode.exe'], description: 'the opencode Bun binary' },
  { id: 'opencode.native', agent: A.opencode.title, exe: ['*/opencode-linux-*/bin/opencode', '*/opencode-ai/bin/opencode.exe'], description: 'the Bun binary shipped by the npm package (opencode-linux-x64/bin/opencode, bin/opencode.exe)' },
  { id: 'opencode.node', agent: A.opencode.title, exe: NODE, arg: ['*/opencode-ai/*', '*/bin/opencode'], description: 'the npm package opencode-ai (wrapper) run by node/bun' },

  { id: 'goose.comm', agent: A.goose.title, comm: ['goose', 'goosed'], description: 'the goose CLI or the goosed server' },

  { id: 'cursor-agent.comm', agent: A.cursorAgent.title, comm: 'cursor-agent', description: 'the cursor-agent launcher' },
  { id: 'cursor-agent.bundle', agent: A.cursorAgent.title, exe: '*/cursor-agent/*', description: 'the node bundled in ~/.local/share/cursor-agent/versions/<version>' },

  { id: 'node-llm-sdk.cmdline', agent: 'Node LLM SDK', exe: NODE, arg: `*/node_modules/${NODE_SDKS}/*`, description: 'node started on (or with --require/--import of) a file inside an LLM SDK package' },
  { id: 'node-llm-sdk.files', agent: 'Node LLM SDK', exe: NODE, file: `*/node_modules/${NODE_SDKS}/*`, description: 'node with a file of an LLM SDK package mapped or open (rare: JS modules are read and closed)' },
  { id: 'python-llm-sdk.native', agent: 'Python LLM SDK', exe: PYTHON, file: `${SITE}/{jiter,tiktoken,tokenizers}/*.so`, description: 'python with a native module of jiter (openai, anthropic), tiktoken or tokenizers (litellm, langchain) mapped' },
  { id: 'python-llm-sdk.files', agent: 'Python LLM SDK', exe: PYTHON, file: `${SITE}/${PY_SDKS}/*`, description: 'python with a file of an LLM SDK package mapped or open (only while it is being imported, or a native part)' },
  { id: 'python-llm-sdk.cmdline', agent: 'Python LLM SDK', exe: PYTHON, arg: [`${SITE}/${PY_SDKS}/*`, '*/bin/litellm'], description: 'python running an SDK file or the litellm proxy' },
  { id: 'python-llm-sdk.module', agent: 'Python LLM SDK', exe: PYTHON, cmdline: `* -m {litellm,openai,anthropic}{, *}`, description: 'python -m litellm | openai | anthropic' },
];
