/**
 * Configuration of the exporter from the environment (plain TS, no I/O).
 *
 * OTLP (standard OpenTelemetry exporter variables, https://opentelemetry.io/docs/specs/otel/protocol/exporter/):
 * - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: the full traces URL, used as is;
 * - `OTEL_EXPORTER_OTLP_ENDPOINT`: base URL, `v1/traces` is appended;
 * - `OTEL_EXPORTER_OTLP_HEADERS` (and `OTEL_EXPORTER_OTLP_TRACES_HEADERS`): `k=v,k2=v2`, URL-encoded values;
 * - `OTEL_EXPORTER_OTLP_TIMEOUT` (and `_TRACES_TIMEOUT`): ms per export request, default 10 000;
 * - `AGENTSIGHT_OTLP_PROTOCOL`: `http/protobuf` (default), `http/json` or `grpc`; when unset, OTel's
 *   `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `OTEL_EXPORTER_OTLP_PROTOCOL` are honoured. With `grpc` the endpoint is the
 *   collector's address (`http://` = plaintext, `https://` = TLS), used as is (no `v1/traces` appended).
 *
 * Alibaba Cloud SLS (Simple Log Service, "Import trace data from OpenTelemetry"): SLS ingests OTLP traces at
 * `https://${project}.${region endpoint}/opentelemetry/v1/traces` with the headers `x-sls-otel-project`,
 * `x-sls-otel-instance-id`, `x-sls-otel-ak-id`, `x-sls-otel-ak-secret`. The preset is set by all five of
 * `AGENTSIGHT_SLS_PROJECT`, `AGENTSIGHT_SLS_ENDPOINT` (region endpoint such as `cn-hangzhou.log.aliyuncs.com`; a value
 * starting with `http://` or `https://` is taken as the whole `${endpoint}` base instead, e.g. a proxy),
 * `AGENTSIGHT_SLS_INSTANCE` (trace instance id), `AGENTSIGHT_SLS_ACCESS_KEY_ID`, `AGENTSIGHT_SLS_ACCESS_KEY_SECRET`;
 * it takes precedence over the OTLP endpoint variables. It is chosen by any of the last three (the first two are
 * shared with the logstore export).
 *
 * Alibaba Cloud SLS logstore (PutLogs, see {@link slsLogConfig}): `AGENTSIGHT_SLS_ENDPOINT`, `AGENTSIGHT_SLS_PROJECT`,
 * `AGENTSIGHT_SLS_LOGSTORE`, credentials `ALIBABA_CLOUD_ACCESS_KEY_ID` / `ALIBABA_CLOUD_ACCESS_KEY_SECRET` (and
 * `ALIBABA_CLOUD_SECURITY_TOKEN` for STS); the Logtail file: `AGENTSIGHT_SLS_LOGTAIL_FILE` ({@link logtailConfig}).
 * An endpoint and project with neither a logstore nor the trace preset's variables is an error.
 *
 * Settling of versioned events: `AGENTSIGHT_EXPORT_SETTLE_S` (default 300 s); redelivery after a crash:
 * `AGENTSIGHT_EXPORT_ACK_WAIT_S` (default 30 s).
 *
 * OTLP metrics (GenAI client metrics, see {@link otlpMetricsConfig}): with the OTLP spans' configuration, at
 * `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, else the base + `v1/metrics`; off with `OTEL_METRICS_EXPORTER=none`.
 */
import {
  exportConfigured, flagOn, otlpMetricsEndpoint, otlpProtocolSetting, redactUrl, SLS_AUDIT_VARIABLE, SLS_LOGSTORE_VARIABLE, SLS_LOGTAIL_FILE_VARIABLE, SLS_TRACE_ONLY_VARIABLES, SLS_TRACE_VARIABLES,
} from '@agentsight/contracts';

/** Wire protocol of the OTLP export: OTLP/HTTP (protobuf or JSON) or OTLP/gRPC. */
export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';

/** A resolved export target. `headers` may hold secrets: never log them (see {@link describeExport}). */
export interface ExportConfig {
  /** `otlp` (standard variables) or `sls` (the SLS preset). */
  target: 'otlp' | 'sls';
  /** Full URL of the traces endpoint. */
  url: string;
  protocol: OtlpProtocol;
  /** Extra request headers (SLS authentication, `OTEL_EXPORTER_OTLP_HEADERS`). */
  headers: Record<string, string>;
  /** Per-request timeout, ms. */
  timeoutMs: number;
  /** A versioned event is exported once no newer version came for this long, s. */
  settleS: number;
  /**
   * JetStream ack wait of the exporter's inputs, ms (`AGENTSIGHT_EXPORT_ACK_WAIT_S`, default 30 s, at least 3 × the
   * timeout): how soon inputs held by a process that died are delivered again. Reset while an export is retried.
   */
  ackWaitMs: number;
}

/** A configuration that cannot work (partial SLS preset, bad protocol or URL). The message names the variables. */
export class ExportConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportConfigError';
  }
}

/** The SLS OTLP trace preset's variables, in the order they are documented (`@agentsight/contracts` export.ts). */
export const SLS_VARIABLES = SLS_TRACE_VARIABLES;

/** Default `AGENTSIGHT_EXPORT_SETTLE_S`, s. */
export const DEFAULT_SETTLE_S = 300;

const set = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/** Parses `k=v,k2=v2` (OTel header list; values URL-decoded). Throws {@link ExportConfigError} on a bad entry. */
export function parseHeaderList(s: string | undefined, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!set(s)) return out;
  for (const part of s.split(',')) {
    if (part.trim() === '') continue;
    const i = part.indexOf('=');
    if (i <= 0) throw new ExportConfigError(`${name}: "${part.trim().split('=')[0]}" is not a key=value pair`);
    let value = part.slice(i + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      /* keep as given */
    }
    out[part.slice(0, i).trim()] = value;
  }
  return out;
}

function protocolOf(env: NodeJS.ProcessEnv): OtlpProtocol {
  const p = otlpProtocolSetting(env);
  if (p === 'http/protobuf' || p === 'http/json' || p === 'grpc') return p;
  throw new ExportConfigError(`unsupported OTLP protocol "${p}" (AGENTSIGHT_OTLP_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL): use http/protobuf, http/json or grpc`);
}

function validUrl(url: string, from: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ExportConfigError(`${from}: not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ExportConfigError(`${from}: only http:// and https:// are supported`);
  return u.toString();
}

function positive(v: string | undefined, name: string, dflt: number): number {
  if (!set(v)) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new ExportConfigError(`${name} must be a positive number (got "${v}")`);
  return n;
}

/**
 * Resolves the export target from `env` (see the module doc). Returns null when nothing is configured (the service
 * then exits 0). Throws {@link ExportConfigError} when the configuration cannot work: some but not all SLS variables,
 * an unsupported protocol, a bad URL, header list, timeout or settle time.
 */
export function exportConfig(env: NodeJS.ProcessEnv = process.env): ExportConfig | null {
  const settleS = positive(env.AGENTSIGHT_EXPORT_SETTLE_S, 'AGENTSIGHT_EXPORT_SETTLE_S', DEFAULT_SETTLE_S);
  const timeoutMs = positive(env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? env.OTEL_EXPORTER_OTLP_TIMEOUT, 'OTEL_EXPORTER_OTLP_TIMEOUT', 10_000);
  const ackWaitMs = Math.max(3 * timeoutMs, 1000 * positive(env.AGENTSIGHT_EXPORT_ACK_WAIT_S, 'AGENTSIGHT_EXPORT_ACK_WAIT_S', 30));
  const protocol = protocolOf(env);
  const headers = {
    ...parseHeaderList(env.OTEL_EXPORTER_OTLP_HEADERS, 'OTEL_EXPORTER_OTLP_HEADERS'),
    ...parseHeaderList(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'),
  };
  if ((set(env.AGENTSIGHT_SLS_PROJECT) || set(env.AGENTSIGHT_SLS_ENDPOINT)) && !set(env[SLS_LOGSTORE_VARIABLE]) && !SLS_TRACE_ONLY_VARIABLES.some((k) => set(env[k]))) {
    throw new ExportConfigError(
      `AGENTSIGHT_SLS_PROJECT/AGENTSIGHT_SLS_ENDPOINT are set, but neither ${SLS_LOGSTORE_VARIABLE} (logstore, PutLogs) nor the trace preset's ${SLS_TRACE_ONLY_VARIABLES.join(', ')}`,
    );
  }
  if (SLS_TRACE_ONLY_VARIABLES.some((k) => set(env[k]))) {
    const missing = SLS_VARIABLES.filter((k) => !set(env[k]));
    if (missing.length) throw new ExportConfigError(`the SLS preset needs all of ${SLS_VARIABLES.join(', ')}; missing: ${missing.join(', ')}`);
    if (protocol === 'grpc') throw new ExportConfigError('the SLS preset sends OTLP/HTTP to /opentelemetry/v1/traces: AGENTSIGHT_OTLP_PROTOCOL=grpc is not supported with it (use http/protobuf or http/json)');
    const project = env.AGENTSIGHT_SLS_PROJECT!.trim();
    const endpoint = env.AGENTSIGHT_SLS_ENDPOINT!.trim().replace(/\/+$/, '');
    const base = /^https?:\/\//i.test(endpoint) ? endpoint : `https://${project}.${endpoint}`;
    return {
      target: 'sls',
      url: validUrl(`${base}/opentelemetry/v1/traces`, 'AGENTSIGHT_SLS_ENDPOINT'),
      protocol,
      headers: {
        ...headers,
        'x-sls-otel-project': project,
        'x-sls-otel-instance-id': env.AGENTSIGHT_SLS_INSTANCE!.trim(),
        'x-sls-otel-ak-id': env.AGENTSIGHT_SLS_ACCESS_KEY_ID!.trim(),
        'x-sls-otel-ak-secret': env.AGENTSIGHT_SLS_ACCESS_KEY_SECRET!.trim(),
      },
      timeoutMs,
      settleS,
      ackWaitMs,
    };
  }
  let url: string;
  if (set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) url = validUrl(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.trim(), 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  else if (set(env.OTEL_EXPORTER_OTLP_ENDPOINT)) {
    const base = env.OTEL_EXPORTER_OTLP_ENDPOINT.trim();
    url = validUrl(protocol === 'grpc' ? base : `${base}${base.endsWith('/') ? '' : '/'}v1/traces`, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  } else return null;
  return { target: 'otlp', url, protocol, headers, timeoutMs, settleS, ackWaitMs };
}

/**
 * The OTLP metrics target (GenAI client metrics): the spans' OTLP configuration (protocol, headers, timeout) with the
 * metrics URL of {@link otlpMetricsEndpoint}; null when metrics are not configured. Throws {@link ExportConfigError}
 * as {@link exportConfig} does, or for a metrics endpoint that is not an http(s) URL.
 */
export function otlpMetricsConfig(env: NodeJS.ProcessEnv = process.env): (ExportConfig & { metricsUrl: string }) | null {
  const raw = otlpMetricsEndpoint(env);
  const c = raw ? exportConfig(env) : null;
  if (!raw || !c || c.target !== 'otlp') return null;
  return { ...c, metricsUrl: validUrl(raw, 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT') };
}

/**
 * One line describing the configuration for logs: target, URL (credentials in it redacted), protocol and the header
 * NAMES only — never a header value (the SLS AccessKey secret is one).
 */
export function describeExport(c: ExportConfig): string {
  const names = Object.keys(c.headers);
  return `${c.target === 'sls' ? 'Alibaba Cloud SLS (OTLP)' : 'OTLP'} ${redactUrl(c.url)} ${c.protocol}` +
    `${names.length ? `, headers: ${names.join(', ')}` : ''}, timeout ${c.timeoutMs} ms, settle ${c.settleS} s`;
}

/** Compression of PutLogs bodies (`x-log-compresstype`). */
export type SlsCompression = 'lz4' | 'deflate';

/** A resolved SLS logstore target. `accessKeySecret` and `securityToken` are secrets: never log them. */
export interface SlsLogConfig {
  /** Base URL: `https://<project>.<endpoint>`, or the endpoint itself when it starts with `http://`/`https://`. */
  baseUrl: string;
  project: string;
  logstore: string;
  accessKeyId: string;
  accessKeySecret: string;
  /** STS token (`x-acs-security-token`), null without STS. */
  securityToken: string | null;
  /** `AGENTSIGHT_SLS_COMPRESS`: `lz4` (default) or `deflate`. */
  compress: SlsCompression;
  /** Also export the audit records (`AGENTSIGHT_SLS_AUDIT`). */
  audit: boolean;
  /** Per-request timeout, ms (`AGENTSIGHT_SLS_TIMEOUT_MS`, default 10 000). */
  timeoutMs: number;
}

/** Variables the logstore export needs, in the order they are documented. */
export const SLS_LOGSTORE_VARIABLES = [
  'AGENTSIGHT_SLS_ENDPOINT', 'AGENTSIGHT_SLS_PROJECT', SLS_LOGSTORE_VARIABLE, 'ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET',
] as const;

/**
 * The SLS logstore target from `env`, or null when `AGENTSIGHT_SLS_LOGSTORE` is unset. Throws
 * {@link ExportConfigError} when a variable of {@link SLS_LOGSTORE_VARIABLES} is missing (names only, never a value),
 * the endpoint is not a usable URL, or the compression or timeout is bad.
 */
export function slsLogConfig(env: NodeJS.ProcessEnv = process.env): SlsLogConfig | null {
  if (!set(env[SLS_LOGSTORE_VARIABLE])) return null;
  const missing = SLS_LOGSTORE_VARIABLES.filter((k) => !set(env[k]));
  if (missing.length) throw new ExportConfigError(`the SLS logstore export needs ${SLS_LOGSTORE_VARIABLES.join(', ')}; missing: ${missing.join(', ')}`);
  const project = env.AGENTSIGHT_SLS_PROJECT!.trim();
  const endpoint = env.AGENTSIGHT_SLS_ENDPOINT!.trim().replace(/\/+$/, '');
  const base = /^https?:\/\//i.test(endpoint) ? endpoint : `https://${project}.${endpoint}`;
  const compress = (env.AGENTSIGHT_SLS_COMPRESS ?? 'lz4').trim().toLowerCase() || 'lz4';
  if (compress !== 'lz4' && compress !== 'deflate') throw new ExportConfigError(`AGENTSIGHT_SLS_COMPRESS must be lz4 or deflate (got "${compress}")`);
  return {
    baseUrl: validUrl(base, 'AGENTSIGHT_SLS_ENDPOINT').replace(/\/+$/, ''),
    project,
    logstore: env[SLS_LOGSTORE_VARIABLE]!.trim(),
    accessKeyId: env.ALIBABA_CLOUD_ACCESS_KEY_ID!.trim(),
    accessKeySecret: env.ALIBABA_CLOUD_ACCESS_KEY_SECRET!.trim(),
    securityToken: set(env.ALIBABA_CLOUD_SECURITY_TOKEN) ? env.ALIBABA_CLOUD_SECURITY_TOKEN.trim() : null,
    compress,
    audit: flagOn(env[SLS_AUDIT_VARIABLE]),
    timeoutMs: positive(env.AGENTSIGHT_SLS_TIMEOUT_MS, 'AGENTSIGHT_SLS_TIMEOUT_MS', 10_000),
  };
}

/** One line for logs: logstore URL, compression, STS or not; the AccessKey id, secret and token never. */
export function describeSls(c: SlsLogConfig): string {
  return `SLS logstore ${redactUrl(c.baseUrl)}/logstores/${c.logstore} (project ${c.project}), ${c.compress}` +
    `${c.securityToken ? ', STS token' : ''}${c.audit ? ', with audit records' : ''}, timeout ${c.timeoutMs} ms`;
}

/** The Logtail file target: the SLS logs as JSON lines in a size-rotated file. */
export interface LogtailConfig {
  path: string;
  /** Rotate before a write would make the file larger than this, bytes (`AGENTSIGHT_SLS_LOGTAIL_MAX_MB`, default 100). */
  maxBytes: number;
  /** Rotated files kept beside it (`<path>.1` newest … `<path>.<files>`; `AGENTSIGHT_SLS_LOGTAIL_FILES`, default 5). */
  files: number;
  /** Also write the audit records (`AGENTSIGHT_SLS_AUDIT`). */
  audit: boolean;
}

/** The Logtail file target from `env`, or null when `AGENTSIGHT_SLS_LOGTAIL_FILE` is unset; throws on bad sizes. */
export function logtailConfig(env: NodeJS.ProcessEnv = process.env): LogtailConfig | null {
  if (!set(env[SLS_LOGTAIL_FILE_VARIABLE])) return null;
  const files = positive(env.AGENTSIGHT_SLS_LOGTAIL_FILES, 'AGENTSIGHT_SLS_LOGTAIL_FILES', 5);
  if (!Number.isInteger(files)) throw new ExportConfigError('AGENTSIGHT_SLS_LOGTAIL_FILES must be a whole number');
  return {
    path: env[SLS_LOGTAIL_FILE_VARIABLE]!.trim(),
    maxBytes: Math.round(positive(env.AGENTSIGHT_SLS_LOGTAIL_MAX_MB, 'AGENTSIGHT_SLS_LOGTAIL_MAX_MB', 100) * 1024 * 1024),
    files,
    audit: flagOn(env[SLS_AUDIT_VARIABLE]),
  };
}

/** Settle time and ack wait shared by every target (see {@link ExportConfig}); throws on bad values. */
export function exportTiming(env: NodeJS.ProcessEnv = process.env): { settleS: number; ackWaitMs: number } {
  const settleS = positive(env.AGENTSIGHT_EXPORT_SETTLE_S, 'AGENTSIGHT_EXPORT_SETTLE_S', DEFAULT_SETTLE_S);
  const timeoutMs = Math.max(
    positive(env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? env.OTEL_EXPORTER_OTLP_TIMEOUT, 'OTEL_EXPORTER_OTLP_TIMEOUT', 10_000),
    positive(env.AGENTSIGHT_SLS_TIMEOUT_MS, 'AGENTSIGHT_SLS_TIMEOUT_MS', 10_000),
  );
  return { settleS, ackWaitMs: Math.max(3 * timeoutMs, 1000 * positive(env.AGENTSIGHT_EXPORT_ACK_WAIT_S, 'AGENTSIGHT_EXPORT_ACK_WAIT_S', 30)) };
}
