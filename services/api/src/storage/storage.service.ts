import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AuditRecord, DeadLetter, Exchange, GenAiInferenceEvent, GenAiRecord, RawResourceSample, ToolUse, TOPOLOGY } from '@agentsight/contracts';
import { BatchWriter, auditRow, deadLetterRow, exchangeRow, genAiSpanRow, llmCallRow, resourceSampleRows, toolUseRow } from '@agentsight/clickhouse';
import { ConsumerLoop, StageRuntime } from '@agentsight/jetstream';
import { Storage } from './storage';
import { LiveBus } from '../http/live';

/** A sink: the stream and durable it reads, the table it writes, and its row mapping. */
interface Sink<T> {
  stream: string;
  durable: string;
  filterSubject: string;
  /** The table, or how to pick it per value (the genai subject carries inference, tool and agent events). */
  table: string | ((value: T) => string);
  /** The row of a value, or its rows (a resource sample: one per process; the input is acked once all are stored). */
  row(value: T): Record<string, unknown> | Record<string, unknown>[];
}

/** Inference events (no `kind`) → `llm_calls`; `execute_tool` / `invoke_agent` events → `genai_spans`. */
function genAiTable(v: GenAiRecord): string {
  return v && 'kind' in v && (v.kind === 'execute_tool' || v.kind === 'invoke_agent') ? 'genai_spans' : 'llm_calls';
}

function genAiRow(v: GenAiRecord): Record<string, unknown> {
  return genAiTable(v) === 'genai_spans' ? genAiSpanRow(v as Exclude<GenAiRecord, GenAiInferenceEvent>) : llmCallRow(v as GenAiInferenceEvent);
}

const SINKS: Sink<never>[] = [
  { ...TOPOLOGY.storage.consumes.genai, table: genAiTable, row: genAiRow },
  { ...TOPOLOGY.storage.consumes.tool, table: 'tool_uses', row: (v: ToolUse) => toolUseRow(v) },
  { ...TOPOLOGY.storage.consumes.exchange, table: 'exchanges', row: (v: Exchange) => exchangeRow(v) },
  { ...TOPOLOGY.storage.consumes.audit, table: 'audit_events', row: (v: AuditRecord) => auditRow(v) },
  { ...TOPOLOGY.storage.consumes.dlq, table: 'dead_letters', row: (v: DeadLetter) => deadLetterRow(v) },
  { ...TOPOLOGY.storage.consumes.resource, table: 'resource_samples', row: (v: RawResourceSample) => resourceSampleRows(v) },
] as Sink<never>[];

/**
 * The storage sink: LLM calls (GenAI inference events), tool uses, `execute_tool`/`invoke_agent` events, exchanges (secrets redacted by the row mapping), audit records and
 * dead letters into ClickHouse, in batches ({@link BatchWriter}). Each input is acked only after the insert holding
 * its row succeeded; tables are ReplacingMergeTree keyed by the event id, so redelivery and replay do not duplicate.
 */
@Injectable()
export class StorageService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly loops: ConsumerLoop<unknown>[] = [];
  private writer?: BatchWriter;

  constructor(private readonly rt: StageRuntime, private readonly storage: Storage, private readonly live: LiveBus) {}

  async onApplicationBootstrap(): Promise<void> {
    const writer = (this.writer = new BatchWriter(this.storage.client));
    for (const sink of SINKS) {
      const loop = new ConsumerLoop<never>(this.rt.nats, {
        stream: sink.stream, durable: sink.durable, filterSubject: sink.filterSubject,
        ackWaitMs: 60_000, maxAckPending: 20_000, start: 'keep', maxBatch: 1000,
      }, {
        handle: async (batch) => {
          for (const input of batch) {
            let row: Record<string, unknown> | Record<string, unknown>[];
            let table = typeof sink.table === 'string' ? sink.table : '?';
            try {
              if (typeof sink.table !== 'string') table = sink.table(input.value);
              row = sink.row(input.value);
            } catch (err) {
              await this.rt.deadLetter({ reason: 'contract', error: `${table}: ${(err as Error).message}`, input_subject: input.subject, input_seq: input.seq, input_id: input.msgId });
              input.ack();
              continue;
            }
            if (!Array.isArray(row)) {
              const one = row;
              writer.add(table, one, () => {
                input.ack();
                this.live.stored(table, one);
              });
              continue;
            }
            // Several rows of one input: acked, and announced once (by the sample's id), when the last is stored.
            const rows = row;
            let left = rows.length;
            if (!left) input.ack();
            for (const r of rows) {
              writer.add(table, r, () => {
                if (--left > 0) return;
                input.ack();
                this.live.stored(table, { id: rows[0].sample_id });
              });
            }
          }
        },
        undecodable: (i) => this.rt.undecodable(i),
      });
      await loop.start();
      this.loops.push(loop);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    for (const l of this.loops) await l.stop();
    await this.writer?.close();
    await this.rt.close();
    await this.storage.close();
  }
}
