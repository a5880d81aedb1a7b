import { Module } from '@nestjs/common';
import { stageRuntimeProvider } from '@agentsight/jetstream';
import { ParserService } from './parser.service';

@Module({ providers: [stageRuntimeProvider('parser'), ParserService] })
export class AppModule {}
