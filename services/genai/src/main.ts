import '@agentsight/jetstream/dist/preload-config'; // first: the config file fills the environment before any module reads it
import { runStageService } from '@agentsight/jetstream';
import { AppModule } from './app.module';

/** GenAI service: LLM calls → OpenTelemetry GenAI semantic events. */
void runStageService('genai', AppModule).catch((err) => {
  console.error('genai failed to start:', err);
  process.exit(1);
});
