/**
 * ClickHouse storage of agentsight: connection (server or embedded chDB), schema, row mappings (with secret
 * redaction), batched acknowledged writes and the reads of the API/CLI (`repositories/`: one repository per table or
 * view, each with its SQL, row mapping and result types).
 */
export * from './client';
export * from './schema';
export * from './rows';
export * from './writer';
export * from './repositories/read';
export * from './repositories/paging';
export * from './repositories/calls';
export * from './repositories/token-usage';
export * from './repositories/audit';
export * from './repositories/exchanges';
export * from './repositories/dead-letters';
export * from './repositories/table-sizes';
export * from './links';
export * from './repositories/tool-uses';
export * from './repositories/genai-spans';
export type { RecordListOptions } from './repositories/versioned';
export * from './repositories/overview';
export * from './repositories/sessions';
export * from './request-messages';
export * from './parts';
export * from './retention';
export * from './genai-totals';
export * from './resources';
export * from './agents';
export * from './agent-resources';
export * from './cluster';
export * from './merge';
