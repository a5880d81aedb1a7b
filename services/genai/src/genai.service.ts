import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { hostToken, LlmCall, normalizeNs, Subjects } from '@agentsight/contracts';
import { ConsumerLoop, runStatelessStage, StageRuntime } from '@agentsight/jetstream';
import { toGenAiEvent } from './domain';

/** NestJS shell of genai: LLM calls (`agentsight.llm.>`, durable `genai`) → OTel GenAI events on `agentsight.genai.<host>`. */
@Injectable()
export class GenAiService implements OnApplicationBootstrap, OnApplicationShutdown {
  private loop?: ConsumerLoop<LlmCall>;

  constructor(private readonly rt: StageRuntime) {}

  async onApplicationBootstrap(): Promise<void> {
    this.loop = await runStatelessStage<LlmCall>(this.rt, { stream: 'AGENTSIGHT_LLM', durable: 'genai', filterSubject: 'agentsight.llm.>' }, (call) => {
      call.start_ns = normalizeNs(call.start_ns);
      call.end_ns = normalizeNs(call.end_ns);
      const ev = toGenAiEvent(call);
      return { outputs: [{ subject: Subjects.genai(hostToken(ev.host)), id: ev.id, value: ev }] };
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop?.stop();
    await this.rt.close();
  }
}
