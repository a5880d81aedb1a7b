import 'reflect-metadata';
import '@agentsight/jetstream/dist/preload-config'; // the config file fills the environment before any module reads it
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import express from 'express';
import { loadRedactionConfig } from '@agentsight/contracts';
import { apiToken, secretsFile } from '@agentsight/jetstream';
import { AppModule } from './app.module';
import { apiPort, repoRoot } from './cli/paths';
import { dashboardStatic, isLoopback, webGuard } from './http/web';

/**
 * api service: stores pipeline output in ClickHouse and serves the read API, the dashboard (`apps/dashboard/dist`) and
 * its live channel on `AGENTSIGHT_UI_HOST` (default 127.0.0.1) port `AGENTSIGHT_API_PORT` (default 7396); OpenAPI at
 * `/api/docs`. Every request needs the token (loopback included): `AGENTSIGHT_UI_TOKEN`, else `api_token` of
 * /etc/agentsight/secrets.json (root-only); refuses to start without one. Prints `{"event":"ready","service":"api","pid":…,"port":…,"host":…}` once listening.
 */
async function main(): Promise<void> {
  loadRedactionConfig(); // AGENTSIGHT_REDACT_PATTERNS: a bad file is a startup error, before storage opens
  const host = process.env.AGENTSIGHT_UI_HOST || '127.0.0.1';
  const token = apiToken(process.env);
  if (!token) throw new Error(`the read API needs a token (every local user could read captured data otherwise): set AGENTSIGHT_UI_TOKEN, or run as root with ${secretsFile(process.env)} (the CLI and npm run setup create it)`);
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger: ['error', 'warn'] });
  app.disable('x-powered-by');
  app.use(webGuard({ token, allowedHosts: isLoopback(host) ? ['127.0.0.1', 'localhost', '::1', host] : null }));
  const doc = SwaggerModule.createDocument(app, new DocumentBuilder().setTitle('agentsight read API').setVersion('1').build());
  SwaggerModule.setup('api/docs', app, doc);
  app.use(dashboardStatic(process.env.AGENTSIGHT_DASHBOARD_DIR || join(repoRoot(), 'apps/dashboard/dist'), express.static as never));
  app.enableShutdownHooks(['SIGINT', 'SIGTERM']);
  const port = apiPort();
  await app.listen(port, host);
  process.stdout.write(JSON.stringify({ event: 'ready', service: 'api', pid: process.pid, port, host }) + '\n');
}

void main().catch((err) => {
  console.error('api failed to start:', err);
  process.exit(1);
});
