/**
 * The C producer's part of the pipeline's wiring is the contract's (libs/contracts subjects.ts, libs/jetstream
 * nats.ts): the stream it creates (name, subject filter, duplicate window), the subjects it publishes on (each family
 * through one `agentsight.raw.<family>.<host>[.<partition>]` format) and its default partition count. Read from the C
 * sources, so a constant changed on one side only fails here. (Not checked: the stream's max_age, 7 days in
 * publisher.c against the contract's 72 h; the TypeScript stages apply the contract's limits to the existing stream.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PARTITIONS, STREAMS, Subjects } from '@agentsight/contracts';
import { DUPLICATE_WINDOW_NS } from '@agentsight/jetstream';

const SRC = join(__dirname, '../src');
const publisher = readFileSync(join(SRC, 'publisher.c'), 'utf8');
const main = readFileSync(join(SRC, 'main.c'), 'utf8');
const raw = STREAMS.find((s) => s.name === 'AGENTSIGHT_RAW')!;

test('the stream the producer creates: the contract\'s raw stream name and subject filter, the duplicate window', () => {
  expect(/#define STREAM_NAME "([^"]+)"/.exec(publisher)?.[1]).toBe(raw.name);
  expect([/#define STREAM_SUBJECT "([^"]+)"/.exec(publisher)?.[1]]).toEqual(raw.subjects);
  const dup = /cfg\.Duplicates = (\d+)LL \* (\d+) \* NS_PER_SEC;/.exec(publisher);
  expect(dup).not.toBeNull();
  expect(Number(dup![1]) * Number(dup![2]) * 1e9).toBe(DUPLICATE_WINDOW_NS);
});

test('the subjects it publishes on are the contract\'s raw subjects', () => {
  const fmt = [...main.matchAll(/snprintf\(subject, sizeof\(subject\), "([^"]+)"/g)].map((m) => m[1]);
  expect(fmt).toEqual(['agentsight.raw.%s.%s', 'agentsight.raw.%s.%s.%lld']);
  const families = new Set([...main.matchAll(/publish_current\(&b, "([a-z]+)"/g)].map((m) => m[1]));
  expect(families).toEqual(new Set(['proc', 'loss', 'ssl', 'stdio']));
  // Each family through the formats gives the contract's subject (host H, partition 3).
  const sub = (family: string, partition?: number) => partition === undefined ? `agentsight.raw.${family}.H` : `agentsight.raw.${family}.H.${partition}`;
  expect(sub('proc')).toBe(Subjects.rawProc('H'));
  expect(sub('loss')).toBe(Subjects.rawLoss('H'));
  expect(sub('ssl', 3)).toBe(Subjects.rawSsl('H', 3));
  expect(sub('stdio', 3)).toBe(Subjects.rawStdio('H', 3));
});

test('its default partition count is the contract\'s', () => {
  expect(Number(/opt\.partitions = (\d+);/.exec(main)?.[1])).toBe(DEFAULT_PARTITIONS);
  expect(main).toContain(`(default ${DEFAULT_PARTITIONS})`);
});
