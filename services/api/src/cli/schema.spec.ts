import { clusterSchemaStatements, schemaStatements } from '@agentsight/clickhouse';
import { schemaText } from './schema';

describe('agentsight schema', () => {
  test('prints the server schema, or the cluster DDL with --cluster, as statements ended by ;', () => {
    const env = { AGENTSIGHT_RETENTION_DAYS: '30' };
    const server = schemaText({}, env);
    expect(server.startsWith(`${schemaStatements('agentsight', { retentionDays: 30 })[0]};\n\n`)).toBe(true);
    expect(server).toContain('TTL toDateTime(start_time) + toIntervalDay(30)');
    const cluster = schemaText({ cluster: 'fleet', database: 'obs', replicated: false, onCluster: false }, env);
    expect(cluster).toBe(clusterSchemaStatements({ cluster: 'fleet', database: 'obs', replicated: false, onCluster: false, retentionDays: 30 }).map((s) => `${s};\n`).join('\n'));
    expect(schemaText({ cluster: 'fleet' }, env)).toContain("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/agentsight/llm_calls_local', '{replica}', ingested_at)");
    expect(() => schemaText({}, { AGENTSIGHT_RETENTION_DAYS: 'x' })).toThrow(/AGENTSIGHT_RETENTION_DAYS/);
  });
});
