import { Module } from '@nestjs/common';
import { stageRuntimeProvider } from '@agentsight/jetstream';
import { ExporterService } from './exporter.service';

@Module({ providers: [stageRuntimeProvider('exporter'), ExporterService] })
export class AppModule {}
