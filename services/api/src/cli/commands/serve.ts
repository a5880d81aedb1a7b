/** `agentsight serve`: the web dashboard and the read API, over the pipeline it runs (logic in `../serve.ts`). */
import type { Command } from 'commander';
import { optionDefault } from '@agentsight/contracts';
import { dataDirOption } from '../options';
import { serveCommand } from '../serve';

/** Registers `serve`. */
export function registerServe(p: Command): void {
  dataDirOption(p.command('serve').description('serve the web dashboard and the read API (runs the pipeline, so exec/trace on the same data dir reuse it)')
    .option('--host <host>', `address to bind (default $AGENTSIGHT_UI_HOST or ${optionDefault('AGENTSIGHT_UI_HOST')}); not loopback = reachable from other hosts, still behind the token`)
    .option('--port <port>', `port (default $AGENTSIGHT_API_PORT or ${optionDefault('AGENTSIGHT_API_PORT')})`))
    .option('--open', 'open the dashboard in a browser (xdg-open)')
    .action(async (o) => process.exit(await serveCommand({ ...o, host: process.env.AGENTSIGHT_UI_HOST || optionDefault('AGENTSIGHT_UI_HOST'), port: process.env.AGENTSIGHT_API_PORT || optionDefault('AGENTSIGHT_API_PORT') })));
}
