/**
 * The default broker address is written once in TypeScript (`DEFAULT_NATS_PORT`); the C producer, which cannot import
 * it, carries a copy for when it runs without `NATS_URL`: this checks the copy.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_NATS_PORT } from './config';

test("the probe's default NATS URL (options.c: option help and fallback) is agentsight's own NATS", () => {
  const main = readFileSync(join(__dirname, '../../../services/probe-producer/src/options.c'), 'utf8');
  const urls = [...main.matchAll(/nats:\/\/[\w.]+:\d+/g)].map((m) => m[0]);
  expect(urls.length).toBeGreaterThanOrEqual(2);
  expect(new Set(urls)).toEqual(new Set([`nats://127.0.0.1:${DEFAULT_NATS_PORT}`]));
});
