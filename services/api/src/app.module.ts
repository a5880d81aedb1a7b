import { Module } from '@nestjs/common';
import { StageRuntime, stageRuntimeProvider } from '@agentsight/jetstream';
import { Storage } from './storage/storage';
import { StorageService } from './storage/storage.service';
import { QueryController } from './http/query.controller';
import { DashboardController } from './http/dashboard.controller';
import { MetricsController } from './http/metrics.controller';
import { LiveBus } from './http/live';
import { BatchLatency } from './metrics/batch';

/** The api service: storage sink (owner of the chDB directory) + read API + the dashboard's API and live channel + Prometheus `/metrics`. */
@Module({
  controllers: [QueryController, DashboardController, MetricsController],
  providers: [stageRuntimeProvider('storage'), { provide: Storage, useFactory: () => Storage.open() }, StorageService, LiveBus,
    // the stages' reports (batch latency, event counters), added up for /metrics and the capture page from the api's start
    { provide: BatchLatency, inject: [StageRuntime], useFactory: (rt: StageRuntime) => { const b = new BatchLatency(); b.listen(rt.nats.nc); return b; } }],
})
export class AppModule {}
