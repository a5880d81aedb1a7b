import { Module } from '@nestjs/common';
import { stageRuntimeProvider } from '@agentsight/jetstream';
import { AnalyzerService } from './analyzer.service';

@Module({ providers: [stageRuntimeProvider('analyzer'), AnalyzerService] })
export class AppModule {}
