/** `agentsight import FILE`: eunomia agentsight sslsniff JSON lines imported as raw records (logic in `../import/`). */
import type { Command } from 'commander';
import { dataDirOption, jsonOption } from '../options';

/** Registers `import`. */
export function registerImport(p: Command): void {
  jsonOption(dataDirOption(p.command('import').description('import eunomia agentsight sslsniff JSON lines as raw records: analysed and stored like a capture')
    .argument('<file>', 'sslsniff output, one JSON object per line')
    .option('--host <name>', 'host name to store the records under', 'imported')), 'print the import report as JSON')
    .action(async (file: string, o) => process.exit(await (await import('../import/command')).importCommand(file, o)));
}
