import '@agentsight/jetstream/dist/preload-config'; // first: the config file fills the environment before any module reads it
import { runStageService } from '@agentsight/jetstream';
import { AppModule } from './app.module';

/** Aggregator service: HTTP messages → request/response exchanges. */
void runStageService('aggregator', AppModule).catch((err) => {
  console.error('aggregator failed to start:', err);
  process.exit(1);
});
