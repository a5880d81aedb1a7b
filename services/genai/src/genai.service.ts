import { Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { captureContentEnabled, type LlmCall, type ToolUse, TOPOLOGY } from '@agentsight/contracts';
import { ConsumerLoop, runStatelessStage, StageRuntime, stageRebuild } from '@agentsight/jetstream';
import { deriveCall, deriveTool } from './derive';
import { rebuildSessions } from './session-rebuild';
import { SESSION_TTL_S, SessionStore } from './session-store';

/**
 * NestJS shell of genai: LLM calls (`agentsight.llm.>`, durable `genai`) → inference events, tool uses
 * (`agentsight.tool.>`, durable `genai-tool`) → `execute_tool` events, and for both the `invoke_agent` event of their
 * agent session (totals in Redis, `SessionStore`), all on `agentsight.genai.<host>`. Content attributes per
 * `captureContentEnabled()`. Lost session totals are rebuilt from the streams (session-rebuild.ts) before a fold uses
 * them, except in a replay (its Redis prefix starts empty and its consumers read its streams from their start).
 */
@Injectable()
export class GenAiService implements OnApplicationBootstrap, OnApplicationShutdown {
  private loops: ConsumerLoop<unknown>[] = [];

  constructor(private readonly rt: StageRuntime) {}

  async onApplicationBootstrap(): Promise<void> {
    const rebuild = stageRebuild(this.rt.nats, '[genai] session totals', async () => {
      const r = await rebuildSessions(this.rt.nats, sessions, SESSION_TTL_S);
      return `${r.sessions} sessions from ${r.contributions} calls and tool uses, ${r.lifted} above their published version`;
    });
    const sessions: SessionStore = new SessionStore(this.rt.redis, SESSION_TTL_S, rebuild);
    const opts = { captureContent: captureContentEnabled() };
    this.loops.push(await runStatelessStage<LlmCall>(this.rt, TOPOLOGY.genai.consumes.llm, (call) => deriveCall(call, sessions, opts)));
    this.loops.push(await runStatelessStage<ToolUse>(this.rt, TOPOLOGY.genai.consumes.tool, (t) => deriveTool(t, sessions, opts)));
    // In the background: the first fold waits for it (a lost store, or the first start of this Redis).
    void sessions.ensureBuilt();
  }

  async onApplicationShutdown(): Promise<void> {
    for (const l of this.loops) await l.stop();
    await this.rt.close();
  }
}
