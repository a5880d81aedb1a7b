import '@agentsight/jetstream/dist/preload-config'; // first: the config file fills the environment before any module reads it
import { runStageService } from '@agentsight/jetstream';
import { AppModule } from './app.module';

/** Parser service: raw SSL records → HTTP/1.1 messages and SSE events; raw stdio records → MCP tool uses. */
void runStageService('parser', AppModule).catch((err) => {
  console.error('parser failed to start:', err);
  process.exit(1);
});
