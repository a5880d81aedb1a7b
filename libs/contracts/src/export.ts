/**
 * What the exporter service and the CLI agree on about exports (one rule in one place): which variables configure
 * an export, the export targets each configuration gives (their JetStream durables and inputs), and the control
 * subject on which an exporter reports what it has not delivered yet.
 */
import { TOPOLOGY, type StreamName } from './topology';

/** Variables of the SLS OTLP trace preset (exporter config.ts): all five, or none. */
export const SLS_TRACE_VARIABLES = [
  'AGENTSIGHT_SLS_PROJECT', 'AGENTSIGHT_SLS_ENDPOINT', 'AGENTSIGHT_SLS_INSTANCE', 'AGENTSIGHT_SLS_ACCESS_KEY_ID', 'AGENTSIGHT_SLS_ACCESS_KEY_SECRET',
] as const;

/** Variables that make the SLS OTLP trace preset the chosen one (the others are shared with the SLS logstore). */
export const SLS_TRACE_ONLY_VARIABLES = ['AGENTSIGHT_SLS_INSTANCE', 'AGENTSIGHT_SLS_ACCESS_KEY_ID', 'AGENTSIGHT_SLS_ACCESS_KEY_SECRET'] as const;

/** The logstore variable: set, the SLS logstore export (PutLogs) is on. */
export const SLS_LOGSTORE_VARIABLE = 'AGENTSIGHT_SLS_LOGSTORE';

/** The Logtail file variable: set, the same logs are written as JSON lines to this file (for iLogtail). */
export const SLS_LOGTAIL_FILE_VARIABLE = 'AGENTSIGHT_SLS_LOGTAIL_FILE';

/** With `1`/`true`, the SLS logstore and the Logtail file also get the audit records. */
export const SLS_AUDIT_VARIABLE = 'AGENTSIGHT_SLS_AUDIT';

const set = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/** True for `1`/`true`/`yes`/`on` (any case). */
export function flagOn(v: string | undefined): boolean {
  return set(v) && ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase());
}

/**
 * True when any export is configured: an OTLP endpoint variable, any SLS variable (trace preset, logstore), or the
 * Logtail file. The CLI's pipeline starts the exporter only then; a configuration that cannot work then fails the
 * exporter's start loudly (exporter config.ts).
 */
export function exportConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return set(env.OTEL_EXPORTER_OTLP_ENDPOINT) || set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) ||
    SLS_TRACE_VARIABLES.some((k) => set(env[k])) || set(env[SLS_LOGSTORE_VARIABLE]) || set(env[SLS_LOGTAIL_FILE_VARIABLE]);
}

/** One export target of the exporter service: a durable pull consumer on one stream, and its state in Redis. */
export interface ExportTargetSpec {
  /**
   * `otlp` (spans), `otlp-metrics` (GenAI client metrics), `otlp-process-metrics` (the traced agents' process
   * metrics, from the resource samples), `sls` (SLS logstore, PutLogs), `logtail` (JSON lines file); `-audit` for the
   * audit records.
   */
  name: 'otlp' | 'otlp-metrics' | 'otlp-process-metrics' | 'sls' | 'sls-audit' | 'logtail' | 'logtail-audit';
  /** What it exports: GenAI events, audit records or resource samples. */
  input: 'genai' | 'audit' | 'resource';
  /** Durable consumer name (`exporter` for OTLP, `exporter-<name>` for the others; topology.ts `TOPOLOGY.exporter`). */
  durable: string;
  stream: StreamName;
  filterSubject: string;
  /** Prefix of its Redis keys (`agentsight:export` for OTLP, `agentsight:export:<name>` for the others). */
  statePrefix: string;
}

function target(name: ExportTargetSpec['name'], input: ExportTargetSpec['input']): ExportTargetSpec {
  const { durable, stream, filterSubject } = TOPOLOGY.exporter.consumes[name];
  return { name, input, durable, stream, filterSubject, statePrefix: name === 'otlp' ? 'agentsight:export' : `agentsight:export:${name}` };
}

/**
 * The OTLP protocol asked for, lower-cased (not validated: exporter config.ts does): `AGENTSIGHT_OTLP_PROTOCOL`, else
 * OTel's `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf`. Spans and metrics
 * use the same one.
 */
export function otlpProtocolSetting(env: NodeJS.ProcessEnv = process.env): string {
  const raw = [env.AGENTSIGHT_OTLP_PROTOCOL, env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, env.OTEL_EXPORTER_OTLP_PROTOCOL].find(set);
  return (raw ?? 'http/protobuf').trim().toLowerCase();
}

/**
 * Where OTLP metrics go, as configured (not validated: exporter config.ts does), or null for none: with the OTLP
 * spans (never with the SLS trace preset), unless `OTEL_METRICS_EXPORTER=none`; `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`
 * as is, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/metrics`, else a `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` ending in
 * `/v1/traces` with `/v1/metrics` instead. With `grpc` ({@link otlpProtocolSetting}) an endpoint is the collector's
 * address: the base, else the traces endpoint, as they are (gRPC routes by service, not by path).
 */
export function otlpMetricsEndpoint(env: NodeJS.ProcessEnv = process.env): string | null {
  if (SLS_TRACE_ONLY_VARIABLES.some((k) => set(env[k]))) return null;
  if ((env.OTEL_METRICS_EXPORTER ?? '').trim().toLowerCase() === 'none') return null;
  if (!set(env.OTEL_EXPORTER_OTLP_ENDPOINT) && !set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) return null;
  const grpc = otlpProtocolSetting(env) === 'grpc';
  if (set(env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)) return env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT.trim();
  if (set(env.OTEL_EXPORTER_OTLP_ENDPOINT)) {
    const base = env.OTEL_EXPORTER_OTLP_ENDPOINT.trim();
    return grpc ? base : `${base}${base.endsWith('/') ? '' : '/'}v1/metrics`;
  }
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() ?? '';
  if (grpc) return traces;
  return /\/v1\/traces\/?$/.test(traces) ? traces.replace(/\/v1\/traces\/?$/, '/v1/metrics') : null;
}

/**
 * The export targets `env` asks for (without validating values: exporter config.ts does): `otlp` when an OTLP
 * endpoint or the SLS trace preset is set, `otlp-metrics` and `otlp-process-metrics` per {@link otlpMetricsEndpoint}, `sls` when {@link SLS_LOGSTORE_VARIABLE} is set, `logtail` when
 * {@link SLS_LOGTAIL_FILE_VARIABLE} is; `sls-audit` / `logtail-audit` beside them with {@link SLS_AUDIT_VARIABLE}.
 */
export function exportTargets(env: NodeJS.ProcessEnv = process.env): ExportTargetSpec[] {
  const out: ExportTargetSpec[] = [];
  if (set(env.OTEL_EXPORTER_OTLP_ENDPOINT) || set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) || SLS_TRACE_ONLY_VARIABLES.some((k) => set(env[k]))) {
    out.push(target('otlp', 'genai'));
  }
  if (otlpMetricsEndpoint(env)) out.push(target('otlp-metrics', 'genai'), target('otlp-process-metrics', 'resource'));
  const audit = flagOn(env[SLS_AUDIT_VARIABLE]);
  if (set(env[SLS_LOGSTORE_VARIABLE])) {
    out.push(target('sls', 'genai'));
    if (audit) out.push(target('sls-audit', 'audit'));
  }
  if (set(env[SLS_LOGTAIL_FILE_VARIABLE])) {
    out.push(target('logtail', 'genai'));
    if (audit) out.push(target('logtail-audit', 'audit'));
  }
  return out;
}

/** True for the durable of an export target (the CLI's storage drain skips them: export is not storage). */
export function isExportDurable(name: string): boolean {
  return name === 'exporter' || name.startsWith('exporter-');
}

/**
 * NATS core request/reply subject on which a running exporter answers {@link ExportStatus} (JSON). Request body
 * (JSON, optional): `{ "expedite": true }` makes every event still waiting to settle due now first (the end of an
 * `agentsight exec` run that started its own pipeline).
 */
export const EXPORT_STATUS_SUBJECT = 'agentsight.control.export.status';

/** An exporter's answer on {@link EXPORT_STATUS_SUBJECT}. */
export interface ExportStatus {
  targets: Array<{
    name: ExportTargetSpec['name'];
    durable: string;
    stream: ExportTargetSpec['stream'];
    /** Where it sends to, without credentials (e.g. `SLS logstore https://p.cn-hangzhou.log.aliyuncs.com/… lz4`). */
    describe: string;
    /** Versioned events waiting to settle (or being flushed). */
    settling: number;
    /** Items accepted by the receiver since this exporter started. */
    exported: number;
  }>;
}
