import '@agentsight/jetstream/dist/preload-config'; // first: the config file fills the environment before any module reads it
import { runStageService } from '@agentsight/jetstream';
import { AppModule } from './app.module';

/** Analyzer service: exchanges → LLM calls and audit records. */
void runStageService('analyzer', AppModule).catch((err) => {
  console.error('analyzer failed to start:', err);
  process.exit(1);
});
