/**
 * Side-effect module a service's `main.ts` imports first (`import '@agentsight/jetstream/dist/preload-config'`), so the
 * config file ({@link applyConfigFile}) fills the environment before any module reads a variable at load time. A bad
 * file stops the service with the error (exit 1); an unreadable default file is a warning on stderr.
 */
import { applyConfigFile } from './config-file';

try {
  const r = applyConfigFile(process.env);
  if (r.warning) process.stderr.write(`warning: ${r.warning}\n`);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
