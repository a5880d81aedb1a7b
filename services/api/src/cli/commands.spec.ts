/** The CLI's registry: one file per command in `commands/`, each named after the command it registers, all registered. */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { program } from './main';
import { TIME_FORMS } from './options';

test('every file in commands/ registers the command it is named after, and every command has its file', () => {
  const files = readdirSync(join(__dirname, 'commands')).filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts')).map((f) => f.replace(/\.ts$/, '')).sort();
  const names = program().commands.map((c) => c.name()).sort();
  expect(names).toEqual(files);
});

test('the shared options read the same on every command: one --data-dir, every --since takes the same time forms', () => {
  const options = program().commands.flatMap((c) => c.options.map((o) => ({ command: c.name(), flags: o.flags, description: o.description })));
  const dataDirs = options.filter((o) => o.flags === '--data-dir <dir>');
  expect(dataDirs.length).toBeGreaterThan(10);
  expect(new Set(dataDirs.map((o) => o.description))).toEqual(new Set(['data directory (default $AGENTSIGHT_DATA_DIR or ~/.agentsight)']));
  const sinces = options.filter((o) => o.flags === '--since <t>');
  expect(sinces.map((o) => o.command).sort()).toEqual(['audit', 'replay', 'sessions', 'tools', 'top']);
  for (const o of sinces) expect(o).toEqual({ ...o, description: expect.stringContaining(`: ${TIME_FORMS}`) });
});
