/**
 * The `agentsight` command line: the root program (`--config`, and the hook that applies flags and the config file to
 * the environment before any command runs) and the registry of commands, one file each in `commands/` (in help order).
 * A command file declares its options (the shared ones from `options.ts`) and its action; heavy logic it loads lazily.
 */
import { Command } from 'commander';
import { loadRedactionConfig } from '@agentsight/contracts';
import { CONFIG_FILE_ENV } from '@agentsight/jetstream';
import { registerAudit } from './commands/audit';
import { registerCalls } from './commands/calls';
import { registerConfig } from './commands/config';
import { registerDiscover } from './commands/discover';
import { registerExec } from './commands/exec';
import { registerImport } from './commands/import';
import { registerRecord } from './commands/record';
import { registerReplay } from './commands/replay';
import { registerSchema } from './commands/schema';
import { registerServe } from './commands/serve';
import { registerService } from './commands/service';
import { registerSessions } from './commands/sessions';
import { registerStatus } from './commands/status';
import { registerToken } from './commands/token';
import { registerTools } from './commands/tools';
import { registerTop } from './commands/top';
import { registerTrace } from './commands/trace';
import { applyCliSettings } from './settings';

/** The commands, in the order `agentsight --help` lists them; each adds itself (name, options, action) to the program. */
export const COMMANDS: ReadonlyArray<(program: Command) => void> = [
  registerExec, registerTrace, registerRecord, registerServe, registerConfig, registerCalls, registerTools, registerSessions,
  registerToken, registerAudit, registerImport, registerSchema, registerReplay, registerService, registerStatus, registerTop,
  registerDiscover,
];

/** Builds the `agentsight` command line. */
export function program(): Command {
  const p = new Command('agentsight').description('Zero-instrumentation observability for AI agents (eBPF → JetStream → ClickHouse)');
  p.option('--config <file>', `config file (default /etc/agentsight/config.json, or $${CONFIG_FILE_ENV}); flags and variables take precedence over it`);
  // Flags and the config file set the environment; a bad config or AGENTSIGHT_REDACT_PATTERNS file stops every
  // command before it captures, stores or prints anything.
  p.hook('preAction', (root, action) => {
    applyCliSettings(root, action, process.env, (w) => process.stderr.write(`[agentsight] warning: ${w}\n`));
    loadRedactionConfig();
  });
  for (const register of COMMANDS) register(p);
  return p;
}

if (require.main === module) {
  program().parseAsync(process.argv).catch((err) => {
    process.stderr.write(`agentsight: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
