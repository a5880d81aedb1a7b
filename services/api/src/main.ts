import 'reflect-metadata';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import express from 'express';
import { loadRedactionConfig } from '@agentsight/contracts';
import { AppModule } from './app.module';
import { apiPort, repoRoot } from './cli/paths';
import { dashboardStatic, isLoopback, webGuard } from './http/web';

/**
 * api service: stores pipeline output in ClickHouse and serves the read API, the dashboard (`apps/dashboard/dist`) and
 * its live channel on `AGENTSIGHT_UI_HOST` (default 127.0.0.1) port `AGENTSIGHT_API_PORT` (default 7396); OpenAPI at
 * `/api/docs`. A host that is not loopback requires `AGENTSIGHT_UI_TOKEN` (refuses to start without); when set, every
 * request needs it. Prints `{"event":"ready","service":"api","pid":…,"port":…,"host":…}` once listening.
 */
async function main(): Promise<void> {
  loadRedactionConfig(); // AGENTSIGHT_REDACT_PATTERNS: a bad file is a startup error, before storage opens
  const host = process.env.AGENTSIGHT_UI_HOST || '127.0.0.1';
  const token = process.env.AGENTSIGHT_UI_TOKEN || null;
  if (!isLoopback(host) && !token) throw new Error(`binding ${host} (not loopback) needs a token: set AGENTSIGHT_UI_TOKEN (agentsight serve makes one)`);
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
