import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hostToken, optionDefaultNumber, rawMsgId, Subjects } from '@agentsight/contracts';
import { retentionDays } from '@agentsight/clickhouse';
import { connectNats, natsTarget, privateDir, Publisher } from '@agentsight/jetstream';
import { ensureInfra, Pipeline, waitDrained } from '../pipeline';
import { dataDir } from '../paths';
import { cliToken } from '../serve';
import { ImportReport, sslsniffToRaw } from './sslsniff';

/** Default host name of imported records (`--host`). */
export const DEFAULT_IMPORT_HOST = 'imported';

/** The report as lines for the terminal: what was read, inferred, and what could not be decided. */
export function importReportText(file: string, host: string, r: ImportReport): string[] {
  const out = [
    `${file}: ${r.lines} line(s), ${r.records} TLS record(s) published as host ${host}`,
    `connections: ${r.connections} (${r.connectionsExact} from transport_handle, ${r.connections - r.connectionsExact} inferred from HTTP/1.1 framing); ${r.requests} request(s), ${r.responses} response(s)`,
    `clock: ${r.clock === 'date-header' ? 'anchored on the first response\'s Date header' : 'no Date header: the file\'s mtime is taken as the time of its last line'}`,
  ];
  if (r.handshakes) out.push(`${r.handshakes} handshake line(s) skipped`);
  if (r.empty) out.push(`${r.empty} line(s) without data skipped`);
  if (r.invalid) out.push(`warning: ${r.invalid} line(s) not sslsniff JSON, skipped (line ${r.invalidLines.join(', ')}${r.invalid > r.invalidLines.length ? ', …' : ''})`);
  if (r.unmatchedResponses) out.push(`warning: ${r.unmatchedResponses} response(s) matched no request (stored without one)`);
  if (r.resolvedByChecksum) out.push(`${r.resolvedByChecksum} record(s) of text-encoded data decided by their body's content-coding checksum`);
  if (r.undecidedRecords) out.push(`warning: ${r.undecidedRecords} record(s) hold characters U+0080-U+00FF whose bytes (1 or 2) the file does not tell (no data_hex, no escapes, no framing that decides): their bodies may not decode`);
  if (r.truncatedRecords) out.push(`warning: ${r.truncatedRecords} record(s) truncated by sslsniff, ${r.bytesLost} byte(s) lost (holes in their connections)`);
  return out;
}

/**
 * `agentsight import FILE.jsonl [--host NAME] [--data-dir DIR]`: converts eunomia sslsniff JSON lines
 * ({@link sslsniffToRaw}) and publishes them as raw records to the pipeline (the running one of this data dir, or
 * one started for the import), waits until everything is stored, prints the report. Returns the exit code (1 when
 * nothing usable was in the file).
 */
export async function importCommand(file: string, o: { host?: string; dataDir?: string; json?: boolean }, baseEnv: NodeJS.ProcessEnv = process.env): Promise<number> {
  const dir = dataDir(baseEnv, o.dataDir);
  privateDir(dir);
  const env: NodeJS.ProcessEnv = { ...baseEnv, AGENTSIGHT_DATA_DIR: dir, AGENTSIGHT_INSTANCE: baseEnv.AGENTSIGHT_INSTANCE || `cli-${process.pid}` };
  const host = o.host || DEFAULT_IMPORT_HOST;
  const text = readFileSync(file, 'utf8');
  const { records, report } = sslsniffToRaw(text, {
    host, partitions: Number(env.AGENTSIGHT_PARTITIONS || optionDefaultNumber('AGENTSIGHT_PARTITIONS')), wallEndNs: BigInt(Math.trunc(statSync(file).mtimeMs)) * 1_000_000n,
  });
  const say = (s: string) => process.stderr.write(`[agentsight] ${s}\n`);
  if (!report.records) {
    for (const l of importReportText(file, host, report)) say(l);
    say('nothing to import');
    return 1;
  }
  const days = retentionDays(env);
  const oldest = records.reduce((m, r) => (r.ts_wall_ns < m ? r.ts_wall_ns : m), records[0].ts_wall_ns);
  if (days > 0 && oldest < BigInt(Date.now() - days * 86_400_000) * 1_000_000n) {
    say(`warning: the capture starts ${new Date(Number(oldest / 1_000_000n)).toISOString()}, more than AGENTSIGHT_RETENTION_DAYS (${days}) days ago: the store's TTL deletes such rows; run the pipeline with a larger AGENTSIGHT_RETENTION_DAYS to keep them`);
  }
  await ensureInfra(env);
  const pipeline = await Pipeline.start(env, join(dir, 'logs'), cliToken(env, dir));
  try {
    say(pipeline.reused ? 'using the running pipeline' : `pipeline started (logs in ${join(dir, 'logs')})`);
    const nats = await connectNats(natsTarget(env), 'agentsight-import');
    try {
      const pub = new Publisher(nats.js, nats.large);
      const token = hostToken(host);
      let n = 0;
      for (const r of records) {
        await pub.publish(Subjects.rawSsl(token, r.partition), rawMsgId(r), r);
        if (++n % 500 === 0 || n === records.length) say(`published ${n}/${records.length}`);
      }
    } finally {
      await nats.nc.close();
    }
    say('waiting until everything is stored');
    await waitDrained(env);
  } finally {
    await pipeline.stop();
  }
  if (o.json) process.stdout.write(JSON.stringify({ file, host, ...report }, null, 2) + '\n');
  else for (const l of importReportText(file, host, report)) process.stdout.write(`${l}\n`);
  return 0;
}
