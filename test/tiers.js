/**
 * The test tiers (Jest projects of jest.config.js), each runnable alone (`npm test -- --selectProjects unit`); `npm
 * test` and CI run them all. Every spec is in exactly one tier, decided from its path and what it starts:
 * - `e2e`: test/e2e and the specs on its harness (test/chaos): the built services, the CLI and the probe as real
 *   processes (root, eBPF, agent binaries);
 * - `capture`: the probe under eBPF as root against real TLS clients and binaries (services/probe-producer/test and
 *   every spec that locates the probe binary or asks whether eBPF is available);
 * - `integration`: real NATS JetStream, Redis or ClickHouse (chDB or a server) without the probe;
 * - `unit`: the rest (plain modules, local sockets and files only).
 * The rule reads the spec's text, so a new spec lands in a tier without a list to keep.
 */
const { readdirSync, readFileSync } = require('node:fs');
const { join, relative, sep } = require('node:path');

const ROOT = join(__dirname, '..');
const DIRS = ['libs', 'services', 'test'];
const SKIP = new Set(['node_modules', 'dist', 'build']);

/** Names of the tiers, in the order CI reports them. */
const TIERS = ['unit', 'integration', 'capture', 'e2e'];

const E2E = /from '\.\.\/e2e\/harness'/;
const CAPTURE = /\b(bpfUnavailableReason|BPF_REQUIRED|probeBinary)\b|from '\.\/harness'/;
const BROKERS = /\b(connectNats|connectRedis|pipelineConfig|stageRuntime|StageRuntime|openClickHouse|startClickHouseServer|startNatsCluster|ensureStreams|createClient)\b|\bchdb\b/;

/** The tier of the spec at `rel` (relative to the repository root, `/`-separated) whose source is `text`. */
function tierOf(rel, text) {
  if (rel.startsWith('test/e2e/') || E2E.test(text)) return 'e2e';
  if (CAPTURE.test(text)) return 'capture';
  if (BROKERS.test(text)) return 'integration';
  return 'unit';
}

function specs(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (SKIP.has(e.name)) return [];
    const p = join(dir, e.name);
    if (e.isDirectory()) return specs(p);
    return e.name.endsWith('.spec.ts') ? [p] : [];
  });
}

/** Every spec of the workspace by tier: `{ unit: [absolute paths], … }`. */
function specsByTier() {
  const out = Object.fromEntries(TIERS.map((t) => [t, []]));
  for (const p of DIRS.flatMap((d) => specs(join(ROOT, d)))) {
    out[tierOf(relative(ROOT, p).split(sep).join('/'), readFileSync(p, 'utf8'))].push(p);
  }
  return out;
}

module.exports = { TIERS, tierOf, specsByTier };
