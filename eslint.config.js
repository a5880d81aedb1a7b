/**
 * ESLint: the workspace's module boundaries (`@nx/enforce-module-boundaries` over the Nx project graph), run by
 * `bash infra/lint.sh` (in `.ci/run` before the tests; any finding fails). The tags are in each project's
 * project.json:
 * - `type:service` (services/*): a pipeline stage or the api. It may import libs only, never another service: stages
 *   talk over JetStream subjects (libs/contracts), not through each other's code. A service's production code may
 *   not import `scope:test` (libs/testkit); its specs and `*.test.ts` helpers may.
 * - `type:lib` (libs/*): shared code. Libs import libs only, never a service or an app.
 * - `type:app` (apps/dashboard), `type:example` (examples): libs only.
 * Files outside every project (test/ e2e and cross-stage specs, bench/) run the system as a whole and may import any
 * project. The rule skips itself when Nx has no cached project graph: infra/lint.sh computes the graph first and
 * fails if the rule still reports it skipped.
 */
const nx = require('@nx/eslint-plugin');
const tseslint = require('typescript-eslint');

/** Tag constraints shared by every file; `extra` adds the production-only ones. */
const constraints = (extra) => [
  { sourceTag: 'type:service', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'type:example', onlyDependOnLibsWithTags: ['type:lib'] },
  ...extra,
];
const boundaries = (extra) => ['error', { enforceBuildableLibDependency: false, allow: [], depConstraints: constraints(extra) }];

const TEST_FILES = ['**/*.spec.ts', '**/*.test.ts', '**/test/**'];

module.exports = [
  { ignores: ['**/node_modules/**', '**/dist/**', '**/build/**', '.nx/**', 'docs/**', 'apps/dashboard/dist/**'] },
  // The code's `eslint-disable` comments name rules of the usual sets (no-console, @typescript-eslint/…) that this
  // config does not run: their plugin is loaded so the names resolve, and unused directives are not findings.
  { linterOptions: { reportUnusedDisableDirectives: 'off' } },
  {
    files: ['**/*.ts', '**/*.tsx', '**/*.js', '**/*.cjs', '**/*.mjs'],
    languageOptions: { parser: tseslint.parser, ecmaVersion: 2022, sourceType: 'module' },
    plugins: { '@nx': nx, '@typescript-eslint': tseslint.plugin },
    rules: { '@nx/enforce-module-boundaries': boundaries([{ sourceTag: 'type:service', notDependOnLibsWithTags: ['scope:test'] }]) },
  },
  { files: TEST_FILES, rules: { '@nx/enforce-module-boundaries': boundaries([]) } },
];
