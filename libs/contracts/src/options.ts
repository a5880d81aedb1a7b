/**
 * The one definition of agentsight's settings: every environment variable a service or the CLI reads, and every CLI
 * flag that sets one, with its key in the config file (`/etc/agentsight/config.json`, see `config-file.ts`), its type,
 * its default (as text for the table; where it is one literal the CLI applies it from here, {@link optionDefault}) and its meaning. The README's
 * configuration table is generated from {@link OPTIONS} (`configTableMarkdown`), the config file's JSON Schema too
 * (`configSchema`), and a test checks that every variable the sources read is here.
 *
 * Precedence: flag > environment variable > config file > default. A flag sets its variable for the process and the
 * services it starts; the config file fills the variables that are unset (or empty).
 */
import { STREAMS } from './topology';

/**
 * Value type of a setting in the config file: `string`, `path` (a file or directory), `url`, `integer` (≥ `min`),
 * `number` (> 0, may be fractional), `boolean` (`true` sets the variable to `1`, `false` to `0`), `size` (bytes as an
 * integer, or a string with a K/M/G/T suffix, powers of 1024), `port` (1..65535) or one of `enum`.
 */
export type OptionType = 'string' | 'path' | 'url' | 'integer' | 'number' | 'boolean' | 'size' | 'port';

/** One setting. */
export interface OptionSpec {
  /** Key in the config file (snake_case, unique). */
  key: string;
  /** The environment variable it sets. */
  env: string;
  /** CLI flag setting it (long form, e.g. `--data-dir`), on the commands that have it. */
  flag?: string;
  /** The commands on which `flag` sets this variable (default: every command that has the flag). */
  commands?: readonly string[];
  type: OptionType;
  /** Allowed values of a string setting. */
  enum?: readonly string[];
  /** Smallest allowed integer (`integer` only; default 0). */
  min?: number;
  /** Default, as text for the table (`—`: none). */
  default: string;
  /** Meaning (markdown, one paragraph). */
  doc: string;
  /**
   * Holds a secret (or may: URLs with credentials, header lists): its value is never printed, and a config file
   * holding it must not be readable by group or others.
   */
  secret?: boolean;
}

const size = (bytes: number): string => {
  const units: Array<[number, string]> = [[1024 ** 3, 'G'], [1024 ** 2, 'M']];
  for (const [u, s] of units) if (bytes % u === 0) return `${bytes / u}${s}`;
  return String(bytes);
};

/** Per stream: `<name>_max_bytes` → `AGENTSIGHT_<NAME>_MAX_BYTES`. */
const STREAM_OPTIONS: OptionSpec[] = STREAMS.map((s) => {
  const short = s.name.replace(/^AGENTSIGHT_/, '');
  return {
    key: `stream_${short.toLowerCase()}_max_bytes`, env: `AGENTSIGHT_${short}_MAX_BYTES`, type: 'size' as const, default: `\`${size(s.maxBytes)}\``,
    doc: `\`max_bytes\` of the ${s.name} stream; at the limit the oldest messages go (\`agentsight status\` counts them)`,
  };
});

/** Every setting (README table order). */
export const OPTIONS: readonly OptionSpec[] = [
  // where things are
  { key: 'data_dir', env: 'AGENTSIGHT_DATA_DIR', flag: '--data-dir', type: 'path', default: '`~/.agentsight`', doc: 'chDB data (`chdb/`), logs (`logs/`), NATS store when agentsight starts NATS; made 0700' },
  { key: 'config_dir', env: 'AGENTSIGHT_CONFIG_DIR', type: 'path', default: '`/etc/agentsight`', doc: 'generated credentials (`secrets.json`, 0600) and the config files of agentsight\'s own brokers (0700 dir)' },
  { key: 'host', env: 'AGENTSIGHT_HOST', type: 'string', default: 'hostname', doc: 'host name in subjects and records' },
  { key: 'instance', env: 'AGENTSIGHT_INSTANCE', type: 'string', default: '`default` (CLI: `cli-<pid>`)', doc: 'instance name for partition leases' },
  { key: 'partitions', env: 'AGENTSIGHT_PARTITIONS', type: 'integer', min: 1, default: '`8`', doc: 'partitions of per-connection subjects (producer `--partitions` must match)' },
  // brokers and storage
  { key: 'nats_url', env: 'NATS_URL', type: 'url', secret: true, default: 'agentsight\'s own NATS, `nats://127.0.0.1:7422`', doc: 'an external JetStream server instead, or the seed servers of a cluster separated by commas (credentials: `NATS_CREDS`, or `NATS_USER`/`NATS_PASSWORD`, or in the URL); see [NATS cluster](#nats-jetstream-cluster)' },
  { key: 'nats_creds', env: 'NATS_CREDS', type: 'path', default: '—', doc: 'a NATS `.creds` file (user JWT and nkey seed) for an external NATS' },
  { key: 'nats_user', env: 'NATS_USER', type: 'string', default: '—', doc: 'user for an external NATS' },
  { key: 'nats_password', env: 'NATS_PASSWORD', type: 'string', secret: true, default: '—', doc: 'password of `NATS_USER`' },
  { key: 'redis_url', env: 'REDIS_URL', type: 'url', secret: true, default: 'agentsight\'s own Redis, `127.0.0.1:7379`', doc: 'an external Redis instead (`redis://[user]:password@host:port`)' },
  { key: 'nats_port', env: 'AGENTSIGHT_NATS_PORT', type: 'port', default: '`7422`', doc: 'port of agentsight\'s own NATS (127.0.0.1)' },
  { key: 'redis_port', env: 'AGENTSIGHT_REDIS_PORT', type: 'port', default: '`7379`', doc: 'port of agentsight\'s own Redis (127.0.0.1)' },
  { key: 'clickhouse_url', env: 'CLICKHOUSE_URL', type: 'url', secret: true, default: '(embedded chDB)', doc: 'use a ClickHouse server (or cluster) instead, see [ClickHouse server and cluster](#clickhouse-server-and-cluster)' },
  // api and dashboard
  { key: 'ui_token', env: 'AGENTSIGHT_UI_TOKEN', type: 'string', secret: true, default: '`api_token` of `secrets.json`', doc: 'token of the read API and dashboard' },
  { key: 'ui_host', env: 'AGENTSIGHT_UI_HOST', flag: '--host', commands: ['serve'], type: 'string', default: '`127.0.0.1`', doc: 'address the api binds (`serve --host`); not loopback = reachable from other hosts, still behind the token' },
  { key: 'api_port', env: 'AGENTSIGHT_API_PORT', flag: '--port', commands: ['serve'], type: 'port', default: '`7396`', doc: 'read API of the api service (`serve --port`), and its Prometheus `/metrics` (see [Metrics](#metrics-prometheus-metrics))' },
  { key: 'dashboard_dir', env: 'AGENTSIGHT_DASHBOARD_DIR', type: 'path', default: '`apps/dashboard/dist`', doc: 'built dashboard the api serves' },
  // streams and store
  { key: 'stream_max_age_hours', env: 'AGENTSIGHT_STREAM_MAX_AGE_HOURS', type: 'number', default: 'raw, HTTP `72`; `AGENTSIGHT_REPLAY` `24`; others `168`', doc: '`max_age` of every JetStream stream (applied to existing streams at the next service start, in place)' },
  ...STREAM_OPTIONS,
  { key: 'stream_replicas', env: 'AGENTSIGHT_STREAM_REPLICAS', type: 'integer', min: 1, default: '`1`', doc: 'replicas of every JetStream stream and of the large-payload object store (`3` on a 3-node cluster: a stream survives the loss of a node); applied to existing streams at the next service start, in place, see [NATS cluster](#nats-jetstream-cluster)' },
  { key: 'retention_days', env: 'AGENTSIGHT_RETENTION_DAYS', type: 'integer', default: '`90`', doc: 'TTL of every ClickHouse table: rows older than this many days (event time; `tool_uses`/`genai_spans`: time stored) are deleted by ClickHouse; `0` = no TTL. Tables are partitioned by day; a change applies at the next api start (`MODIFY TTL`), and stores of older versions (month partitions) are rebuilt in place' },
  { key: 'store_max_bytes', env: 'AGENTSIGHT_STORE_MAX_BYTES', type: 'size', default: '`10G`', doc: 'size cap of the store (bytes on disk of the tables; `0` = none): over it, the api drops whole days, oldest first (every partitioned table\'s partition of that day, and the versioned tables\' rows stored up to it), never the newest day, so never a whole table; what it dropped is counted (table `retention_drops`) and shown by `agentsight status` and the capture page' },
  { key: 'store_check_s', env: 'AGENTSIGHT_STORE_CHECK_S', type: 'number', default: '`60`', doc: 'how often the api checks the size cap (and once at start)' },
  // stages
  { key: 'parser_idle_s', env: 'AGENTSIGHT_PARSER_IDLE_S', type: 'number', default: '`600`', doc: 'a connection silent this long is ended by the parser' },
  { key: 'stdio_idle_s', env: 'AGENTSIGHT_STDIO_IDLE_S', type: 'number', default: '`600`', doc: 'a stdio stream silent this long is ended by the parser' },
  { key: 'tool_index_ttl_s', env: 'AGENTSIGHT_TOOL_INDEX_TTL_S', type: 'number', default: '`86400`', doc: 'how long the analyzer keeps half a tool use (call or result) waiting for the other half (Redis TTL)' },
  { key: 'session_ttl_s', env: 'AGENTSIGHT_SESSION_TTL_S', type: 'number', default: '`604800`', doc: 'how long genai keeps a session\'s totals after its last event (Redis TTL)' },
  { key: 'prices', env: 'AGENTSIGHT_PRICES', type: 'path', default: '—', doc: 'JSON price table merged over the built-in one (USD per million tokens)' },
  { key: 'capture_content', env: 'AGENTSIGHT_CAPTURE_CONTENT', type: 'boolean', default: 'off', doc: 'on: LLM call events carry `gen_ai.input.messages`, `gen_ai.output.messages`, `gen_ai.system_instructions`, `gen_ai.tool.definitions`, and tool events `gen_ai.tool.call.arguments`/`result` (redacted). When unset, OTel\'s `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` is honoured. Off: none of them stored' },
  { key: 'otel_capture_message_content', env: 'OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT', type: 'boolean', default: 'off', doc: 'OTel\'s switch for the same, used when `AGENTSIGHT_CAPTURE_CONTENT` is unset' },
  { key: 'redact_patterns', env: 'AGENTSIGHT_REDACT_PATTERNS', type: 'path', default: '—', doc: 'JSON file of extra redaction rules, see [Redaction](#redaction)' },
  { key: 'redact_at_parser', env: 'AGENTSIGHT_REDACT_AT_PARSER', type: 'boolean', default: 'off', doc: 'on: redact as the stages derive (no secret in any stream but the raw one), see [Security](#security)' },
  // CLI runs
  { key: 'sample_ms', env: 'AGENTSIGHT_SAMPLE_MS', type: 'number', default: '`1000`', doc: 'resource sampling interval of a traced agent\'s tree while it is active' },
  { key: 'sample_idle_max_ms', env: 'AGENTSIGHT_SAMPLE_IDLE_MAX_MS', type: 'number', default: '`8000`', doc: 'the most the sampling interval backs off to while the tree is idle (doubling)' },
  { key: 'agent_scan_ms', env: 'AGENTSIGHT_AGENT_SCAN_MS', type: 'number', default: '`5000`', doc: 'system-wide `trace` and `trace --daemon`: how often running agents are looked for (discovery rules) to sample their resources; `0` scans once, at start' },
  { key: 'docker_root', env: 'AGENTSIGHT_DOCKER_ROOT', type: 'path', default: '`/var/lib/docker`', doc: 'Docker\'s data root, for `record --binary-path docker://…`' },
  { key: 'rules', env: 'AGENTSIGHT_RULES', flag: '--rules', type: 'path', default: '`<data dir>/rules.json` if present', doc: 'discovery rules (JSON) merged over the built-in ones (`discover`, `trace --discover`, and the agents system-wide `trace` samples)' },
  { key: 'export_wait_s', env: 'AGENTSIGHT_EXPORT_WAIT_S', flag: '--export-wait', type: 'number', default: '`60`', doc: 'at the end of `exec`/`trace`/`record`, how long to wait for the exports to deliver what was captured (see [Export](#export-otlp-sls))' },
  { key: 'daemon_api_wait_s', env: 'AGENTSIGHT_DAEMON_API_WAIT_S', type: 'number', default: '`60`', doc: '`trace --daemon` (unit `agentsight-probe.service`): how long to wait at start for the api of the running pipeline before giving up (exit 1; the unit restarts it)' },
  // OTLP export
  { key: 'otlp_endpoint', env: 'OTEL_EXPORTER_OTLP_ENDPOINT', type: 'url', default: '— (no export)', doc: 'OTLP collector: base URL (`/v1/traces` appended; with `grpc` the address as is); see [Export](#export-otlp-sls)' },
  { key: 'otlp_traces_endpoint', env: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', type: 'url', default: '—', doc: 'full traces URL instead' },
  { key: 'otlp_metrics_endpoint', env: 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', type: 'url', default: 'the spans\' endpoint + `/v1/metrics`', doc: 'OTLP metrics URL, see [OTLP metrics](#otlp-metrics-genai-client-metrics)' },
  { key: 'otel_metrics_exporter', env: 'OTEL_METRICS_EXPORTER', type: 'string', default: '—', doc: '`none` = no OTLP metrics' },
  { key: 'otlp_headers', env: 'OTEL_EXPORTER_OTLP_HEADERS', type: 'string', secret: true, default: '—', doc: 'extra headers `k=v,k2=v2`' },
  { key: 'otlp_traces_headers', env: 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', type: 'string', secret: true, default: '—', doc: 'extra headers of the traces requests' },
  { key: 'otlp_timeout', env: 'OTEL_EXPORTER_OTLP_TIMEOUT', type: 'integer', min: 1, default: '`10000`', doc: 'ms per export request' },
  { key: 'otlp_traces_timeout', env: 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', type: 'integer', min: 1, default: '`10000`', doc: 'ms per traces request' },
  { key: 'otlp_protocol', env: 'AGENTSIGHT_OTLP_PROTOCOL', type: 'string', enum: ['http/protobuf', 'http/json', 'grpc'], default: '`http/protobuf`', doc: 'or `http/json`, or `grpc` (OTLP/gRPC: the endpoint is the collector\'s address, `http://` plaintext, `https://` TLS, no path appended; not with the SLS preset); else OTel\'s `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`. Spans and metrics use the same' },
  { key: 'otel_otlp_protocol', env: 'OTEL_EXPORTER_OTLP_PROTOCOL', type: 'string', enum: ['http/protobuf', 'http/json', 'grpc'], default: '—', doc: 'OTel\'s protocol variable, used when `AGENTSIGHT_OTLP_PROTOCOL` is unset' },
  { key: 'otel_otlp_traces_protocol', env: 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', type: 'string', enum: ['http/protobuf', 'http/json', 'grpc'], default: '—', doc: 'the same for traces' },
  { key: 'export_settle_s', env: 'AGENTSIGHT_EXPORT_SETTLE_S', type: 'number', default: '`300`', doc: 'a tool use or session span is exported once its event has had no newer version this long' },
  { key: 'export_ack_wait_s', env: 'AGENTSIGHT_EXPORT_ACK_WAIT_S', type: 'number', default: '`30`', doc: 'JetStream ack wait of the exporter: how soon inputs of a stopped or dead exporter are delivered again' },
  // SLS
  { key: 'sls_endpoint', env: 'AGENTSIGHT_SLS_ENDPOINT', flag: '--sls-endpoint', type: 'string', default: '—', doc: 'SLS region endpoint (`cn-hangzhou.log.aliyuncs.com` → `https://<project>.<endpoint>`); a value starting with `http://`/`https://` is the whole base URL; see [SLS logstore export](#sls-logstore-export-putlogs-logtail-file)' },
  { key: 'sls_project', env: 'AGENTSIGHT_SLS_PROJECT', flag: '--sls-project', type: 'string', default: '—', doc: 'SLS project' },
  { key: 'sls_logstore', env: 'AGENTSIGHT_SLS_LOGSTORE', flag: '--sls-logstore', type: 'string', default: '—', doc: 'SLS logstore; set = the PutLogs export is on' },
  { key: 'sls_compress', env: 'AGENTSIGHT_SLS_COMPRESS', flag: '--sls-compress', type: 'string', enum: ['lz4', 'deflate'], default: '`lz4`', doc: 'PutLogs compression' },
  { key: 'sls_audit', env: 'AGENTSIGHT_SLS_AUDIT', flag: '--sls-audit', type: 'boolean', default: 'off', doc: 'also the audit records (logstore and Logtail file)' },
  { key: 'sls_logtail_file', env: 'AGENTSIGHT_SLS_LOGTAIL_FILE', flag: '--sls-logtail-file', type: 'path', default: '—', doc: 'the same logs as JSON lines in this file, for iLogtail (no credentials needed)' },
  { key: 'sls_logtail_max_mb', env: 'AGENTSIGHT_SLS_LOGTAIL_MAX_MB', type: 'number', default: '`100`', doc: 'the Logtail file is rotated before it grows past this' },
  { key: 'sls_logtail_files', env: 'AGENTSIGHT_SLS_LOGTAIL_FILES', type: 'integer', min: 1, default: '`5`', doc: 'rotated Logtail files kept (`F.1` … `F.<n>`)' },
  { key: 'sls_timeout_ms', env: 'AGENTSIGHT_SLS_TIMEOUT_MS', type: 'number', default: '`10000`', doc: 'ms per PutLogs request' },
  { key: 'sls_instance', env: 'AGENTSIGHT_SLS_INSTANCE', type: 'string', default: '—', doc: 'SLS Trace instance id: with the two below, the SLS OTLP trace preset, see [Export](#export-otlp-sls)' },
  { key: 'sls_access_key_id', env: 'AGENTSIGHT_SLS_ACCESS_KEY_ID', type: 'string', default: '—', doc: 'AccessKey id of the SLS OTLP trace preset' },
  { key: 'sls_access_key_secret', env: 'AGENTSIGHT_SLS_ACCESS_KEY_SECRET', type: 'string', secret: true, default: '—', doc: 'AccessKey secret of the SLS OTLP trace preset' },
  { key: 'alibaba_cloud_access_key_id', env: 'ALIBABA_CLOUD_ACCESS_KEY_ID', type: 'string', default: '—', doc: 'AccessKey id of the SLS logstore export' },
  { key: 'alibaba_cloud_access_key_secret', env: 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', type: 'string', secret: true, default: '—', doc: 'AccessKey secret of the SLS logstore export' },
  { key: 'alibaba_cloud_security_token', env: 'ALIBABA_CLOUD_SECURITY_TOKEN', type: 'string', secret: true, default: '—', doc: 'STS token of the SLS logstore export' },
];

/** The option of a config key, or undefined. */
export function optionByKey(key: string): OptionSpec | undefined {
  return OPTIONS.find((o) => o.key === key);
}

/** The option a CLI flag (`--data-dir`) sets on `command` (`serve`), or undefined. */
export function optionByFlag(flag: string, command: string): OptionSpec | undefined {
  return OPTIONS.find((o) => o.flag === flag && (!o.commands || o.commands.includes(command)));
}

/** Commander's attribute name of a long flag: `--sls-endpoint` → `slsEndpoint`. */
export function flagAttribute(flag: string): string {
  return flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The default of the setting read from `env` as the code applies it: the one backtick literal of its `default` text
 * (`` `7396` `` → `'7396'`), so the CLI and the README's table cannot disagree. Throws when no setting reads `env`
 * or its default is not one literal (`—`, prose, several values): such a default is applied where it is described.
 */
export function optionDefault(env: string): string {
  const o = OPTIONS.find((x) => x.env === env);
  if (!o) throw new Error(`no setting reads ${env}`);
  const m = /^`([^`]+)`$/.exec(o.default);
  if (!m) throw new Error(`the default of ${env} is not one literal: ${o.default}`);
  return m[1];
}

/** {@link optionDefault} as a number (ports, ms, counts); throws when it is not a finite number. */
export function optionDefaultNumber(env: string): number {
  const v = optionDefault(env);
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`the default of ${env} is not a number: ${v}`);
  return n;
}
