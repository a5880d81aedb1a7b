/** The exporter's plain-TS modules (GenAI events → OTLP spans), for tests and other packages. */
export * from './domain/spans';
export * from './config';
export * from './export-state';
export * from './sink';
export * from './engine';
export * from './domain/sls-logs';
export * from './sls-client';
export * from './sls-sink';
