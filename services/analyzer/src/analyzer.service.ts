import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { type AuditRecord, captureContentEnabled, Exchange, hostToken, normalizeNs, RawProcSubjectRecord, RawRecord, redactProcRecord, Subjects, TOPOLOGY } from '@agentsight/contracts';
import { ConsumerLoop, runStatelessStage, StageRuntime, stageRebuild } from '@agentsight/jetstream';
import { auditForProc } from './domain';
import { auditForFile, auditForNet, auditForTlsNotice } from './domain/audit';
import { deriveExchange } from './derive';
import { TOOL_INDEX_TTL_S, ToolIndex } from './tool-index';
import { rebuildToolIndex } from './tool-rebuild';

/**
 * NestJS shell of the analyzer: exchanges (`agentsight.exchange.>`, durable `analyzer`) → LLM calls on
 * `agentsight.llm.<host>` + audit records on `agentsight.audit.<host>` + tool uses on `agentsight.tool.<host>` (see
 * `derive.ts`; tool halves indexed in Redis by `ToolIndex`, rebuilt from the streams when Redis lost it, tool-rebuild.ts;
 * content capture per `captureContentEnabled()`); records of `agentsight.raw.proc.>` (durable `analyzer-proc`) →
 * audit records by kind: `proc` → `process`, `file_open` → `file`, `net_connect` → `net` (their text redacted first
 * when early redaction is on, {@link StageRuntime.redactEarly}).
 */
@Injectable()
export class AnalyzerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private loops: ConsumerLoop<unknown>[] = [];

  constructor(private readonly rt: StageRuntime) {}

  async onApplicationBootstrap(): Promise<void> {
    const rebuild = stageRebuild(this.rt.nats, '[analyzer] tool index', async () => {
      const r = await rebuildToolIndex(this.rt.nats, index, TOOL_INDEX_TTL_S);
      return `${r.halves} tool-use halves, ${r.responses} Responses chain entries`;
    });
    const index: ToolIndex = new ToolIndex(this.rt.redis, TOOL_INDEX_TTL_S, rebuild);
    const captureContent = captureContentEnabled();
    this.loops.push(await runStatelessStage<Exchange>(this.rt, TOPOLOGY.analyzer.consumes.exchange, (ex) => {
      normalizeExchange(ex);
      return deriveExchange(ex, index, { captureContent });
    }));
    // In the background: the first lookup waits for it (a lost index, or the first start of this Redis).
    void index.ensureBuilt();
    this.loops.push(await runStatelessStage<RawRecord>(this.rt, TOPOLOGY.analyzer.consumes.proc, (raw) => {
      const rec = this.rt.redactEarly && isProcSubject(raw) ? redactProcRecord(raw) : raw;
      let a: AuditRecord;
      if (rec.kind === 'proc') a = auditForProc({ ...rec, ts_wall_ns: normalizeNs(rec.ts_wall_ns) });
      else if (rec.kind === 'file_open') a = auditForFile({ ...rec, ts_wall_ns: normalizeNs(rec.ts_wall_ns) });
      else if (rec.kind === 'net_connect') a = auditForNet({ ...rec, ts_wall_ns: normalizeNs(rec.ts_wall_ns) });
      else if (rec.kind === 'tls_notice') a = auditForTlsNotice({ ...rec, ts_wall_ns: normalizeNs(rec.ts_wall_ns) });
      else return { outputs: [] };
      return { outputs: [{ subject: Subjects.audit(hostToken(rec.host)), id: a.id, value: a }] };
    }));
  }

  async onApplicationShutdown(): Promise<void> {
    for (const l of this.loops) await l.stop();
    await this.rt.close();
  }
}

function isProcSubject(r: RawRecord): r is RawProcSubjectRecord {
  return r?.kind === 'proc' || r?.kind === 'file_open' || r?.kind === 'net_connect' || r?.kind === 'tls_notice';
}

function normalizeExchange(ex: Exchange): void {
  ex.request.start_ns = normalizeNs(ex.request.start_ns);
  ex.request.end_ns = normalizeNs(ex.request.end_ns);
  if (ex.response) {
    ex.response.start_ns = normalizeNs(ex.response.start_ns);
    ex.response.end_ns = normalizeNs(ex.response.end_ns);
  }
  if (ex.process) ex.process.start_ns = normalizeNs(ex.process.start_ns);
}
