/**
 * The one rule for "is an export configured" (read by the CLI's pipeline, which starts the exporter service only then,
 * and by the exporter itself): the OTel SDK's standard OTLP endpoint variables
 * (https://opentelemetry.io/docs/specs/otel/protocol/exporter/) and agentsight's Alibaba Cloud SLS preset variables.
 */

/** The SLS preset's variables, in the order they are documented (services/exporter/README.md). */
export const SLS_VARIABLES = [
  'AGENTSIGHT_SLS_PROJECT', 'AGENTSIGHT_SLS_ENDPOINT', 'AGENTSIGHT_SLS_INSTANCE', 'AGENTSIGHT_SLS_ACCESS_KEY_ID', 'AGENTSIGHT_SLS_ACCESS_KEY_SECRET',
] as const;

const set = (v: string | undefined): v is string => v !== undefined && v.trim() !== '';

/**
 * True when an export is configured at all: `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
 * any {@link SLS_VARIABLES} is set to a non-blank value. (The CLI's pipeline then starts the exporter; a partial SLS
 * preset fails loudly in the exporter's `exportConfig`.)
 */
export function exportConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return set(env.OTEL_EXPORTER_OTLP_ENDPOINT) || set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) || SLS_VARIABLES.some((k) => set(env[k]));
}
