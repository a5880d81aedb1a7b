/** `agentsight service install`: the systemd units pointed at this checkout (logic in `../service.ts`). */
import type { Command } from 'commander';

/** Registers `service` and its subcommand `install`. */
export function registerService(p: Command): void {
  p.command('service').description('run agentsight as a systemd service').command('install')
    .description('install the systemd units (infra/systemd) pointed at this checkout; with --enable also start agentsight.target')
    .option('--root <dir>', 'file system root to install under', '/').option('--prefix <dir>', 'the built checkout the units run (default: this one)')
    .option('--enable', 'systemctl enable --now agentsight.target')
    .action(async (o) => process.exit((await import('../service')).serviceInstall(o, (l) => process.stderr.write(`[agentsight] ${l}\n`))));
}
