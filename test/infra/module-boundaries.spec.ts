/**
 * The module boundaries of eslint.config.js (@nx/enforce-module-boundaries over the Nx project graph and the tags in
 * each project.json) catch what they are meant to: a service importing another service (by path or by package name),
 * a lib importing a service, a service's production code importing the testkit. What stays allowed is checked too:
 * libs from a service, the testkit from a spec, any project from the workspace-level tests in test/. The code is
 * linted in memory under file paths of the real projects (no file is written).
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { ESLint } from 'eslint';

const ROOT = resolve(__dirname, '../..');
const RULE = '@nx/enforce-module-boundaries';
let eslint: ESLint;

beforeAll(() => {
  // The rule reads Nx's cached project graph (and skips itself without one): compute it, as infra/lint.sh does.
  const r = spawnSync('npx', ['nx', 'show', 'projects'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' } });
  expect(r.status).toBe(0);
  // The config is passed in rather than looked up: ESLint loads config files by dynamic import(), which Jest's vm
  // cannot run. It is the same file infra/lint.sh uses.
  eslint = new ESLint({ cwd: ROOT, overrideConfigFile: true, overrideConfig: require(resolve(ROOT, 'eslint.config.js')) });
});

/** The module-boundaries messages ESLint reports for `code` as the file `file` (relative to the repository). */
async function findings(file: string, code: string): Promise<string[]> {
  const [res] = await eslint.lintText(code, { filePath: resolve(ROOT, file) });
  expect(res!.messages.filter((m) => m.ruleId !== RULE)).toEqual([]);
  return res!.messages.map((m) => m.message);
}

describe('module boundaries (eslint.config.js)', () => {
  test('a service may not import another service, by relative path or by package name', async () => {
    expect(await findings('services/parser/src/boundary-probe.ts', "import { analyzeExchange } from '../../analyzer/src/domain';\nexport const a = analyzeExchange;\n"))
      .toEqual([expect.stringMatching(/relative or absolute path/)]);
    expect(await findings('services/parser/src/boundary-probe.ts', "import * as analyzer from '@agentsight/analyzer';\nexport const a = analyzer;\n"))
      .toEqual([expect.stringMatching(/tagged with "type:service" can only depend on libs tagged with "type:lib"/)]);
  });

  test('a lib may not import a service', async () => {
    expect(await findings('libs/tokens/src/boundary-probe.ts', "import * as parser from '@agentsight/parser';\nexport const p = parser;\n"))
      .toEqual([expect.stringMatching(/tagged with "type:lib" can only depend on libs tagged with "type:lib"/)]);
  });

  test("a service's production code may not import the testkit; its specs and test helpers may", async () => {
    const code = "import { groundTruth } from '@agentsight/testkit';\nexport const g = groundTruth;\n";
    expect(await findings('services/api/src/boundary-probe.ts', code)).toEqual([expect.stringMatching(/scope:test/)]);
    expect(await findings('services/api/src/boundary-probe.spec.ts', code)).toEqual([]);
    expect(await findings('services/api/src/boundary-probe.test.ts', code)).toEqual([]);
  });

  test('libs from a service, and any project from the workspace-level tests, are allowed', async () => {
    expect(await findings('services/parser/src/boundary-probe.ts', "import { connKey } from '@agentsight/contracts';\nexport const k = connKey;\n")).toEqual([]);
    expect(await findings('test/e2e/boundary-probe.spec.ts', "import { waitDrained } from '../../services/api/src/cli/pipeline';\nexport const w = waitDrained;\n")).toEqual([]);
  });
});
