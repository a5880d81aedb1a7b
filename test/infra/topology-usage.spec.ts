/**
 * The pipeline's wiring is typed out once (libs/contracts topology.ts): no production file of the services, the
 * libs or the dashboard names a stream, a durable or a consumer's filter subject by literal (specs, test helpers
 * and the testkit may).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(__dirname, '../..');
const LITERAL = /'AGENTSIGHT_(RAW|HTTP|EXCHANGE|LLM|AUDIT|TOOL|GENAI|DLQ|REPLAY)'|\bdurable: '|\bfilterSubject: '/;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (['node_modules', 'dist', 'test', 'build'].includes(f)) return [];
    if (statSync(p).isDirectory()) return sources(p);
    return /\.ts$/.test(f) && !/\.(spec|test)\.ts$/.test(f) ? [p] : [];
  });
}

test('streams, durables and filters are named only in the topology table', () => {
  const files = ['services', 'libs', 'apps'].flatMap((d) => sources(join(ROOT, d))).filter((p) => !p.includes('libs/testkit'));
  expect(files.length).toBeGreaterThan(100);
  const found = files.flatMap((p) => readFileSync(p, 'utf8').split('\n').map((line, i) => ({ at: `${relative(ROOT, p)}:${i + 1}`, line })))
    .filter(({ at, line }) => LITERAL.test(line) && !at.startsWith('libs/contracts/src/topology.ts:'));
  expect(found).toEqual([]);
});
