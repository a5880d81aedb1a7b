/** The Jest projects by tier (test/tiers.js): every spec in exactly one, each tier holding what its name says. */
import { join, relative } from 'node:path';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { TIERS, specsByTier, tierOf } = require('../tiers') as { TIERS: string[]; specsByTier: () => Record<string, string[]>; tierOf: (rel: string, text: string) => string };

const ROOT = join(__dirname, '../..');

test('every spec is in exactly one tier, and the tiers are the Jest projects', () => {
  const byTier = specsByTier();
  expect(Object.keys(byTier)).toEqual(['unit', 'integration', 'capture', 'e2e']);
  const all = Object.values(byTier).flat();
  expect(new Set(all).size).toBe(all.length);
  expect(all).toContain(__filename);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const config = require('../../jest.config') as { projects: Array<{ displayName: string; testMatch: string[] }> };
  expect(config.projects.map((p) => [p.displayName, p.testMatch.length])).toEqual(TIERS.map((t) => [t, byTier[t].length]));
});

test('each tier holds what its name says', () => {
  const tier = (rel: string) => Object.entries(specsByTier()).find(([, files]) => files.includes(join(ROOT, rel)))?.[0];
  expect(tier('libs/contracts/src/topology.spec.ts')).toBe('unit');
  expect(tier('libs/jetstream/src/jetstream.spec.ts')).toBe('integration');
  expect(tier('libs/clickhouse/src/clickhouse.spec.ts')).toBe('integration');
  expect(tier('services/probe-producer/test/capture.spec.ts')).toBe('capture');
  expect(tier('test/e2e/replay.spec.ts')).toBe('e2e');
  // (the names spelled in two halves, so this spec's own text stays a unit's)
  expect(tierOf('x/a.spec.ts', `import { ${'connect' + 'Nats'} } from '@agentsight/jetstream';`)).toBe('integration');
  expect(tierOf('x/a.spec.ts', `import { ${'bpfUnavailable' + 'Reason'} } from '@agentsight/testkit';`)).toBe('capture');
  expect(tierOf('x/a.spec.ts', "import { parse } from './parse';")).toBe('unit');
  expect(tier(relative(ROOT, __filename))).toBe('unit');
});
