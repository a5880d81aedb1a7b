/** Defaults read from OPTIONS (the one definition the README's table is generated from), as the CLI applies them. */
import { OPTIONS, optionDefault, optionDefaultNumber } from './options';

test('a setting whose default is one literal gives it as the code applies it', () => {
  expect(optionDefault('AGENTSIGHT_API_PORT')).toBe('7396');
  expect(optionDefault('AGENTSIGHT_UI_HOST')).toBe('127.0.0.1');
  expect(optionDefaultNumber('AGENTSIGHT_SAMPLE_MS')).toBe(1000);
  expect(optionDefaultNumber('AGENTSIGHT_SAMPLE_IDLE_MAX_MS')).toBe(8000);
  expect(optionDefaultNumber('AGENTSIGHT_PARTITIONS')).toBe(8);
  expect(optionDefaultNumber('AGENTSIGHT_EXPORT_WAIT_S')).toBe(60);
  // the table's text is that literal in backticks
  expect(OPTIONS.find((o) => o.env === 'AGENTSIGHT_API_PORT')!.default).toBe('`7396`');
});

test('no default, prose, several values or an unknown variable: an error, never a guess', () => {
  expect(() => optionDefault('NATS_USER')).toThrow(/not one literal: —/);
  expect(() => optionDefault('AGENTSIGHT_STREAM_MAX_AGE_HOURS')).toThrow(/not one literal/);
  expect(() => optionDefault('AGENTSIGHT_NO_SUCH')).toThrow(/no setting reads AGENTSIGHT_NO_SUCH/);
  expect(() => optionDefaultNumber('AGENTSIGHT_UI_HOST')).toThrow(/not a number: 127\.0\.0\.1/);
});
