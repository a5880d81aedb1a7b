import { Controller, Get, Header, Logger } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { agentResourceTotals, genAiTotals } from '@agentsight/clickhouse';
import { StageRuntime } from '@agentsight/jetstream';
import { contentType } from 'prom-client';
import { Storage } from '../storage/storage';
import { captureSources, readCaptureStatus } from '../metrics/capture';
import { metricsRegistry } from '../metrics/prometheus';
import { BatchLatency } from '../metrics/batch';

/**
 * `GET /metrics`: Prometheus text exposition of capture health, broker state, store and LLM-call totals
 * and what the traced agents cost the machine (metrics/prometheus.ts), read from the same source as `/api/capture` and `agentsight status`. Behind the api's
 * token like every other path (Prometheus: `authorization: { credentials: <token> }` in the scrape config).
 */
@ApiTags('metrics')
@Controller()
export class MetricsController {
  private readonly log = new Logger('metrics');
  constructor(private readonly storage: Storage, private readonly rt: StageRuntime, private readonly batches: BatchLatency) {}

  @Get('metrics')
  @Header('Content-Type', contentType)
  @Header('Cache-Control', 'no-store')
  @ApiOkResponse({ description: 'Prometheus text format 0.0.4: agentsight_* gauges and _total counters, process_* and nodejs_* of the api' })
  async metrics(): Promise<string> {
    const snap = await readCaptureStatus(captureSources(this.storage, this.rt, this.batches));
    const agentResources = await agentResourceTotals(this.storage.client).catch((err: Error) => {
      this.log.warn(`agent resource totals unreadable (agentsight_scrape_errors{section="agent_resources"} = 1): ${err.message}`);
      return null;
    });
    return metricsRegistry({ ...snap, genai: await genAiTotals(this.storage.client), agentResources, batches: this.batches.series() }).metrics();
  }
}
