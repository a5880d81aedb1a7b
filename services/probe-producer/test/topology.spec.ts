/**
 * The C producer's part of the pipeline's wiring is the contract's (libs/contracts topology.ts, subjects.ts): the
 * stream it creates comes from `src/topology.h`, generated from the topology table (name, subject filter, max_age,
 * max_bytes, duplicate window, replicas), and the header committed must be the one the table generates today; the
 * subjects it publishes on (each family through one `agentsight.raw.<family>.<host>[.<partition>]` format, emit.c) and
 * its default partition count (options.c) are read from the producer's C sources, so a constant changed on one side
 * only fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PARTITIONS, DEFAULT_STREAM_REPLICAS, STREAMS, Subjects, topologyHeader } from '@agentsight/contracts';
import { DUPLICATE_WINDOW_NS } from '@agentsight/jetstream';

const SRC = join(__dirname, '../src');
const publisher = readFileSync(join(SRC, 'publisher.c'), 'utf8');
const header = readFileSync(join(SRC, 'topology.h'), 'utf8');
/** Every C source of the producer but the publisher (which must name no subject), concatenated. */
const main = readdirSync(SRC).filter((f) => f.endsWith('.c') && f !== 'publisher.c').sort().map((f) => readFileSync(join(SRC, f), 'utf8')).join('\n');
const raw = STREAMS.find((s) => s.name === 'AGENTSIGHT_RAW')!;

test('the committed topology.h is the one the topology table generates (run: npx tsx infra/topology-header.ts)', () => {
  expect(header).toBe(topologyHeader());
});

test('the header holds the contract\'s raw stream: name, subject filter, 72 h / 2 GiB limits, duplicate window, replicas', () => {
  const define = (name: string) => new RegExp(`^#define ${name} (\\S+)`, 'm').exec(header)?.[1];
  expect(JSON.parse(define('RAW_STREAM_NAME')!)).toBe(raw.name);
  expect([JSON.parse(define('RAW_STREAM_SUBJECT')!)]).toEqual(raw.subjects);
  expect(BigInt(define('RAW_STREAM_MAX_AGE_NS')!.replace(/LL$/, ''))).toBe(BigInt(raw.maxAgeHours) * 3_600_000_000_000n);
  expect(Number(define('RAW_STREAM_MAX_BYTES')!.replace(/LL$/, ''))).toBe(raw.maxBytes);
  expect(Number(define('STREAM_DUPLICATE_WINDOW_NS')!.replace(/LL$/, ''))).toBe(DUPLICATE_WINDOW_NS);
  expect(Number(define('STREAM_REPLICAS'))).toBe(DEFAULT_STREAM_REPLICAS);
});

test('the stream the producer creates takes every setting from the header, none typed out in publisher.c', () => {
  expect(publisher).toContain('#include "topology.h"');
  const cfg = Object.fromEntries([...publisher.matchAll(/\bcfg\.(\w+) = ([^;]+);/g)].map((m) => [m[1], m[2]]));
  expect(cfg).toEqual({
    Name: 'RAW_STREAM_NAME', Subjects: 'subjects', SubjectsLen: '1', Storage: 'js_FileStorage',
    MaxAge: 'RAW_STREAM_MAX_AGE_NS', MaxBytes: 'RAW_STREAM_MAX_BYTES', Duplicates: 'STREAM_DUPLICATE_WINDOW_NS', Replicas: 'STREAM_REPLICAS',
  });
  expect(publisher).toContain('const char *subjects[] = { RAW_STREAM_SUBJECT };');
  expect(publisher).not.toMatch(/"AGENTSIGHT_|"agentsight\./);
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
