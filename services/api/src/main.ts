import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadRedactionConfig } from '@agentsight/contracts';
import { AppModule } from './app.module';
import { apiPort } from './cli/paths';

/**
 * api service: stores pipeline output in ClickHouse and serves the read API on 127.0.0.1:`AGENTSIGHT_API_PORT`
 * (default 7396). Prints `{"event":"ready","service":"api","pid":…,"port":…}` once listening.
 */
async function main(): Promise<void> {
  loadRedactionConfig(); // AGENTSIGHT_REDACT_PATTERNS: a bad file is a startup error, before storage opens
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks(['SIGINT', 'SIGTERM']);
  const port = apiPort();
  await app.listen(port, '127.0.0.1');
  process.stdout.write(JSON.stringify({ event: 'ready', service: 'api', pid: process.pid, port }) + '\n');
}

void main().catch((err) => {
  console.error('api failed to start:', err);
  process.exit(1);
});
