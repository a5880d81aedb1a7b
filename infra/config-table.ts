/**
 * Rewrites the README's configuration table (between the `config-table` markers) from the one definition of the
 * options (`libs/contracts/src/options.ts`). Run after changing an option: `npx tsx infra/config-table.ts` (needs the
 * libs built). `services/api/src/cli/settings.spec.ts` fails while the README's table differs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withConfigTable } from '../libs/jetstream/src/config-file';

if (require.main === module) {
  const p = join(__dirname, '../README.md');
  writeFileSync(p, withConfigTable(readFileSync(p, 'utf8')));
}
