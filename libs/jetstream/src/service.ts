import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { Provider, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadRedactionConfig, type Stage } from '@agentsight/contracts';
import { StageRuntime } from './stage';

/** NestJS provider of the service's {@link StageRuntime} (connected at module init, closed by the service). */
export function stageRuntimeProvider(stage: Stage): Provider {
  return { provide: StageRuntime, useFactory: () => StageRuntime.connect(stage) };
}

/**
 * Starts a pipeline service as a NestJS application context (no HTTP): builds `module`, runs its bootstrap hooks,
 * prints one JSON line `{"event":"ready","service":<name>,"pid":<pid>}` on stdout (the CLI waits for it), and
 * closes the context on SIGINT/SIGTERM so every batch in hand is finished and acked before exit. First loads the
 * user's redaction config (`AGENTSIGHT_REDACT_PATTERNS`): an unreadable or invalid file rejects with a
 * `RedactionConfigError` before anything connects.
 */
export async function runStageService(name: string, module: Type<unknown>): Promise<void> {
  loadRedactionConfig();
  const app = await NestFactory.createApplicationContext(module, { logger: ['error', 'warn', 'log'] });
  app.enableShutdownHooks(['SIGINT', 'SIGTERM']);
  await app.init();
  process.stdout.write(JSON.stringify({ event: 'ready', service: name, pid: process.pid }) + '\n');
  new Logger(name).log(`ready (pid ${process.pid})`);
}
