/**
 * The coding agents agentsight knows by name: the one place their names are written.
 *
 * `name` is the OTel `gen_ai.agent.name` (semconv v1.41) the analyzer gives their LLM calls and sessions; `title` is
 * what `agentsight discover` prints. Their process patterns ({@link agentName}, used by the analyzer and the resource sampler)
 * and the discovery rules (`services/api/src/cli/discover/builtin-rules.ts`) refer to these entries, and a test
 * (`services/api/src/cli/discover/agents.spec.ts`) checks that both recognise every agent's real binary shapes
 * (`shapes`) as the same agent.
 */

import type { ProcessInfo } from './exchange';

/** A process as it looks when an agent runs (comm, resolved executable, argv), for the shape tests. */
export interface AgentShape {
  /** What it is, e.g. `native Bun binary from @anthropic-ai/claude-code-linux-x64`. */
  what: string;
  comm: string;
  exe: string;
  argv: string[];
}

/** One known agent. */
export interface KnownAgent {
  /** `gen_ai.agent.name`, kebab-case (`claude-code`). */
  name: string;
  /** Human name shown by `agentsight discover` (`Claude Code`). */
  title: string;
  /** npm package(s) it is installed from, when any. */
  npm: string[];
  /** How its processes look (real layouts of the npm packages and installers). */
  shapes: AgentShape[];
}

const NM = '/usr/local/lib/node_modules';

/** Known agents by key. Order matters: the first entry whose patterns match a process names it. */
export const KNOWN_AGENTS = {
  claudeCode: {
    name: 'claude-code', title: 'Claude Code', npm: ['@anthropic-ai/claude-code'],
    shapes: [
      { what: 'native Bun binary of @anthropic-ai/claude-code-linux-x64 (npm)', comm: 'claude', exe: `${NM}/@anthropic-ai/claude-code/node_modules/@anthropic-ai/claude-code-linux-x64/claude`, argv: ['claude', '-p', 'hi'] },
      { what: 'native installer binary', comm: '2.1.332', exe: '/root/.local/share/claude/versions/2.1.332', argv: ['claude'] },
      { what: 'bin/claude.exe placed by the npm postinstall', comm: 'claude', exe: `${NM}/@anthropic-ai/claude-code/bin/claude.exe`, argv: ['/usr/local/bin/claude', '-p', 'hi'] },
      { what: 'older Node CLI through the npm symlink', comm: 'node', exe: '/usr/bin/node', argv: ['node', '/usr/local/bin/claude'] },
    ],
  },
  codex: {
    name: 'codex', title: 'Codex', npm: ['@openai/codex'],
    shapes: [
      { what: 'static musl binary of @openai/codex-linux-x64', comm: 'codex', exe: `${NM}/@openai/codex/node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex`, argv: ['codex', 'exec', 'hi'] },
      { what: 'the npm Node wrapper', comm: 'node', exe: '/usr/bin/node', argv: ['node', '/usr/local/bin/codex', 'exec', 'hi'] },
    ],
  },
  opencode: {
    name: 'opencode', title: 'OpenCode', npm: ['opencode-ai'],
    shapes: [
      { what: 'Bun binary of opencode-linux-x64', comm: 'opencode', exe: `${NM}/opencode-ai/node_modules/opencode-linux-x64/bin/opencode`, argv: ['opencode', 'run', 'hi'] },
      { what: 'bin/opencode.exe placed by the npm postinstall', comm: 'opencode.exe', exe: `${NM}/opencode-ai/bin/opencode.exe`, argv: ['/usr/local/bin/opencode', 'run', 'hi'] },
    ],
  },
  geminiCli: {
    name: 'gemini-cli', title: 'Gemini CLI', npm: ['@google/gemini-cli'],
    shapes: [
      { what: 'Node script through the npm symlink', comm: 'node', exe: '/usr/bin/node', argv: ['node', '/usr/local/bin/gemini', '-p', 'hi'] },
      { what: 'Node script by its real path (and its relaunched child)', comm: 'node', exe: '/usr/bin/node', argv: ['/usr/bin/node', '--max-old-space-size=4096', `${NM}/@google/gemini-cli/bundle/gemini.js`, '-p', 'hi'] },
    ],
  },
  qwenCode: {
    name: 'qwen-code', title: 'Qwen Code', npm: ['@qwen-code/qwen-code'],
    shapes: [
      { what: 'Node script through the npm symlink', comm: 'node', exe: '/usr/bin/node', argv: ['node', '/usr/local/bin/qwen', '-p', 'hi'] },
      { what: 'Node script by its real path', comm: 'node', exe: '/usr/bin/node', argv: ['/usr/bin/node', `${NM}/@qwen-code/qwen-code/cli-entry.js`, '-p', 'hi'] },
    ],
  },
  crush: {
    name: 'crush', title: 'Crush', npm: ['@charmland/crush'],
    shapes: [{ what: 'Go binary', comm: 'crush', exe: '/usr/local/bin/crush', argv: ['crush', 'run', 'hi'] }],
  },
  copilot: {
    name: 'copilot', title: 'Copilot CLI', npm: ['@github/copilot'],
    shapes: [
      { what: 'single-file Node binary of @github/copilot-linux-x64', comm: 'copilot', exe: `${NM}/@github/copilot/node_modules/@github/copilot-linux-x64/copilot`, argv: ['copilot', '-p', 'hi'] },
      { what: 'the npm loader run by node', comm: 'node', exe: '/usr/bin/node', argv: ['node', '/usr/local/bin/copilot', '-p', 'hi'] },
    ],
  },
  aider: { name: 'aider', title: 'Aider', npm: [], shapes: [{ what: 'python script', comm: 'aider', exe: '/usr/bin/python3.11', argv: ['/usr/bin/python3', '/usr/local/bin/aider'] }] },
  openclaw: { name: 'openclaw', title: 'OpenClaw', npm: ['openclaw'], shapes: [{ what: 'Node CLI', comm: 'openclaw-gateway', exe: '/usr/bin/node', argv: ['openclaw-gateway'] }] },
  goose: { name: 'goose', title: 'Goose', npm: [], shapes: [{ what: 'Rust binary', comm: 'goose', exe: '/usr/local/bin/goose', argv: ['goose', 'run'] }] },
  cursorAgent: { name: 'cursor-agent', title: 'Cursor Agent', npm: [], shapes: [{ what: 'launcher', comm: 'cursor-agent', exe: '/root/.local/share/cursor-agent/versions/2025.11/node', argv: ['cursor-agent'] }] },
} as const satisfies Record<string, KnownAgent>;

/** Key of a {@link KNOWN_AGENTS} entry. */
export type KnownAgentKey = keyof typeof KNOWN_AGENTS;

/**
 * Patterns over comm, executable and the first arguments naming each known agent (names: `KNOWN_AGENTS`), in `KNOWN_AGENTS` order.
 */
const AGENT_PATTERNS: ReadonlyArray<readonly [KnownAgentKey, RegExp]> = [
  ['claudeCode', /(^|\/)(claude)(\.exe)?$|@anthropic-ai\/claude-code(-[\w-]+)?\/|\/claude\/versions\//],
  ['codex', /(^|\/)codex(-[\w.-]+)?$|@openai\/codex(-[\w-]+)?\//],
  ['opencode', /(^|\/)opencode(\.exe)?$|opencode-ai\/|\/opencode-linux-[\w-]+\//],
  ['geminiCli', /(^|\/)gemini$|@google\/gemini-cli\//],
  ['qwenCode', /(^|\/)qwen$|@qwen-code\/qwen-code\//],
  ['crush', /(^|\/)crush$|@charmland\/crush\//],
  ['copilot', /(^|\/)copilot$|@github\/copilot(-[\w-]+)?\//],
  ['aider', /(^|\/)aider$/],
  ['openclaw', /(^|\/)openclaw[\w-]*$|node_modules\/openclaw\//],
  ['goose', /(^|\/)goosed?$/],
  ['cursorAgent', /(^|\/)cursor-agent$|\/cursor-agent\//],
];

const INTERPRETERS = /(^|\/)(node|nodejs|node\d+|bun|deno|python[\d.]*|pypy\d*|ruby|perl)$/;

/**
 * `gen_ai.agent.name` of a process: a known agent (`KNOWN_AGENTS`: `claude-code`, `codex`, `opencode`, `gemini-cli`,
 * `qwen-code`, `crush`, `copilot`, `aider`, `openclaw`, `goose`, `cursor-agent`) when its comm, executable or script
 * path says so; else, for an interpreter
 * (node, bun, deno, python, ruby, perl) running a script, the script's base name without extension (`agent.js` →
 * `agent`; `python -m pkg` → `pkg`); else the process name (comm). Null only when nothing is known.
 */
export function agentName(proc: Pick<ProcessInfo, 'comm' | 'exe' | 'argv'> | null, comm: string): string | null {
  const candidates = [proc?.comm ?? '', comm, proc?.exe ?? '', ...(proc?.argv ?? []).slice(0, 3)].filter((s) => s !== '');
  for (const [key, re] of AGENT_PATTERNS) if (candidates.some((c) => re.test(c))) return KNOWN_AGENTS[key].name;
  const argv = proc?.argv ?? [];
  if (argv.length > 1 && (INTERPRETERS.test(argv[0]) || INTERPRETERS.test(proc?.exe ?? ''))) {
    for (let i = 1; i < argv.length; i++) {
      const a = argv[i];
      if (a === '-m' && argv[i + 1]) return argv[i + 1];
      if (a.startsWith('-')) continue;
      const base = a.slice(a.lastIndexOf('/') + 1).replace(/\.(c|m)?(js|ts|py|rb|pl)$/, '');
      if (base === 'index' || base === 'main' || base === 'cli') {
        const parts = a.split('/');
        return parts.length > 1 ? (parts[parts.length - 2] === 'dist' || parts[parts.length - 2] === 'src' ? (parts[parts.length - 3] ?? base) : parts[parts.length - 2]) : base;
      }
      return base || null;
    }
  }
  return proc?.comm || comm || null;
}
