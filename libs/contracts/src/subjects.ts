/**
 * JetStream subjects and streams of the agentsight pipeline (contract v1).
 *
 * Every subject starts with `agentsight.`; the host token is {@link hostToken}(hostname). Raw SSL records and the
 * per-connection stages are partitioned by connection so one partition is processed by one instance at a time:
 *
 * | stage            | subject                                        | stream                |
 * |------------------|------------------------------------------------|-----------------------|
 * | probe → parser   | `agentsight.raw.ssl.<host>.<partition>`        | `AGENTSIGHT_RAW`      |
 * | probe            | `agentsight.raw.proc.<host>` (exec/exit/snapshot, file_open, net_connect, tls_notice) | `AGENTSIGHT_RAW` |
 * | probe            | `agentsight.raw.loss.<host>` (loss counters)   | `AGENTSIGHT_RAW`      |
 * | probe → parser   | `agentsight.raw.stdio.<host>.<partition>`      | `AGENTSIGHT_RAW`      |
 * | sampler (CLI)    | `agentsight.raw.resource.<host>` (resource samples) | `AGENTSIGHT_RAW`  |
 * | parser → agg.    | `agentsight.http.<host>.<partition>` (v2: `HttpEventBatch`) | `AGENTSIGHT_HTTP` |
 * | agg. → analyzer  | `agentsight.exchange.<host>`                   | `AGENTSIGHT_EXCHANGE` |
 * | analyzer → genai | `agentsight.llm.<host>`                        | `AGENTSIGHT_LLM`      |
 * | analyzer         | `agentsight.audit.<host>`                      | `AGENTSIGHT_AUDIT`    |
 * | analyzer, parser | `agentsight.tool.<host>` (tool uses; parser: MCP over stdio) | `AGENTSIGHT_TOOL` |
 * | genai → sinks    | `agentsight.genai.<host>`                      | `AGENTSIGHT_GENAI`    |
 * | any stage        | `agentsight.dlq.<stage>.<host>`                | `AGENTSIGHT_DLQ`      |
 * | a replay's stages | `agentsight.replay.<id>.<any of the above without agentsight.>` | `AGENTSIGHT_REPLAY` |
 */

/** Version of the payload schemas in this lib (the http subject's is 2, `HTTP_BATCH_VERSION`); carried as `v` in each message. */
export const CONTRACT_VERSION = 1 as const;

/** Default number of partitions of the per-connection subjects (the producer's `--partitions`). */
export const DEFAULT_PARTITIONS = 8;

/** Turns a hostname into a subject token: every character outside `[A-Za-z0-9_-]` becomes `_`. */
export function hostToken(host: string): string {
  return host.replace(/[^A-Za-z0-9_-]/g, '_') || '_';
}

/** Subject builders; `host` is already a {@link hostToken}. */
export const Subjects = {
  rawSsl: (host: string, partition: number) => `agentsight.raw.ssl.${host}.${partition}`,
  rawProc: (host: string) => `agentsight.raw.proc.${host}`,
  rawLoss: (host: string) => `agentsight.raw.loss.${host}`,
  /** Resource samples of traced trees (`RawResourceSample`, resource.ts). */
  rawResource: (host: string) => `agentsight.raw.resource.${host}`,
  rawStdio: (host: string, partition: number) => `agentsight.raw.stdio.${host}.${partition}`,
  http: (host: string, partition: number) => `agentsight.http.${host}.${partition}`,
  exchange: (host: string) => `agentsight.exchange.${host}`,
  llm: (host: string) => `agentsight.llm.${host}`,
  audit: (host: string) => `agentsight.audit.${host}`,
  tool: (host: string) => `agentsight.tool.${host}`,
  genai: (host: string) => `agentsight.genai.${host}`,
  dlq: (stage: Stage, host: string) => `agentsight.dlq.${stage}.${host}`,
  /** Filter of one partition over every host, e.g. `agentsight.raw.ssl.*.3`. */
  rawSslPartition: (partition: number) => `agentsight.raw.ssl.*.${partition}`,
  httpPartition: (partition: number) => `agentsight.http.*.${partition}`,
  /** Filter of one stdio partition over every host, e.g. `agentsight.raw.stdio.*.3`. */
  rawStdioPartition: (partition: number) => `agentsight.raw.stdio.*.${partition}`,
} as const;

/** Pipeline stages, as named in dead-letter subjects and consumer names. */
export type Stage = 'probe' | 'parser' | 'aggregator' | 'analyzer' | 'genai' | 'storage' | 'exporter';

/** JetStream Object Store bucket holding payloads too large for one message (claim checks). */
export const LARGE_PAYLOAD_BUCKET = 'agentsight-large';
