/**
 * `agentsight replay` re-deriving an embedded store after a change, the stages as separate processes over private
 * NATS, Redis and chDB. Three batches of streamed LLM calls are published as raw records (as the probe would), a
 * second apart, each call's prompt quoting a token of the user's own shape (`acme_live_…`), which no built-in rule
 * redacts: the live pipeline stores the token. Then a redaction rule for it is added (`AGENTSIGHT_REDACT_PATTERNS`,
 * with `AGENTSIGHT_REDACT_AT_PARSER=1`, so the parser itself derives the redacted events) and:
 * - a replay of the middle batch's time range (`--since`/`--until`) redacts that batch's rows only;
 * - a replay of the whole stream redacts every row: the tables hold as many rows as before, each event once (the
 *   replaced versions merged away, so the token is on disk nowhere), contents as before but for the token;
 * - a replay into another data dir (`--data-dir`, no rule there), while the first data dir's api runs, stores the
 *   rows as first derived into that dir and leaves the first store untouched.
 * No eBPF needed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNats } from '@agentsight/jetstream';
import { Infra, runCli, Stages, startInfra } from './harness';
import { publishCalls, readRows, storeLive, type Rows } from './replay-rows';

const BATCHES = 3;
const PER_BATCH = 4;
const CALLS = BATCHES * PER_BATCH;
/** The token planted in call `i`'s prompt (24 characters after the prefix, as the rule below wants). */
const token = (i: number) => `acme_live_${String(i).padStart(2, '0')}${'x'.repeat(22)}`;
const RULE = { patterns: [{ name: 'acme-token', regex: 'acme_live_[A-Za-z0-9]{24}' }] };

/** Every table's rows of the store in `dataDir` (the store must be closed): as readers see them (FINAL) and all rows on disk. */
async function store(dataDir: string): Promise<{ final: Rows; onDisk: Rows }> {
  return { final: await readRows(dataDir), onDisk: await readRows(dataDir, { onDisk: true }) };
}

/** The calls (by number) whose token is in some row of `rows`. */
function tokensIn(rows: Rows): number[] {
  const all = Object.values(rows).flat().join('\n');
  return Array.from({ length: CALLS }, (_, i) => i).filter((i) => all.includes(token(i)));
}

const count = (rows: Rows) => Object.fromEntries(Object.entries(rows).map(([t, r]) => [t, r.length]));

describe('agentsight replay re-derives an embedded store after a rule change', () => {
  let infra: Infra;
  let other: string;
  let ruled: NodeJS.ProcessEnv;
  let first: Awaited<ReturnType<typeof store>>;
  /** Message times between the batches (ISO): batch b was published between marks[b - 1] and marks[b]. */
  const marks: string[] = [];

  beforeAll(async () => {
    infra = await startInfra();
    other = mkdtempSync(join(tmpdir(), 'agentsight-replay-other-'));
    const rule = join(infra.dataDir, 'redact.json');
    writeFileSync(rule, JSON.stringify(RULE));
    ruled = { ...infra.env, AGENTSIGHT_REDACT_PATTERNS: rule, AGENTSIGHT_REDACT_AT_PARSER: '1' };
    await storeLive(infra, async () => {
      const nats = await connectNats(infra.natsUrl, 'replay-rederive-spec');
      try {
        for (let b = 0; b < BATCHES; b++) {
          if (b > 0) {
            await new Promise((r) => setTimeout(r, 1000));
            marks.push(new Date().toISOString());
            await new Promise((r) => setTimeout(r, 1000));
          }
          await publishCalls(nats, { first: b * PER_BATCH, count: PER_BATCH, tag: 'rederive', prompt: (i) => `deploy with ${token(i)} please` });
        }
      } finally {
        await nats.nc.close();
      }
    });
    first = await store(infra.dataDir);
  }, 240_000);

  afterAll(async () => {
    await infra?.stop();
    if (other) rmSync(other, { recursive: true, force: true });
  });

  test('live, without the rule: every call stored with its token', () => {
    expect(first.final.llm_calls).toHaveLength(CALLS);
    expect(first.final.exchanges).toHaveLength(CALLS);
    expect(tokensIn(first.final)).toEqual(Array.from({ length: CALLS }, (_, i) => i));
  });

  test('a replay of the middle batch\'s time range with the rule redacts that batch only', async () => {
    const r = await runCli(['replay', '--since', marks[0], '--until', marks[1]], ruled);
    expect(r.stderr).toMatch(/replay r\w+ done: \d+ input message\(s\)/);
    expect(r.code).toBe(0);
    const now = await store(infra.dataDir);
    expect(count(now.final)).toEqual(count(first.final));
    const outside = [...Array.from({ length: PER_BATCH }, (_, i) => i), ...Array.from({ length: PER_BATCH }, (_, i) => 2 * PER_BATCH + i)];
    expect({ final: tokensIn(now.final), onDisk: tokensIn(now.onDisk) }).toEqual({ final: outside, onDisk: outside });
  }, 240_000);

  test('a replay of the whole stream with the rule: same rows, each once, the token nowhere on disk', async () => {
    const r = await runCli(['replay'], ruled);
    expect(r.code).toBe(0);
    const now = await store(infra.dataDir);
    expect(tokensIn(now.onDisk)).toEqual([]);
    expect(count(now.onDisk)).toEqual(count(first.final));
    // Contents as first derived, but for the token: the rule's [REDACTED] (and the sizes of what it shortened).
    const redacted = (rows: Rows) => Object.fromEntries(Object.entries(rows).map(([t, rs]) => [t, rs.map((s) => {
      let x = s;
      for (let i = 0; i < CALLS; i++) x = x.split(token(i)).join('[REDACTED]');
      return x;
    }).sort()]));
    expect(redacted(now.final)).toEqual(redacted(first.final));
  }, 240_000);

  test('a replay into another data dir while the first one\'s api runs leaves the first store untouched', async () => {
    const before = await store(infra.dataDir);
    const stages = new Stages(infra.env);
    await stages.start('api');
    try {
      const r = await runCli(['replay', '--data-dir', other], infra.env);
      expect(r.stderr).toMatch(/replay r\w+ done/);
      expect(r.code).toBe(0);
    } finally {
      await stages.stopAll();
    }
    // The other dir: the rows as first derived (no rule there), each once.
    const there = await store(other);
    expect(there.final).toEqual(first.final);
    expect(count(there.onDisk)).toEqual(count(first.final));
    // The first dir: exactly what it held.
    expect(await store(infra.dataDir)).toEqual(before);
  }, 240_000);
});
