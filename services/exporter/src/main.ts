import '@agentsight/jetstream/dist/preload-config'; // first: the config file fills the environment before any module reads it
import { exportConfigured, exportTargets } from '@agentsight/contracts';
import { runStageService } from '@agentsight/jetstream';
import { AppModule } from './app.module';
import { exportConfig, ExportConfigError, exportTiming, logtailConfig, SLS_LOGSTORE_VARIABLES, SLS_VARIABLES, slsLogConfig } from './config';

/**
 * Exporter service: GenAI events (`agentsight.genai.>`) and, selectable, audit records → OTLP spans (OTLP/HTTP, or
 * Alibaba Cloud SLS through its OTLP ingestion), SLS logstore logs (PutLogs) and a Logtail JSON-lines file. Without
 * a configured export it prints why and exits 0; a configuration that cannot work exits 1.
 */
function main(): void {
  try {
    exportConfig();
    slsLogConfig();
    logtailConfig();
    exportTiming();
  } catch (err) {
    if (!(err instanceof ExportConfigError)) throw err;
    console.error(`exporter: ${err.message}`);
    process.exit(1);
  }
  if (!exportConfigured() || !exportTargets().length) {
    console.log(
      'exporter: no export configured, nothing to do (set OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, ' +
        `the SLS trace preset ${SLS_VARIABLES.join(', ')}, the SLS logstore ${SLS_LOGSTORE_VARIABLES.join(', ')}, or AGENTSIGHT_SLS_LOGTAIL_FILE)`,
    );
    process.exit(0);
  }
  void runStageService('exporter', AppModule).catch((err) => {
    console.error('exporter failed to start:', err);
    process.exit(1);
  });
}

main();
