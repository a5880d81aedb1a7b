/** Jest over the whole workspace. `@agentsight/*` resolves to the libs' TypeScript sources, so tests need no build;
 * e2e tests (test/e2e) run the built services and the probe as real processes. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/libs', '<rootDir>/services', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
    // The OTLP/HTTP transport loads http/https with a dynamic import(), which Jest's vm cannot run (see the file).
    '/node_modules/@opentelemetry/otlp-exporter-base/.+\\.js$': '<rootDir>/test/jest-dynamic-import.js',
  },
  // (also its copy nested under the metrics exporters, which pin another patch version)
  transformIgnorePatterns: ['/node_modules/(?!(@opentelemetry/[^/]+/node_modules/)?@opentelemetry/otlp-exporter-base/)'],
  moduleNameMapper: { '^@agentsight/([a-z-]+)$': '<rootDir>/libs/$1/src' },
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/', '<rootDir>/services/probe-producer/build/'],
  testTimeout: 120000,
  // Exit once the last suite is done even if something left a handle open: the CI of 2026-12-03 had every suite
  // finished and reported, then waited on a handle Jest could not name (no child process, no TCP socket left; not
  // identified yet, find it with --detectOpenHandles), which would hold CI until its time limit.
  forceExit: true,
};
