import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PipelineStatus } from '@agentsight/jetstream';
import { producersText, stageEventsText, statusText, storeText } from './status';
import { serviceUnits } from './service';

test('status text: streams with limits and discards, consumer lag, and each instance\'s partitions', () => {
  const s: PipelineStatus = {
    streams: [{
      name: 'AGENTSIGHT_RAW', messages: 10, bytes: 3 * 1024 * 1024, first_seq: 6, last_seq: 15, max_age_ns: 72 * 3600e9, max_bytes: 2 * 1024 ** 3, discarded: 5,
      consumers: [{ durable: 'parser-p0', filter_subject: 'agentsight.raw.ssl.*.0', pending: 4, ack_pending: 1, ack_floor: 9, redelivered: 0 }],
    }],
    groups: [{ group: 'parser', members: [{ owner: 'h:a', expires_ms: 1 }, { owner: 'h:b', expires_ms: 1 }], owners: ['h:a', 'h:b', 'h:a', null] }],
  };
  const text = statusText(s);
  expect(text).toMatch(/AGENTSIGHT_RAW\s+10\s+3\.0 MiB\s+2\.0 GiB\s+72h\s+5/);
  expect(text).toMatch(/AGENTSIGHT_RAW\s+parser-p0\s+4\s+1\s+9/);
  expect(text).toMatch(/parser\s+h:a\s+0,2\s+3/);
  expect(text).toMatch(/parser\s+h:b\s+1\s+3/);
});

test('store text: a size the api cannot know (a cluster\'s Distributed tables) is unknown, with why, never 0 B', () => {
  const dropped = { days: 0, rows: 0, bytes: 0, last: null, newest_day: null };
  const note = 'not known from this server: 9 table(s) are Distributed tables (a ClickHouse cluster)';
  const unknown = storeText({ retention_days: 30, max_bytes: 0, store_bytes: null, store_bytes_note: note, over_cap: false, dropped }, '');
  expect(unknown).toContain('store: size unknown, size cap none');
  expect(unknown).toContain(`store size ${note}`);
  expect(unknown).not.toMatch(/\b0 B\b/);
  expect(storeText({ retention_days: 30, max_bytes: 0, store_bytes: 2048, store_bytes_note: null, over_cap: false, dropped }, '')).toContain('store: 2.0 KiB on disk');
});

test('probes text: each host\'s latest loss counters, publish_reordered included; unknown (not 0) from an older probe', () => {
  const p = { host: 'h1', ts: '2026-12-03T18:00:00.000Z', records: 120, published: 131, lost_records: 2, lost_bytes: 900, ringbuf_drops: 2, ringbuf_drop_bytes: 900, publish_failures: 1, publish_reordered: 3, file_opens_skipped: 0 };
  const text = producersText([p, { ...p, host: 'old-probe', publish_reordered: null }], '');
  expect(text).toMatch(/host\s+at\s+records\s+published\s+lost in kernel\s+publish failures\s+reordered/);
  expect(text).toMatch(/h1\s+2026-12-03T18:00:00.000Z\s+120\s+131\s+2\s+1\s+3$/m);
  expect(text).toMatch(/old-probe\s+\S+\s+120\s+131\s+2\s+1\s+unknown$/m);
  expect(producersText(null, 'no api runs on port 7396')).toBe('probes: no api runs on port 7396');
  expect(producersText([], 'no loss record in AGENTSIGHT_RAW')).toBe('probes: no loss record in AGENTSIGHT_RAW');
});

test('agentsight status --json reads the real broker: every pipeline stream with its limits', () => {
  const cli = join(__dirname, '../../bin/agentsight.js');
  const out = JSON.parse(execFileSync(process.execPath, [cli, 'status', '--json'], { encoding: 'utf8', env: process.env })) as PipelineStatus;
  const raw = out.streams.find((x) => x.name === 'AGENTSIGHT_RAW');
  expect(raw).toBeDefined();
  expect(raw!.max_bytes).toBeGreaterThan(0);
  expect(raw!.max_age_ns).toBeGreaterThan(0);
  expect(out.streams.map((x) => x.name)).toEqual(expect.arrayContaining(['AGENTSIGHT_GENAI', 'AGENTSIGHT_DLQ']));
  // The daemon's units: every one, with systemd's state or why there is none.
  const units = (out as unknown as { units: Array<{ unit: string; installed: boolean }>; units_note: string | null });
  expect(units.units.map((u) => u.unit)).toEqual(serviceUnits());
  if (!existsSync('/run/systemd/system')) expect(units.units_note).toMatch(/systemd is not running/);
  const text = execFileSync(process.execPath, [cli, 'status'], { encoding: 'utf8', env: process.env });
  expect(text).toMatch(/^service units \(agentsight service install\):$/m);
  expect(text).toMatch(/^agentsight@parser\.service\s+(not )?installed/m);
});

test('stage events: what counted something, by stage and labels; else how many are at 0, or why unreadable', () => {
  const e = (stage: string, name: string, labels: Record<string, string>, value: number) => ({ stage, name, labels, value, help: '' });
  expect(stageEventsText(null, 'no api runs on port 7396')).toBe('stage events: no api runs on port 7396');
  expect(stageEventsText([], '')).toBe('stage events: no stage has reported to the api since it started');
  expect(stageEventsText([e('aggregator', 'agentsight_cache_rebuilds_given_up_total', { cache: 'proc' }, 0)], '')).toBe('stage events (since the api started): none (1 counter(s) at 0)');
  const text = stageEventsText([
    e('aggregator', 'agentsight_cache_rebuilds_given_up_total', { cache: 'proc' }, 0),
    e('genai', 'agentsight_cache_rebuilds_given_up_total', { cache: 'session' }, 2),
  ], '');
  expect(text.split('\n')[0]).toBe('stage events (since the api started):');
  expect(text).toMatch(/genai\s+agentsight_cache_rebuilds_given_up_total\s+cache=session\s+2/);
  expect(text).not.toContain('cache=proc');
});
