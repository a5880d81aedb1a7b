/** @agentsight/testkit: real recorded LLM traffic (corpus), a local HTTPS replay server and real TLS client runners. */
export * from './corpus';
export * from './replay-server';
export * from './clients';
export { parseCliArgs } from './replay-server-cli';
export * from './capture';
export * from './bpf';
export * from './ground-truth';
export * from './go';
export * from './responses-server';
export * from './mock-llm';
export * from './fake-sls';
export * from './clickhouse-server';
export * from './exchanges';
export * from './nats-cluster';
export * from './load';
export * from './env';
