import { Module } from '@nestjs/common';
import { stageRuntimeProvider } from '@agentsight/jetstream';
import { GenAiService } from './genai.service';

@Module({ providers: [stageRuntimeProvider('genai'), GenAiService] })
export class AppModule {}
