/** Jest over the whole workspace, one project per test tier. `@agentsight/*` resolves to the libs' TypeScript sources, so tests need no build;
 * e2e tests (test/e2e) run the built services and the probe as real processes. */
const { TIERS, specsByTier } = require('./test/tiers');

/** What every tier shares. */
const base = {
  testEnvironment: 'node',
  rootDir: __dirname,
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
    // The OTLP/HTTP transport loads http/https with a dynamic import(), which Jest's vm cannot run (see the file).
    '/node_modules/@opentelemetry/otlp-exporter-base/.+\\.js$': '<rootDir>/test/jest-dynamic-import.js',
  },
  // (also its copy nested under the metrics exporters, which pin another patch version)
  transformIgnorePatterns: ['/node_modules/(?!(@opentelemetry/[^/]+/node_modules/)?@opentelemetry/otlp-exporter-base/)'],
  moduleNameMapper: { '^@agentsight/([a-z-]+)$': '<rootDir>/libs/$1/src' },
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/', '<rootDir>/services/probe-producer/build/'],
};

const byTier = specsByTier();

/**
 * One Jest project per test tier (test/tiers.js: unit, integration, capture, e2e), in that order; `npm test` runs
 * them all, `npm test -- --selectProjects unit integration` some.
 */
module.exports = {
  projects: TIERS.map((tier) => ({ ...base, displayName: tier, roots: ['<rootDir>/libs', '<rootDir>/services', '<rootDir>/test'], testMatch: byTier[tier] })),
  testTimeout: 120000,
  // No forceExit: the run must end by itself. A handle left open fails it after 20 s with what is open (the reporter
  // test/jest-exit-check.js; AGENTSIGHT_HANDLE_STACKS=1 adds where each was created) instead of holding CI.
  reporters: ['default', '<rootDir>/test/jest-exit-check.js'],
};
