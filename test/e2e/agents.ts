/**
 * The real agents of test/agents (pinned in its package-lock.json), installed from npm into the test cache, and how
 * each one is run non-interactively against a local mock provider: its documented base-URL setting, its documented
 * way to trust the mock's CA, a private HOME with its settings files, its own flag allowing its shell tool without a
 * prompt, and every update check, telemetry and plugin download turned off (nothing may call the internet).
 *
 * Shared by the per-agent specs test/e2e/<agent>.e2e.spec.ts; {@link runAgentUnderExec} runs one agent under
 * `agentsight exec -- …` (no other flags) with a private pipeline and returns what was stored.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { waitDrained } from '../../services/api/src/cli/pipeline';
import { api, Infra, ROOT, runCli, Stages, startInfra } from './harness';

const run = promisify(execFile);

/** test/agents: the pinned package.json + package-lock.json. */
export const AGENTS_LOCK_DIR = path.join(ROOT, 'test/agents');

/**
 * Where the pinned agents are installed: `$AGENTSIGHT_TEST_CACHE/agents/<first 12 hex of sha256(package-lock.json)>`
 * (default cache /var/cache/agentsight-test), so a new lock installs beside the old one and repeat runs download
 * nothing.
 */
export function agentsDir(): string {
  const lock = fs.readFileSync(path.join(AGENTS_LOCK_DIR, 'package-lock.json'));
  const hash = createHash('sha256').update(lock).digest('hex').slice(0, 12);
  return path.join(process.env.AGENTSIGHT_TEST_CACHE || '/var/cache/agentsight-test', 'agents', hash);
}

/**
 * The pinned agents' node_modules, installed first when missing: `npm install --ignore-scripts` from the lock (npm ci
 * rejects this lock, see test/agents/README.md) in a temporary directory renamed into place, so a killed install
 * leaves nothing half done. About 1.6 GB, about a minute on first install. Errors carry npm's output.
 */
export async function installAgents(): Promise<string> {
  const dir = agentsDir();
  const done = path.join(dir, 'node_modules', '.agentsight-installed');
  if (fs.existsSync(done)) return path.join(dir, 'node_modules');
  const parent = path.dirname(dir);
  fs.mkdirSync(parent, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(parent, '.tmp-'));
  try {
    for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(AGENTS_LOCK_DIR, f), path.join(tmp, f));
    await run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: tmp, maxBuffer: 16 << 20 });
    fs.writeFileSync(path.join(tmp, 'node_modules', '.agentsight-installed'), new Date().toISOString());
    if (fs.existsSync(done)) return path.join(dir, 'node_modules'); // another run won the race
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    return path.join(dir, 'node_modules');
  } catch (err) {
    throw new Error(`cannot install the pinned agents of test/agents from the npm registry: ${(err as Error).message}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** The agents this module knows how to launch (their `gen_ai.agent.name`). */
export type AgentName = 'gemini-cli' | 'qwen-code' | 'opencode' | 'copilot';

/** What one agent run needs: the mock's port and CA, a private home and working directory, the prompt. */
export interface LaunchInput {
  /** node_modules of {@link installAgents}. */
  modules: string;
  port: number;
  caPath: string;
  /** Private HOME (settings files are written into it). */
  home: string;
  /** Working directory of the agent (an empty temp dir). */
  cwd: string;
  prompt: string;
}

/** argv (after `agentsight exec --`) and the environment additions of one agent run. */
export interface Launch {
  argv: string[];
  env: Record<string, string>;
  /** The API key handed to the agent (a test asserts it never reaches storage). */
  apiKey: string;
}

const write = (file: string, obj: unknown) => {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(obj, null, 2));
};

/** Private XDG dirs under home (OpenCode and Copilot keep config, cache and state there). */
const xdg = (home: string) => ({
  HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_CACHE_HOME: path.join(home, '.cache'),
  XDG_DATA_HOME: path.join(home, '.local/share'), XDG_STATE_HOME: path.join(home, '.local/state'),
});

/**
 * How each agent is run (writes its settings files into `i.home`):
 * - gemini-cli: `node bundle/gemini.js -p … --yolo`; GOOGLE_GEMINI_BASE_URL + GEMINI_API_KEY, NODE_EXTRA_CA_CERTS;
 *   `~/.gemini/settings.json` selects API-key auth and turns off usage statistics, telemetry and update checks;
 *   GEMINI_CLI_TRUST_WORKSPACE=true (else headless runs refuse an untrusted folder). It makes a routing
 *   `generateContent` call (no tools, a JSON schema) before the streamed turns.
 * - qwen-code: `node cli-entry.js -p … --yolo`; OPENAI_BASE_URL + OPENAI_API_KEY + OPENAI_MODEL (Chat Completions),
 *   NODE_EXTRA_CA_CERTS; `~/.qwen/settings.json` selects the `openai` auth type.
 * - opencode: the Bun binary `opencode-linux-x64/bin/opencode run …`; a provider `mock` in
 *   `~/.config/opencode/opencode.json` (`@ai-sdk/openai-compatible`, bundled in the binary, `options.baseURL`),
 *   `permission.bash = "allow"`, NODE_EXTRA_CA_CERTS (Bun honours it), OPENCODE_DISABLE_MODELS_FETCH /
 *   _AUTOUPDATE / _LSP_DOWNLOAD / _SHARE / _DEFAULT_PLUGINS and OPENCODE_PURE. OpenCode also installs
 *   `@opencode-ai/plugin` into every config dir from registry.npmjs.org in the background at each start unless the
 *   dir already has node_modules and a lock naming it: no flag turns that off (1.18.33), so the config dir is
 *   seeded with an empty node_modules, a package.json and a lock that name it. It also makes a title call (no tools).
 * - copilot: the single-file binary `copilot-linux-x64/copilot -p … --allow-all-tools`; COPILOT_OFFLINE=true,
 *   COPILOT_PROVIDER_BASE_URL + COPILOT_PROVIDER_API_KEY + COPILOT_MODEL (Chat Completions), NODE_EXTRA_CA_CERTS
 *   and SSL_CERT_FILE (its HTTP goes through the Rust addon runtime.node it unpacks under ~/.cache/copilot: reqwest
 *   + native-tls over a static OpenSSL 3.5, which honours SSL_CERT_FILE).
 */
export function launch(agent: AgentName, i: LaunchInput): Launch {
  const origin = `https://localhost:${i.port}`;
  switch (agent) {
    case 'gemini-cli': {
      write(path.join(i.home, '.gemini/settings.json'), {
        security: { auth: { selectedType: 'gemini-api-key' } }, privacy: { usageStatisticsEnabled: false },
        telemetry: { enabled: false }, general: { disableAutoUpdate: true, disableUpdateNag: true },
      });
      const apiKey = 'agentsight-gemini-test-key-0123456789';
      return {
        argv: [process.execPath, path.join(i.modules, '@google/gemini-cli/bundle/gemini.js'), '-p', i.prompt, '--yolo'],
        env: { HOME: i.home, GEMINI_API_KEY: apiKey, GOOGLE_GEMINI_BASE_URL: origin, NODE_EXTRA_CA_CERTS: i.caPath, GEMINI_CLI_TRUST_WORKSPACE: 'true' },
        apiKey,
      };
    }
    case 'qwen-code': {
      write(path.join(i.home, '.qwen/settings.json'), {
        security: { auth: { selectedType: 'openai' } }, privacy: { usageStatisticsEnabled: false },
        telemetry: { enabled: false }, general: { disableAutoUpdate: true, disableUpdateNag: true },
      });
      const apiKey = 'sk-agentsight-qwen-test-key-0123456789';
      return {
        argv: [process.execPath, path.join(i.modules, '@qwen-code/qwen-code/cli-entry.js'), '-p', i.prompt, '--yolo'],
        env: {
          HOME: i.home, OPENAI_BASE_URL: `${origin}/v1`, OPENAI_API_KEY: apiKey, OPENAI_MODEL: 'qwen3-coder-plus',
          NODE_EXTRA_CA_CERTS: i.caPath, QWEN_CODE_SUPPRESS_YOLO_WARNING: '1',
        },
        apiKey,
      };
    }
    case 'opencode': {
      const apiKey = 'sk-agentsight-opencode-test-key-0123456789';
      const config = path.join(i.home, '.config/opencode');
      write(path.join(config, 'opencode.json'), {
        $schema: 'https://opencode.ai/config.json', autoupdate: false, share: 'disabled', model: 'mock/mock-coder',
        permission: { bash: 'allow', edit: 'allow', webfetch: 'deny' },
        provider: { mock: { npm: '@ai-sdk/openai-compatible', name: 'Mock', options: { baseURL: `${origin}/v1`, apiKey }, models: { 'mock-coder': { name: 'Mock Coder', tool_call: true } } } },
      });
      fs.mkdirSync(path.join(config, 'node_modules'), { recursive: true });
      write(path.join(config, 'package.json'), { dependencies: { '@opencode-ai/plugin': '1.18.33' } });
      write(path.join(config, 'package-lock.json'), { lockfileVersion: 3, packages: { '': { dependencies: { '@opencode-ai/plugin': '1.18.33' } } } });
      return {
        argv: [path.join(i.modules, 'opencode-linux-x64/bin/opencode'), 'run', i.prompt],
        env: {
          ...xdg(i.home), NODE_EXTRA_CA_CERTS: i.caPath, OPENCODE_DISABLE_MODELS_FETCH: '1', OPENCODE_DISABLE_AUTOUPDATE: '1',
          OPENCODE_DISABLE_LSP_DOWNLOAD: '1', OPENCODE_DISABLE_SHARE: '1', OPENCODE_DISABLE_DEFAULT_PLUGINS: '1', OPENCODE_PURE: '1',
        },
        apiKey,
      };
    }
    case 'copilot': {
      const apiKey = 'sk-agentsight-copilot-test-key-0123456789';
      return {
        argv: [path.join(i.modules, '@github/copilot-linux-x64/copilot'), '-p', i.prompt, '--allow-all-tools'],
        env: {
          ...xdg(i.home), COPILOT_OFFLINE: 'true', COPILOT_PROVIDER_BASE_URL: `${origin}/v1`, COPILOT_PROVIDER_API_KEY: apiKey,
          COPILOT_MODEL: 'gpt-test', NODE_EXTRA_CA_CERTS: i.caPath, SSL_CERT_FILE: i.caPath,
        },
        apiKey,
      };
    }
  }
}

type Row = Record<string, any>;

/** What {@link runAgentUnderExec} stored and printed. */
export interface AgentRun {
  launch: Launch;
  run: { code: number | null; stdout: string; stderr: string };
  calls: Row[];
  sessions: Row[];
  /** `agentsight tools --json`. */
  tools: Row[];
  /** `agentsight audit --type process --json`. */
  processAudit: Row[];
  infra: Infra;
  stages: Stages;
  /** Stops the pipeline and removes the temp dirs. */
  stop(): Promise<void>;
}

/**
 * Installs the agents, starts a private pipeline (NATS, Redis, every stage), runs `agentsight exec -- <agent argv>`
 * with no other agentsight flags in an empty temp working directory, waits until everything is stored and reads the
 * calls, sessions, tool uses and process audit back. `mock` is the already started mock provider.
 */
export async function runAgentUnderExec(agent: AgentName, mock: { port: number; caPath: string }, prompt: string): Promise<AgentRun> {
  const modules = await installAgents();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `agentsight-${agent}-e2e-`));
  const home = path.join(tmp, 'home');
  const cwd = path.join(tmp, 'work');
  fs.mkdirSync(home);
  fs.mkdirSync(cwd);
  const l = launch(agent, { modules, port: mock.port, caPath: mock.caPath, home, cwd, prompt });
  const infra = await startInfra();
  const stages = new Stages(infra.env);
  await stages.startAll();
  const r = await runCli(['exec', '--', ...l.argv], { ...infra.env, ...l.env }, 300_000, cwd);
  await waitDrained(infra.env);
  const json = async (args: string[]) => JSON.parse((await runCli(args, infra.env)).stdout) as Row[];
  return {
    launch: l, run: r, infra, stages,
    calls: await api(infra, '/api/calls'),
    sessions: await api(infra, '/api/sessions'),
    tools: await json(['tools', '--json']),
    processAudit: await json(['audit', '--type', 'process', '--json']),
    async stop() {
      await stages.stopAll();
      await infra.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}
