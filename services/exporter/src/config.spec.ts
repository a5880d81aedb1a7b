/** Export configuration from the environment: OTLP standard variables, the SLS preset, errors, and what gets logged. */
import { exportConfigured, exportTargets } from '@agentsight/contracts';
import { describeExport, describeSls, exportConfig, ExportConfigError, logtailConfig, slsLogConfig } from './config';

const SLS = {
  AGENTSIGHT_SLS_PROJECT: 'test-project',
  AGENTSIGHT_SLS_ENDPOINT: 'cn-hangzhou.log.aliyuncs.com',
  AGENTSIGHT_SLS_INSTANCE: 'test-otel',
  AGENTSIGHT_SLS_ACCESS_KEY_ID: 'LTAI5tExampleKeyId',
  AGENTSIGHT_SLS_ACCESS_KEY_SECRET: 'Sup3rSecretValueNeverLogged',
};

test('nothing configured: null', () => {
  expect(exportConfig({})).toBeNull();
  expect(exportConfigured({})).toBe(false);
});

test('OTEL_EXPORTER_OTLP_ENDPOINT gets v1/traces appended; the traces endpoint is used as is and wins', () => {
  expect(exportConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toEqual({
    target: 'otlp', url: 'http://collector:4318/v1/traces', protocol: 'http/protobuf', headers: {}, timeoutMs: 10_000, settleS: 300, ackWaitMs: 30_000,
  });
  expect(exportConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/base/' })!.url).toBe('http://collector:4318/base/v1/traces');
  const c = exportConfig({
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/custom/path',
    OTEL_EXPORTER_OTLP_HEADERS: 'api-key=abc%3D%3D, x-team=obs', OTEL_EXPORTER_OTLP_TIMEOUT: '2500', AGENTSIGHT_OTLP_PROTOCOL: 'http/json',
    AGENTSIGHT_EXPORT_SETTLE_S: '30', AGENTSIGHT_EXPORT_ACK_WAIT_S: '5',
  })!;
  expect(c).toEqual({ target: 'otlp', url: 'https://b/custom/path', protocol: 'http/json', headers: { 'api-key': 'abc==', 'x-team': 'obs' }, timeoutMs: 2500, settleS: 30, ackWaitMs: 7500 });
  for (const env of [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a' }, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://a' }, { AGENTSIGHT_SLS_PROJECT: 'p' }]) {
    expect(exportConfigured(env)).toBe(true);
  }
});

test('OTel protocol variables are honoured (grpc too); an unknown protocol is refused', () => {
  expect(exportConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })!.protocol).toBe('http/json');
  expect(exportConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })!.protocol).toBe('grpc');
  expect(() => exportConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' })).toThrow(/unsupported OTLP protocol "thrift"/);
});

test('the SLS preset: documented URL and x-sls-otel-* headers; a full URL endpoint is taken as the base', () => {
  expect(exportConfig({ ...SLS, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored' })).toEqual({
    target: 'sls',
    url: 'https://test-project.cn-hangzhou.log.aliyuncs.com/opentelemetry/v1/traces',
    protocol: 'http/protobuf',
    headers: {
      'x-sls-otel-project': 'test-project', 'x-sls-otel-instance-id': 'test-otel',
      'x-sls-otel-ak-id': 'LTAI5tExampleKeyId', 'x-sls-otel-ak-secret': 'Sup3rSecretValueNeverLogged',
    },
    timeoutMs: 10_000,
    settleS: 300,
    ackWaitMs: 30_000,
  });
  expect(exportConfig({ ...SLS, AGENTSIGHT_SLS_ENDPOINT: 'http://127.0.0.1:4318/' })!.url).toBe('http://127.0.0.1:4318/opentelemetry/v1/traces');
});

test('a partial SLS preset is an error naming what is missing, never echoing a value', () => {
  const { AGENTSIGHT_SLS_INSTANCE: _i, AGENTSIGHT_SLS_ACCESS_KEY_ID: _k, ...partial } = SLS;
  let err: unknown;
  try {
    exportConfig(partial);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ExportConfigError);
  expect((err as Error).message).toMatch(/missing: AGENTSIGHT_SLS_INSTANCE, AGENTSIGHT_SLS_ACCESS_KEY_ID$/);
  expect((err as Error).message).not.toContain(SLS.AGENTSIGHT_SLS_ACCESS_KEY_SECRET);
});

test('bad values are errors: URL, timeout, settle time, header list', () => {
  expect(() => exportConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' })).toThrow(ExportConfigError);
  expect(() => exportConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://x/' })).toThrow(/only http/);
  expect(() => exportConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_EXPORTER_OTLP_TIMEOUT: '-1' })).toThrow(/OTEL_EXPORTER_OTLP_TIMEOUT/);
  expect(() => exportConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', AGENTSIGHT_EXPORT_SETTLE_S: 'soon' })).toThrow(/AGENTSIGHT_EXPORT_SETTLE_S/);
  expect(() => exportConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_EXPORTER_OTLP_HEADERS: 'novalue' })).toThrow(/key=value/);
});

test('the log line names headers but never shows their values; URL credentials are redacted', () => {
  const line = describeExport(exportConfig(SLS)!);
  expect(line).toContain('x-sls-otel-ak-secret');
  expect(line).not.toContain(SLS.AGENTSIGHT_SLS_ACCESS_KEY_SECRET);
  expect(line).not.toContain(SLS.AGENTSIGHT_SLS_ACCESS_KEY_ID);
  const withCreds = describeExport(exportConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://user:hunter2@collector/v1/traces' })!);
  expect(withCreds).not.toContain('hunter2');
});

describe('SLS logstore and Logtail file configuration', () => {
  const LOGSTORE = {
    AGENTSIGHT_SLS_ENDPOINT: 'cn-hangzhou.log.aliyuncs.com', AGENTSIGHT_SLS_PROJECT: 'proj', AGENTSIGHT_SLS_LOGSTORE: 'agentsight',
    ALIBABA_CLOUD_ACCESS_KEY_ID: 'LTAI-logstore-id', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'logstore-secret-never-logged',
  };

  test('endpoint → https://<project>.<endpoint>; a URL endpoint is the whole base; lz4 by default; STS token optional', () => {
    expect(slsLogConfig(LOGSTORE)).toEqual({
      baseUrl: 'https://proj.cn-hangzhou.log.aliyuncs.com', project: 'proj', logstore: 'agentsight', accessKeyId: 'LTAI-logstore-id',
      accessKeySecret: 'logstore-secret-never-logged', securityToken: null, compress: 'lz4', audit: false, timeoutMs: 10_000,
    });
    const c = slsLogConfig({ ...LOGSTORE, AGENTSIGHT_SLS_ENDPOINT: 'http://127.0.0.1:9999/', ALIBABA_CLOUD_SECURITY_TOKEN: 'sts', AGENTSIGHT_SLS_COMPRESS: 'deflate', AGENTSIGHT_SLS_AUDIT: 'true' })!;
    expect(c).toMatchObject({ baseUrl: 'http://127.0.0.1:9999', securityToken: 'sts', compress: 'deflate', audit: true });
    // The logstore alone is not the OTLP trace preset.
    expect(exportConfig(LOGSTORE)).toBeNull();
    expect(exportTargets(LOGSTORE).map((t) => t.name)).toEqual(['sls']);
    expect(exportTargets({ ...LOGSTORE, AGENTSIGHT_SLS_AUDIT: '1', AGENTSIGHT_SLS_LOGTAIL_FILE: '/tmp/x.log' }).map((t) => [t.name, t.durable, t.stream])).toEqual([
      ['sls', 'exporter-sls', 'AGENTSIGHT_GENAI'], ['sls-audit', 'exporter-sls-audit', 'AGENTSIGHT_AUDIT'],
      ['logtail', 'exporter-logtail', 'AGENTSIGHT_GENAI'], ['logtail-audit', 'exporter-logtail-audit', 'AGENTSIGHT_AUDIT'],
    ]);
    for (const env of [LOGSTORE, { AGENTSIGHT_SLS_LOGTAIL_FILE: '/tmp/x.log' }]) {
      expect(exportConfigured(env)).toBe(true); // the CLI's side (it then starts the exporter): api cli/pipeline.spec.ts
    }
  });

  test('missing credentials, bad compression, endpoint and project without a logstore or trace instance: errors naming variables only', () => {
    const { ALIBABA_CLOUD_ACCESS_KEY_ID: _i, ...noId } = LOGSTORE;
    expect(() => slsLogConfig(noId)).toThrow(/missing: ALIBABA_CLOUD_ACCESS_KEY_ID$/);
    expect(() => slsLogConfig({ ...LOGSTORE, AGENTSIGHT_SLS_COMPRESS: 'zstd' })).toThrow(/lz4 or deflate/);
    const { AGENTSIGHT_SLS_LOGSTORE: _l, ...noStore } = LOGSTORE;
    expect(() => exportConfig(noStore)).toThrow(/neither AGENTSIGHT_SLS_LOGSTORE/);
    const line = describeSls(slsLogConfig({ ...LOGSTORE, ALIBABA_CLOUD_SECURITY_TOKEN: 'sts-secret-token' })!);
    expect(line).toContain('https://proj.cn-hangzhou.log.aliyuncs.com/logstores/agentsight');
    for (const s of ['logstore-secret-never-logged', 'LTAI-logstore-id', 'sts-secret-token']) expect(line).not.toContain(s);
  });

  test('Logtail file: size and count of rotated files', () => {
    expect(logtailConfig({ AGENTSIGHT_SLS_LOGTAIL_FILE: '/var/log/a.log' })).toEqual({ path: '/var/log/a.log', maxBytes: 100 * 1024 * 1024, files: 5, audit: false });
    expect(logtailConfig({ AGENTSIGHT_SLS_LOGTAIL_FILE: '/a', AGENTSIGHT_SLS_LOGTAIL_MAX_MB: '0.5', AGENTSIGHT_SLS_LOGTAIL_FILES: '2' })).toMatchObject({ maxBytes: 524_288, files: 2 });
    expect(() => logtailConfig({ AGENTSIGHT_SLS_LOGTAIL_FILE: '/a', AGENTSIGHT_SLS_LOGTAIL_FILES: '1.5' })).toThrow(/whole number/);
  });
});
