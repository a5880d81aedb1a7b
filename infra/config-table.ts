/**
 * Rewrites the README's configuration table (between the `config-table` markers) from the one definition of the
 * options (`libs/contracts/src/options.ts`). Run after changing an option: `npx tsx infra/config-table.ts` (needs the
 * libs built). `services/api/src/cli/settings.spec.ts` fails while the README's table differs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configTableMarkdown } from '../libs/jetstream/src/config-file';

/** The README text with its configuration table replaced by the generated one. */
export function withConfigTable(readme: string): string {
  return readme.replace(/(<!-- config-table:begin[^\n]*-->\n)[\s\S]*?(<!-- config-table:end -->)/, (_m, a: string, b: string) => `${a}${configTableMarkdown()}\n${b}`);
}

if (require.main === module) {
  const p = join(__dirname, '../README.md');
  writeFileSync(p, withConfigTable(readFileSync(p, 'utf8')));
}
