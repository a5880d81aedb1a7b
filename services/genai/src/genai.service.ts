import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { captureContentEnabled, type LlmCall, type ToolUse, TOPOLOGY } from '@agentsight/contracts';
import { ConsumerLoop, runStatelessStage, StageRuntime } from '@agentsight/jetstream';
import { deriveCall, deriveTool } from './derive';
import { SessionStore } from './session-store';

/**
 * NestJS shell of genai: LLM calls (`agentsight.llm.>`, durable `genai`) → inference events, tool uses
 * (`agentsight.tool.>`, durable `genai-tool`) → `execute_tool` events, and for both the `invoke_agent` event of their
 * agent session (totals in Redis, `SessionStore`), all on `agentsight.genai.<host>`. Content attributes per
 * `captureContentEnabled()`.
 */
@Injectable()
export class GenAiService implements OnApplicationBootstrap, OnApplicationShutdown {
  private loops: ConsumerLoop<unknown>[] = [];

  constructor(private readonly rt: StageRuntime) {}

  async onApplicationBootstrap(): Promise<void> {
    const sessions = new SessionStore(this.rt.redis);
    const opts = { captureContent: captureContentEnabled() };
    this.loops.push(await runStatelessStage<LlmCall>(this.rt, TOPOLOGY.genai.consumes.llm, (call) => deriveCall(call, sessions, opts)));
    this.loops.push(await runStatelessStage<ToolUse>(this.rt, TOPOLOGY.genai.consumes.tool, (t) => deriveTool(t, sessions, opts)));
  }

  async onApplicationShutdown(): Promise<void> {
    for (const l of this.loops) await l.stop();
    await this.rt.close();
  }
}
