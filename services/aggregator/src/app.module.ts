import { Module } from '@nestjs/common';
import { stageRuntimeProvider } from '@agentsight/jetstream';
import { AggregatorService } from './aggregator.service';

@Module({ providers: [stageRuntimeProvider('aggregator'), AggregatorService] })
export class AppModule {}
