/**
 * Contracts of the dashboard's read API (`agentsight serve`, services/api/src/http/dashboard.controller.ts), v1.
 * Every time is ISO 8601 UTC with ms precision unless named `*_ns` (wall-clock ns as decimal text); every cost is USD at
 * list prices and `null` means unpriced (never 0 for "unknown"); token counts are `null` when the provider did not
 * report them. Lists page by an opaque cursor: pass `next_cursor` back as `cursor` to get the following page.
 */

import type { RawProbeCounters } from './raw';

/** One page of a list, newest first. `next_cursor` is null on the last page. */
export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** The time range a view covers: `[from, to)`. */
export interface TimeRange {
  from: string;
  to: string;
}

/** KPI cards of the overview for a time range. */
export interface OverviewKpis {
  llm_calls: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
  /** Sum over priced calls; null when no call in the range was priced (0 only when there are no calls). */
  cost_usd: number | null;
  /** Calls without a price (unknown model or price, or no usage): their cost is not in `cost_usd`. */
  unpriced_calls: number;
  tool_uses: number;
  /** Tool uses whose result says they failed (`success = false`). */
  tool_failures: number;
  /** `exec` audit records. */
  processes_started: number;
  /** Distinct agent sessions (`invoke_agent`) active in the range. */
  agents: number;
  /** LLM calls with an `error.type` or an HTTP status >= 400. */
  errors: number;
  dead_letters: number;
}

/** Call latency over the range, ms; null when there are no calls. */
export interface LatencyStats {
  p50_ms: number | null;
  p95_ms: number | null;
  /** Streamed calls in the range (the ones a time to first token applies to). */
  streamed_calls: number;
  /**
   * Time to first chunk of the streamed calls (`llm_calls.time_to_first_chunk_ms`: first request byte → first SSE
   * event, OTel `gen_ai.response.time_to_first_chunk`), ms; null when no streamed call of the range has one, and then
   * `ttft_note` says why on the page rather than showing a number.
   */
  ttft_p50_ms: number | null;
  ttft_p95_ms: number | null;
  ttft_note: string | null;
}

/** One row of a top list (agents, models, tools, commands). */
export interface TopEntry {
  name: string;
  count: number;
  /** Tokens (input + output) for agents and models; failures for tools; absent for commands. */
  tokens?: number;
  cost_usd?: number | null;
  failures?: number;
}

/** `GET /api/overview`. */
export interface Overview extends TimeRange {
  kpis: OverviewKpis;
  latency: LatencyStats;
  top_agents: TopEntry[];
  top_models: TopEntry[];
  top_tools: TopEntry[];
  top_commands: TopEntry[];
}

/** One bucket × model of {@link TimeSeries}, aggregated in ClickHouse with `toStartOfInterval`. */
export interface TimeSeriesPoint {
  /** Bucket start. */
  t: string;
  /** Response model, else request model, else `?`. */
  model: string;
  calls: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
  unpriced_calls: number;
  p50_ms: number;
  p95_ms: number;
}

/** `GET /api/timeseries`. */
export interface TimeSeries extends TimeRange {
  interval_seconds: number;
  points: TimeSeriesPoint[];
}

/** Live channel `GET /api/live` (Server-Sent Events): one `stored` event per row the storage sink stored. */
export interface LiveEvent {
  /** `llm_calls` | `tool_uses` | `audit_events` | `genai_spans` | `dead_letters` | `exchanges`. */
  table: string;
  id: string;
  /** Audit type / span kind when the table has one. */
  kind?: string;
  /** ms since the epoch when the insert was acknowledged by ClickHouse. */
  stored_at: number;
}

/** Consumer lag of one durable of a pipeline stream. */
export interface ConsumerLag {
  stream: string;
  durable: string;
  /** Messages not yet delivered to the stage. */
  pending: number;
  /** Delivered, not yet acknowledged. */
  ack_pending: number;
  redelivered: number;
}

/** One JetStream stream's size. */
export interface StreamSize {
  stream: string;
  messages: number;
  bytes: number;
}

/** Counters of one attached probe, from the producer's latest loss record (cumulative since its start), with its host. */
export interface ProbeStatus extends RawProbeCounters {
  host: string;
  /** Records of this probe lost in the kernel (0 when the producer reported none under either name). */
  lost_records: number;
  /** @deprecated The same number under its old name, written for one more release. */
  ringbuf_drops: number;
}

/** Dead letters grouped by stage and reason, with the newest one's error and sample. */
export interface DeadLetterGroup {
  stage: string;
  reason: string;
  count: number;
  last_ts: string;
  last_error: string;
  last_sample_base64: string;
}

/** `GET /api/capture`: capture health. `*_error` fields say why a section could not be read (never a silent zero). */
export interface CaptureStatus {
  /** Latest loss record per producer host: kernel loss and per-probe counters; null when none was published. */
  producers: Array<{
    host: string;
    ts: string;
    records: number;
    published: number;
    /** Records lost in the kernel (raw.ts `lostRecords`). */
    lost_records: number;
    /** Plaintext bytes of those records (raw.ts `lostBytes`). */
    lost_bytes: number;
    /** @deprecated `lost_records` under its old name, written for one more release. */
    ringbuf_drops: number;
    /** @deprecated `lost_bytes` under its old name, written for one more release. */
    ringbuf_drop_bytes: number;
    publish_failures: number;
    /** Records stored out of order after a NATS restart (RawLossRecord.publish_reordered); null when the producer is
     * older than that counter (unknown, not 0). */
    publish_reordered: number | null;
    file_opens_skipped: number;
    probes: ProbeStatus[];
    attach_failures: Array<{ binary: string; fn: string; error: string }>;
  }>;
  producers_error: string | null;
  consumers: ConsumerLag[];
  streams: StreamSize[];
  nats_error: string | null;
  /** `bytes`: on every node of a cluster; null when not known (a node not answering; `retention.store_bytes_note` says why). */
  tables: Array<{ table: string; rows: number; bytes: number | null }>;
  /**
   * Bounds of the store: the TTL (`AGENTSIGHT_RETENTION_DAYS`), the size cap (`AGENTSIGHT_STORE_MAX_BYTES`, 0 = none),
   * the store's bytes, whether it is still over the cap, and what the cap dropped so far (whole days, oldest first).
   */
  retention: StoreRetention;
  dead_letters: DeadLetterGroup[];
  /**
   * TLS traffic of traced processes that no probe recorded (stored `capture` audit records from RawTlsNoticeRecord:
   * one per process and reason), newest first, at most 100: which binary or library, and why.
   */
  not_captured: NotCapturedEntry[];
  /**
   * The stages' event counters (things that went wrong in a stage that are not a record: a Redis cache rebuild given
   * up, a wait for the process feed given up), summed per stage over the processes this api heard since it started
   * (libs/jetstream batch-metrics.ts); the same numbers as `/metrics`. A counter is there at 0 once its stage started.
   */
  stage_events: StageEventEntry[];
}

/** One stage event counter of one stage ({@link CaptureStatus.stage_events}). */
export interface StageEventEntry {
  stage: string;
  /** Prometheus name, e.g. `agentsight_cache_rebuilds_given_up_total`. */
  name: string;
  /** Labels besides `stage`, e.g. `{ cache: 'proc' }`. */
  labels: Record<string, string>;
  /** Events since each process of the stage started, summed. */
  value: number;
  /** What it counts (the Prometheus help). */
  help: string;
}

/** {@link CaptureStatus.retention}. */
export interface StoreRetention {
  retention_days: number;
  max_bytes: number;
  /** Bytes on disk of the store (every node of a cluster, replicas included); null when not known (`store_bytes_note`: why). */
  store_bytes: number | null;
  /** Why `store_bytes` is null (parts unreadable, e.g. a cluster node not answering; tables of an unknown engine); null when known. */
  store_bytes_note: string | null;
  over_cap: boolean;
  dropped: { days: number; rows: number; bytes: number; last: string | null; newest_day: string | null };
}

/** One stored TLS notice ({@link CaptureStatus.not_captured}). */
export interface NotCapturedEntry {
  ts: string;
  host: string;
  pid: number;
  comm: string;
  binary: string;
  library: string;
  /** `unrecognised` | `unsupported` | `not_attached` (raw.ts TlsNoticeCause). */
  cause: string;
  reason: string;
  /** `host:port` (or the server name) the connection went to. */
  peer: string;
  /** The one line (raw.ts tlsNoticeText). */
  summary: string;
}
