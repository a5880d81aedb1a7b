/**
 * The api's Prometheus exposition (`GET /metrics`, text format 0.0.4, prom-client): the numbers of the capture page
 * and `agentsight status` ({@link readCaptureStatus} in capture.ts) and the stored LLM calls' totals
 * ({@link genAiTotals}), as gauges and `_total` counters named by Prometheus conventions (`agentsight_` prefix, base
 * units in the name: `_bytes`, `_seconds`, `_usd`). Built afresh on every scrape from what is stored and what the
 * brokers hold, so every api instance of one store reports the same values; a counter read from stored rows goes down
 * only when retention drops rows (Prometheus sees a counter reset). The README's "Metrics" table lists every name.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { AgentResourceTotalsRow, GenAiTotalsRow } from '@agentsight/clickhouse';
import { BATCH_RECORDS_BUCKETS, BATCH_SECONDS_BUCKETS, STAGE_EVENT_COUNTERS, type HistogramCounts } from '@agentsight/jetstream';
import type { CaptureSnapshot } from './capture';
import type { BatchSeries } from './batch';

/** What one scrape exposes: capture health and broker state, and the stored calls' totals (null + why when unreadable). */
export interface MetricsSnapshot extends CaptureSnapshot {
  genai: GenAiTotalsRow[];
  /** What the traced agents cost the machine ({@link agentResourceTotals}); null when it could not be read (`agent_resources` scrape error). */
  agentResources: AgentResourceTotalsRow[] | null;
  /** The stages' batch histograms heard since the api started (metrics/batch.ts). */
  batches: BatchSeries[];
}

/**
 * A Prometheus histogram family from ready counts (prom-client's Histogram only observes values one by one): per
 * series `_bucket{le}` cumulative, `+Inf` = `_count`, and `_sum`. Duck-typed as a prom-client metric for a Registry.
 */
function histogramFamily(name: string, help: string, bounds: readonly number[], series: Array<{ labels: Labels; h: HistogramCounts }>) {
  const values = series.flatMap(({ labels, h }) => {
    let acc = 0;
    const buckets = [...bounds, Infinity].map((b, i) => {
      acc += h.counts[i] ?? 0;
      return { metricName: `${name}_bucket`, labels: { ...labels, le: b === Infinity ? '+Inf' : String(b) }, value: acc };
    });
    return [...buckets, { metricName: `${name}_sum`, labels, value: h.sum }, { metricName: `${name}_count`, labels, value: h.count }];
  });
  return { name, help, type: 'histogram', aggregator: 'sum', get: async () => ({ name, help, type: 'histogram', aggregator: 'sum', values }) };
}

/** The process metrics of this api (`process_*`, `nodejs_*`, prom-client's default collectors), registered once. */
let processRegistry: Registry | null = null;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

type Labels = Record<string, string | number>;

/**
 * Registry of one scrape of {@link MetricsSnapshot}, merged with the api's own process metrics. Series of a
 * section that could not be read are absent, and `agentsight_scrape_errors{section}` is 1 for it (never a silent 0).
 */
export function metricsRegistry(s: MetricsSnapshot): Registry {
  const reg = new Registry();
  const defs = new Map<string, Gauge | Counter>();
  const put = (kind: 'gauge' | 'counter', name: string, help: string, labels: Labels, value: number): void => {
    let m = defs.get(name);
    if (!m) {
      const opts = { name, help, labelNames: Object.keys(labels), registers: [reg] };
      m = kind === 'counter' ? new Counter(opts) : new Gauge(opts);
      defs.set(name, m);
    }
    if (m instanceof Counter) m.inc(labels, Math.max(0, value));
    else m.set(labels, value);
  };
  const gauge = (name: string, help: string, labels: Labels, value: number) => put('gauge', name, help, labels, value);
  const counter = (name: string, help: string, labels: Labels, value: number) => put('counter', name, help, labels, value);
  const c = s.capture;

  gauge('agentsight_scrape_errors', 'Sections of this scrape that could not be read (1): their series are absent, the capture page says why', { section: 'nats' }, c.nats_error ? 1 : 0);
  gauge('agentsight_scrape_errors', '', { section: 'producers' }, c.producers_error && !c.producers_error.startsWith('no loss record') ? 1 : 0);

  for (const st of s.pipeline?.streams ?? []) {
    const l = { stream: st.name };
    gauge('agentsight_stream_messages', 'Messages held by the JetStream stream', l, st.messages);
    gauge('agentsight_stream_bytes', 'Bytes held by the JetStream stream', l, st.bytes);
    if (st.max_bytes >= 0) gauge('agentsight_stream_max_bytes', 'max_bytes limit of the stream (AGENTSIGHT_<STREAM>_MAX_BYTES)', l, st.max_bytes);
    if (st.max_age_ns > 0) gauge('agentsight_stream_max_age_seconds', 'max_age limit of the stream (AGENTSIGHT_STREAM_MAX_AGE_HOURS)', l, st.max_age_ns / 1e9);
    counter('agentsight_stream_published_messages_total', 'Messages ever stored in the stream (its last sequence): the records out of the stage that publishes into it', l, st.last_seq);
    counter('agentsight_stream_limit_discarded_messages_total', 'Messages the stream\'s limits (age, size) removed from its head (first sequence - 1)', l, st.discarded);
    for (const d of st.consumers) {
      const dl = { stream: st.name, durable: d.durable };
      gauge('agentsight_consumer_pending_messages', 'Messages of the stream not yet delivered to the durable (JetStream num_pending): the stage\'s lag', dl, d.pending);
      gauge('agentsight_consumer_ack_pending_messages', 'Messages delivered to the durable and not yet acked', dl, d.ack_pending);
      gauge('agentsight_consumer_redelivered_messages', 'Messages delivered to the durable more than once and not yet acked', dl, d.redelivered);
      gauge('agentsight_consumer_ack_floor_sequence', 'Stream sequence up to which the durable acked everything: the records in of its stage', dl, d.ack_floor);
    }
  }
  for (const g of s.pipeline?.groups ?? []) {
    gauge('agentsight_partition_group_instances', 'Live instances of the partitioned stage', { group: g.group }, g.members.length);
    gauge('agentsight_partition_group_unowned_partitions', 'Partitions of the stage no live instance holds', { group: g.group }, g.owners.filter((o) => !o).length);
  }

  for (const p of c.producers) {
    const l = { host: p.host };
    counter('agentsight_producer_records_total', 'Records the probe produced (latest loss record of the host, since the probe started)', l, p.records);
    counter('agentsight_producer_published_records_total', 'Records the probe published to JetStream', l, p.published);
    counter('agentsight_producer_lost_records_total', 'Records lost in the kernel: failed ring-buffer reservations, unreadable user memory, calls over 64 MiB', l, p.lost_records);
    counter('agentsight_producer_lost_bytes_total', 'Plaintext bytes of the records lost in the kernel', l, p.lost_bytes);
    counter('agentsight_producer_ringbuf_dropped_records_total', 'Deprecated (removed in the next release): agentsight_producer_lost_records_total', l, p.lost_records);
    counter('agentsight_producer_ringbuf_dropped_bytes_total', 'Deprecated (removed in the next release): agentsight_producer_lost_bytes_total', l, p.lost_bytes);
    counter('agentsight_producer_publish_failures_total', 'Records the probe failed to publish', l, p.publish_failures);
    // an older probe does not report it: no sample rather than a 0
    if (p.publish_reordered !== null) counter('agentsight_producer_publish_reordered_total', 'Records stored behind a later record of their subject after a NATS restart (the parser may take them for duplicates)', l, p.publish_reordered);
    counter('agentsight_producer_file_opens_skipped_total', 'File opens not recorded (rate limit)', l, p.file_opens_skipped);
    gauge('agentsight_producer_last_report_timestamp_seconds', 'Time of the host\'s latest loss record (Unix seconds)', l, Date.parse(p.ts) / 1000);
    for (const pr of p.probes) {
      const pl = { host: p.host, binary: pr.binary, function: pr.fn };
      counter('agentsight_probe_records_total', 'Records of one probed function', pl, pr.records);
      counter('agentsight_probe_fragments_total', 'Fragments of one probed function (large calls are split, never truncated)', pl, pr.fragments);
      counter('agentsight_probe_bytes_total', 'Plaintext bytes captured by one probed function', pl, pr.bytes);
      counter('agentsight_probe_lost_records_total', 'Records of one probed function lost in the kernel', pl, pr.lost_records);
      counter('agentsight_probe_ringbuf_dropped_records_total', 'Deprecated (removed in the next release): agentsight_probe_lost_records_total', pl, pr.lost_records);
    }
    const failures = new Map<string, { binary: string; function: string; n: number }>();
    for (const f of p.attach_failures) {
      const k = `${f.binary}\0${f.fn}`;
      failures.set(k, { binary: f.binary, function: f.fn, n: (failures.get(k)?.n ?? 0) + 1 });
    }
    for (const f of failures.values()) gauge('agentsight_probe_attach_failures', 'Probes that failed to attach (reasons on the capture page)', { host: p.host, binary: f.binary, function: f.function }, f.n);
  }

  for (const t of c.tables) {
    gauge('agentsight_store_rows', 'Rows of the ClickHouse table (FINAL: deduplicated)', { table: t.table }, t.rows);
    // not known (a cluster node not answering, a table whose parts are not found): no sample rather than a 0
    if (t.bytes !== null) gauge('agentsight_store_table_bytes', 'Bytes on disk of the table\'s active parts', { table: t.table }, t.bytes);
  }
  const r = c.retention;
  if (r.store_bytes !== null) gauge('agentsight_store_bytes', 'Bytes on disk of the store, every node of a cluster (absent when not known)', {}, r.store_bytes);
  gauge('agentsight_store_max_bytes', 'Size cap of the store (AGENTSIGHT_STORE_MAX_BYTES; 0 = none)', {}, r.max_bytes);
  gauge('agentsight_store_retention_seconds', 'TTL of the store\'s rows (AGENTSIGHT_RETENTION_DAYS; 0 = none)', {}, r.retention_days * 86400);
  gauge('agentsight_store_over_cap', '1 when the store is still over its size cap with only its newest day left', {}, r.over_cap ? 1 : 0);
  counter('agentsight_store_dropped_days_total', 'Days the size cap dropped', {}, r.dropped.days);
  counter('agentsight_store_dropped_rows_total', 'Rows the size cap dropped', {}, r.dropped.rows);
  counter('agentsight_store_dropped_bytes_total', 'Bytes the size cap dropped', {}, r.dropped.bytes);
  for (const d of c.dead_letters) counter('agentsight_dead_letters_total', 'Stored dead letters by stage and reason', { stage: d.stage, reason: d.reason }, d.count);

  for (const g of s.genai) {
    const l = { gen_ai_provider_name: g.provider, gen_ai_response_model: g.model, gen_ai_agent_name: g.agent };
    counter('agentsight_gen_ai_calls_total', 'Stored LLM calls', l, g.calls);
    counter('agentsight_gen_ai_failed_calls_total', 'Stored LLM calls with an error.type', l, g.failed_calls);
    counter('agentsight_gen_ai_tokens_total', 'Tokens of the stored calls by gen_ai.token.type (input includes cached input, output includes reasoning: semconv v1.41)', { ...l, gen_ai_token_type: 'input' }, g.input_tokens);
    counter('agentsight_gen_ai_tokens_total', '', { ...l, gen_ai_token_type: 'output' }, g.output_tokens);
    counter('agentsight_gen_ai_cache_read_input_tokens_total', 'Input tokens read from the provider\'s cache (part of the input tokens)', l, g.cache_read_input_tokens);
    counter('agentsight_gen_ai_cache_creation_input_tokens_total', 'Input tokens written to the provider\'s cache (part of the input tokens)', l, g.cache_creation_input_tokens);
    counter('agentsight_gen_ai_reasoning_output_tokens_total', 'Reasoning tokens (part of the output tokens)', l, g.reasoning_output_tokens);
    counter('agentsight_gen_ai_cost_usd_total', 'Cost in USD of the priced calls at list prices (libs/pricing)', l, g.cost_usd);
    counter('agentsight_gen_ai_unpriced_calls_total', 'Calls without a price: not in the cost, never counted as $0', l, g.unpriced_calls);
  }
  gauge('agentsight_scrape_errors', '', { section: 'agent_resources' }, s.agentResources ? 0 : 1);
  for (const a of s.agentResources ?? []) {
    // Bounded labels: host, agent name, the root's executable; never a pid or a session (README "Metrics").
    const l = { host: a.host, gen_ai_agent_name: a.agent, process_executable_name: a.executable };
    counter('agentsight_agent_process_cpu_seconds_total', 'CPU seconds (user + system, reaped children included) of the traced agents\' process trees at their last resource sample, summed over every stored traced root (semconv process.cpu.time)', l, a.cpu_seconds);
    counter('agentsight_agent_sampled_process_trees_total', 'Traced agent roots ever sampled (stored)', l, a.roots);
    gauge('agentsight_agent_live_process_trees', 'Traced agent roots live now (sampled within twice their interval + 2 s)', l, a.live_roots);
    gauge('agentsight_agent_process_memory_usage_bytes', 'Sum of VmRSS over the live traced agents\' process trees at their last sample (semconv process.memory.usage)', l, a.live_rss_bytes);
    gauge('agentsight_agent_processes', 'Processes in the live traced agents\' trees at their last sample', l, a.live_procs);
    // A figure no root of the group had (no probe, unreadable io) gives no series, never a 0.
    const disk = 'Storage-layer bytes read / written (/proc/<pid>/io read_bytes, write_bytes: page-cache hits not counted, writes counted when dirtied, cancelled writes not subtracted) of the traced agents\' process trees at each root\'s newest resource sample with them, reaped children included (the kernel adds them to their parent), summed over every stored traced root; processes whose io could not be read count 0 (semconv process.disk.io)';
    if (a.disk_read_bytes !== null) counter('agentsight_agent_process_disk_io_bytes_total', disk, { ...l, disk_io_direction: 'read' }, a.disk_read_bytes);
    if (a.disk_write_bytes !== null) counter('agentsight_agent_process_disk_io_bytes_total', disk, { ...l, disk_io_direction: 'write' }, a.disk_write_bytes);
    const net = 'Inet payload bytes sent (transmit) / received (receive) by the traced agents\' process trees (eBPF sock_send_length / sock_recv_length) at each root\'s newest resource sample that counted them, summed over every stored traced root (semconv process.network.io). A descendant that exited hands its bytes to its nearest ancestor in the tree (one no sample saw is found by the up to 4 ancestors the probe names for it); one that left the tree (an orphan reparented outside it) is not in it; roots not counted (no probe, Linux < 6.5) are not in it';
    if (a.net_sent_bytes !== null) counter('agentsight_agent_process_network_io_bytes_total', net, { ...l, network_io_direction: 'transmit' }, a.net_sent_bytes);
    if (a.net_recv_bytes !== null) counter('agentsight_agent_process_network_io_bytes_total', net, { ...l, network_io_direction: 'receive' }, a.net_recv_bytes);
  }
  if (s.batches.length) {
    const series = (pick: (b: BatchSeries) => HistogramCounts) => s.batches.map((b) => ({ labels: { stage: b.stage, consumer: b.consumer }, h: pick(b) }));
    reg.registerMetric(histogramFamily('agentsight_stage_batch_duration_seconds', 'Seconds from a batch\'s fetch (its first message received) until the stage handled it and acked its finished inputs, per stage and consumer (durable without -p<N>), since the api started', BATCH_SECONDS_BUCKETS, series((b) => b.seconds)) as never);
    reg.registerMetric(histogramFamily('agentsight_stage_batch_records', 'Records per batch, per stage and consumer, since the api started', BATCH_RECORDS_BUCKETS, series((b) => b.records)) as never);
  }
  for (const e of c.stage_events) {
    if (Object.hasOwn(STAGE_EVENT_COUNTERS, e.name)) counter(e.name, e.help, { stage: e.stage, ...e.labels }, e.value);
  }
  return Registry.merge([reg, processMetrics()]);
}
