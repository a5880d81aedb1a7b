/** `agentsight config`: every setting in force and where it came from (the definition: libs/contracts `OPTIONS`). */
import type { Command } from 'commander';
import { table } from '../format';
import { jsonOption } from '../options';
import { configFileRead, settingRows } from '../settings';

/** Registers `config`. */
export function registerConfig(p: Command): void {
  jsonOption(p.command('config').description('every setting (config file key, variable): the value in force and where it came from (flag, env, file, default); secrets shown as [set]'))
    .action((o) => {
      const rows = settingRows();
      if (o.json) return void process.stdout.write(JSON.stringify({ file: configFileRead(), settings: rows }, null, 2) + '\n');
      process.stdout.write(`config file: ${configFileRead() ?? '(none)'}\n` + table(rows, [
        ['key', (r) => r.key], ['variable', (r) => r.env], ['value', (r) => r.value ?? ''], ['source', (r) => r.source], ['default', (r) => r.default.replace(/`/g, '')],
      ]).replace(/\n?$/, '\n'));
    });
}
