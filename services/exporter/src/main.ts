import { runStageService } from '@agentsight/jetstream';
import { AppModule } from './app.module';
import { exportConfig, ExportConfigError, SLS_VARIABLES } from './config';

/**
 * Exporter service: GenAI events (`agentsight.genai.>`) → OTLP spans (OTLP/HTTP, or Alibaba Cloud SLS through its
 * OTLP ingestion). Without a configured endpoint it prints why and exits 0; a configuration that cannot work exits 1.
 */
function main(): void {
  let config;
  try {
    config = exportConfig();
  } catch (err) {
    if (!(err instanceof ExportConfigError)) throw err;
    console.error(`exporter: ${err.message}`);
    process.exit(1);
  }
  if (!config) {
    console.log(
      'exporter: no export endpoint configured, nothing to do (set OTEL_EXPORTER_OTLP_ENDPOINT or ' +
        `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or the SLS preset ${SLS_VARIABLES.join(', ')})`,
    );
    process.exit(0);
  }
  void runStageService('exporter', AppModule).catch((err) => {
    console.error('exporter failed to start:', err);
    process.exit(1);
  });
}

main();
